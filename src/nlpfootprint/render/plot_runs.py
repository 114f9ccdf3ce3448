"""Several runs on one figure: each run's total power and IT energy so far, one line per
run (``nlpfootprint report A.jsonl B.jsonl --plot runs.png``)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError
from nlpfootprint.render._figure import (
    PathArg,
    add_note,
    new_figure,
    report_trace,
    save,
    set_title,
    trace_edges,
)
from nlpfootprint.render.caption import (
    figures_sentence,
    how_sentence,
    sources_sentence,
    status_sentence,
)
from nlpfootprint.render.common import printable
from nlpfootprint.units import J_PER_KWH, energy_axis, format_energy_kwh, time_unit

if TYPE_CHECKING:
    from nlpfootprint.report import Report
    from nlpfootprint.trace import TraceData

__all__ = ["plot_reports"]

#: The runs of a figure of several.
_RUN_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
#: The most runs whose figures the footnote of several runs gives one by one (and the
#: most lines of how they were measured, and of their sources).
_NOTE_RUNS = 6
#: The most runs named on a line of the footnote (how those runs were measured).
_NOTE_NAMES = 4


def _run_labels(reports: list[Report], labels: Sequence[str] | None) -> list[str]:
    """One label per run: those given, else each run's name (``run N`` without one); a
    name that several runs share gets the run's number."""
    if labels is not None:
        if isinstance(labels, str) or not all(isinstance(label, str) for label in labels):
            raise ConfigurationTypeError(f"labels={labels!r}: expected a list of strings")
        if len(labels) != len(reports):
            raise ConfigurationError(
                f"labels: {len(labels)} given for {len(reports)} reports; give one per report"
            )
        return [printable(label) for label in labels]
    names = [printable(r.name) if r.name else f"run {i + 1}" for i, r in enumerate(reports)]
    return [
        f"{name} (run {i + 1})" if names.count(name) > 1 else name for i, name in enumerate(names)
    ]


def _names(labels: list[str]) -> str:
    """``a``, ``a and b``, ``a, b, c and d``; past :data:`_NOTE_NAMES`, the first few and
    how many more."""
    shown = labels if len(labels) <= _NOTE_NAMES else labels[: _NOTE_NAMES - 1]
    rest = [f"{len(labels) - len(shown)} more runs"] if len(shown) < len(labels) else []
    *head, last = [*shown, *rest]
    return f"{', '.join(head)} and {last}" if head else last


def _capped(lines: list[str], what: str) -> list[str]:
    """The first :data:`_NOTE_RUNS` of ``lines``, then how many more ``what`` there are."""
    if len(lines) <= _NOTE_RUNS:
        return lines
    return [*lines[:_NOTE_RUNS], f"... and {len(lines) - _NOTE_RUNS} more {what}."]


def _reports_note(reports: list[Report], labels: list[str]) -> str:
    """Each run's figures (the first few), how they were obtained (runs measured alike
    named together), the sources (each pair once)."""
    lines = [
        " ".join(part for part in (figures_sentence(r, label=label), status_sentence(r)) if part)
        for r, label in zip(reports[:_NOTE_RUNS], labels, strict=False)
    ]
    if len(reports) > _NOTE_RUNS:
        lines.append(f"... and {len(reports) - _NOTE_RUNS} more runs (see the legend).")
    by_how: dict[str, list[str]] = {}
    for r, label in zip(reports, labels, strict=True):
        by_how.setdefault(how_sentence(r) or "No channel had a reading.", []).append(label)
    if len(by_how) == 1:
        lines += by_how
    else:
        hows = [f"{_names(names)}: {how}" for how, names in by_how.items()]
        lines += _capped(hows, "ways of measuring")
    lines += _capped(list(dict.fromkeys(sources_sentence(r) for r in reports)), "sources")
    return "\n".join(lines)


