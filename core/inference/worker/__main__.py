"""Entry of the worker process: ``python -m core.inference.worker`` (or the app bundle started
with ``--litelens-worker``, see ``gui/app.py``).

Reads one JSON config line on stdin, runs the job it names (``bench`` when none), and streams
the job's messages on its original stdout (``protocol``). If a kernel crashes, only this process
dies: the parent reads the signal from the exit status and the stage/op from the last message.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import traceback

from core.inference.worker import jobs
from core.inference.worker.protocol import Channel, WorkerError, heartbeat, listen_for_stop


def main() -> int:
    # Ctrl-C in a terminal signals the whole process group: the parent decides (it sends "stop"
    # and keeps the runs done so far), so the worker must not die of the same SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ch = Channel()
    threading.Thread(target=heartbeat, args=(ch,), daemon=True, name="heartbeat").start()
    line = sys.stdin.readline()
    try:
        cfg = json.loads(line)
    except ValueError:
        cfg = None
    if not isinstance(cfg, dict):
        ch.send("error", kind="config", message="worker: no valid JSON config on stdin")
        return 2
    stop = threading.Event()
    threading.Thread(target=listen_for_stop, args=(stop,), daemon=True).start()
    try:
        try:
            job = jobs.load(cfg.get("job", "bench"))
        except jobs.UnknownJob as e:
            raise WorkerError("config", f"worker: {e}") from None
        job.run(cfg, ch, stop)
    except WorkerError as e:
        ch.send("error", kind=e.kind, message=str(e))
        return 3
    except Exception as e:  # noqa: BLE001 - reported to the parent, never a raw traceback in UI
        traceback.print_exc()
        ch.send("error", kind="internal",
                message=f"{cfg.get('model', '(no model)')}: internal error during {ch.stage} "
                        f"({cfg.get('job', 'bench')} job): {type(e).__name__}: {e}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
