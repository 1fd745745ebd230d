"""One configuration on several targets at once (boards over SSH and this machine), side by
side: each target is a session of its own, all started together (the SSH handshakes and uploads
overlap) and driven to the end; a target that cannot start is one row with its reason, and never
stops the others."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from core.inference.remote import RemoteSession
from core.inference.session import WorkerSession
from core.inference.ssh_target import TargetError

if TYPE_CHECKING:
    from core.inference.worker.jobs.bench import Folder as BenchFolder

LOCAL_ADDRESS = "local"


def local_facts() -> dict[str, Any]:
    """This machine's facts, read as the launcher reads a board's."""
    from core.inference import remote_launcher
    return remote_launcher.facts()


class Sweep:
    """``entries``: (address, unstarted session). ``start()`` starts them concurrently; drive
    with ``poll()`` (GUI timer) or ``run()`` (CLI); ``results()`` in the order given."""

    def __init__(self, entries: list[tuple[str, WorkerSession[BenchFolder]]]):
        self.entries = entries
        self.start_errors: dict[int, TargetError | OSError] = {}
        self.started = False

    def start(self) -> None:
        def start_one(k: int, session: WorkerSession[BenchFolder]) -> None:
            try:
                session.start()
            except (TargetError, OSError) as e:
                self.start_errors[k] = e

        threads = [threading.Thread(target=start_one, args=(k, s), daemon=True,
                                    name=f"sweep-start-{k}")
                   for k, (_a, s) in enumerate(self.entries)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.started = True

    def running(self) -> list[tuple[int, WorkerSession[BenchFolder]]]:
        return [(k, s) for k, (_a, s) in enumerate(self.entries)
                if k not in self.start_errors and s.proc is not None and not s.finished]

    @property
    def finished(self) -> bool:
        return self.started and not self.running()

    def poll(self) -> list[tuple[int, dict]]:
        """Messages since the last call, as (entry index, message)."""
        return [(k, m) for k, s in self.running() for m in s.poll()]

    def run(self) -> None:
        if not self.started:
            self.start()
        while not self.finished:
            for _k, s in self.running():
                s.wait(0.05)

    def stop(self) -> None:
        for _k, s in self.running():
            s.stop()

    def finish(self, grace_s: float) -> None:
        """Wait up to ``grace_s`` for stopped sessions to end."""
        deadline = time.monotonic() + grace_s
        while not self.finished and time.monotonic() < deadline:
            for _k, s in self.running():
                s.wait(0.05)

    def kill(self) -> None:
        for _k, s in self.running():
            s.kill()
        while not self.finished:
            for _k, s in self.running():
                s.wait(0.05)

    def results(self) -> list[dict[str, Any]]:
        """Each target's result as ``litelens bench --json`` gives it, with its ``target``."""
        out: list[dict[str, Any]] = []
        for k, (address, s) in enumerate(self.entries):
            err = self.start_errors.get(k)
            if err is not None:
                out.append({"model": str(s.cfg.model), "status": "error",
                            "error": str(err), "error_kind": getattr(err, "kind", "config"),
                            "target": {"address": address, "facts": getattr(s, "facts", None)}})
                continue
            res = s.job.result().to_json()
            if not isinstance(s, RemoteSession):
                res["target"] = {"address": LOCAL_ADDRESS, "facts": local_facts()}
            out.append(res)
        return out
