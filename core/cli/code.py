"""``litelens code MODEL --lang L``: a program that runs the model (Python with ai-edge-litert's
Interpreter or CompiledModel, Kotlin with LiteRT's CompiledModel, C++ with the TensorFlow Lite
C++ API) for a signature, delegate and thread count, printed on stdout."""
from __future__ import annotations

import argparse
import sys

from core.cli.shapes import add_shape_option, shapes_from_args


def add_parser(subparsers) -> None:
    from core.inference.snippets import LANGUAGES, SNIPPET_DELEGATES
    c = subparsers.add_parser("code", help="print code that runs the model (Python, Kotlin, "
                                           "C++)")
    c.add_argument("model", help="path to a .tflite file")
    c.add_argument("--lang", choices=list(LANGUAGES), default="python",
                   help="; ".join(f"{k}: {v}" for k, v in LANGUAGES.items())
                   + " (default python)")
    c.add_argument("--signature", metavar="KEY",
                   help="the signature to run (default: the model's first)")
    c.add_argument("--delegate", choices=list(SNIPPET_DELEGATES), default="xnnpack",
                   help="xnnpack (default), builtin, reference or gpu")
    c.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    add_shape_option(c)
    c.set_defaults(func=_code)


def _code(args: argparse.Namespace) -> int:
    from core.format import one_line
    from core.inference.inputs import InputError
    from core.inference.snippets import SnippetError, code_snippet
    from core.model.reader import open_model
    shapes = shapes_from_args(args)
    with open_model(args.model) as model:
        try:
            text = code_snippet(model, args.lang, args.signature, args.delegate, args.threads,
                                shapes)
        except (SnippetError, InputError) as e:
            print(one_line(f"litelens: error: {e}"), file=sys.stderr)
            return 2
    sys.stdout.write(text)
    return 0
