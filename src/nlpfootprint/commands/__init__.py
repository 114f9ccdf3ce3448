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
from collections.abc import Callable
from typing import TypeVar

from nlpfootprint.checks import (
    nonnegative,
    positive,
    price_per_kwh_value,
    pue_value,
    whole_number,
)
from nlpfootprint.errors import NlpFootprintError

__all__ = [
    "add_accounting_options",
    "checked",
    "count_arg",
    "intensity_arg",
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
        metavar="G_PER_KWH|KEY",
        help="grid carbon intensity: g CO2e/kWh (0 to 3000), or a key (a country such as "
        "FRA, a cloud region such as gcp:europe-west4, a preset such as strubell2019); "
        "default: the world average",
    )
    parser.add_argument(
        "--price-per-kwh",
        type=price_arg,
        default=None,
        help="electricity price per kWh (USD)",
    )


def intensity_arg(text: str) -> float | str:
    """A ``--carbon-intensity`` value: a number if it parses as one, else a key; either is
    checked here (an unknown key or a bad number is a usage error)."""
    from nlpfootprint.intensity import carbon_intensity

    try:
        value: float | str = float(text)
    except ValueError:
        value = text
    try:
        carbon_intensity(value)
    except NlpFootprintError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value
