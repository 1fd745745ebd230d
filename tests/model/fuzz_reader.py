"""Seeded fuzzing of the reader: mutate real and built models, then read and report each one.

Every case must end in one of two ways: the file parses and its report serialises as strict JSON,
and every tensor and operator reads as the flatbuffers package's generated accessors read the same
bytes, or the reader refuses it with a ``ModelError`` whose message is one printable line under
1,000 characters naming the file. Anything else (another exception, a MemoryError, a case over its time
limit, a bad message) is an escape. Run it in its own process: ``main`` caps the address space
(2 GiB by default) so a runaway allocation fails fast instead of taking the machine.

    python -m tests.model.fuzz_reader --cases 20000 [--benchmarks BENCHMARKS.md]
"""
from __future__ import annotations

import argparse
import json
import resource
import signal
import struct
import sys
import time
from pathlib import Path

import numpy as np

from core.analysis.report import model_report, summary_text
from core.errors import ModelError
from core.fileio import dumps_json
from core.model import schema
from core.model.builder import ModelBuilder
from core.model.reader import open_bytes
from core.model.samples import demo_model, synthetic_chain
from core.model.verify import FlatView
from tests.conftest import SHARED_MODELS
from tests.model import hostile
from tests.model.accessors import mismatch

# small real models (parse + report in milliseconds), so thousands of cases stay fast
SHARED_NAMES = ("sine_float", "multi_signature_float32", "flex_ops_float32", "hand_recrop",
                "face_detection_short_range")
CASE_SECONDS = 10.0
ADDRESS_SPACE = 2 << 30


class CaseTimeout(BaseException):
    """Raised by the interval timer inside a case that runs too long."""


# --------------------------------------------------------------------------- base models
class _Survey(FlatView):
    """A FlatView that remembers every table it verified, by type, for targeted mutations."""

    def __init__(self, data):
        self.tables: list[tuple[str, np.ndarray]] = []
        super().__init__(data, "base")

    def _table_batch(self, batch):
        self.tables.append((batch.table, batch.pos))
        return super()._table_batch(batch)


class Base:
    def __init__(self, name: str, data: bytes):
        self.name, self.data = name, data
        self.view = _Survey(data)
        # (table, field, position of the field) for every present field of every table
        self.fields: list[tuple[str, schema.Field, int, int]] = []
        for table, pos in self.view.tables:
            for f in schema.fields_of(table):
                fp = self.view.field_offsets(table, f.name, pos)
                for tpos, p in zip(pos.tolist(), fp.tolist(), strict=False):
                    if p >= 0:
                        self.fields.append((table, f, tpos, p))
        self.table_pos = [int(p) for _, pos in self.view.tables for p in pos.tolist()]
        self.offsets = [x for x in self.fields if x[1].kind != "scalar"]
        self.vectors = [x for x in self.fields
                        if x[1].kind in ("vector", "vector_table", "vector_string", "string")]
        self.scalars = [x for x in self.fields if x[1].kind == "scalar"]
        self.unions = [x for x in self.scalars if x[1].name.endswith("Type")
                       and x[0] == "Operator"]


def _built_models() -> list[tuple[str, bytes]]:
    out = [("demo", demo_model().to_bytes()), ("nonfinite", hostile.nonfinite_numbers()),
           ("control_chars", hostile.control_char_name(False)),
           ("chain", synthetic_chain(120).to_bytes())]
    mb = ModelBuilder()
    sg = mb.subgraph()
    x = sg.tensor("x", [1, 8], "int8", quant={"scale": [0.1], "zero_point": [3]})
    w = sg.tensor("w", [4, 8], "int8", data=np.arange(32, dtype=np.int8).reshape(4, 8),
                  quant={"scale": [0.1, 0.2, 0.3, 0.4], "zero_point": [0] * 4,
                         "quantized_dimension": 0})
    y = sg.tensor("y", [1, 4], "int8", quant={"scale": [0.5], "zero_point": [0]})
    z = sg.tensor("z", [1, 4], "int8", quant={"scale": [0.5], "zero_point": [0]})
    sg.op("FULLY_CONNECTED", [x, w, -1], [y], {"fused_activation_function": "RELU"})
    sg.op("CUSTOM", [y], [z], custom_code="MyOp", custom_options=_flexmap())
    sg.inputs, sg.outputs = [x], [z]
    mb.signature("serve", 0, {"x": x}, {"z": z})
    out.append(("quantized_custom", mb.to_bytes()))
    return out


