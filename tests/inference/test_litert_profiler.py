"""The LiteRT C-API profiler's contract with the library it loads: every C function it calls is
checked when the library is loaded (a LiteRT without one falls back to single-op timing with the
reason, instead of an AttributeError ending the bench job), and the installed runtime has them."""
from __future__ import annotations

import re
from pathlib import Path

from core.inference.worker import litert_profiler


def _called_functions() -> set[str]:
    """Names of the C functions the module calls, its f-string families expanded."""
    src = Path(litert_profiler.__file__).read_text("utf-8")
    names = set(re.findall(r"lib\.(LiteRt\w+)\(", src))
    for family in re.findall(r'getattr\(\w+, f"(LiteRt\w*\{kind\}\w*)"\)', src):
        names |= {family.replace("{kind}", kind) for kind in ("Input", "Output")}
    return names


def test_every_called_c_function_is_checked_at_load():
    called = _called_functions()
    assert len(called) > 20  # the parse found the calls
    assert called <= set(litert_profiler._SYMBOLS), called - set(litert_profiler._SYMBOLS)


def test_the_installed_runtime_exports_them():
    lib = litert_profiler._library()  # raises ProfilerUnavailable naming what is missing
    assert all(hasattr(lib, name) for name in litert_profiler._SYMBOLS)
