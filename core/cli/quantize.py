"""``litelens quantize MODEL --recipe R``: quantize, verify, and write ``name.<recipe>.tflite``.

Exit 0 when the result loads under the default runtime (XNNPACK) and was written; 1 when
quantization or verification failed (nothing written; the report says why); 2 for refused input.
"""
from __future__ import annotations

import argparse
import sys

from core.fileio import dump_json
from core.quantize.recipes import RECIPES


def add_parser(subparsers) -> None:
    q = subparsers.add_parser("quantize", help="quantize a model and verify the result "
                                               "(size, loads, error, latency, per-layer error)")
    q.add_argument("model", help="a .tflite file (or a SavedModel folder / .keras / .h5 with "
                                 "TensorFlow installed)")
    q.add_argument("--recipe", choices=list(RECIPES), default="dynamic_int8",
                   help="one-click recipe (default dynamic_int8)")
    q.add_argument("--recipe-file", metavar="JSON",
                   help="an edited ai-edge-quantizer recipe (JSON list) instead of --recipe")
    q.add_argument("--calibration", default="random", metavar="random|DIR|FILE",
                   help="calibration data for static recipes: random in each input's range, a "
                        "folder of images, or a .npy/.npz file (default random)")
    q.add_argument("--samples", type=int, default=8, help="calibration samples (default 8)")
    q.add_argument("--eval-samples", type=int, default=4,
                   help="inputs the result is compared on with the float model (default 4)")
    q.add_argument("--keep-float", action="append", default=[], metavar="REGEX",
                   help="leave ops whose output tensor name matches REGEX float (repeatable)")
    q.add_argument("--float-io", action="store_true",
                   help="static recipes: keep the model's inputs and outputs float")
    q.add_argument("-o", "--output", help="output path (default MODEL.<recipe>.tflite beside "
                                          "the input; never the input itself)")
    q.add_argument("--threads", type=int, default=1, help="threads for latency (default 1)")
    q.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="stop a quantizer or runtime that hangs after this many seconds")
    q.add_argument("--json", action="store_true", help="one JSON object on stdout")
    q.set_defaults(func=_quantize)


def _quantize(args: argparse.Namespace) -> int:
    from core.quantize.run import QuantizeRequest, Refused, quantize
    req = QuantizeRequest(args.model, args.recipe, args.calibration, args.samples,
                          list(args.keep_float), args.float_io, args.output, args.recipe_file,
                          args.eval_samples, max(1, args.threads), timeout_s=args.timeout)
    progress = None if args.json else _progress_printer()
    try:
        report = quantize(req, progress)
    except Refused as e:
        print(f"litelens: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        dump_json(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(summary_text(report))
    if report["failure"]:
        if args.json:
            print(f"litelens: quantize failed: {report['failure']}", file=sys.stderr)
        return 1
    return 0


def _progress_printer():
    def show(msg: dict) -> None:
        if msg.get("t") == "stage":
            print(f"[{msg['step'] + 1}/{msg['steps']}] {msg['stage']}", file=sys.stderr,
                  flush=True)
    return show


def summary_text(r: dict) -> str:
    from core.quantize.report import summary_lines
    return "\n".join(summary_lines(r))
