"""The installed PySide6 must not have the 6.12.0 None-refcount bug that pyproject excludes."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

PROBE = r"""
import sys
from PySide6.QtCore import QObject
o = QObject()
before = sys.getrefcount(None)
for _ in range(10000):
    o.setObjectName("x")
print(before - sys.getrefcount(None))
"""


def test_void_qt_calls_keep_none_alive():
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip()) < 100, "this PySide6 leaks references to None (6.12.0 bug)"


def test_guard_is_idle_when_the_bug_is_absent():
    from gui import none_guard
    assert none_guard.bug_present() is False
