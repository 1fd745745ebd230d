"""The two pieces of libstdc++ behaviour that decide LiteRT's tie order, re-expressed in Python.

LiteRT collects the tensors to place from one ``std::unordered_set<int>`` per node and orders them
with ``std::sort``, whose comparator leaves ties (same size, same first node). The wheel is built
against libstdc++, so equal tensors come out in the order its hash table iterates and its
introsort leaves them; matching both makes predicted offsets exact rather than merely the sizes.

That holds only where the runtime is built on libstdc++ (the Linux wheels). ``runtime_tie_order()``
finds out from the runtime's own native module (the C++ library it links) without loading it;
elsewhere (libc++ on macOS, MSVC on Windows) the plan still predicts sizes, and says that
offsets may differ.
"""
from __future__ import annotations

import importlib.util
import sys
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from core.analysis.memory.result import TieOrder

T = TypeVar("T")

# libstdc++ _Prime_rehash_policy: the small-table shortcut and the start of its prime list
# (enough for a million entries; a node never holds that many tensors).
_FAST_BUCKETS = (2, 2, 2, 3, 5, 5, 7, 7, 11, 11, 11, 11, 13, 13)
_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
    97, 103, 109, 113, 127, 137, 139, 149, 157, 167, 179, 193, 199, 211, 227, 241, 257, 277,
    293, 313, 337, 359, 383, 409, 439, 467, 503, 541, 577, 619, 661, 709, 761, 823, 887, 953,
    1031, 1109, 1193, 1289, 1381, 1493, 1613, 1741, 1879, 2029, 2179, 2357, 2549, 2753, 2971,
    3209, 3469, 3739, 4027, 4349, 4703, 5087, 5503, 5953, 6427, 6949, 7517, 8123, 8783, 9497,
    10273, 11113, 12011, 12983, 14033, 15173, 16411, 17749, 19183, 20753, 22447, 24281, 26267,
    28411, 30727, 33223, 35933, 38873, 42043, 45481, 49201, 53201, 57557, 62233, 67307, 72817,
    78779, 85229, 92203, 99733, 107897, 116731, 126271, 136607, 147793, 159871, 172933, 187091,
    202409, 218971, 236897, 256279, 277261, 299951, 324503, 351061, 379787, 410857, 444487,
    480881, 520241, 562841, 608903, 658753, 712697, 771049, 834181, 902483, 976369, 1056323)


