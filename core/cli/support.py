"""``litelens support MODEL``: which ops each delegate takes, why not, and the partitions."""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.cli import target
from core.cli.shapes import add_shape_option, shapes_from_args
from core.fileio import dump_json
from core.format import one_line, printable

if TYPE_CHECKING:
    from core.analysis.support.result import SupportReport


def add_parser(subparsers) -> None:
    from core.analysis.support.analyze import DELEGATES
    from core.analysis.support.targets import target_ids
    s = subparsers.add_parser("support", help="op support per delegate (XNNPACK, GPU, NNAPI, "
                                              "Edge TPU, Hexagon, Core ML) with reasons, and "
                                              "targets answered by their own tools (Arm "
                                              "Ethos-U through vela, LiteRT NPU plugins)")
    s.add_argument("model", help="path to a .tflite file")
    s.add_argument("--delegate", action="append", metavar="D",
                   help=f"only this delegate (repeatable; one of {', '.join(DELEGATES)}; or a "
                        f"target whose own tool runs here: {', '.join(target_ids())}, an NPU "
                        "with its SoC as npu-qualcomm:SM8650; default: the six delegates)")
    s.add_argument("--option", action="append", default=[], metavar="K=V",
                   help="delegate option, e.g. android_sdk_version=29, qs8=false, "
                        "max_delegated_partitions=2")
    s.add_argument("--verify", action="store_true",
                   help="check against the real thing: load the model with the XNNPACK "
                        "delegate, run it on tflite-micro (--delegate tflm), and compare")
    s.add_argument("--compile", action="store_true",
                   help="NPU plugin targets: also compile every partition (catches a whole "
                        "partition the vendor compiler rejects after the partitioner took it)")
    s.add_argument("--run", action="store_true",
                   help="npu-intel: also run the model compiled by the plugin through its "
                        "dispatch library (OpenVINO's CPU device here) and compare outputs and "
                        "time with XNNPACK")
    s.add_argument("--json", action="store_true", help="one JSON object on stdout")
    s.add_argument("--subgraph", type=int, default=0, help="subgraph for the table (default 0)")
    s.add_argument("--ops", action="store_true",
                   help="also print the per-op matrix (every op × delegate) after the summary "
                        "and the reasons")
    add_shape_option(s)
    target.add_arguments(s)
    s.set_defaults(func=_support)


