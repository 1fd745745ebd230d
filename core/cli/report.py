"""``litelens report MODEL``: what the model contains (graph, tensors, signatures)."""
from __future__ import annotations

import argparse
import sys


def add_parser(subparsers) -> None:
    r = subparsers.add_parser("report", help="what the model contains (graph, tensors, signatures)")
    r.add_argument("model", help="path to a .tflite file")
    r.add_argument("--json", action="store_true", help="one JSON object on stdout")
    r.add_argument("--compact", action="store_true", help="JSON on one line")
    r.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from core.analysis.report import model_report, summary_text
    from core.fileio import dump_json
    from core.model.reader import open_model
    with open_model(args.model) as model:
        if args.json:
            report = model_report(model, support=True)
            dump_json(report.to_json(), sys.stdout, indent=None if args.compact else 1)
            sys.stdout.write("\n")
        else:
            print(summary_text(model))
    return 0
