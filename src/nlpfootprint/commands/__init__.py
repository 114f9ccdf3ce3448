"""The subcommands of ``nlpfootprint``: one module each, with ``register(subparsers)``.

``register`` adds the command's parser and sets ``run=`` (a function taking the parsed
arguments and returning the exit status) as its default. Shared option helpers live here.
"""

from __future__ import annotations

import argparse

__all__ = ["add_accounting_options", "intensity_arg"]


def add_accounting_options(parser: argparse.ArgumentParser) -> None:
    """``--pue``, ``--carbon-intensity`` and ``--price-per-kwh``, as every command takes them."""
    parser.add_argument(
        "--pue", type=float, default=1.58, help="data-centre PUE (default: 1.58, the paper's)"
    )
    parser.add_argument(
        "--carbon-intensity",
        default=None,
        type=intensity_arg,
        metavar="G_PER_KWH|KEY",
        help="grid carbon intensity: g CO2e/kWh, or a key (a country such as FRA, a cloud "
        "region such as gcp:europe-west4, a preset such as strubell2019); "
        "default: the world average",
    )
    parser.add_argument(
        "--price-per-kwh", type=float, default=None, help="electricity price per kWh (USD)"
    )


def intensity_arg(text: str) -> float | str:
    """A ``--carbon-intensity`` value: a number if it parses as one, else a key."""
    try:
        return float(text)
    except ValueError:
        return text
