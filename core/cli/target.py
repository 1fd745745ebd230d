"""The options that send a command's worker job to a board over SSH (``--target``,
``--remote-python``, ``--ssh-option``, ``--remote-tmp``), shared by bench, memory, support and
quantize."""
from __future__ import annotations

import argparse

from core.inference.ssh_target import OPTIONS_ENV, SshTarget, parse_target

LOCAL = "local"


def add_arguments(p: argparse.ArgumentParser, several: bool = False) -> None:
    g = p.add_argument_group("running on a board over SSH")
    if several:
        g.add_argument("--target", action="append", default=[], metavar="ssh://[USER@]HOST[:PORT]",
                       help="run on this board (repeat it to run on several boards at once, "
                            f"side by side; '{LOCAL}' is this machine)")
    else:
        g.add_argument("--target", default=None, metavar="ssh://[USER@]HOST[:PORT]",
                       help="run the worker on this board (its Python needs ai-edge-litert)")
    g.add_argument("--remote-python", default=None, metavar="PATH",
                   help="the board's Python (default python3)")
    g.add_argument("--ssh-option", action="append", default=[], metavar="KEY=VALUE",
                   help=f"passed to ssh as -o KEY=VALUE (repeatable; also {OPTIONS_ENV}); "
                        "unknown host keys are refused unless you pass "
                        "StrictHostKeyChecking=accept-new")
    g.add_argument("--remote-tmp", default=None, metavar="DIR",
                   help="folder on the board to make the private upload folder in (default: "
                        "its temporary folder)")


def target(args: argparse.Namespace, address: str | None = None) -> SshTarget | None:
    """The board of ``address`` (default ``args.target``), None for this machine; raises
    ``TargetError`` for a bad address or option."""
    address = address if address is not None else args.target
    if not address or address == LOCAL:
        return None
    return parse_target(address, python=args.remote_python, options=args.ssh_option,
                        remote_tmp=args.remote_tmp)
