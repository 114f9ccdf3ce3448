"""``nlpfootprint report LOG...``: re-account run logs, in the format a paper needs.

Each log is read (a run cut off by a crash too: its energy up to the last flushed line)
and accounted under the PUE, carbon intensity and price given here, or the ones it was
recorded with. Several logs are several runs (a sweep): each is shown, then their total,
which is a report too (the runs added up) and is rendered by the same renderers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import attrs

from nlpfootprint.commands import (
    add_series_fallback,
    intensity_arg,
    nonnegative_arg,
    price_arg,
    pue_arg,
    with_series_fallback,
)
from nlpfootprint.commands.baseline import baseline_file_arg
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.report import Report
from nlpfootprint.units import format_duration, format_money
from nlpfootprint.windows import accounted_alike, merge_entries

__all__ = ["FORMATS", "register", "run"]

#: A log's start time is written to the second: overlaps up to this are no overlap.
_START_RESOLUTION_S = 1.0

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
        metavar="G_PER_KWH|KEY|FILE.csv",
        help="grid carbon intensity: g CO2e/kWh, a key (FRA, US-CA, gcp:europe-west4, ...) "
        "or a CSV file of hourly values (timestamp,g_per_kwh) to weight each hour's energy",
    )
    parser.add_argument("--price-per-kwh", type=price_arg, default=None, help="electricity price")
    add_series_fallback(parser)
    parser.add_argument(
        "--baseline",
        type=baseline_file_arg,
        default=None,
        metavar="FILE",
        help="report dynamic energy above this idle baseline too: a baseline file "
        "(nlpfootprint baseline --out FILE) or the run log of an idle run",
    )
    parser.add_argument(
        "--project-hours",
        type=nonnegative_arg("hours"),
        default=None,
        metavar="H",
        help="project each run to H hours",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="PNG",
        help="plot power over time (several logs: one line per run)",
    )
    parser.set_defaults(run=run)


@attrs.frozen
class _Overlap:
    """Two runs whose wall-clock spans overlap: the same energy may be in both."""

    runs: tuple[str, str]
    start: dt.datetime
    end: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": list(self.runs),
            "from": self.start.isoformat(timespec="seconds"),
            "to": self.end.isoformat(timespec="seconds"),
            "overlap_s": (self.end - self.start).total_seconds(),
        }

    def warning(self) -> str:
        start, end = self.start.astimezone(dt.UTC), self.end.astimezone(dt.UTC)
        to = f"{end:%H:%M:%S}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M:%S}"
        a, b = self.runs
        return (
            f"{a} and {b} overlap in time for "
            f"{format_duration((end - start).total_seconds())} ({start:%Y-%m-%d %H:%M:%S} "
            f"to {to} UTC): if one measured the other (an outer 'nlpfootprint run' around a "
            "job with its own tracker), that energy is counted twice in this total; summed "
            "anyway, leave one of them out if so"
        )


@attrs.frozen
class _PartialCost:
    """The cost of the runs with a price, when the runs do not share one price."""

    cost: float | None  # None: the priced runs' currencies differ
    currency: str
    priced: tuple[str, ...]
    unpriced: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost": self.cost,
            "currency": self.currency,
            "priced_runs": list(self.priced),
            "unpriced_runs": list(self.unpriced),
        }

    def warning(self) -> str:
        if self.cost is None:
            return (
                f"no cost in this total: the runs' prices are in different currencies "
                f"({self.currency}); give --price-per-kwh to price them all alike"
            )
        cost = format_money(self.cost, self.currency)
        if not self.unpriced:
            return (
                f"cost {cost}: the {len(self.priced)} runs at their own prices, added up "
                "(the prices differ, so the table has none; give --price-per-kwh to price "
                "them all alike)"
            )
        return (
            f"cost {cost} is of {len(self.priced)} of the {len(self.priced) + len(self.unpriced)}"
            f" runs only ({', '.join(self.priced)}, at their own prices); no price for "
            f"{', '.join(self.unpriced)}, so the table has no cost: give --price-per-kwh "
            "to price them all"
        )


def _span(report: Report) -> tuple[dt.datetime, dt.datetime] | None:
    """The run's wall-clock span (its start, to the second, plus its duration), if known."""
    if report.started_at is None:
        return None
    try:
        start = dt.datetime.fromisoformat(report.started_at)
    except ValueError:
        return None
    if start.tzinfo is None:  # written as UTC
        start = start.replace(tzinfo=dt.UTC)
    return start, start + dt.timedelta(seconds=report.duration_s)