def plot_reports(
    reports: Sequence[Report],
    path: PathArg | None = None,
    *,
    ax: Any = None,
    labels: Sequence[str] | None = None,
) -> Any:
    """Plot several runs on one figure: each run's total power over time, one line per
    run, and its IT energy so far, with each run's figures beneath.

    The time axis is the time since each run's start. On a new figure the power is above
    and the energy so far below; drawn into ``ax``, the energy so far is dashed, on a twin
    axis, and there is no footnote.

    Args:
        reports: Measured reports with a trace (a run log's, ``Report.from_log``).
        path: Where to save the figure (PNG, or another format by its suffix).
        ax: A matplotlib Axes to draw into instead of a new figure.
        labels: One label per run (default: its name, or ``run N``).

    Returns:
        The matplotlib Figure.

    Raises:
        ConfigurationError: matplotlib is missing, no report is given, a report has no
            trace (its error names which), or the labels do not match the reports.
    """
    runs = list(reports)
    if not runs:
        raise ConfigurationError("plot_reports: no reports given; expected at least one")
    names = _run_labels(runs, labels)
    traces = [report_trace(r, f"run {i + 1} ({names[i]})") for i, r in enumerate(runs)]
    if ax is None:
        figure = new_figure(7.2)
        power_ax = figure.add_subplot(2, 1, 1)
        energy_ax = figure.add_subplot(2, 1, 2, sharex=power_ax)
        power_ax.tick_params(labelbottom=False)
    else:
        figure, power_ax = ax.figure, ax
        energy_ax = ax.twinx()
    _draw_runs(
        power_ax, energy_ax, list(zip(runs, traces, names, strict=True)), twin=ax is not None
    )
    set_title(power_ax, f"{len(runs)} run{'s' if len(runs) > 1 else ''}: total power over time")
    if ax is None:
        add_note(figure, _reports_note(runs, names), hspace=0.08)
    return save(figure, path)


def _draw_runs(
    power_ax: Any, energy_ax: Any, runs: list[tuple[Report, TraceData, str]], *, twin: bool
) -> None:
    """Each run's total power on ``power_ax`` and IT energy so far on ``energy_ax`` (with
    ``twin``, its twin axis: the energy dashed), one colour per run."""
    edges = [trace_edges(t) for _, t, _ in runs]
    scale, unit, _ = time_unit(max(float(e[-1] - e[0]) for e in edges))
    totals_w = [np.sum([np.asarray(v) for v in t.power_w.values()], axis=0) for _, t, _ in runs]
    cumulative = [
        np.concatenate(([0.0], np.cumsum(w * np.diff(e)))) / J_PER_KWH
        for w, e in zip(totals_w, edges, strict=True)
    ]
    e_scale, e_unit = energy_axis(max(float(c[-1]) for c in cumulative))
    colours = _RUN_COLOURS * (len(runs) // len(_RUN_COLOURS) + 1)
    for (report, _, label), e, w, c, colour in zip(
        runs, edges, totals_w, cumulative, colours, strict=False
    ):
        x = e / scale
        mean_w = float(np.sum(w * np.diff(e)) / (e[-1] - e[0]))
        power_ax.step(
            x,
            np.append(w, w[-1]),
            where="post",
            color=colour,
            linewidth=1.2,
            label=f"{label} ({format_energy_kwh(report.energy_kwh)} IT, mean {mean_w:,.1f} W)",
        )
        energy_ax.plot(x, c / e_scale, color=colour, linewidth=1.6, linestyle="--" if twin else "-")
    power_ax.set_ylabel("total power (W)")
    power_ax.set_ylim(0, max(float(w.max()) for w in totals_w) * 1.3 or 1.0)
    power_ax.set_xlim(0, max(float(e[-1]) for e in edges) / scale)
    energy_ax.set_ylabel(f"energy so far, IT ({e_unit})")
    energy_ax.set_ylim(0, max(float(c[-1]) for c in cumulative) / e_scale * 1.15 or 1.0)
    (power_ax if twin else energy_ax).set_xlabel(f"time since start ({unit})")
    handles = power_ax.get_legend_handles_labels()[0]
    power_ax.grid(True, alpha=0.3, linewidth=0.6)
    if twin:  # one key to the dashed lines, in no run's colour
        line_class = importlib.import_module("matplotlib.lines").Line2D
        handles.append(
            line_class([], [], color="#333333", linestyle="--", label="energy so far, IT (right)")
        )
    else:
        energy_ax.grid(True, alpha=0.3, linewidth=0.6)
    power_ax.legend(handles=handles, loc="upper left", fontsize=8.5, framealpha=0.9)
