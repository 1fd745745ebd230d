# LiteLens: `make run` opens the app on the demo model, `make test` runs the whole suite,
# `make bundle` builds dist/LiteLens/ (PyInstaller, one folder), `make bundle-check` also runs it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check

.PHONY: run test bench fuzz install clean bundle bundle-check demo-model

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps: pyproject.toml | $(PY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

# the remote-run tests start a real OpenSSH server on 127.0.0.1: Debian's openssh-server,
# installed here when running as root (CI); elsewhere those tests skip and say why
$(VENV)/.test-deps: $(VENV)/.deps
	$(PIP) install -q -e '.[test,micro,npu-intel,tensorflow]'
	@if ! command -v sshd >/dev/null && [ ! -x /usr/sbin/sshd ] && [ "$$(id -u)" = 0 ] \
	    && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    openssh-server openssh-client >/dev/null; fi
	touch $@

# tflite-runtime 2.14 needs numpy<2, so it gets a venv of its own; the tests run the worker there
# (the "another Python" backend), and TensorFlow's interpreter from the main venv, which has it
TFLRT_VENV := .venv-tflite-runtime
# (its last release has wheels up to Python 3.11: elsewhere those tests skip and say why)
$(TFLRT_VENV)/.deps:
	$(PYTHON) -m venv $(TFLRT_VENV) && $(TFLRT_VENV)/bin/python -m pip \
	    --disable-pip-version-check install -q "tflite-runtime==2.14.0" "numpy<2" && touch $@ \
	  || echo "note: no tflite-runtime 2.14 for this Python; its backend tests will skip"

install: $(VENV)/.deps

run: $(VENV)/.deps
	$(VENV)/bin/litelens-gui --demo

test: $(VENV)/.test-deps $(TFLRT_VENV)/.deps
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	QT_QPA_PLATFORM=offscreen LITELENS_TENSORFLOW_PYTHON=$(abspath $(PY)) \
	    LITELENS_TFLITE_RUNTIME_PYTHON=$$(test -f $(TFLRT_VENV)/.deps \
	                                      && echo $(abspath $(TFLRT_VENV))/bin/python) \
	    $(PY) -m pytest -q

bench: $(VENV)/.test-deps
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.bench.run

# 20,000 seeded hostile files through the reader (2 GiB address-space cap); counts -> BENCHMARKS.md
fuzz: $(VENV)/.test-deps
	$(PY) -m tests.model.fuzz_reader --cases 20000 --benchmarks BENCHMARKS.md

demo-model: $(VENV)/.deps
	$(PY) -m core.model.samples

bundle: $(VENV)/.deps
	$(PIP) install -q -e '.[bundle]'
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN build.spec

# Build the bundle from this tree, run its CLI and its GUI (--self-test: open a model, one
# inference in the worker), print its size. CI runs it after `make test` (~1 min).
bundle-check: bundle
	$(PY) -m tests.bundle_check dist/LiteLens

clean:
	rm -rf $(VENV) $(TFLRT_VENV) build dist .pytest_cache