def _hosts(report: Report) -> set[str] | None:
    """The machines the run measured, or None when any channel's machine is not known."""
    hosts = {c.device.host if c.device is not None else None for c in report.channels}
    return None if None in hosts or not hosts else {h for h in hosts if h is not None}


def _overlaps(runs: list[tuple[str, Report]]) -> list[_Overlap]:
    """The pairs of runs (on the same machine, or machines not known) whose spans overlap
    by more than the 1 s to which a start time is written."""
    found = []
    for i, (a, ra) in enumerate(runs):
        for b, rb in runs[i + 1 :]:
            span_a, span_b = _span(ra), _span(rb)
            hosts_a, hosts_b = _hosts(ra), _hosts(rb)
            if span_a is None or span_b is None:
                continue
            if hosts_a is not None and hosts_b is not None and not hosts_a & hosts_b:
                continue  # different machines: measured different hardware
            start, end = max(span_a[0], span_b[0]), min(span_a[1], span_b[1])
            if (end - start).total_seconds() > _START_RESOLUTION_S:
                found.append(_Overlap((a, b), start, end))
    return found


def _partial_cost(runs: list[tuple[str, Report]]) -> _PartialCost | None:
    """None when every run has the same price (or none has one): the total's own."""
    prices = {(r.assumptions.price_per_kwh, r.assumptions.currency) for _, r in runs}
    if len(prices) == 1:
        return None
    priced = [(name, r) for name, r in runs if r.cost_usd is not None]
    currencies = sorted({r.assumptions.currency for _, r in priced})
    return _PartialCost(
        cost=math.fsum(r.cost_usd or 0.0 for _, r in priced) if len(currencies) == 1 else None,
        currency=", ".join(currencies),
        priced=tuple(name for name, _ in priced),
        unpriced=tuple(name for name, r in runs if r.cost_usd is None),
    )


@attrs.frozen
class _Total:
    """The runs added up (a report), and what a reader of that sum must know."""

    report: Report
    overlaps: tuple[_Overlap, ...]
    partial_cost: _PartialCost | None

    def to_dict(self, runs: int) -> dict[str, Any]:
        data = {**self.report.to_dict(), "runs": runs}
        data["overlaps"] = [o.to_dict() for o in self.overlaps]
        data["partial_cost"] = None if self.partial_cost is None else self.partial_cost.to_dict()
        return data


def _total(runs: list[tuple[str, Report]], measured: list[Report]) -> _Total | None:
    """The runs added up, as one more report (None when their PUE or grid differ).

    Runs priced differently, or some not at all, are still added up: the sum has no price,
    and the cost of those with one is given apart, naming those without. Runs that overlap
    in time (``measured``: their spans as measured, never projected) are added up too,
    with a warning naming them and the overlap.
    """
    if len(runs) < 2:
        return None
    partial = _partial_cost(runs)
    currency = runs[0][1].assumptions.currency  # without a price, no currency to differ
    reports = [
        r
        if partial is None
        else attrs.evolve(
            r, assumptions=attrs.evolve(r.assumptions, price_per_kwh=None, currency=currency)
        )
        for _, r in runs
    ]
    if not all(accounted_alike(reports[0], r) for r in reports):
        return None
    overlaps = _overlaps([(name, r) for (name, _), r in zip(runs, measured, strict=True)])
    warnings = [o.warning() for o in overlaps]
    warnings += [
        f"{name} did not end cleanly ({r.outcome.detail}): its figures are in the total"
        for name, r in runs
        if r.outcome is not None and not r.outcome.ok
    ]
    if partial is not None:
        warnings.append(partial.warning())
    total = functools.reduce(merge_entries, reports)
    total = attrs.evolve(total, name=f"total over {len(reports)} runs", warnings=tuple(warnings))
    return _Total(total, tuple(overlaps), partial)


def _render(report: Report, fmt: str, label: str | None) -> str:
    if fmt == "latex":
        return report.to_latex(label=label)
    return report.to_markdown() if fmt == "markdown" else str(report)