def _support(args: argparse.Namespace) -> int:
    from core.analysis.support.analyze import DELEGATES, analyze, delegate_facts, parse_options
    from core.analysis.support.result import SupportReport, ToolTargetSupport
    from core.analysis.support.target_run import analyze_target
    from core.analysis.support.targets import is_target, target_ids
    from core.inference.resize import dynamic_note, resized_model
    from core.inference.ssh_target import TargetError
    from core.model.reader import open_model
    delegates = tuple(args.delegate) if args.delegate else DELEGATES
    unknown = [d for d in delegates if d not in DELEGATES and not is_target(d)]
    if unknown:
        print(f"litelens: error: unknown delegate {unknown[0]!r} (one of "
              f"{', '.join(DELEGATES + target_ids())})", file=sys.stderr)
        return 2
    try:
        for d in delegates:
            delegate_facts(d)      # an NPU SoC the plugin does not know
        options = parse_options(args.option, delegates)
        for d in delegates:
            if options.get(d, {}).get("soc"):       # --option soc=PTL for an NPU target
                from core.analysis.support.npu_plugin import vendor_facts
                vendor_facts(d, str(options[d]["soc"]))
        board = target.target(args)
        if board is not None and not args.verify:
            raise TargetError("config", "--target checks the delegate on the board: add --verify")
    except (ValueError, TargetError) as e:
        print(f"litelens: error: {e}", file=sys.stderr)
        return 2
    rules = tuple(d for d in delegates if d in DELEGATES)
    shapes = shapes_from_args(args)
    with open_model(args.model) as model:
        if not 0 <= args.subgraph < len(model.subgraphs):
            print(f"litelens: error: {args.model}: no subgraph {args.subgraph} "
                  f"(the model has {len(model.subgraphs)})", file=sys.stderr)
            return 2
        # the delegate rules read shapes: at --shape, the model as the runtime resizes it
        note = dynamic_note(model, shapes, "the rules check")
        found = analyze(resized_model(model, shapes), rules, options).delegates if rules else {}
        result = SupportReport({
            d: found[d] if d in found else ToolTargetSupport.from_block(
                d, analyze_target(model, d, options.get(d), compile_check=args.compile))
            for d in delegates})
        labels = [op.label for op in model.subgraphs[args.subgraph].operators]
        if args.run:
            from core.analysis.support.npu_plugin import run_against_xnnpack
            from core.analysis.support.targets import split_id
            for d, verdict in result.delegates.items():
                if split_id(d)[0] == "npu-intel" and isinstance(verdict, ToolTargetSupport) \
                        and not verdict.error:
                    verdict.block["run"] = run_against_xnnpack(model, str(verdict.options["soc"]))
    if args.verify:
        if "xnnpack" not in result.delegates and "tflm" not in result.delegates:
            print("litelens: error: --verify checks XNNPACK and TFLite Micro; add --delegate "
                  "xnnpack or --delegate tflm", file=sys.stderr)
            return 2
        micro = result.delegates.get("tflm")
        if micro is not None:
            from core.analysis.support import tflm
            micro.verified = v = tflm.verify(micro, args.model)
            micro.provenance = tflm.verified_provenance(v)
    xnn = result.delegates.get("xnnpack")
    if args.verify and xnn is not None:
        from core.analysis.support.analyze import (
            flags_the_runtime_check_ignores,
            interpreter_options,
        )
        from core.analysis.support.runtime import compare, proven_by_runtime, runtime_placement
        flags = flags_the_runtime_check_ignores("xnnpack", xnn.options)
        if flags:
            print(f"litelens: error: --verify runs the wheel's XNNPACK with its default flags; "
                  f"drop --option {', '.join(flags)}", file=sys.stderr)
            return 2
        inter = interpreter_options("xnnpack", xnn.options)
        try:
            placement = runtime_placement(args.model, inter, target=board, shapes=shapes)
        except TargetError as e:
            print(f"litelens: error: {e}", file=sys.stderr)
            return 1
        xnn.verified = checked = compare(xnn, placement)
        xnn.provenance = proven_by_runtime(checked)
    if args.json:
        dump_json({"model": args.model, "shapes": shapes or {}, "dynamic_note": note,
                   "support": result.to_json()}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        if note:
            print(f"note: {note}")
        print(support_text(result, labels, args.subgraph, per_op=args.ops))
    failure = tool_failure(result)
    if failure:
        # the blocks are printed either way; a script trusting the exit code must not see a pass
        print(one_line(f"litelens: error: {printable(args.model, 300)}: {failure}"),
              file=sys.stderr)
        return 1
    return 0


def tool_failure(result: SupportReport) -> str | None:
    """Why a tool-run target gave no answer (its tool missing or failing, or ``--compile``'s
    step failing as a whole), or None when every asked target answered. A partition the vendor
    compiler rejects is an answer (its ops stay on the CPU), not a failure."""
    from core.analysis.support.result import ToolTargetSupport
    for d, verdict in result.delegates.items():
        if not isinstance(verdict, ToolTargetSupport):
            continue
        if verdict.error:
            return f"{d}: {verdict.error}"
        c = verdict.block.get("compile")
        if c and not c["ok"] and not c.get("failed_partitions"):
            return f"{d}: the compile step failed: {c['error']}"
    return None


def support_text(result: SupportReport, labels: list[str], subgraph: int = 0,
                 per_op: bool = False) -> str:
    """The readable answer: each delegate's summary first, then why ops stay off it grouped by
    cause with counts, then (``per_op``) the matrix, one row per op and one column per delegate.
    Op labels and reasons quote the file (custom op codes): printed through ``printable``."""
    from core import format as fmt
    from core.analysis.support.analyze import short_name, summary_line
    from core.analysis.support.ethos_u import estimate_line
    from core.analysis.support.npu_plugin import run_line
    from core.analysis.support.result import TflmVerification, ToolTargetSupport
    from core.analysis.support.runtime import disagreement_line, verdict_line
    from core.analysis.support.target_run import compile_line
    from core.analysis.support.targets import provenance_line
    delegates = result.delegates
    names = list(delegates)
    short = {n: short_name(n) for n in names}
    labels = [fmt.printable(x, 40) for x in labels]
    ops = {n: delegates[n].subgraphs[subgraph].ops if delegates[n].subgraphs else None
           for n in names}
    lines: list[str] = []
    for n in names:
        d = delegates[n]
        lines.append(fmt.printable(summary_line(d, subgraph), 400))
        block = d.block if isinstance(d, ToolTargetSupport) else None  # the tool's own record
        if block is not None and block.get("estimate"):
            lines.append("  " + estimate_line(block))
        if block is not None and block.get("run"):
            lines.append("  " + run_line(block["run"]))
        if block is not None and compile_line(block):
            lines.append("  " + fmt.printable(compile_line(block) or "", 400))
        lines.append("  " + provenance_line(d.provenance))
        if isinstance(d.verified, TflmVerification):
            lines.append("  " + fmt.printable(d.provenance["note"], 400))
        elif d.verified is not None:
            lines.append("  " + verdict_line(d.verified))
            lines += ["    " + disagreement_line(x) for x in d.verified.disagree]
    causes = {n: reason_causes([(o.index, o.reason or "")
                                for o in ops[n] or () if not o.supported]) for n in names}
    if any(causes.values()):
        lines += ["", f"why ops stay off, by cause (subgraph {subgraph}; ops: count × op type, "
                      "then op numbers):"]
        for n in names:
            groups = causes[n]
            if not groups:
                continue
            off = sum(len(g.ops) for g in groups)
            lines.append(f"  {short[n]}: {off} op{'s' if off != 1 else ''} off, "
                         f"{len(groups)} cause{'s' if len(groups) != 1 else ''}")
            for g in groups:
                kinds = Counter(labels[i] for i in g.ops)
                what = ", ".join(f"{k} ×{c}" if c > 1 else k for k, c in kinds.most_common())
                forms = f" (and {g.forms - 1} similar)" if g.forms > 1 else ""
                lines.append(f"    {len(g.ops):>4}  {fmt.printable(g.reason, 200)}{forms} — "
                             f"{fmt.printable(what, 200)}: {fmt.op_numbers(g.ops)}")
    if per_op:
        width = max([len(x) for x in labels] + [8])
        head = f"{'#':>4}  {'op':<{width}}  " + "  ".join(f"{short[n]:<8}" for n in names)
        lines += ["", head, "-" * len(head)]
        for i, label in enumerate(labels):
            cells = []
            for n in names:
                col = ops[n]
                o = col[i] if col is not None else None
                mark = "—" if o is None else \
                    ("✓" if o.partition is not None else "✓ cpu") if o.supported else "✗"
                cells.append(f"{mark:<8}")
            lines.append(f"{i:>4}  {label:<{width}}  " + "  ".join(cells))
    else:
        lines += ["", f"({len(labels)} ops; --ops prints the per-op matrix)"]
    return "\n".join(lines)


@dataclass(frozen=True)
class ReasonCause:
    """Ops one delegate leaves out for one cause: ``reason`` is the most common wording;
    ``forms`` counts the wordings that differ only in numbers (an input index, a shape)."""
    reason: str
    ops: list[int]
    forms: int


def reason_causes(refused: list[tuple[int, str]]) -> list[ReasonCause]:
    """(op index, reason) pairs grouped by cause, largest first: reasons that differ only in
    their numbers ("input 0 is float16", "input 1 is float16") are one cause."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for i, reason in refused:
        groups.setdefault(re.sub(r"\d+", "#", reason), []).append((i, reason))
    out = []
    for members in groups.values():
        wordings = Counter(r for _, r in members)
        out.append(ReasonCause(wordings.most_common(1)[0][0], [i for i, _ in members],
                               len(wordings)))
    return sorted(out, key=lambda g: (-len(g.ops), g.ops[0]))