def _flexmap() -> bytes:
    from flatbuffers import flexbuffers
    return bytes(flexbuffers.Dumps({"alpha": 0.5, "mode": "fast", "n": 3, "on": True}))


def load_bases() -> list[Base]:
    bases = [Base(n, d) for n, d in _built_models()]
    for name in SHARED_NAMES:
        p = SHARED_MODELS / f"{name}.tflite"
        if p.exists():
            bases.append(Base(name, p.read_bytes()))
    return bases


# --------------------------------------------------------------------------- mutators
HUGE = (0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 0x40000000, 0x10000, 0xFFFF)


def _near_structure(rng, base: Base) -> int:
    """A byte position in the flatbuffer's structure (tables and their neighbourhood)."""
    if rng.random() < 0.5 or not base.table_pos:
        return int(rng.integers(0, len(base.data)))
    p = base.table_pos[int(rng.integers(len(base.table_pos)))] + int(rng.integers(-32, 64))
    return min(max(p, 0), len(base.data) - 1)


def m_bitflip(rng, base):
    d = bytearray(base.data)
    for _ in range(int(rng.integers(1, 9))):
        p = _near_structure(rng, base)
        d[p] ^= 1 << int(rng.integers(8))
    return d


def m_byteset(rng, base):
    d = bytearray(base.data)
    for _ in range(int(rng.integers(1, 9))):
        d[_near_structure(rng, base)] = int(rng.choice([0, 0xFF, 0x7F, 0x80, rng.integers(256)]))
    return d


def m_truncate(rng, base):
    return bytearray(base.data[:int(rng.integers(0, len(base.data)))])


def _pack_u32(d: bytearray, pos: int, value: int) -> None:
    if 0 <= pos and pos + 4 <= len(d):
        struct.pack_into("<I", d, pos, value & 0xFFFFFFFF)


def _pick(rng, items):
    return items[int(rng.integers(len(items)))] if items else None


def m_int32(rng, base):
    d = bytearray(base.data)
    cands = base.offsets + [x for x in base.scalars if x[1].size == 4]
    for _ in range(int(rng.integers(1, 4))):
        x = _pick(rng, cands)
        if x is not None:
            value = int(rng.choice(HUGE)) if rng.random() < 0.7 else -int(rng.integers(1, 1 << 31))
            _pack_u32(d, x[3], value)
    return d


def m_vtable(rng, base):
    d = bytearray(base.data)
    p = _pick(rng, base.table_pos)
    other = _pick(rng, base.table_pos)
    if p is None:
        return d
    vt_other = other - struct.unpack_from("<i", base.data, other)[0]
    choice = rng.random()
    value = (p - vt_other if choice < 0.4 else p - int(rng.integers(0, len(d))) if choice < 0.7
             else int(rng.choice(HUGE)))
    _pack_u32(d, p, value)
    if rng.random() < 0.3:  # also corrupt the vtable itself: sizes and field offsets
        vt = p - struct.unpack_from("<i", d, p)[0]
        if 0 <= vt < len(d) - 6:
            struct.pack_into("<H", d, vt + 2 * int(rng.integers(0, 3)), int(rng.integers(0, 65536)))
    return d


def m_root(rng, base):
    d = bytearray(base.data)
    choice = rng.random()
    value = (_pick(rng, base.table_pos) if choice < 0.5 else int(rng.integers(0, len(d) + 64))
             if choice < 0.8 else int(rng.choice(HUGE)))
    _pack_u32(d, 0, value)
    return d


