"""The ``nlpfootprint`` command.

Each subcommand lives in :mod:`nlpfootprint.commands` (``demo``, ``meters``, ...). Errors
from bad arguments and from run logs that cannot be read as such (missing, permission
denied, not a run log) print one line to stderr and exit with status 2; any other file
that cannot be read or written (an output folder you may not write, a full disk) prints
one line and exits with status 1. Never a traceback; the line shows control characters as escapes
(:func:`~nlpfootprint.render.common.printable`), since it may quote text from a file.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from nlpfootprint.errors import NlpFootprintError
from nlpfootprint.render.common import printable
from nlpfootprint.version import package_version

__all__ = ["COMMANDS", "build_parser", "main"]

#: The subcommands, in the order ``--help`` lists them (modules of nlpfootprint.commands).
COMMANDS = ("demo", "run", "report", "meters", "estimate", "regions")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like the commands' own errors
    (``nlpfootprint estimate: error: argument --hours: ...``), with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, printable(f"{self.prog}: error: {message} (see {self.prog} --help)") + "\n")


class _Version(argparse.Action):
    """``--version``: the version is read (from the package metadata) only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        sys.stdout.write(f"nlpfootprint {package_version()}\n")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog="nlpfootprint",
        description="Measure the energy, CO2e and cost of training runs.",
    )
    parser.add_argument("--version", action=_Version)
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
    _refuse_bypassed_values(parser, args)
    try:
        status: int = args.run(args)
    except NlpFootprintError as err:
        print(printable(f"nlpfootprint {args.command}: error: {err}"), file=sys.stderr)
        return 2
    except OSError as err:  # a file this command reads or writes
        where = f"{err.filename}: " if err.filename else ""
        message = f"nlpfootprint {args.command}: error: {where}{err.strerror or err}"
        print(printable(message), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nlpfootprint {args.command}: interrupted", file=sys.stderr)
        return 130
    return status


def _refuse_bypassed_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Make ``--flag=--`` the usage error it is.

    Python 3.11's argparse gives such a flag the value ``[]`` without calling its ``type=``
    check (later versions refuse it); exit with status 2 as for any other bad value.
    """
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command: argparse.ArgumentParser = sub.choices[args.command]
    for action in command._actions:
        bypassed = isinstance(getattr(args, action.dest, None), list)
        if action.option_strings and action.nargs is None and bypassed:
            command.error(f"argument {'/'.join(action.option_strings)}: expected one argument")
