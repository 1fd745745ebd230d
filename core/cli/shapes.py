"""``--shape NAME=D,D,...``: one option, one parser (``core.inference.inputs.parse_shapes``) and
one meaning on every command that takes it (bench, memory, quantize, support): the concrete
shape of a dynamic input; the model's inputs are resized to it before anything is allocated."""
from __future__ import annotations

import argparse

from core.errors import ModelError

HELP = ("concrete shape for a dynamic input, e.g. --shape input=1,16000 (repeatable); the inputs "
        "are resized to it before the model is allocated")


def add_shape_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=D,D,...",
                        help=HELP)


def shapes_from_args(args: argparse.Namespace) -> dict[str, list[int]] | None:
    """The parsed ``--shape`` options (None when none); a malformed one is a ModelError naming
    the model (one line, exit 2)."""
    from core.inference.inputs import InputError, parse_shapes
    try:
        return parse_shapes(args.shape or []) or None
    except InputError as e:
        raise ModelError(args.model, str(e)) from None
