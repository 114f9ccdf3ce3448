"""``nlpfootprint report LOG...``: re-account run logs, in the format a paper needs.

Each log is read (a run cut off by a crash too: its energy up to the last flushed line)
and accounted under the PUE, carbon intensity and price given here, or the ones it was
recorded with. Several logs are several runs (a sweep): each is shown, then the total.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlpfootprint.commands import intensity_arg
from nlpfootprint.errors import ConfigurationError

__all__ = ["FORMATS", "register", "run"]

FORMATS = ("text", "markdown", "latex", "json", "csv")


def register(sub: Any) -> None:
    """Add the ``report`` command."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="re-account run logs (other PUE, grid or price) and render them for a paper",
        description="Read one or more run logs written by track_energy(log=...) or "
        "'nlpfootprint run', account them under the given assumptions (default: those "
        "they were recorded with) and print them as text, Markdown, LaTeX, JSON or CSV.",
    )
    parser.add_argument("logs", nargs="+", type=Path, metavar="LOG", help="run log files")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument("--pue", type=float, default=None, help="data-centre PUE")
    parser.add_argument(
        "--carbon-intensity",
        type=intensity_arg,
        default=None,
        metavar="G_PER_KWH|KEY",
        help="grid carbon intensity: g CO2e/kWh or a key (FRA, US-CA, gcp:europe-west4, ...)",
    )
    parser.add_argument("--price-per-kwh", type=float, default=None, help="electricity price")
    parser.add_argument(
        "--project-hours", type=float, default=None, metavar="H", help="project each run to H hours"
    )
    parser.add_argument(
        "--plot", type=Path, default=None, metavar="PNG", help="plot power over time (one log)"
    )
    parser.set_defaults(run=run)


def _totals(reports: list[Any]) -> dict[str, float | None]:
    costs = [r.cost_usd for r in reports]
    return {
        "runs": len(reports),
        "duration_s": math.fsum(r.duration_s for r in reports),
        "energy_kwh": math.fsum(r.energy_kwh for r in reports),
        "facility_energy_kwh": math.fsum(r.facility_energy_kwh for r in reports),
        "co2e_kg": math.fsum(r.co2e_kg for r in reports),
        "co2e_lbs": math.fsum(r.co2e_lbs for r in reports),
        "cost_usd": None if any(c is None for c in costs) else math.fsum(costs),
    }


def _total_lines(total: dict[str, float | None], fmt: str) -> str:
    cost = total["cost_usd"]
    cells = [
        ("runs", f"{total['runs']:.0f}"),
        ("hours", f"{(total['duration_s'] or 0) / 3600:.4g}"),
        ("energy (IT)", f"{total['energy_kwh']:.6g} kWh"),
        ("energy x PUE", f"{total['facility_energy_kwh']:.6g} kWh"),
        ("CO2e", f"{total['co2e_kg']:.6g} kg = {total['co2e_lbs']:.6g} lbs"),
        ("cost", "not computed" if cost is None else f"{cost:.6g} USD"),
    ]
    if fmt == "markdown":
        return "\n".join(
            ["### Total", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in cells)]
        )
    if fmt == "latex":
        body = " \\\\\n".join(f"{k} & {v}" for k, v in cells)
        return (
            "% total over all runs\n\\begin{tabular}{ll}\n\\toprule\n"
            + body
            + " \\\\\n\\bottomrule\n\\end{tabular}"
        )
    return "total over all runs\n" + "\n".join(f"  {k:<13} {v}" for k, v in cells)


def run(args: argparse.Namespace) -> int:
    """Read, re-account, render."""
    from nlpfootprint.report import Report

    measured = [
        Report.from_log(
            path,
            pue=args.pue,
            carbon_intensity=args.carbon_intensity,
            price_per_kwh=args.price_per_kwh,
        )
        for path in args.logs
    ]
    if args.plot is not None and len(measured) != 1:
        raise ConfigurationError("--plot takes one log at a time")
    reports = measured
    if args.project_hours is not None:
        reports = [r.project(hours=args.project_hours) for r in measured]
    fmt = args.format
    if fmt == "json":
        data: Any = reports[0].to_dict()
        if len(reports) > 1:
            data = {"runs": [r.to_dict() for r in reports], "total": _totals(reports)}
        print(json.dumps(data, indent=2))
    elif fmt == "csv":
        print(Report.csv_header())
        for report in reports:
            print(report.to_csv_row())
    else:

        def latex(report: Report, index: int) -> str:
            # one label per table when several runs go into one document
            suffix = f"-{index + 1}" if len(reports) > 1 else ""
            return report.to_latex(label=f"tab:nlpfootprint{suffix}")

        renders: dict[str, Callable[[Report, int], str]] = {
            "text": lambda report, _: str(report),
            "markdown": lambda report, _: report.to_markdown(),
            "latex": latex,
        }
        print("\n\n".join(renders[fmt](r, i) for i, r in enumerate(reports)))
        if len(reports) > 1:
            print("\n" + _total_lines(_totals(reports), fmt))
    if args.plot is not None:
        measured[0].plot(args.plot)  # the measurement itself, never a projection
        print(f"\nplot written to {args.plot}")
    return 0
