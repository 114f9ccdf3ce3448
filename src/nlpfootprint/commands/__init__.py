"""The subcommands of ``nlpfootprint``: one module each, with ``register(subparsers)``.

``register`` adds the command's parser and sets ``run=`` (a function taking the parsed
arguments and returning the exit status) as its default. Shared option helpers live here.

Every flag that takes a number or a key is checked while the command line is parsed, by
the same checks the library applies (:mod:`nlpfootprint.checks`): a bad value is a usage
error, exit status 2, with one line that names the flag and says what is allowed, before
anything is measured or written.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import re
import shlex
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

import attrs

from nlpfootprint.checks import (
    nonnegative,
    positive,
    price_per_kwh_value,
    pue_value,
    whole_number,
)
from nlpfootprint.errors import ConfigurationError, NlpFootprintError

if TYPE_CHECKING:
    from nlpfootprint.series import IntensitySeries

__all__ = [
    "LITERAL",
    "cli_words",
    "add_accounting_options",
    "checked",
    "count_arg",
    "add_series_fallback",
    "intensity_arg",
    "with_series_fallback",
    "nonnegative_arg",
    "positive_arg",
    "price_arg",
    "pue_arg",
]

T = TypeVar("T")


def checked(
    check: Callable[[object], T], *, parse: Callable[[str], object] = float, what: str = "number"
) -> Callable[[str], T]:
    """An argparse ``type=``: ``parse`` the text, then ``check`` the value.

    Text that does not parse, and a value the check refuses, become a usage error that
    argparse prints as ``argument --flag: <the check's message>`` (exit status 2).
    """

    def convert(text: str) -> T:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what}, got {text!r}") from None
        try:
            return check(value)
        except NlpFootprintError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = what  # what argparse would print for other errors
    return convert


def nonnegative_arg(name: str) -> Callable[[str], float]:
    """A number >= 0 (``name`` is the argument's name in messages)."""
    return checked(lambda value: nonnegative(name, value))


def positive_arg(name: str) -> Callable[[str], float]:
    """A number > 0."""
    return checked(lambda value: positive(name, value))


def count_arg(name: str, *, minimum: int = 0, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number from ``minimum`` to ``maximum``."""
    return checked(
        lambda value: whole_number(name, value, minimum=minimum, maximum=maximum),
        parse=int,
        what="whole number",
    )


#: ``--pue``: from 1 to 5.
pue_arg = checked(pue_value)
#: ``--price-per-kwh``: from 0 to 1,000,000.
price_arg = checked(price_per_kwh_value)


def add_accounting_options(parser: argparse.ArgumentParser) -> None:
    """``--pue``, ``--carbon-intensity`` and ``--price-per-kwh``, as every command takes them."""
    parser.add_argument(
        "--pue",
        type=pue_arg,
        default=1.58,
        help="data-centre PUE, 1 to 5 (default: 1.58, the paper's)",
    )
    parser.add_argument(
        "--carbon-intensity",
        default=None,
        type=intensity_arg,
        metavar="G_PER_KWH|KEY|FILE.csv",
        help="grid carbon intensity: g CO2e/kWh (0 to 3000), a key (a country such as "
        "FRA, a cloud region such as gcp:europe-west4, a preset such as strubell2019), or "
        "a CSV file of hourly values (timestamp,g_per_kwh) to weight each hour's energy; "
        "default: the world average",
    )
    parser.add_argument(
        "--price-per-kwh",
        type=price_arg,
        default=None,
        help="electricity price per kWh (USD)",
    )


def intensity_arg(text: str) -> float | str | IntensitySeries:
    """A ``--carbon-intensity`` value: a number if it parses as one, an hourly series if it
    names a CSV file (read here, never fetched), else a key; each is checked here (an
    unknown key, a bad number or an unreadable series is a usage error, in one line)."""
    from nlpfootprint.intensity import carbon_intensity
    from nlpfootprint.series import as_series

    try:
        value: float | str = float(text)
    except ValueError:
        value = text
    try:
        series = as_series(value)
        if series is not None:
            return series
        carbon_intensity(value)
    except NlpFootprintError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


V = TypeVar("V")


def add_series_fallback(parser: argparse.ArgumentParser) -> None:
    """``--series-fallback``: the yearly figure for energy outside an hourly series."""
    parser.add_argument(
        "--series-fallback",
        type=intensity_arg,
        default=None,
        metavar="G_PER_KWH|KEY",
        help="with an hourly series (a CSV file): the yearly figure for energy outside it, "
        "a key such as FRA or g CO2e/kWh (default: the world average)",
    )


def with_series_fallback(value: V, fallback: object) -> V:
    """``value`` (a ``--carbon-intensity`` or ``--series``) with ``--series-fallback``.

    Raises:
        ConfigurationError: A fallback without a series to apply it to, or a series given
            as a fallback.
    """
    from nlpfootprint.intensity import carbon_intensity
    from nlpfootprint.series import IntensitySeries

    if fallback is None:
        return value
    if isinstance(fallback, IntensitySeries):
        raise ConfigurationError(
            "--series-fallback: expected a yearly figure (a key or g CO2e/kWh), not a series"
        )
    if not isinstance(value, IntensitySeries):
        raise ConfigurationError(
            f"--series-fallback {fallback}: applies to an hourly series (a CSV file given to "
            "--carbon-intensity or --series), and none was given"
        )
    return attrs.evolve(value, fallback=carbon_intensity(fallback))  # type: ignore[arg-type]


#: A Python literal as the library's checks print a value: a quoted string, or a number
#: (``-3.0``, ``1e+300``, ``10**400``, ``inf``, ``nan``).
LITERAL = r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|[-+]?(?:\d[\w.+*]*|inf|nan)(?![\w])"""
#: Where a parameter's name may start: not inside a word, a flag, a path or a key.
_NOT_AFTER = r"(?<![\w./\\:=-])"


def cli_words(message: str, flags: Mapping[str, str]) -> str:
    """``message`` with each parameter of ``flags`` (``{dest: flag}``) named by its flag.

    ``power_w=-3.0`` becomes ``--power-w -3.0``, ``hardware='TPU v3'`` becomes
    ``--hardware 'TPU v3'`` (the value as a shell takes it), a bare ``power_w=`` or
    ``cpu_power_w`` becomes ``--power-w`` or ``--cpu-power-w``. A parameter given a Python
    value no flag takes (``prices={name: (low, high)}``) and names the command has no flag
    for are left as they are.
    """
    names = sorted((d for d in flags if d.isidentifier()), key=len, reverse=True)
    if not names:
        return message
    alternatives = "|".join(re.escape(n) for n in names)
    assigned = re.compile(rf"{_NOT_AFTER}(?P<name>{alternatives})=(?P<value>{LITERAL})?(?![{{\[(])")

    def flag_value(match: re.Match[str]) -> str:
        flag = flags[match["name"]]
        value = match["value"]
        if value is None:
            after = match.string[match.end() : match.end() + 1]
            return f"{flag} " if after in ("'", '"') else flag
        if value[0] in "'\"":
            with contextlib.suppress(ValueError, SyntaxError):
                value = shlex.quote(str(ast.literal_eval(value)))
        return f"{flag} {value}"

    message = assigned.sub(flag_value, message)
    bare = [re.escape(n) for n in names if "_" in n]  # unmistakably Python names
    if bare:
        pattern = rf"{_NOT_AFTER}(?P<name>{'|'.join(bare)})(?![\w=-])"
        message = re.sub(pattern, lambda m: flags[m["name"]], message)
    return message