RUNTIME_PACKAGE = "ai_edge_litert"
# the native module behind ai_edge_litert.interpreter: the code whose tie order is replayed
RUNTIME_MODULE = "_pywrap_litert_interpreter_wrapper"
LIBSTDCXX = "libstdc++.so"
# the first bytes of the native formats the other C++ runtimes ship in
MACH_O_MAGICS = (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
PE_MAGIC = b"MZ"


def runtime_library() -> Path | None:
    """The runtime's interpreter module (``.so``/``.pyd``), found without importing the runtime
    (planning never needs it); None when ai-edge-litert is not installed."""
    spec = importlib.util.find_spec(RUNTIME_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob(f"{RUNTIME_MODULE}*"))
        if found:
            return found[0]
    return None


def linked_libraries(path: Path) -> list[str] | None:
    """The shared libraries an ELF file names (DT_NEEDED), or None when it is not ELF."""
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            return None
        f.seek(0)
        elf = ELFFile(f)
        # a DT_NEEDED tag carries its library's name as ``needed`` (set by pyelftools per tag)
        return [str(getattr(tag, "needed"))  # noqa: B009 - not a declared attribute
                for section in elf.iter_sections() if isinstance(section, DynamicSection)
                for tag in section.iter_tags("DT_NEEDED")]


def tie_order_of(library: Path | None, platform: str = sys.platform) -> TieOrder:
    """Whether ``library`` (the runtime's native module) sorts with libstdc++, so the emulated
    tie order holds. Without a library, the platform's wheels decide (Linux: libstdc++)."""
    if library is None:
        if platform.startswith("linux"):
            return TieOrder(True, "ai-edge-litert is not installed; its Linux wheels link "
                                  "libstdc++, whose tie order the plan follows")
        return TieOrder(False, f"ai-edge-litert is not installed, and its {platform} wheels "
                               "are not built on libstdc++: offsets of equal-sized tensors may "
                               "differ (sizes are predicted)")
    try:
        needed = linked_libraries(library)
        if needed is None:
            with open(library, "rb") as f:
                magic = f.read(4)
    except (OSError, ELFError) as e:
        return TieOrder(False, f"cannot read the runtime's {library.name} ({e}): offsets of "
                               "equal-sized tensors may differ (sizes are predicted)")
    if needed is None:
        kind = ("a Mach-O library (libc++)" if magic in MACH_O_MAGICS else
                "a Windows DLL (MSVC)" if magic[:2] == PE_MAGIC else "not an ELF library")
        return TieOrder(False, f"the runtime's {library.name} is {kind}, not built on "
                               "libstdc++: offsets of equal-sized tensors may differ (sizes "
                               "are predicted)")
    if any(n.startswith(LIBSTDCXX) for n in needed):
        return TieOrder(True, f"the runtime's {library.name} links libstdc++, whose tie order "
                              "the plan follows")
    return TieOrder(False, f"the runtime's {library.name} does not link libstdc++ "
                           f"({', '.join(needed) or 'no libraries'}): offsets of equal-sized "
                           "tensors may differ (sizes are predicted)")


@lru_cache(maxsize=1)
def runtime_tie_order() -> TieOrder:
    """``tie_order_of`` the installed runtime (read once per process)."""
    return tie_order_of(runtime_library())


def _next_bucket_count(n: int) -> int:
    if n < len(_FAST_BUCKETS):
        return 1 if n == 0 else _FAST_BUCKETS[n]
    i = bisect_left(_PRIMES, n, 6)
    return _PRIMES[min(i, len(_PRIMES) - 1)]


def unordered_set_order(values: Sequence[int]) -> list[int]:
    """Iteration order of a ``std::unordered_set<int>`` (libstdc++) after inserting ``values``.

    The hash of an int is the int; a node joins the front of its bucket's run in the single
    linked list, or the front of the list when its bucket is empty; a rehash re-links every node
    in list order by the same rule. The load factor is 1 and the first insert sizes the table for
    11 elements.
    """
    order: list[int] = []
    present: set[int] = set()
    n_buckets, next_resize = 1, 0
    for v in values:
        if v in present:
            continue
        count = len(order)
        if count + 1 > next_resize:
            min_buckets = max(count + 1, 0 if next_resize else 11)
            if min_buckets >= n_buckets:
                n_buckets = _next_bucket_count(max(min_buckets + 1, n_buckets * 2))
                next_resize = n_buckets
                order = _relink(order, n_buckets)
            else:
                next_resize = n_buckets
        _link(order, v, n_buckets)
        present.add(v)
    return order


def _link(order: list[int], v: int, n_buckets: int) -> None:
    b = v % n_buckets
    for i, w in enumerate(order):
        if w % n_buckets == b:
            order.insert(i, v)
            return
    order.insert(0, v)


def _relink(order: list[int], n_buckets: int) -> list[int]:
    out: list[int] = []
    for v in order:
        _link(out, v, n_buckets)
    return out


def std_sort(items: list[T], less: Callable[[T, T], bool]) -> None:
    """Sort ``items`` in place exactly as libstdc++'s ``std::sort`` (introsort, threshold 16,
    median-of-three into the first slot, unguarded partition, final insertion sort; heapsort
    when the depth limit runs out), so elements the comparator calls equal end up where the C++
    program puts them."""
    n = len(items)
    if n < 2:
        return
    _introsort_loop(items, 0, n, 2 * (n.bit_length() - 1), less)
    if n > 16:
        _insertion_sort(items, 0, 16, less)
        for i in range(16, n):
            _unguarded_linear_insert(items, i, less)
    else:
        _insertion_sort(items, 0, n, less)


def _introsort_loop(a: list, first: int, last: int, depth: int, less) -> None:
    while last - first > 16:
        if depth == 0:
            _heap_sort(a, first, last, less)
            return
        depth -= 1
        mid = first + (last - first) // 2
        _move_median_to_first(a, first, first + 1, mid, last - 1, less)
        cut = _unguarded_partition(a, first + 1, last, first, less)
        _introsort_loop(a, cut, last, depth, less)
        last = cut


def _move_median_to_first(a, result, x, y, z, less) -> None:
    if less(a[x], a[y]):
        if less(a[y], a[z]):
            pick = y
        elif less(a[x], a[z]):
            pick = z
        else:
            pick = x
    elif less(a[x], a[z]):
        pick = x
    elif less(a[y], a[z]):
        pick = z
    else:
        pick = y
    a[result], a[pick] = a[pick], a[result]


def _unguarded_partition(a, first, last, pivot, less) -> int:
    while True:
        while less(a[first], a[pivot]):
            first += 1
        last -= 1
        while less(a[pivot], a[last]):
            last -= 1
        if not first < last:
            return first
        a[first], a[last] = a[last], a[first]
        first += 1


def _insertion_sort(a, first, last, less) -> None:
    for i in range(first + 1, last):
        if less(a[i], a[first]):
            v = a[i]
            a[first + 1:i + 1] = a[first:i]
            a[first] = v
        else:
            _unguarded_linear_insert(a, i, less)


def _unguarded_linear_insert(a, last, less) -> None:
    v = a[last]
    nxt = last - 1
    while less(v, a[nxt]):
        a[last] = a[nxt]
        last = nxt
        nxt -= 1
    a[last] = v


def _heap_sort(a, first, last, less) -> None:
    n = last - first
    if n >= 2:  # make_heap
        parent = (n - 2) // 2
        while True:
            _adjust_heap(a, first, parent, n, a[first + parent], less)
            if parent == 0:
                break
            parent -= 1
    while last - first > 1:  # sort_heap: pop_heap(first, last-1, last-1) repeatedly
        last -= 1
        v = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, v, less)


def _adjust_heap(a, first, hole, n, value, less) -> None:
    top = hole
    child = hole
    while child < (n - 1) // 2:
        child = 2 * (child + 1)
        if less(a[first + child], a[first + child - 1]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if n % 2 == 0 and child == (n - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and less(a[first + parent], value):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value
