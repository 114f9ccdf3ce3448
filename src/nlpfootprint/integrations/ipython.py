"""IPython and Jupyter: ``%load_ext nlpfootprint``, then ``%%track_energy`` measures a cell.

``%%track_energy [options]`` on the first line of a cell runs the cell under a tracker and
displays its :class:`~nlpfootprint.Report` (the HTML table in a notebook, a one-line
summary in a terminal); ``%track_energy [options] STATEMENT`` measures one statement. The
options are :func:`~nlpfootprint.track_energy`'s, spelled as flags::

    %%track_energy --carbon-intensity FRA --pue 1.2 --log run.jsonl --report-var report
    trainer.train()

Inside the cell, :func:`nlpfootprint.current_tracker` is the cell's tracker, so code that
counts steps (``current_tracker().step(tokens=...)``) gives per-step and per-token figures.
The code runs in the notebook's namespace; the value of its last line is the cell's output,
as with ``%%time``. When it raises, the report (energy up to then, with a warning that says
so) is still shown, and then the error goes on, so the cell fails and "Run all" stops.
Top-level ``await`` is not supported inside a measured cell.

Meters and clock come from the machine unless named: ``--meters-var NAME`` takes the list of
meters in the notebook variable ``NAME`` and ``--clock-var NAME`` its clock, so a notebook
(or a test) can measure fake meters on a :class:`~nlpfootprint.testing.FakeClock`.

This module imports IPython only when the extension is loaded or the magic runs.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from collections.abc import Mapping
from types import CodeType
from typing import TYPE_CHECKING, Any, NoReturn

from nlpfootprint.errors import NlpFootprintError
from nlpfootprint.settings import TrackerSettings
from nlpfootprint.tracker import EnergyTracker

if TYPE_CHECKING:
    from nlpfootprint.report import Report

__all__ = ["load_ipython_extension", "magic_parser", "run_magic", "split_line"]

#: The options that are :class:`~nlpfootprint.settings.TrackerSettings` fields as they are.
_SETTINGS = ("interval_s", "pue", "carbon_intensity", "price_per_kwh", "log", "name")
#: One word of a magic's line: non-blanks and quoted strings (which may hold blanks).
_WORD = re.compile(r"""\s*((?:[^\s"']|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')+)""")


class _MagicParser(argparse.ArgumentParser):
    """An argument parser whose errors are IPython usage errors (a message, no traceback)."""

    def error(self, message: str) -> NoReturn:
        raise _usage_error(message)


def _usage_error(message: str) -> Exception:
    from IPython.core.error import UsageError

    return UsageError(f"%track_energy: {message}")


def _intensity(text: str) -> float | str:
    """``--carbon-intensity``: a number of g CO2e/kWh if it parses as one, else a key."""
    try:
        return float(text)
    except ValueError:
        return text


def magic_parser() -> argparse.ArgumentParser:
    """The parser of the magic's options (``%track_energy?`` prints its help)."""
    parser = _MagicParser(
        prog="%track_energy",
        usage="%%%%track_energy [options]  (first line of a cell)\n"  # argparse %-formats it
        "       %%track_energy [options] [--] STATEMENT",
        add_help=False,
        allow_abbrev=False,
    )
    add = parser.add_argument
    add("--interval-s", type=float, metavar="S", help="seconds between readings (default 1)")
    add("--pue", type=float, help="data-centre PUE, 1 to 5 (default 1.58, the paper's)")
    add(
        "--carbon-intensity",
        type=_intensity,
        metavar="G_PER_KWH|KEY",
        help="g CO2e/kWh, or a key: FRA, gcp:europe-west4, strubell2019 (default: world mean)",
    )
    add("--price-per-kwh", type=float, metavar="PRICE", help="electricity price per kWh")
    add("--log", metavar="PATH", help="write the run log (JSON lines; .gz compresses) here")
    add("--name", help="a name for the report")
    add("--meters-var", metavar="NAME", help="measure the meters listed in variable NAME")
    add("--clock-var", metavar="NAME", help="use the clock in variable NAME (a FakeClock)")
    add("--report-var", metavar="NAME", help="store the Report in variable NAME")
    add("--quiet", action="store_true", help="do not display the report")
    return parser


def split_line(line: str, parser: argparse.ArgumentParser) -> tuple[list[str], str]:
    """The option words at the start of ``line``, and the statement after them.

    Options come first; the statement starts at the first word that is neither an option
    nor an option's value (or after ``--``), and is kept exactly as typed.
    """
    flags = {s for action in parser._actions if action.nargs == 0 for s in action.option_strings}
    words: list[str] = []
    position, wants_value = 0, False
    while (match := _WORD.match(line, position)) is not None:
        word = match.group(1)
        if not wants_value and (word == "--" or not word.startswith("-")):
            position = match.end() if word == "--" else position
            break
        words.append(shlex.split(word)[0] if any(q in word for q in "\"'") else word)
        wants_value = not wants_value and "=" not in word and word not in flags
        position = match.end()
    return words, line[position:].strip()


def _variable(namespace: Mapping[str, Any], name: str | None, flag: str) -> Any:
    if name is None:
        return None
    if name not in namespace:
        raise _usage_error(f"{flag} {name}: there is no variable {name!r} in the notebook")
    return namespace[name]


def _tracker(namespace: Mapping[str, Any], args: argparse.Namespace) -> EnergyTracker:
    """A tracker with the options given (the others default as in ``track_energy``)."""
    options = {key: getattr(args, key) for key in _SETTINGS if getattr(args, key) is not None}
    meters = _variable(namespace, args.meters_var, "--meters-var")
    clock = _variable(namespace, args.clock_var, "--clock-var")
    options.update({"meters": meters} if meters is not None else {})
    options.update({"clock": clock} if clock is not None else {})
    try:
        return EnergyTracker(TrackerSettings.of(**options))
    except NlpFootprintError as err:
        raise _usage_error(str(err)) from err


def _compile(shell: Any, code: str) -> tuple[CodeType, CodeType | None]:
    """Compile ``code`` as IPython compiles a cell (magics, ``!`` lines and all): the
    statements, and its last line apart when that is an expression (its value is shown)."""
    source = shell.transform_cell(code)
    filename = shell.compile.cache(source, shell.execution_count)  # tracebacks
    tree = shell.transform_ast(shell.compile.ast_parse(source, filename))
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    value = None if last is None else ast.Expression(last.value)
    return (
        shell.compile(tree, filename, "exec"),
        None if value is None else shell.compile(value, filename, "eval"),
    )


def _execute(shell: Any, statements: CodeType, value: CodeType | None) -> Any:
    """Run compiled code in the user's namespace; return its last line's value or None."""
    namespaces = (shell.user_global_ns, shell.user_ns)
    exec(statements, *namespaces)
    return None if value is None else eval(value, *namespaces)


def run_magic(shell: Any, line: str, cell: str | None = None) -> Any:
    """What ``%track_energy`` (``cell`` None) and ``%%track_energy`` do in ``shell``.

    Returns the value of the code's last line (IPython shows it as the cell's output). An
    error in the code goes on to IPython (the cell fails) after the report is shown.
    """
    parser = magic_parser()
    words, statement = split_line(line, parser)
    if cell is not None and statement:
        raise _usage_error(f"{statement!r}: %%track_energy takes options only; code goes below")
    args = parser.parse_args(words)
    code = statement if cell is None else cell
    if not code.strip():
        raise _usage_error("nothing to measure: write %track_energy STATEMENT")
    if args.report_var is not None and not args.report_var.isidentifier():
        raise _usage_error(f"--report-var {args.report_var!r} is not a variable name")
    compiled = _compile(shell, code)  # a syntax error stops here, before measuring
    tracker = _tracker(shell.user_ns, args)
    try:
        with tracker:
            return _execute(shell, *compiled)
    finally:
        if tracker.result is not None:  # None: it did not start
            _deliver(shell, tracker.result, args)


def _deliver(shell: Any, report: Report, args: argparse.Namespace) -> None:
    """Store the report where ``--report-var`` says, and display it unless ``--quiet``."""
    if args.report_var is not None:
        shell.user_ns[args.report_var] = report
    if not args.quiet:
        from IPython import display

        show: Any = display.display  # untyped in IPython
        show(report)


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%track_energy`` / ``%%track_energy`` magic (``%load_ext nlpfootprint``)."""
    from IPython.core.magic import no_var_expand

    def track_energy(line: str, cell: str | None = None) -> Any:
        return run_magic(ipython, line, cell)

    track_energy.__doc__ = f"{__doc__}\n{magic_parser().format_help()}"
    ipython.register_magic_function(
        no_var_expand(track_energy), magic_kind="line_cell", magic_name="track_energy"
    )