def m_veclen(rng, base):
    d = bytearray(base.data)
    x = _pick(rng, base.vectors)
    if x is None:
        return d
    target = x[3] + struct.unpack_from("<I", base.data, x[3])[0]
    n = struct.unpack_from("<I", base.data, target)[0]
    value = int(rng.choice([n + 1, 2 * n + 1, len(d) // 4, len(d), 1 << 20, *HUGE]))
    _pack_u32(d, target, value)
    return d


def m_shared(rng, base):
    """Point an offset field at another object: the same field of another table (sharing), an
    earlier table (a would-be cycle: offsets are unsigned, so it wraps), or the root."""
    d = bytearray(base.data)
    for _ in range(int(rng.integers(1, 4))):
        x = _pick(rng, base.offsets)
        if x is None:
            return d
        table, f, _, fpos = x
        same = [y for y in base.offsets if y[0] == table and y[1].name == f.name]
        choice = rng.random()
        if choice < 0.5 and same:
            y = _pick(rng, same)
            target = y[3] + struct.unpack_from("<I", base.data, y[3])[0]
        elif choice < 0.8:
            target = _pick(rng, base.table_pos)
        else:
            target = struct.unpack_from("<I", base.data, 0)[0]
        _pack_u32(d, fpos, target - fpos)
    return d


def m_identifier(rng, base):
    d = bytearray(base.data)
    choice = rng.random()
    if choice < 0.4:
        d[4:8] = bytes(rng.integers(0, 256, 4, dtype=np.uint8))
    elif choice < 0.7:
        d[4 + int(rng.integers(4))] ^= 0x20  # case change: 'tFL3'
    else:
        d = bytearray(struct.pack("<I", len(d)) + bytes(d))  # size-prefixed
    return d


def m_union(rng, base):
    d = bytearray(base.data)
    x = _pick(rng, base.unions)
    if x is not None:
        d[x[3]] = int(rng.integers(0, 256))
    return d


def m_scalar(rng, base):
    d = bytearray(base.data)
    for _ in range(int(rng.integers(1, 4))):
        x = _pick(rng, base.scalars)
        if x is None:
            return d
        f, p = x[1], x[3]
        if f.floating and f.size == 4:
            struct.pack_into("<f", d, p, float(rng.choice([np.nan, np.inf, -np.inf, 1e-45,
                                                            -0.0, 3.4e38])))
        elif f.floating:
            struct.pack_into("<d", d, p, float(rng.choice([np.nan, np.inf, -np.inf])))
        elif f.size == 1:
            d[p] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.integers(256)]))
        elif f.size == 2:
            struct.pack_into("<H", d, p, int(rng.choice([0, 0x7FFF, 0x8000, 0xFFFF])))
        elif f.size == 4:
            _pack_u32(d, p, int(rng.choice([0, 1, 255, 256, *HUGE])))
        else:
            struct.pack_into("<Q", d, p, int(rng.choice([0, 1 << 63, (1 << 64) - 1, 1 << 40])))
    return d


def m_custom(rng, base):
    """A CUSTOM op whose options are a damaged flexbuffer, random bytes or a lying map."""
    choice = rng.random()
    if choice < 0.4:
        raw = bytearray(_flexmap())
        for _ in range(int(rng.integers(1, 6))):
            raw[int(rng.integers(len(raw)))] = int(rng.integers(256))
    elif choice < 0.7:
        raw = bytearray(rng.integers(0, 256, int(rng.integers(1, 512)), dtype=np.uint8).tobytes())
    else:  # a valid map whose key vector claims a huge length
        raw = bytearray(_flexmap())
        raw[int(rng.integers(len(raw) - 3))] = 0xFF
        raw[-1], raw[-2] = int(rng.choice([1, 2, 4, 8])), int(rng.integers(256))
    mb = ModelBuilder()
    sg = mb.subgraph()
    x, y = sg.tensor("x", [1, 4]), sg.tensor("y", [1, 4])
    for _ in range(int(rng.integers(1, 4))):
        sg.op("CUSTOM", [x], [y], custom_code=str(rng.choice(["A\x1bB", "MyOp", "op\u202e"])),
              custom_options=bytes(raw))
    sg.inputs, sg.outputs = [x], [y]
    return bytearray(mb.to_bytes())


