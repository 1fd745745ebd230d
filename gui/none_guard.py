"""Guard against a PySide6 6.12 / shiboken6 bug on Python < 3.12: every call of a Qt method that
returns void (``QPainter.setPen``, ``drawRect``, ``QObject.setObjectName``, ...) drops one
reference to ``None`` without having taken it. ``None`` starts with ~5,000 references, so an app
that paints dies after a few thousand such calls with "Fatal Python error: none_dealloc".

pyproject.toml excludes 6.12.0; this guard covers an environment that has it anyway.
``apply()`` detects the bug (a void call that lowers None's count) and only then gives ``None``
2**40 extra references once, which makes it effectively immortal, as
it is on Python >= 3.12 (where the bug is harmless). Extra references to ``None`` cost nothing:
``None`` is never freed. Measured: 200 ``QPainter.setPen`` calls lower ``sys.getrefcount(None)``
by 200 with PySide6 6.12.0 on Python 3.11.7.
"""
from __future__ import annotations

import ctypes
import sys

_applied = False


def bug_present() -> bool:
    """True when void Qt calls drop references to None in this PySide6."""
    from PySide6.QtCore import QObject
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(100):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before - 50


def apply() -> bool:
    """Idempotent; returns True when the guard is (now) in place."""
    global _applied
    if _applied or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _applied
    if not bug_present():
        return False
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
    _applied = True
    return True
