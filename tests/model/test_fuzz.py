"""The reader fuzz in `make test`: 2,000 seeded cases of every kind, in a subprocess under a 2 GiB
address-space limit (`make fuzz` runs 20,000 and writes the counts to BENCHMARKS.md)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.model.fuzz_reader import KINDS


def test_reader_fuzz_has_no_escapes():
    proc = subprocess.run([sys.executable, "-m", "tests.model.fuzz_reader", "--cases", "2000",
                           "--json"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.stdout, proc.stderr
    out = json.loads(proc.stdout)
    assert out["escapes"] == [], out["escapes"][:10]
    assert proc.returncode == 0, proc.stderr
    counts = out["counts"]
    assert set(counts) == set(KINDS)
    for kind, c in counts.items():
        assert c["cases"] >= 10, (kind, c)
        assert c["parsed"] + c["refused"] == c["cases"], (kind, c)
    # the mutations bite: most structural damage is refused, yet many mutated files still parse
    total = {k: sum(c[k] for c in counts.values()) for k in ("cases", "parsed", "refused")}
    assert total["cases"] == 2000 and total["refused"] > 500 and total["parsed"] > 100
    assert counts["amplification"]["refused"] == counts["amplification"]["cases"]
    assert counts["truncation"]["parsed"] == 0 and counts["identifier"]["parsed"] == 0
