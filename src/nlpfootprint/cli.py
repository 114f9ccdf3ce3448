"""The ``nlpfootprint`` command.

Each subcommand lives in :mod:`nlpfootprint.commands` (``demo``, ``meters``, ...). Errors
from bad arguments print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from nlpfootprint.errors import NlpFootprintError
from nlpfootprint.version import __version__

__all__ = ["COMMANDS", "build_parser", "main"]

#: The subcommands, in the order ``--help`` lists them (modules of nlpfootprint.commands).
COMMANDS = ("demo", "run", "report", "meters", "estimate", "regions")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="nlpfootprint",
        description="Measure the energy, CO2e and cost of training runs.",
    )
    parser.add_argument("--version", action="version", version=f"nlpfootprint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"nlpfootprint.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        status: int = args.run(args)
    except NlpFootprintError as err:
        print(f"nlpfootprint {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nlpfootprint {args.command}: interrupted", file=sys.stderr)
        return 130
    return status
