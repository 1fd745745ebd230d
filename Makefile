# LiteLens: `make run` opens the app on the demo model, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check

.PHONY: run test bench fuzz install clean bundle demo-model

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps: pyproject.toml | $(PY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.test-deps: $(VENV)/.deps
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.deps

run: $(VENV)/.deps
	$(VENV)/bin/litelens-gui --demo

test: $(VENV)/.test-deps
	$(VENV)/bin/lint-imports --no-cache
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(VENV)/.test-deps
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.bench.run

# 20,000 seeded hostile files through the reader (2 GiB address-space cap); counts -> BENCHMARKS.md
fuzz: $(VENV)/.test-deps
	$(PY) -m tests.model.fuzz_reader --cases 20000 --benchmarks BENCHMARKS.md

demo-model: $(VENV)/.deps
	$(PY) -m core.model.samples

bundle: $(VENV)/.deps
	$(PIP) install -q -e '.[bundle]'
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pyinstaller --noconfirm build.spec

clean:
	rm -rf $(VENV) build dist .pytest_cache
