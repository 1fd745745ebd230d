"""A worker job on a board over SSH: the same ``WorkerSession``, with its worker run by
``remote_launcher`` in a private folder on the board.

One ssh session does everything: the launcher says ``hello`` with the board's facts, LiteLens
checks the board has the runtime and the space, streams the worker package (the modules the
worker imports, found from their import statements, and the op catalogue), the model and the
inputs with their SHA-256, the launcher checks them and starts the worker, whose JSON lines then
flow as they do locally. Results gain ``"target": {"address", "facts"}``.

Faults stay one line: ssh's own failures (unreachable, auth, host keys) are read from its
stderr (``ssh_target.ssh_failure``); a board without the runtime or the space is refused before
the upload; a dropped connection keeps what arrived; a crash on the board carries its signal, as
locally (the launcher forwards the exit status); a silent worker is ended by the session's
heartbeat, which closes the connection, and the launcher then kills the worker and cleans up.
"""
from __future__ import annotations

import ast
import base64
import collections
import hashlib
import io
import json
import subprocess
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from core.inference.config import RunConfig
from core.inference.session import ROOT, WorkerSession
from core.inference.ssh_target import (
    SshTarget,
    TargetError,
    facts_line,
    missing_runtime,
    ssh_failure,
)
from core.inference.worker import jobs

LAUNCHER = Path(__file__).with_name("remote_launcher.py")
HEADER_DIGITS = 12            # as remote_launcher.HEADER_DIGITS
MIN_PYTHON = (3, 9)           # the worker's own syntax and stdlib
HANDSHAKE_LINES = 200         # lines a login banner may print before the launcher speaks


@lru_cache(maxsize=1)
def worker_files() -> tuple[str, ...]:
    """The files the worker needs, relative to the checkout: every ``core`` module its jobs
    import (at any depth, lazily imported ones too, with their packages' ``__init__``), and the
    op catalogue ``core.model.ops`` reads."""
    from core.model.ops import CATALOGUE
    todo = ["core.inference.worker.__main__"] + [f"core.inference.worker.jobs.{j}"
                                                 for j in jobs.JOBS]
    seen: set[str] = set()
    files: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts))]   # parent packages
        path = _module_file(name)
        if path is None:
            continue   # a name imported from a module (from core.x import function)
        files.add(path.relative_to(ROOT).as_posix())
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.split(".")[0] == "core"]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.split(".")[0] == "core":
                todo.append(node.module)
                todo += [f"{node.module}.{a.name}" for a in node.names]
    files.add(f"resources/{CATALOGUE}")
    return tuple(sorted(files))


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class RemoteProcess:
    """The worker on the board, as the session sees a ``Popen``: text ``stdin``, ``stdout``
    lines (the launcher's own lines taken out), ``stderr`` lines, ``wait``/``poll``/``kill``.
    The exit code is the worker's on the board (negative: its signal); None from ``lost()``
    tells that the connection ended before the board said how the worker ended."""

    def __init__(self, ssh: subprocess.Popen, native_log: Path):
        assert ssh.stdin is not None and ssh.stdout is not None and ssh.stderr is not None
        self.ssh = ssh
        self.native_log = native_log
        self.stdin = io.TextIOWrapper(ssh.stdin, encoding="utf-8", line_buffering=True,
                                      write_through=True)
        self.stdout = self._worker_lines(io.TextIOWrapper(ssh.stdout, encoding="utf-8",
                                                          errors="replace"))
        self.stderr = self._stderr_lines(io.TextIOWrapper(ssh.stderr, encoding="utf-8",
                                                          errors="replace"))
        self.exit_record: dict | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)

    def _worker_lines(self, stream) -> Iterator[str]:
        for line in stream:
            if line.startswith('{"launcher"'):
                try:
                    msg = json.loads(line)
                except ValueError:
                    yield line
                    continue
                if msg.get("launcher") == "exit":
                    self.exit_record = msg
                    # the runtime's load log, for "it said: ..." after a crash, as locally
                    self.native_log.write_text(msg.get("native_log") or "", "utf-8")
                continue
            yield line

    def _stderr_lines(self, stream) -> Iterator[str]:
        for line in stream:
            self.stderr_tail.append(line.rstrip())
            yield line

    @property
    def pid(self) -> int:
        return self.ssh.pid

    @property
    def returncode(self) -> int | None:
        if self.ssh.returncode is None:
            return None
        return self.exit_record["code"] if self.exit_record else self.ssh.returncode

    def lost(self) -> bool:
        """The session ended without the board's word on the worker's exit."""
        return self.ssh.returncode is not None and self.exit_record is None

    def poll(self) -> int | None:
        self.ssh.poll()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        self.ssh.wait(timeout)
        return self.returncode

    def kill(self) -> None:
        # closing the connection is what ends the worker: the launcher sees its reader gone,
        # kills the worker and removes the folder
        self.ssh.kill()


