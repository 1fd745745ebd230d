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
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar, cast, overload

from core.inference.config import RunConfig
from core.inference.job_api import JobFolder
from core.inference.session import ROOT, JobError, WorkerSession
from core.inference.ssh_target import (
    SshTarget,
    TargetError,
    facts_line,
    missing_runtime,
    ssh_failure,
)
from core.inference.worker import jobs

if TYPE_CHECKING:
    from core.inference.results import ArenaResult, BenchResult, PlacementResult
    from core.inference.worker.jobs.bench import Folder as BenchFolder

F = TypeVar("F", bound=JobFolder[Any])
R = TypeVar("R")

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

    def __init__(self, ssh: subprocess.Popen[bytes], native_log: Path):
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


class RemoteSession(WorkerSession[F]):
    """A ``WorkerSession`` whose worker runs on ``target`` (the bench job unless another job's
    ``Folder`` is given). ``start()`` raises ``TargetError`` (one line, with ``kind``) when the
    board cannot run it; nothing is left on the board."""

    @overload
    def __init__(self: RemoteSession[BenchFolder], cfg: RunConfig, target: SshTarget,
                 folder: None = None, model: Any = None,
                 params: dict[str, Any] | None = None) -> None: ...

    @overload
    def __init__(self, cfg: RunConfig, target: SshTarget, folder: type[F], model: Any = None,
                 params: dict[str, Any] | None = None) -> None: ...

    def __init__(self, cfg: RunConfig, target: SshTarget, folder: type[Any] | None = None,
                 model: Any = None, params: dict[str, Any] | None = None) -> None:
        self.target = target
        self.facts: dict[str, Any] | None = None
        self.remote_dir: str | None = None
        if folder is None:
            from core.inference.worker.jobs import bench
            folder = bench.Folder
        # the overloads tie F to the folder given, or to the bench job's without one
        super().__init__(cfg, cast("type[F]", folder), model, params)

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
        if not LAUNCHER.is_file():
            missing.append(str(LAUNCHER))
        if missing:
            # the app bundle keeps its modules compiled in one archive: nothing to send
            raise TargetError("unsupported", f"{t.address}: this LiteLens has no worker sources "
                                             f"to send to a board ({missing[0]} "
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

    def _handshake(self, ssh: subprocess.Popen[bytes]) -> RemoteProcess:
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

    def _launcher_line(self, ssh: subprocess.Popen[bytes]) -> dict[str, Any]:
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

    def _worker_config(self) -> dict[str, Any]:
        d = PurePosixPath(self.remote_dir or ".")
        return {**super()._worker_config(), "inputs": str(d / "inputs.npz"),
                "native_log": str(d / "native.log"),
                "model": str(d / "model" / Path(self.cfg.model).name)}

    # -- the ending --
    def _finish(self, code: int) -> list[dict[str, Any]]:
        proc = self.proc
        if isinstance(proc, RemoteProcess) and proc.lost() and self.error is None \
                and not self.done and not self._killed:
            said = next((ln for ln in reversed(proc.stderr_tail) if ln.strip()), "")
            # what the job measured so far: the bench's timed runs (other jobs keep their own)
            runs = len(getattr(self.job, "latencies_ms", []))
            self.error = JobError("connection_lost",
                                  f"{self.target.address}: the connection dropped "
                                  f"{self._where()}" + (f" ({said.strip()[:160]})" if said
                                                        else "")
                                  + f"; kept the {runs} runs done so far")
            return [{"t": "error", "kind": self.error.kind, "message": self.error.message}] \
                + super()._finish(code)
        return super()._finish(code)

    def target_json(self) -> dict[str, Any]:
        return {"address": self.target.address, "facts": self.facts}

    def facts_line(self) -> str:
        return facts_line(self.facts or {})


def _launcher_command() -> str:
    """The launcher as one ``python -c`` line of base64: no newline or quote reaches the board's
    login shell, whichever it is (sh, bash, csh and fish all take it)."""
    code = base64.b64encode(LAUNCHER.read_bytes()).decode("ascii")
    return f"import base64;exec(compile(base64.b64decode('{code}'),'litelens-launcher','exec'))"


def _close(ssh: subprocess.Popen[bytes]) -> None:
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


def make_session(cfg: RunConfig, folder: type[F], model: Any = None,
                 params: dict[str, Any] | None = None,
                 target: SshTarget | None = None) -> WorkerSession[F]:
    """A local session, or one on ``target``."""
    if target is None:
        return WorkerSession(cfg, folder, model, params)
    return RemoteSession(cfg, target, folder, model, params)


def run_job(cfg: RunConfig, folder: type[JobFolder[R]], target: SshTarget | None = None,
            model: Any = None, params: dict[str, Any] | None = None,
            on_message: Callable[[dict[str, Any]], None] | None = None) -> R:
    """Run one job to the end, here or on ``target`` (``TargetError`` when the board cannot)."""
    session = make_session(cfg, folder, model, params, target).start()
    session.run_to_end(on_message)
    return session.job.result()


# Typed entry points for the analyses and the CLI, here or on a board (the analyses reach the
# worker's jobs only through the session modules)
def bench_session(cfg: RunConfig, target: SshTarget | None = None,
                  model: Any = None) -> WorkerSession[BenchFolder]:
    """A bench session here or on ``target``, not started."""
    from core.inference.worker.jobs import bench
    return make_session(cfg, bench.Folder, model, target=target)


def run_benchmark(cfg: RunConfig, target: SshTarget | None = None) -> BenchResult:
    """One configuration run to the end, here or on ``target``."""
    from core.inference.worker.jobs import bench
    return run_job(cfg, bench.Folder, target)


def run_memory_arena(cfg: RunConfig, target: SshTarget | None = None) -> ArenaResult:
    """Every tensor's address after ``allocate_tensors()``, here or on ``target``."""
    from core.inference.worker.jobs import memory_arena
    return run_job(cfg, memory_arena.Folder, target)


def run_xnnpack_placement(cfg: RunConfig, target: SshTarget | None = None) -> PlacementResult:
    """Which ops the real XNNPACK delegate replaced, here or on ``target``."""
    from core.inference.worker.jobs import xnnpack_placement
    return run_job(cfg, xnnpack_placement.Folder, target)