def _rendered(reports: list[Report], total: _Total | None, fmt: str) -> str:
    """What the command prints: the reports and their total, in ``fmt``."""
    if fmt == "json":
        data: Any = reports[0].to_dict()
        if len(reports) > 1:
            data = {"runs": [r.to_dict() for r in reports], "total": None}
            if total is not None:
                data["total"] = total.to_dict(len(reports))
        return json.dumps(data, indent=2)
    if fmt == "csv":
        rows = [r.to_csv_row() for r in (*reports, *(() if total is None else (total.report,)))]
        return "\n".join([Report.csv_header(), *rows])
    # one label per table when several runs go into one document
    labels: list[str | None] = [
        f"tab:nlpfootprint-{i + 1}" if len(reports) > 1 else None  # None: from its name
        for i in range(len(reports))
    ]
    text = "\n\n".join(_render(r, fmt, label) for r, label in zip(reports, labels, strict=True))
    if total is not None:
        text += "\n\n" + _render(total.report, fmt, "tab:nlpfootprint-total")
    elif len(reports) > 1:
        text += (
            "\n\nno total: the runs were recorded under different assumptions (PUE or "
            "carbon intensity); give --pue and --carbon-intensity to account them alike"
        )
    return text


def _total_warnings(total: _Total | None, fmt: str) -> list[str]:
    """The total's warnings where its rendering shows none (LaTeX, CSV): for stderr."""
    if fmt not in ("latex", "csv") or total is None:
        return []
    return [f"warning: {total.report.name}: {w}" for w in total.report.warnings]


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


def _run_labels(reports: list[Report], paths: list[Path]) -> list[str]:
    """The runs' names on a plot of several; where the names do not tell the runs apart
    (one missing, or two alike), each log's file name without ``.jsonl`` (``.gz``), or
    its path where two logs share a file name; a label still taken (a log given twice)
    gets a number, `` (2)``, `` (3)``, ..."""
    names = [r.name for r in reports]
    if all(names) and len(set(names)) == len(names):
        return [str(n) for n in names]
    stems = [p.name.removesuffix(".gz").removesuffix(".jsonl") for p in paths]
    labels: list[str] = []
    for path, stem in zip(paths, stems, strict=True):
        label = str(path) if stems.count(stem) > 1 else stem
        number = 1
        while (f"{label} ({number})" if number > 1 else label) in labels:
            number += 1
        labels.append(f"{label} ({number})" if number > 1 else label)
    return labels


def _plot(path: Path, measured: list[Report], logs: list[Path]) -> None:
    """Plot one run (power by domain) or several (one line per run) to ``path``.

    Raises:
        ConfigurationError: A run has nothing to plot (the error names its log), or
            matplotlib cannot write the figure.
    """
    from nlpfootprint.render.plot import plot_reports

    try:
        if len(measured) == 1:
            measured[0].plot(path)
        else:
            plot_reports(measured, path, labels=_run_labels(measured, logs))
    except ConfigurationError as err:
        untraced = [
            str(log)
            for log, r in zip(logs, measured, strict=True)
            if r.trace is None or not r.trace.start_s or not r.trace.power_w
        ]
        where = f"{', '.join(untraced)}: " if untraced else ""
        raise ConfigurationError(f"--plot {path}: {where}{err}") from err
    except ValueError as err:  # matplotlib: a figure it cannot write
        raise ConfigurationError(f"--plot {path}: {err}") from err


def run(args: argparse.Namespace) -> int:
    """Read, re-account, render; print only once everything asked for has worked."""
    if args.plot is not None:
        _check_plot_path(args.plot)
    intensity = with_series_fallback(args.carbon_intensity, args.series_fallback)
    measured = [
        Report.from_log(
            path,
            pue=args.pue,
            carbon_intensity=intensity,
            price_per_kwh=args.price_per_kwh,
        )
        for path in args.logs
    ]
    if args.baseline is not None:
        measured = [r.with_baseline(args.baseline) for r in measured]
    reports = measured
    if args.project_hours is not None:
        try:
            reports = [r.project(hours=args.project_hours) for r in measured]
        except ConfigurationError as err:
            raise ConfigurationError(f"--project-hours {args.project_hours:g}: {err}") from err
    runs = [(str(path), r) for path, r in zip(args.logs, reports, strict=True)]
    total = _total(runs, measured)
    text = _rendered(reports, total, args.format)
    if args.plot is not None:
        _plot(args.plot, measured, args.logs)  # the measurements, never a projection
    print(text)
    for warning in _total_warnings(total, args.format):
        print(warning, file=sys.stderr)
    if args.plot is not None:  # to stderr: the output may be a document (JSON, LaTeX)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0