class RemoteSession(WorkerSession):
    """A ``WorkerSession`` whose worker runs on ``target``. ``start()`` raises ``TargetError``
    (one line, with ``kind``) when the board cannot run it; nothing is left on the board."""

    def __init__(self, cfg: RunConfig, target: SshTarget, job: str = "bench", model=None,
                 params: dict | None = None):
        self.target = target
        self.facts: dict[str, Any] | None = None
        self.remote_dir: str | None = None
        super().__init__(cfg, job, model, params)

    # -- the upload --
    def _payload(self) -> list[tuple[str, Path]]:
        model = Path(self.cfg.model)
        files = [(rel, ROOT / rel) for rel in worker_files()]
        files.append((f"model/{model.name}", model))
        if self.inputs_path is not None:
            files.append(("inputs.npz", self.inputs_path))
        return files

    def _spawn(self) -> RemoteProcess:
        t = self.target
        missing = [rel for rel, path in self._payload() if not path.is_file()]
        if missing or not LAUNCHER.is_file():
            # the app bundle keeps its modules compiled in one archive: nothing to send
            raise TargetError("unsupported", f"{t.address}: this LiteLens has no worker sources "
                                             f"to send to a board ({(missing or [LAUNCHER])[0]} "
                                             "is missing); run boards from the pip-installed "
                                             "`litelens`")
        argv = t.ssh_argv([t.python, "-c", _launcher_command(), t.remote_tmp or ""])
        # a session of its own: Ctrl-C in the terminal reaches LiteLens, which stops the run
        # and keeps its results; it must not kill ssh (and with it the connection) first
        ssh = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
        try:
            return self._handshake(ssh)
        except BaseException:
            _close(ssh)
            raise

    def _handshake(self, ssh: subprocess.Popen) -> RemoteProcess:
        assert ssh.stdin is not None
        t = self.target
        hello = self._launcher_line(ssh)
        self.facts = hello.get("facts") or {}
        self.remote_dir = hello.get("dir")
        py = tuple(int(x) for x in str(self.facts.get("python", "0.0")).split(".")[:2])
        if py < MIN_PYTHON:
            raise TargetError("remote_python", f"{t.address}: {t.python} is Python "
                                               f"{self.facts.get('python')}; the worker needs "
                                               f"{'.'.join(map(str, MIN_PYTHON))} or newer")
        lacking = missing_runtime(t, self.cfg.backend, self.facts.get("runtimes") or {})
        if lacking:
            raise lacking
        files = [(rel, path, path.stat().st_size) for rel, path in self._payload()]
        need, free = sum(size for *_, size in files), int(hello.get("free_bytes") or 0)
        if need > free:
            raise TargetError("no_space", f"{t.address}: no space for the upload in "
                                          f"{self.remote_dir}: it needs {need} bytes, {free} "
                                          "are free (--remote-tmp DIR puts it elsewhere)")
        manifest = json.dumps({"files": [{"path": rel, "size": size, "sha256": _sha256(path)}
                                         for rel, path, size in files]}).encode("utf-8")
        try:
            ssh.stdin.write(f"{len(manifest):0{HEADER_DIGITS}d}".encode("ascii") + manifest)
            for _rel, path, _size in files:
                with open(path, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        ssh.stdin.write(chunk)
            ssh.stdin.flush()
        except BrokenPipeError:
            pass   # the launcher stopped reading: its next line says why
        ready = self._launcher_line(ssh)
        if ready.get("launcher") != "ready":
            raise TargetError("upload", f"{t.address}: unexpected answer from the board: "
                                        f"{str(ready)[:200]}")
        return RemoteProcess(ssh, Path(self._tmpdir) / "native.log")

    def _launcher_line(self, ssh: subprocess.Popen) -> dict:
        """The launcher's next line; TargetError for its error or for ssh's failure."""
        assert ssh.stdout is not None and ssh.stderr is not None
        for _ in range(HANDSHAKE_LINES):
            line = ssh.stdout.readline()
            if not line:
                break
            try:
                msg = json.loads(line)
            except ValueError:
                continue   # a login script's chatter on stdout
            if isinstance(msg, dict) and "launcher" in msg:
                if msg["launcher"] == "error":
                    raise TargetError(msg.get("kind", "remote"),
                                      f"{self.target.address}: {msg.get('message')}")
                return msg
        code = ssh.wait()
        err = ssh.stderr.read().decode("utf-8", "replace").splitlines()
        raise ssh_failure(self.target, code, err)

    def _worker_config(self) -> dict:
        d = PurePosixPath(self.remote_dir or ".")
        return {**super()._worker_config(), "inputs": str(d / "inputs.npz"),
                "native_log": str(d / "native.log"),
                "model": str(d / "model" / Path(self.cfg.model).name)}

    # -- the ending --
    def _finish(self, code: int) -> list[dict]:
        proc = self.proc
        if isinstance(proc, RemoteProcess) and proc.lost() and self.error is None \
                and not self.done and not self._killed:
            said = next((ln for ln in reversed(proc.stderr_tail) if ln.strip()), "")
            runs = len(getattr(self.job, "latencies_ms", []))
            self.error = {"kind": "connection_lost",
                          "message": f"{self.target.address}: the connection dropped "
                                     f"{self._where()}" + (f" ({said.strip()[:160]})" if said
                                                           else "")
                                     + f"; kept the {runs} runs done so far"}
            return [{"t": "error", **self.error}] + super()._finish(code)
        return super()._finish(code)

    def result(self) -> dict:
        return {**super().result(), "target": self.target_json()}

    def target_json(self) -> dict:
        return {"address": self.target.address, "facts": self.facts}

    def facts_line(self) -> str:
        return facts_line(self.facts or {})


def _launcher_command() -> str:
    """The launcher as one ``python -c`` line of base64: no newline or quote reaches the board's
    login shell, whichever it is (sh, bash, csh and fish all take it)."""
    code = base64.b64encode(LAUNCHER.read_bytes()).decode("ascii")
    return f"import base64;exec(compile(base64.b64decode('{code}'),'litelens-launcher','exec'))"


def _close(ssh: subprocess.Popen) -> None:
    """End an ssh session: close its input (the launcher cleans up on end of input), and kill
    the client if it does not end by itself."""
    try:
        if ssh.stdin:
            ssh.stdin.close()
    except OSError:
        pass   # already broken: the board's side is gone as well
    try:
        ssh.wait(timeout=10)
    except subprocess.TimeoutExpired:
        ssh.kill()
        ssh.wait()


def make_session(cfg: RunConfig, job: str = "bench", model=None, params: dict | None = None,
                 target: SshTarget | None = None) -> WorkerSession:
    """A local session, or one on ``target``."""
    if target is None:
        return WorkerSession(cfg, job, model, params)
    return RemoteSession(cfg, target, job, model, params)


def run_job(cfg: RunConfig, job: str = "bench", target: SshTarget | None = None,
            model=None, params: dict | None = None) -> dict:
    """Run one job to the end, here or on ``target`` (``TargetError`` when the board cannot)."""
    return make_session(cfg, job, model, params, target).start().run_to_end()
