"""The ``nlpfootprint`` command.

Each subcommand lives in :mod:`nlpfootprint.commands` (``demo``, ``meters``, ...). Errors
from bad arguments and from run logs that cannot be read as such (missing, permission
denied, not a run log) print one line to stderr and exit with status 2; any other file
that cannot be read or written (an output folder you may not write, a full disk) prints
one line and exits with status 1. Never a traceback; the line shows control characters as escapes
(:func:`~nlpfootprint.render.common.printable`), since it may quote text from a file.

Messages are in the command line's words: the library's checks name Python parameters
(``power_w=-3.0``), and :func:`cli_words` turns each parameter the command has a flag for
into that flag (``--power-w -3.0``), keyed by the flags' argparse ``dest``. Output cut short
by its reader (``nlpfootprint regions | head -1``) ends the command quietly, with status
141 (128 + SIGPIPE, what a shell reports for a program that signal ended).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from nlpfootprint.commands import LITERAL as _LITERAL
from nlpfootprint.commands import cli_words
from nlpfootprint.errors import NlpFootprintError
from nlpfootprint.render.common import printable
from nlpfootprint.version import package_version

__all__ = ["COMMANDS", "build_parser", "cli_words", "main"]

#: The subcommands, in the order ``--help`` lists them (modules of nlpfootprint.commands).
COMMANDS = ("demo", "run", "report", "advise", "meters", "baseline", "estimate", "regions")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like the commands' own errors
    (``nlpfootprint estimate: error: argument --hours: ...``), with exit status 2."""

    def error(self, message: str) -> NoReturn:
        message = _usage_words(message, _flags(self))
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
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # a reader that went away is found here, not at exit
    except BrokenPipeError:
        _discard_output()
        return _BROKEN_PIPE_STATUS


#: The exit status when the reader of the output went away: 128 + SIGPIPE, as a shell
#: reports for a program that the signal ended (``head`` closing a pipe).
_BROKEN_PIPE_STATUS = 141


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    command = _command_parser(parser, args.command)
    _refuse_bypassed_values(command, args)
    try:
        status: int = args.run(args)
    except BrokenPipeError:
        raise
    except NlpFootprintError as err:
        message = cli_words(str(err), _flags(command))
        print(printable(f"nlpfootprint {args.command}: error: {message}"), file=sys.stderr)
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


def _discard_output() -> None:
    """Point standard output at the null device, so that what is still buffered for a
    reader that went away is dropped at exit rather than failing again there."""
    try:
        fileno = sys.stdout.fileno()
    except (OSError, ValueError):  # not a file (a test's capture): nothing to drop
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fileno)
    finally:
        os.close(devnull)


def _command_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The subcommand ``name``'s parser."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command: argparse.ArgumentParser = sub.choices[name]
    return command


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``{dest: flag}`` for each of the parser's options (its long flag where it has one)."""
    flags = {}
    for action in parser._actions:
        if action.option_strings:
            long = [o for o in action.option_strings if o.startswith("--")]
            flags[action.dest] = (long or action.option_strings)[0]
    return flags


#: argparse's message for a value a flag's ``type=`` refused: ``argument --a/-b: <why>``.
_ARGUMENT = re.compile(r"argument (?P<flags>[^:\s]+): (?P<why>.*)", re.DOTALL)


def _usage_words(message: str, flags: Mapping[str, str]) -> str:
    """argparse's ``message`` in the command line's words.

    ``argument --count: count=0: ...`` (a check's message about the flag argparse names)
    becomes ``--count 0: ...``: the parameter the check names is that flag's, whatever the
    check calls it.
    """
    match = _ARGUMENT.fullmatch(message)
    if match is None:
        return cli_words(message, flags)
    named = match["flags"].split("/")
    flag = next((f for f in named if f.startswith("--")), named[0])
    why = match["why"]
    checked = re.match(rf"(?P<name>\w+)=(?:{_LITERAL})?:", why)
    own = {**flags, checked["name"]: flag} if checked else dict(flags)
    why = cli_words(why, own)
    if why.startswith((f"{flag} ", f"{flag}:")):
        return why
    return f"argument {match['flags']}: {why}"


def _refuse_bypassed_values(command: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Make ``--flag=--`` the usage error it is.

    Python 3.11's argparse gives such a flag the value ``[]`` without calling its ``type=``
    check (later versions refuse it); exit with status 2 as for any other bad value.
    """
    for action in command._actions:
        bypassed = isinstance(getattr(args, action.dest, None), list)
        if action.option_strings and action.nargs is None and bypassed:
            command.error(f"argument {'/'.join(action.option_strings)}: expected one argument")
