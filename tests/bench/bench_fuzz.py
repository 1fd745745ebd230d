"""The reader fuzz section of BENCHMARKS.md (the same run `make fuzz` does), so `make bench`, which
rewrites the file, keeps it."""
from __future__ import annotations

import subprocess
import sys

from tests.bench.run import ROOT


def run() -> str:
    proc = subprocess.run([sys.executable, "-m", "tests.model.fuzz_reader", "--cases", "20000"],
                          capture_output=True, text=True, cwd=ROOT, timeout=3600)
    escapes = [line for line in proc.stdout.splitlines() if line.startswith("ESCAPE")]
    table = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("ESCAPE"))
    return table + ("\n\nFirst escapes:\n" + "\n".join(f"- {e}" for e in escapes[:10])
                    if escapes else "")
