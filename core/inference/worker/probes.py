"""What the worker measures about itself: resident memory, its high-water mark, native logs."""
from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
import time
from typing import IO

RSS_PERIOD_S = 0.05        # memory footprint sampled every 50 ms, as benchmark_model does


def rss_bytes() -> int:
    """Resident set size now (0 when this platform offers no way to read it)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        pass
    try:
        import psutil  # optional: the only way on macOS/Windows
    except ImportError:
        return 0
    try:
        return int(psutil.Process().memory_info().rss)
    except (psutil.Error, OSError):
        return 0


def _status_bytes(field: str) -> int | None:
    """A ``kB`` line of /proc/self/status (Linux) in bytes, or None where it is not there."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def anon_rss_bytes() -> int | None:
    """Resident anonymous memory (RssAnon of /proc/self/status: heap and private allocations,
    not the mapped model file), or None where the platform does not say."""
    return _status_bytes("RssAnon")


def hwm_bytes() -> int:
    """The kernel's peak-RSS mark of this process.

    On Linux, VmHWM of /proc/self/status: ru_maxrss would be wrong here, because the kernel
    carries it over fork+exec, so a worker started by a large parent (the GUI, a benchmark
    holding big graphs) would report the parent's size."""
    hwm = _status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    try:
        import resource  # POSIX only
    except ImportError:
        return 0
    try:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except OSError:
        return 0
    return int(kb) * (1 if sys.platform == "darwin" else 1024)


class RssSampler(threading.Thread):
    """Sends ``{"t": "rss", "s": seconds, "b": bytes}`` every RSS_PERIOD_S; keeps the peak."""
    def __init__(self, ch):
        super().__init__(daemon=True, name="rss-sampler")
        self.ch, self.t0, self.peak = ch, time.monotonic(), 0
        self._halt = threading.Event()

    def sample(self) -> int:
        rss = rss_bytes()
        self.peak = max(self.peak, rss)
        return rss

    def run(self) -> None:
        while not self._halt.wait(RSS_PERIOD_S):
            rss = self.sample()
            self.ch.send("rss", s=round(time.monotonic() - self.t0, 3), b=rss)

    def halt(self) -> None:
        self._halt.set()


class NativeLog:
    """Capture fd 2 (where LiteRT logs) during a block, then forward it to the real stderr.

    With ``path`` the capture is a file the parent can read if the runtime kills the process
    inside the block (an abort during allocation leaves its last words there)."""
    def __init__(self, path: str | None = None):
        self.path = path
        self.text = ""
        self._saved: int | None = None
        self._tmp: IO[bytes] | None = None

    def __enter__(self) -> NativeLog:
        sys.stderr.flush()
        self._saved = os.dup(2)
        tmp: IO[bytes] = open(self.path, "w+b") if self.path else tempfile.TemporaryFile()
        self._tmp = tmp
        os.dup2(tmp.fileno(), 2)
        self.text = ""
        return self

    def __exit__(self, *exc: object) -> None:
        saved, tmp = self._saved, self._tmp
        if saved is None or tmp is None:   # never entered
            return
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        self._saved = self._tmp = None
        tmp.seek(0)
        self.text = tmp.read().decode("utf-8", "replace")
        tmp.close()
        if self.text:
            sys.stderr.write(self.text)
            sys.stderr.flush()

    def errors(self) -> list[str]:
        keep = []
        for line in self.text.splitlines():
            s = line.strip()
            if re.search(r"\b(ERROR|Error|error|Failed|failed|unresolved)\b", s) and s not in keep:
                keep.append(s)
        return keep
