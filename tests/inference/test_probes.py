"""The worker's probes of itself read Linux's own accounting: the anonymous part of the resident
set and the high-water mark, against the resident set read another way (/proc/self/statm)."""
from __future__ import annotations

import sys

import pytest

from core.inference.worker.probes import anon_rss_bytes, hwm_bytes, rss_bytes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/status is Linux's")
def test_status_fields_bracket_the_resident_set():
    before = hwm_bytes()
    block = bytearray(64 << 20)      # 64 MiB touched: anonymous, resident, raises the mark
    block[::4096] = b"\1" * len(block[::4096])
    rss, anon, hwm = rss_bytes(), anon_rss_bytes(), hwm_bytes()
    assert anon is not None and 64 << 20 <= anon <= rss
    assert hwm >= max(rss, before) and hwm >= 64 << 20
    del block
