"""``nlpfootprint report LOG...``: re-account run logs, in the format a paper needs.

Each log is read (a run cut off by a crash too: its energy up to the last flushed line)
and accounted under the PUE, carbon intensity and price given here, or the ones it was
recorded with. Several logs are several runs (a sweep): each is shown, then their total,
which is a report too (the runs added up) and is rendered by the same renderers.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import attrs

from nlpfootprint.commands import intensity_arg, nonnegative_arg, price_arg, pue_arg
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.report import Report
from nlpfootprint.windows import accounted_alike, merge_entries

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
    parser.add_argument("--pue", type=pue_arg, default=None, help="data-centre PUE, 1 to 5")
    parser.add_argument(
        "--carbon-intensity",
        type=intensity_arg,
        default=None,
        metavar="G_PER_KWH|KEY",
        help="grid carbon intensity: g CO2e/kWh or a key (FRA, US-CA, gcp:europe-west4, ...)",
    )
    parser.add_argument("--price-per-kwh", type=price_arg, default=None, help="electricity price")
    parser.add_argument(
        "--project-hours",
        type=nonnegative_arg("hours"),
        default=None,
        metavar="H",
        help="project each run to H hours",
    )
    parser.add_argument(
        "--plot", type=Path, default=None, metavar="PNG", help="plot power over time (one log)"
    )
    parser.set_defaults(run=run)


def _total(reports: list[Report]) -> Report | None:
    """The runs added up, as one more report (None when they were accounted differently)."""
    if len(reports) < 2 or not all(accounted_alike(reports[0], r) for r in reports):
        return None
    total = functools.reduce(merge_entries, reports)
    return attrs.evolve(total, name=f"total over {len(reports)} runs", warnings=())


def _render(report: Report, fmt: str, label: str) -> str:
    if fmt == "latex":
        return report.to_latex(label=label)
    return report.to_markdown() if fmt == "markdown" else str(report)


def _rendered(reports: list[Report], fmt: str) -> str:
    """What the command prints: the reports and their total, in ``fmt``."""
    total = _total(reports)
    if fmt == "json":
        data: Any = reports[0].to_dict()
        if len(reports) > 1:
            data = {"runs": [r.to_dict() for r in reports], "total": None}
            if total is not None:
                data["total"] = {**total.to_dict(), "runs": len(reports)}
        return json.dumps(data, indent=2)
    if fmt == "csv":
        rows = [r.to_csv_row() for r in (*reports, *(() if total is None else (total,)))]
        return "\n".join([Report.csv_header(), *rows])
    # one label per table when several runs go into one document
    labels = [
        f"tab:nlpfootprint-{i + 1}" if len(reports) > 1 else "tab:nlpfootprint"
        for i in range(len(reports))
    ]
    text = "\n\n".join(_render(r, fmt, label) for r, label in zip(reports, labels, strict=True))
    if total is not None:
        text += "\n\n" + _render(total, fmt, "tab:nlpfootprint-total")
    elif len(reports) > 1:
        text += (
            "\n\nno total: the runs were recorded under different assumptions; give --pue, "
            "--carbon-intensity and --price-per-kwh to account them alike"
        )
    return text


def _plot_formats() -> list[str]:
    """The suffixes matplotlib can save a figure as.

    Raises:
        ConfigurationError: matplotlib is not installed.
    """
    try:
        backend_bases = importlib.import_module("matplotlib.backend_bases")
    except ImportError as err:
        raise ConfigurationError(
            "--plot needs matplotlib, which is not installed: pip install 'nlpfootprint[plot]'"
        ) from err
    return sorted(backend_bases.FigureCanvasBase.get_supported_filetypes())


def _check_plot_path(path: Path) -> None:
    """Refuse a ``--plot`` path that cannot be written as a figure, before reading any log.

    Raises:
        ConfigurationError: Its folder does not exist, or its suffix names no format
            matplotlib writes (or matplotlib is not installed).
    """
    folder = path.resolve().parent
    if not folder.is_dir():
        raise ConfigurationError(f"--plot {path}: the folder {folder} does not exist")
    formats = _plot_formats()
    suffix = path.suffix[1:]
    if suffix.lower() not in formats:
        got = f"the suffix .{suffix} is no image format" if suffix else "no suffix"
        raise ConfigurationError(
            f"--plot {path}: {got}; the file's suffix says the format, one of {', '.join(formats)}"
        )


def run(args: argparse.Namespace) -> int:
    """Read, re-account, render; print only once everything asked for has worked."""
    if args.plot is not None:
        _check_plot_path(args.plot)
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
        try:
            reports = [r.project(hours=args.project_hours) for r in measured]
        except ConfigurationError as err:
            raise ConfigurationError(f"--project-hours {args.project_hours:g}: {err}") from err
    text = _rendered(reports, args.format)
    if args.plot is not None:
        try:
            measured[0].plot(args.plot)  # the measurement itself, never a projection
        except ValueError as err:  # matplotlib: a figure it cannot write
            raise ConfigurationError(f"--plot {args.plot}: {err}") from err
    print(text)
    if args.plot is not None:  # to stderr: the output may be a document (JSON, LaTeX)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0