def m_amplify(rng, base):
    choice = int(rng.integers(3))
    if choice == 0:
        return bytearray(hostile.shared_shape(int(rng.integers(512, 16385)),
                                              int(rng.integers(512, 16385))))
    if choice == 1:
        return bytearray(hostile.shared_inputs(int(rng.integers(512, 16385)),
                                               int(rng.integers(512, 16385))))
    return bytearray(hostile.shared_name(int(rng.integers(512, 16385)),
                                         int(rng.integers(1024, 65537))))


def m_huge_rank(rng, base):
    rank = int(rng.integers(50_000, 200_001))
    return bytearray(hostile.huge_rank(rank, int(rng.choice([1, 2, 3, 0, -1, 65535])),
                                       name=str(rng.choice(["huge", hostile.ANSI_NAME]))))


KINDS = {"bit flips": m_bitflip, "byte sets": m_byteset, "truncation": m_truncate,
         "int32 huge/negative": m_int32, "vtable redirect": m_vtable, "root offset": m_root,
         "inflated vector length": m_veclen, "shared/cyclic offsets": m_shared,
         "identifier": m_identifier, "union type": m_union, "scalar fields": m_scalar,
         "custom options": m_custom, "amplification": m_amplify, "huge rank": m_huge_rank}
# builders that ignore the base model and cost more per case: run fewer of them
WEIGHT = {"amplification": 0.15, "huge rank": 0.1, "custom options": 0.5}


# --------------------------------------------------------------------------- one case
def check_message(msg: str, name: str) -> str | None:
    """Why an error message breaks the contract, or None."""
    line = f"litelens: error: {msg}"
    if not msg.startswith(f"{name}: "):
        return "does not start with the file name"
    if len(line) >= 1000:
        return f"{len(line)} chars"
    if not line.isprintable():
        return "not printable / more than one line"
    return None


def _strict_loads(text: str):
    def reject(const):
        raise ValueError(f"non-standard JSON constant {const}")
    return json.loads(text, parse_constant=reject)


def run_case(data: bytes, name: str) -> tuple[str, str]:
    """('parsed'|'refused'|'escaped', detail)."""
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        model = open_bytes(bytes(data), name)
        differs = mismatch(model, bytes(data))
        if differs:
            return "escaped", f"reads unlike the generated accessors: {differs[:300]}"
        # what `litelens report --json` writes: the report (with the memory plan) and support
        _strict_loads(dumps_json(model_report(model, support=True).to_json()))
        text = summary_text(model)
        # split on "\n" only: splitlines() would also drop \x1c-\x1e, \x85, \u2028 ... unseen
        if not all(line.isprintable() for line in text.split("\n")):
            return "escaped", "summary has non-printable characters"
        return "parsed", ""
    except ModelError as e:
        bad = check_message(str(e), name)
        return ("escaped", f"bad message ({bad}): {str(e)[:300]!r}") if bad else ("refused", "")
    except CaseTimeout:
        return "escaped", f"over {CASE_SECONDS} s"
    except (Exception, RecursionError, MemoryError) as e:  # noqa: BLE001 - counting escapes
        return "escaped", f"{type(e).__name__}: {str(e)[:300]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def fuzz(cases: int, seed: int) -> tuple[dict, list[str], float]:
    def on_alarm(signum, frame):
        raise CaseTimeout()
    signal.signal(signal.SIGALRM, on_alarm)
    bases = load_bases()
    names = list(KINDS)
    w = np.array([WEIGHT.get(k, 1.0) for k in names])
    rng = np.random.default_rng(seed)
    counts = {k: {"cases": 0, "parsed": 0, "refused": 0, "escaped": 0} for k in names}
    escapes: list[str] = []
    t0 = time.perf_counter()
    for i in range(cases):
        kind = names[int(rng.choice(len(names), p=w / w.sum()))]
        base = bases[int(rng.integers(len(bases)))]
        crng = np.random.default_rng([seed, i])
        data = KINDS[kind](crng, base)
        outcome, detail = run_case(data, f"case{i}.tflite")
        counts[kind]["cases"] += 1
        counts[kind][outcome] += 1
        if outcome == "escaped":
            escapes.append(f"case {i} ({kind}, base {base.name}, seed {seed}): {detail}")
    return counts, escapes, time.perf_counter() - t0


