"""``litelens memory MODEL``: where LiteRT puts every tensor (arena, persistent arena), TFLM's
greedy plan, the lower bound; ``--runtime`` measures the real arena and shows the difference."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from core.cli import target
from core.cli.shapes import add_shape_option, shapes_from_args
from core.fileio import dump_json
from core.format import one_line, printable

if TYPE_CHECKING:
    from core.analysis.memory.result import MemoryReport, TflmBlock

# the interpreter takes a C int; far above any device, and low enough that a typo such as
# 99999999999 is refused here instead of reaching the runtime's binding as a raw type error
MAX_THREADS = 1024


def add_parser(subparsers) -> None:
    r = subparsers.add_parser("memory", help="tensor memory plans (LiteRT arena, TFLM head/tail, "
                                             "lower bound), optionally checked on the runtime")
    r.add_argument("model", help="path to a .tflite file")
    r.add_argument("--threads", type=_threads, default=1,
                   help="interpreter threads the plan is for (default 1; CONV_2D differs)")
    r.add_argument("--planner", choices=("tflite", "tflm"), action="append",
                   help="planner(s) to report (default both)")
    r.add_argument("--runtime", action="store_true",
                   help="also allocate the model with ai-edge-litert (child process) and "
                        "compare the real arena with the plan")
    r.add_argument("--find-arena", action="store_true",
                   help="find the smallest arena_size TFLite Micro runs the model in (one "
                        "tflite-micro process per try; needs LiteLens[micro])")
    add_shape_option(r)
    r.add_argument("--json", action="store_true", help="one JSON object on stdout")
    target.add_arguments(r)
    r.set_defaults(func=_memory)


def _threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"threads must be between 1 and {MAX_THREADS}, not {n}")
    return n


def _memory(args: argparse.Namespace) -> int:
    from core.analysis.memory import memory_report
    from core.inference.ssh_target import TargetError
    from core.model.reader import open_model
    shapes = shapes_from_args(args)
    try:
        board = target.target(args)
        if board is not None and not args.runtime:
            raise TargetError("config", "--target measures the arena on the board: add --runtime")
        with open_model(args.model) as model:
            report = memory_report(model, args.threads,
                                   tuple(args.planner or ("tflite", "tflm")),
                                   runtime=args.runtime, target=board, shapes=shapes)
    except TargetError as e:
        print(f"litelens: error: {e}", file=sys.stderr)
        return 2 if e.kind in ("config", "target") else 1
    if args.find_arena:
        from core.analysis.memory.tflm_runtime import find_arena
        tflm = report.tflm
        if tflm is None:
            print("litelens: error: --find-arena needs the tflm planner", file=sys.stderr)
            return 2
        if tflm.refused:
            print(f"litelens: error: {args.model}: {tflm.refused}", file=sys.stderr)
            return 1
        tflm.find_arena = find_arena(args.model, tflm.total_bytes)
    if args.json:
        dump_json({"memory": report.to_json()}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(memory_text(report))
    failure = runtime_failure(report)
    if failure:
        # the plan is printed either way; a script trusting the exit code must not see a pass
        print(one_line(f"litelens: error: {printable(args.model, 300)}: the runtime check "
                       f"failed: {failure}"), file=sys.stderr)
        return 1
    return 0


def runtime_failure(report: MemoryReport) -> str | None:
    """Why the ``--runtime`` check gave no answer (a crash, a model the runtime cannot load), or
    None when it ran or was not asked for."""
    runtime = report.runtime
    why = None
    if runtime is not None and runtime.error:
        why = str(runtime.error)
    elif runtime is not None and runtime.xnnpack is not None and runtime.xnnpack.error:
        why = f"with XNNPACK: {runtime.xnnpack.error}"
    elif (t := report.tflm) is not None and t.runtime is not None and not t.refused \
            and t.runtime["total_bytes"] is None:
        # the plan gave an arena and tflite-micro measured none: the check has no answer (a
        # refusal the plan predicted, and tflite-micro confirmed, is the answer)
        r = t.runtime
        why = f"{r['tool'] or 'tflite-micro'}: {r['refused'] or r['error']}"
    note = report.config.dynamic_note
    if why and note and "--shape" not in why:   # at a guessed shape: which input, which option
        why += f" ({note})"
    return why


def memory_text(report: MemoryReport) -> str:
    from core.analysis.memory.runtime import explain
    from core.format import size as human_size
    config = report.config
    lines = [f"threads {config.threads}, delegates off (builtin kernels)"
             + "".join(f", {k} resized to {v}" for k, v in config.shapes.items())]
    if config.dynamic_note:
        lines.append(f"note: {config.dynamic_note}")
    if not report.config.tie_order.exact:
        lines.append(f"offsets may differ from the runtime's: {report.config.tie_order.reason}")
    runtime = report.runtime
    if runtime is not None and runtime.target:
        from core.inference.ssh_target import facts_line
        t = runtime.target
        lines.append(f"measured on {t['address']}: {facts_line(t['facts'] or {})}")
    for sg in report.subgraphs:
        lines.append(f"subgraph {sg.index} {sg.name!r}: {sg.planned_ops}/{sg.ops} "
                     f"ops planned at allocation"
                     + ("" if sg.allocated_by_allocate_tensors else
                        " (not allocated until run)"))
        lines.append(f"  weights {human_size(sg.weights_bytes)} (read-only, mapped: in no "
                     "arena)")
        lt = sg.tflite_arena
        if lt:
            lines.append(f"  LiteRT arena {human_size(lt.arena_bytes)} "
                         f"({lt.arena_bytes} B), persistent "
                         f"{human_size(lt.persistent_bytes)} ({lt.persistent_bytes} B), "
                         f"peak at op {lt.peak_op}")
            lines.append(f"    lower bound {human_size(lt.lower_bound_bytes)} "
                         f"({lt.lower_bound_bytes} B): most bytes alive at one op, LiteRT's "
                         "lifetimes and temporaries")
        tg = sg.tflm_greedy
        if tg:
            lines.append(f"  TFLM head (one region, all subgraphs) "
                         f"{human_size(tg.arena_bytes)} ({tg.arena_bytes} B)")
            lines.append(f"    lower bound {human_size(tg.lower_bound_bytes)} "
                         f"({tg.lower_bound_bytes} B): most bytes alive at one allocation "
                         "scope of the region, TFLM's lifetimes, scratch buffers and sizes")
        r = runtime.subgraph(sg.index) if runtime is not None else None
        if r:
            for name, a in (("main arena", r.main_arena),
                            ("persistent arena", r.persistent_arena)):
                if a.runtime_bytes is not None:
                    lines.append(f"  runtime {name}: {human_size(a.runtime_bytes)} "
                                 f"({a.runtime_bytes} B, planned {a.planned_bytes} B): "
                                 f"{explain(a)}")
        for note in sg.notes:
            lines.append(f"  note: {note}")
    if runtime is not None and runtime.xnnpack is not None:
        for x in runtime.xnnpack.subgraphs:
            if x.tensors_out_of_arena:
                lines.append(f"with XNNPACK (the default), {len(x.tensors_out_of_arena)} "
                             f"tensors of subgraph {x.index} are not in LiteRT's arena; their "
                             f"sizes add up to {human_size(x.bytes_out_of_arena)}: a sum of "
                             "tensor sizes (reused over time in the arena), not XNNPACK's "
                             "memory use")
        f = runtime.xnnpack.footprint
        if f is not None:
            diff = f.xnnpack_bytes - f.builtin_bytes
            lines.append(f"XNNPACK's real footprint: load + allocate_tensors() added "
                         f"{human_size(f.xnnpack_bytes)} of resident heap with it, "
                         f"{human_size(f.builtin_bytes)} without "
                         f"({'+' if diff >= 0 else '-'}{human_size(abs(diff))}; measured by "
                         "the OS, before any run touches the arena)")
    if runtime is not None and runtime.error:
        lines.append(f"runtime: {runtime.error}")
    if report.tflm is not None:
        lines += tflm_lines(report.tflm)
    return "\n".join(lines)


def tflm_lines(t: TflmBlock) -> list[str]:
    """TFLite Micro's arena: plan, refusal, and the runtime's own figures when measured."""
    from core.analysis.memory.tflm_runtime import check_lines
    from core.format import size as human_size
    if t.refused:       # with --runtime: whether tflite-micro refused it too
        return [f"TFLite Micro: {t.refused}"] + [f"  {line}" for line in check_lines(t)]
    lines = [f"TFLite Micro arena: head {human_size(t.head_bytes)} ({t.head_bytes} B) + "
             f"tail {human_size(t.tail_bytes)} ({t.tail_bytes} B); arena_size {t.total_bytes} B",
             f"  {t.note}"]
    lines += [f"  {line}" for line in check_lines(t)]
    f = t.find_arena
    if f:
        lines.append(f"  smallest working arena_size: {f['arena_size']} B "
                     f"({f['arena_size'] - t.total_bytes:+d} vs the plan, {len(f['tries'])} "
                     "tries)" if f["arena_size"] else f"  {f['error']}")
    return lines
