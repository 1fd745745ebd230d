"""LiteRT's tie order (libstdc++'s hash-set iteration and introsort) is replayed only where the
runtime is built on libstdc++; elsewhere the plan still gives sizes and says offsets may differ.
The decision reads the C++ library the runtime's native module links, checked here against
binutils' readelf on the installed wheel."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.analysis.memory import memory_report
from core.analysis.memory.libstdcxx import (
    linked_libraries,
    runtime_library,
    runtime_tie_order,
    tie_order_of,
)
from core.analysis.memory.result import TieOrder
from core.cli.memory import memory_text
from core.model.reader import open_model
from tests.analysis.memory_models import BUILT
from tests.analysis.test_memory_planner import _no_overlap

INEXACT = TieOrder(False, "the runtime's module is a Mach-O library (libc++)")


def _readelf_needed(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


@pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils' readelf is not installed")
def test_linked_libraries_are_readelfs():
    lib = runtime_library()
    assert lib is not None and lib.name.startswith("_pywrap_litert_interpreter_wrapper")
    assert linked_libraries(lib) == _readelf_needed(lib)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux wheel links libstdc++")
def test_the_installed_linux_wheel_gets_the_exact_tie_order():
    lib = runtime_library()
    assert lib is not None and "libstdc++.so.6" in _readelf_needed(lib)
    order = runtime_tie_order()
    assert order.exact and "libstdc++" in order.reason


def test_a_runtime_without_libstdcxx_is_not_exact(tmp_path):
    # a real ELF that links no C++ library (this Python's executable), a non-ELF file, and no
    # runtime at all on the platforms whose wheels use libc++ or MSVC
    exe = Path(sys.executable).resolve()
    needed = linked_libraries(exe)
    assert needed is not None and not any(n.startswith("libstdc++") for n in needed)
    assert not tie_order_of(exe).exact
    macho = tmp_path / "_pywrap_litert_interpreter_wrapper.so"
    macho.write_bytes(b"\xcf\xfa\xed\xfe" + bytes(60))
    t = tie_order_of(macho)
    assert not t.exact and "Mach-O" in t.reason and "offsets" in t.reason
    assert not tie_order_of(None, "darwin").exact and not tie_order_of(None, "win32").exact
    assert tie_order_of(None, "linux").exact


def test_both_branches_plan_valid_arenas_and_say_which(build_model):
    path = build_model(BUILT["ties_and_chunks"](), "ties.tflite")
    exact = TieOrder(True, "links libstdc++")
    with open_model(path) as model:
        same = memory_report(model, 1, ("tflite",), tie_order=exact)
        other = memory_report(model, 1, ("tflite",), tie_order=INEXACT)
    for report in (same, other):
        for sg in report.subgraphs:
            arena = sg.tflite_arena
            assert arena is not None
            main = [t for t in arena.tensors if t.arena == "main" and t.shares is None]
            _no_overlap([t.bytes for t in main], [t.first_op for t in main],
                        [t.last_op for t in main], [t.offset for t in main])
            assert sg.lower_bound_bytes <= arena.arena_bytes
    assert same.to_json()["config"]["offsets_exact"] is True
    config = other.to_json()["config"]
    assert config["offsets_exact"] is False and config["offsets_note"] == INEXACT.reason
    assert "offsets may differ" in memory_text(other)
    assert "offsets may differ" not in memory_text(same)
    # the equal-key tensors of this model come out in another order without the emulation
    offsets = [[(t.index, t.offset) for t in r.subgraphs[0].tflite_arena.tensors]
               for r in (same, other)]
    assert offsets[0] != offsets[1]