def markdown(counts: dict, seconds: float, cases: int, seed: int, bases: list[str]) -> str:
    rows = ["## Reader fuzz (issue 11)\n",
            f"`make fuzz` (tests/model/fuzz_reader.py): {cases:,} seeded cases (seed {seed}) in "
            f"{seconds:.0f} s, each under a {ADDRESS_SPACE >> 30} GiB address-space limit and a "
            f"{CASE_SECONDS:.0f} s time limit. A case parses (report serialises as strict JSON, "
            "summary printable, every buffer, tensor and operator reads as the flatbuffers "
            "generated accessors read the same bytes) or is refused with one printable line under 1,000 characters "
            "naming the file; anything else is an escape. Bases: " + ", ".join(bases) + ".\n",
            "| kind | cases | parsed | refused | escaped |", "|---|---:|---:|---:|---:|"]
    tot = {"cases": 0, "parsed": 0, "refused": 0, "escaped": 0}
    for kind, c in counts.items():
        rows.append(f"| {kind} | {c['cases']:,} | {c['parsed']:,} | {c['refused']:,} | "
                    f"{c['escaped']:,} |")
        for k in tot:
            tot[k] += c[k]
    rows.append(f"| **all** | {tot['cases']:,} | {tot['parsed']:,} | {tot['refused']:,} | "
                f"{tot['escaped']:,} |")
    return "\n".join(rows)


def replace_section(path: Path, section: str) -> None:
    """Put ``section`` (starting with its '## ' title) into the Markdown file, replacing the
    section of the same title if there is one."""
    title = section.splitlines()[0]
    text = path.read_text(encoding="utf-8") if path.exists() else "# LiteLens benchmarks\n"
    lines = text.splitlines()
    if title in lines:
        a = lines.index(title)
        b = next((j for j in range(a + 1, len(lines)) if lines[j].startswith("## ")), len(lines))
        lines[a:b] = section.splitlines() + [""]
    else:
        lines += [""] + section.splitlines()
    from core.fileio import write_text
    write_text(path, "\n".join(lines).rstrip("\n") + "\n", overwrite=True)  # our own file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--address-space", type=int, default=ADDRESS_SPACE)
    ap.add_argument("--json", action="store_true", help="counts as one JSON object on stdout")
    ap.add_argument("--benchmarks", type=Path, help="write the counts table into this file")
    args = ap.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_AS, (args.address_space, args.address_space))
    counts, escapes, seconds = fuzz(args.cases, args.seed)
    bases = [b.name for b in load_bases()]
    if args.json:
        print(json.dumps({"counts": counts, "escapes": escapes, "seconds": seconds,
                          "bases": bases}))
    else:
        print(markdown(counts, seconds, args.cases, args.seed, bases))
        for e in escapes[:50]:
            print("ESCAPE", e)
    if args.benchmarks:
        replace_section(args.benchmarks, markdown(counts, seconds, args.cases, args.seed, bases))
    return 1 if escapes else 0


if __name__ == "__main__":
    sys.exit(main())
