"""``litelens``: the command-line face of the core. Every subcommand prints what the GUI shows.

Exit codes: 0 success, 2 bad input (a model file that cannot be read, bad arguments), 1 other
failures. Errors go to stderr as one clear line naming the file and the problem.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Callable

from core import __version__
from core import format as fmt
from core.errors import ModelError

# Modules that add subcommands: each has ``add_parser(subparsers) -> None`` and sets
# ``func=callable(args) -> int`` on its parser.
_SUBCOMMAND_MODULES: tuple[str, ...] = ("core.cli.report", "core.cli.bench", "core.cli.quantize",
                                        "core.cli.support",
                                        "core.cli.memory", "core.cli.code")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="litelens", description="Inspect, run and quantize "
                                                             ".tflite / LiteRT models.")
    p.add_argument("--version", action="version", version=f"LiteLens {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ModelError as e:
        print(f"litelens: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `litelens report m.tflite --json | head`
        return 0
    except KeyboardInterrupt:
        return 130
    except MemoryError:
        print(f"litelens: error: {fmt.printable(str(getattr(args, 'model', '')), 300)}: out of "
              "memory", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - last resort: a bug must still end in one clear line
        # (the contract every caller relies on); LITELENS_DEBUG=1 adds the traceback
        if os.environ.get("LITELENS_DEBUG"):
            traceback.print_exc()
        print(fmt.one_line(f"litelens: internal error in '{args.command}' on "
                           f"{getattr(args, 'model', '-')}: {type(e).__name__}: {e} (please "
                           "report it; LITELENS_DEBUG=1 shows the traceback)"), file=sys.stderr)
        return 1

