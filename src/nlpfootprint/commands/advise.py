"""``nlpfootprint advise LOG``: when (an hourly series) and where (regions) a run would emit
least, from its run log."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nlpfootprint.commands import add_series_fallback, price_arg, pue_arg, with_series_fallback
from nlpfootprint.errors import ConfigurationError, NlpFootprintError

__all__ = ["register", "run"]


def _series_arg(text: str) -> Any:
    """``--series FILE``: read here, so that a bad file is a usage error in one line."""
    from nlpfootprint.series import IntensitySeries

    try:
        return IntensitySeries.from_csv(text)
    except NlpFootprintError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _regions_arg(text: str) -> tuple[str, ...]:
    """``--regions FRA,DEU,gcp:europe-west4``: each key checked here (a tuple: a list is
    what argparse gives a flag it bypassed, which the CLI refuses)."""
    from nlpfootprint.intensity import carbon_intensity

    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected keys separated by commas, e.g. FRA,DEU,gcp:europe-west4"
        )
    for key in keys:
        try:
            carbon_intensity(key)
        except NlpFootprintError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return tuple(keys)


def register(sub: Any) -> None:
    """Add the ``advise`` command."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "advise",
        help="when and where the same run would emit least (an hourly series, regions)",
        description="Read a run log and say what the same energy profile would emit started "
        "at every hour of an intensity series (--series: a local CSV of timestamp,g_per_kwh "
        "or an Electricity Maps export), and on other grids at their yearly figures "
        "(--regions). Nothing is fetched.",
    )
    parser.add_argument("log", type=Path, metavar="LOG", help="a run log")
    parser.add_argument(
        "--series",
        type=_series_arg,
        default=None,
        metavar="FILE.csv",
        help="hourly (or finer) carbon intensity: timestamp,g_per_kwh (UTC), or an "
        "Electricity Maps CSV export",
    )
    parser.add_argument(
        "--regions",
        type=_regions_arg,
        default=None,
        metavar="KEY,KEY,...",
        help="grids to compare, e.g. FRA,DEU,gcp:europe-west4 (nlpfootprint regions lists keys)",
    )
    parser.add_argument(
        "--format", choices=("text", "markdown", "json"), default="text", help="output format"
    )
    parser.add_argument("--pue", type=pue_arg, default=None, help="data-centre PUE, 1 to 5")
    parser.add_argument("--price-per-kwh", type=price_arg, default=None, help="electricity price")
    add_series_fallback(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read the log, advise, print; 0, or a ConfigurationError (exit 2) in one line."""
    from nlpfootprint.report import Report

    if args.series is None and not args.regions:
        raise ConfigurationError(
            "advise needs --series FILE.csv (when), --regions KEY,... (where), or both"
        )
    report = Report.from_log(args.log, pue=args.pue, price_per_kwh=args.price_per_kwh)
    series = with_series_fallback(args.series, args.series_fallback)
    advice = report.advise(series=series, regions=args.regions)
    if args.format == "json":
        print(advice.to_json())
    elif args.format == "markdown":
        print(advice.to_markdown())
    else:
        print(advice)
    return 0
