"""``litelens quantize MODEL --recipe R``: quantize, verify, and write ``name.<recipe>.tflite``.

Exit 0 when the verdict is pass or warn and the result was written; 1 when quantization or
verification failed or the verdict is fail (nothing written unless ``--keep-failed``; the report
says why); 2 for refused input.
With ``--json`` stdout always has one JSON object with the report's keys, ``failure`` saying
why on every failure (refused input and internal errors too). ``--target`` also loads and times
the float model and the written result on a board over SSH (``"board"`` in the JSON; exit 1 when
the result fails there).

Options are declared in ``_OPTIONS`` and turned into the request in ``request_from_args``, so a
new option is one entry there and one field of ``QuantizeRequest``.
"""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Callable

from core.cli import target
from core.cli.shapes import HELP as SHAPE_HELP
from core.cli.shapes import shapes_from_args
from core.fileio import dump_json
from core.quantize.calibration import EVAL_SAMPLES
from core.quantize.recipes import RECIPES
from core.quantize.verdict import DEFAULT_DELEGATE

if TYPE_CHECKING:   # imported when the command runs: `litelens --help` stays quick
    from core.quantize.board import BoardCheck
    from core.quantize.report import QuantizeReport
    from core.quantize.run import QuantizeRequest

# (flags, argparse keywords) of every option but the model; each ``dest`` is a field of
# ``QuantizeRequest`` unless ``request_from_args`` maps it
_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--recipe",), dict(choices=list(RECIPES), default="dynamic_int8",
                         help="one-click recipe (default dynamic_int8)")),
    (("--recipe-file",), dict(metavar="JSON",
                              help="an edited ai-edge-quantizer recipe (JSON list) instead of "
                                   "--recipe")),
    (("--calibration",), dict(default="random", metavar="random|DIR|FILE",
                              help="calibration data for static recipes: random in each "
                                   "input's range, a folder of images, or a .npy/.npz file "
                                   "(default random)")),
    (("--samples",), dict(type=int, default=8, help="calibration samples (default 8)")),
    (("--eval-samples",), dict(type=int, default=EVAL_SAMPLES,
                               help="inputs the result is compared on with the float model "
                                    f"(default {EVAL_SAMPLES})")),
    (("--keep-float",), dict(action="append", default=[], metavar="REGEX",
                             help="leave ops whose output tensor name matches REGEX float "
                                  "(repeatable)")),
    (("--float-io",), dict(action="store_true",
                           help="static recipes: keep the model's inputs and outputs float")),
    (("-o", "--output"), dict(help="output path (default MODEL.<recipe>.tflite beside the "
                                   "input; never the input itself nor any existing file)")),
    (("--keep-failed",), dict(action="store_true",
                              help="write the result even when the verdict is fail (the exit "
                                   "status stays 1)")),
    (("--delegate",), dict(default=DEFAULT_DELEGATE, metavar="D",
                           help="the delegate whose coverage before/after the verdict compares "
                                f"(default {DEFAULT_DELEGATE})")),
    (("--threads",), dict(type=int, default=1, help="threads for latency (default 1)")),
    (("--shape",), dict(action="append", default=[], metavar="NAME=D,D,...", help=SHAPE_HELP)),
    (("--timeout",), dict(type=float, metavar="SECONDS", dest="timeout_s",
                          help="stop a quantizer or runtime that hangs after this many "
                               "seconds")),
)


def add_parser(subparsers: Any) -> None:
    q = subparsers.add_parser("quantize", help="quantize a model and verify the result "
                                               "(size, loads, error, latency, per-layer error)")
    q.add_argument("model", help="a .tflite file (or a SavedModel folder / .keras / .h5 with "
                                 "TensorFlow installed)")
    for flags, kw in _OPTIONS:
        q.add_argument(*flags, **kw)
    q.add_argument("--json", action="store_true", help="one JSON object on stdout")
    target.add_arguments(q)
    q.set_defaults(func=_quantize)


def request_from_args(args: argparse.Namespace) -> QuantizeRequest:
    from core.quantize.run import QuantizeRequest
    return QuantizeRequest(model=args.model, recipe=args.recipe, calibration=args.calibration,
                           samples=args.samples, keep_float=list(args.keep_float),
                           float_io=args.float_io, output=args.output,
                           recipe_file=args.recipe_file, eval_samples=args.eval_samples,
                           threads=args.threads, timeout_s=args.timeout_s,
                           shapes=shapes_from_args(args), keep_failed=args.keep_failed,
                           delegate=args.delegate)


def _quantize(args: argparse.Namespace) -> int:
    from core.errors import ModelError
    from core.inference.ssh_target import TargetError
    from core.quantize.report import QuantizeReport
    from core.quantize.run import Refused, quantize
    try:
        req = request_from_args(args)
    except ModelError as e:   # a malformed --shape
        print(f"litelens: error: {e}", file=sys.stderr)
        if args.json:
            r = QuantizeReport.empty(str(args.model), args.recipe_file or args.recipe,
                                     args.threads)
            r.fail(str(e))
            _print_json(r)
        return 2
    try:
        board = target.target(args)
    except TargetError as e:
        print(f"litelens: error: {e}", file=sys.stderr)
        if args.json:
            _print_json(_failed(req, str(e)))
        return 2
    progress = None if args.json else _progress_printer()
    try:
        report = quantize(req, progress)
    except Refused as e:
        print(f"litelens: error: {e}", file=sys.stderr)
        if args.json:
            _print_json(_failed(req, str(e)))
        return 2
    except Exception as e:
        # the CLI's last resort prints the internal-error line and exits 1; --json still owes
        # stdout its one object
        if args.json:
            _print_json(_failed(req, f"internal error: {type(e).__name__}: {e}"))
        raise
    check = None
    if board is not None and report.failure is None and report.output:
        from core.quantize.board import check_on_board
        from core.quantize.source import source_kind
        original = str(req.model) if source_kind(req.model) == "tflite" else None
        try:
            check = check_on_board(original, report.output, board, req.threads)
        except TargetError as e:   # the result is written; the board could not check it
            report.fail(f"written to {report.output}, but not verified on the board: {e}")
    if args.json:
        _print_json(report, check)
    else:
        print(summary_text(report))
        if check is not None:
            print("\n".join(check.lines()))
    if check is not None and not check.ok:
        print(f"litelens: error: {check.address}: the quantized model failed on the board: "
              f"{check.quantized.error}", file=sys.stderr)
        return 1
    if report.failure:
        if args.json:
            print(f"litelens: quantize failed: {report.failure}", file=sys.stderr)
        return 1
    if report.verdict == "fail":   # kept with --keep-failed: written, and still a failure
        print(f"litelens: verdict fail, written as asked (--keep-failed): {report.output}",
              file=sys.stderr)
        return 1
    return 0


def _failed(req: QuantizeRequest, message: str) -> QuantizeReport:
    from core.quantize.report import QuantizeReport
    r = QuantizeReport.empty(str(req.model), req.recipe_file or req.recipe, req.threads)
    r.fail(message)
    return r


def _print_json(report: QuantizeReport, check: BoardCheck | None = None) -> None:
    out = report.to_json()
    if check is not None:
        out["board"] = check.to_json()
    dump_json(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _progress_printer() -> Callable[[dict], None]:
    def show(msg: dict) -> None:
        if msg.get("t") == "stage":
            print(f"[{msg['step'] + 1}/{msg['steps']}] {msg['stage']}", file=sys.stderr,
                  flush=True)
    return show


def summary_text(r: QuantizeReport) -> str:
    from core.quantize.report import summary_lines
    return "\n".join(summary_lines(r))
