"""``nlpfootprint regions``: the carbon-intensity keys, their values and sources."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import attrs

__all__ = ["register", "run"]

_NAME_WIDTH = 52


def register(sub: Any) -> None:
    """Add the ``regions`` command."""
    from nlpfootprint._tables import KINDS

    parser: argparse.ArgumentParser = sub.add_parser(
        "regions",
        help="list the carbon-intensity keys (countries, cloud regions, ...) and their values",
        description="List the keys that carbon_intensity= and --carbon-intensity accept: "
        "countries, aggregates, US states and other grids, cloud regions and presets, with "
        "g CO2e/kWh, year and source. Keys are case-insensitive; countries also answer to "
        "their ISO alpha-2 code and name.",
    )
    parser.add_argument(
        "--search",
        metavar="TEXT",
        default=None,
        help="only keys whose key, name or alias contains TEXT (case-insensitive)",
    )
    parser.add_argument("--kind", choices=KINDS, default=None, help="only keys of this kind")
    parser.add_argument(
        "--sources",
        action="store_true",
        help="print where the data come from (origin, license, year) instead",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run)


def _print_sources(as_json: bool) -> int:
    from nlpfootprint.intensity import data_sources

    sources = data_sources()
    if as_json:
        print(json.dumps([attrs.asdict(s) for s in sources], indent=2))
        return 0
    print("nlpfootprint regions: where the shipped data come from\n")
    for s in sources:
        print(f"{s.file}\n  what:    {s.what}\n  origin:  {s.origin}")
        print(f"  license: {s.license}\n  year:    {s.year}\n  cite:    {s.attribution}\n")
    print("More in nlpfootprint/data/README.md, shipped with the package.")
    return 0


def _shorten(text: str, width: int = _NAME_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def run(args: argparse.Namespace) -> int:
    """Print the matching keys (or the data sources); 1 when nothing matches."""
    from nlpfootprint.intensity import DEFAULT_INTENSITY, regions

    if args.sources:
        return _print_sources(args.json)
    found = regions(args.search, kind=args.kind)
    if args.json:
        print(json.dumps([attrs.asdict(r) for r in found], indent=2, ensure_ascii=False))
        return 0 if found else 1
    if not found:
        what = f" matching {args.search!r}" if args.search else ""
        kind = f" of kind {args.kind}" if args.kind else ""
        print(f"nlpfootprint regions: no keys{kind}{what}", file=sys.stderr)
        return 1
    rows = [
        (r.key, f"{r.g_per_kwh:.1f}", str(r.year or ""), _shorten(r.name), r.short_source)
        for r in found
    ]
    header = ("KEY", "G/KWH", "YEAR", "NAME", "SOURCE")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        key, g, year, name, source = row
        print(
            f"{key:<{widths[0]}}  {g:>{widths[1]}}  {year:<{widths[2]}}  "
            f"{name:<{widths[3]}}  {source}"
        )
    print(
        f"\n{len(found)} key(s). Use one as carbon_intensity=KEY or --carbon-intensity KEY; "
        "countries also answer to their ISO alpha-2 code and name.\nWithout one, the world "
        f"average ({DEFAULT_INTENSITY.g_per_kwh:g} g/kWh) is used. Sources, licenses and "
        "years: nlpfootprint regions --sources"
    )
    return 0
