"""Plots of power over time per domain, with the energy so far (``nlpfootprint[plot]``).

:func:`plot_report` draws a report's bounded trace, its named windows shaded, and a
caption (:mod:`~nlpfootprint.render.caption`) beneath; :func:`plot_reports` draws several
runs on one figure, one line per run; :func:`plot_power` draws arrays, such as those read
back from a run log. Each builds a :class:`matplotlib.figure.Figure` directly (never
through ``pyplot``, so an interactive user's backend and current figure are left alone),
saves it when given a path, and returns it. matplotlib is imported on first use. Energy
axes are in the unit the report's tables give the total in (kWh, Wh, mWh or uWh).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from nlpfootprint.errors import ConfigurationError
from nlpfootprint.render._figure import (
    FloatArray,
    PathArg,
    add_note,
    new_figure,
    report_trace,
    save,
    set_title,
    trace_edges,
)
from nlpfootprint.render.caption import figure_caption, sources_sentence
from nlpfootprint.render.common import method_label, printable
from nlpfootprint.render.plot_runs import plot_reports
from nlpfootprint.units import J_PER_KWH, energy_axis, format_energy_kwh, time_unit

if TYPE_CHECKING:
    from nlpfootprint.report import Report
    from nlpfootprint.trace import TraceData, WindowSpans

__all__ = ["plot_power", "plot_report", "plot_reports"]

#: Stacking order (bottom first) and colours of the domains.
_DOMAIN_ORDER = ("gpu", "cpu", "dram", "other")
_COLOURS = {"gpu": "#4c9a2a", "cpu": "#2f6fb0", "dram": "#e08a1e", "other": "#8c8c8c"}
_EXTRA_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf")
#: The bands of the named windows: one colour per name for the first ones, then grey.
_WINDOW_COLOURS = ("#6a3d9a", "#e7298a", "#a6761d", "#1a1a80", "#800000", "#008080")
_MORE_WINDOWS = "#7f7f7f"
_WINDOW_ALPHA = 0.22
_ENERGY_COLOUR = "#b22222"


def _ordered(domains: list[str]) -> list[str]:
    known = [d for d in _DOMAIN_ORDER if d in domains]
    return known + sorted(d for d in domains if d not in _DOMAIN_ORDER)


def _edges(times_s: npt.ArrayLike, n: int, start_s: float) -> FloatArray:
    times = np.asarray(times_s, dtype=np.float64).ravel()
    if times.size == n:
        times = np.concatenate(([start_s], times))
    elif times.size != n + 1:
        raise ConfigurationError(
            f"times_s has {times.size} values for {n} power values: give n sample times "
            "(each value the mean power since the previous time) or n + 1 bin edges"
        )
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        raise ConfigurationError(
            f"times_s must be finite and strictly increasing (from start_s={start_s:g})"
        )
    return times


def _power_arrays(power_by_domain: Mapping[str, npt.ArrayLike]) -> dict[str, FloatArray]:
    power = {str(d): np.asarray(v, dtype=np.float64).ravel() for d, v in power_by_domain.items()}
    if not power or not any(v.size for v in power.values()):
        raise ConfigurationError("nothing to plot: no power values")
    sizes = {v.size for v in power.values()}
    if len(sizes) != 1:
        raise ConfigurationError(f"power arrays differ in length: {sorted(sizes)}")
    if not all(np.all(np.isfinite(v)) for v in power.values()):
        raise ConfigurationError("power values must be finite watts")
    return power


def _draw(
    ax: Any,
    edges: FloatArray,
    power: dict[str, FloatArray],
    title: str | None,
    windows: tuple[WindowSpans, ...] = (),
) -> tuple[Any, Any]:
    """Stack the domains' power as steps on ``ax``, shade the windows, and draw the
    energy so far on a twin axis."""
    scale, unit, _ = time_unit(float(edges[-1] - edges[0]))
    x = edges / scale
    widths = np.diff(edges)
    total_w = _stack_power(ax, x, widths, power)
    handles = ax.get_legend_handles_labels()[0]
    window_handles = _shade_windows(ax, windows, scale)
    ax.set_xlabel(f"time since start ({unit})")
    ax.set_ylabel("power (W)")
    ax.grid(True, alpha=0.3, linewidth=0.6)
    cumulative_kwh = np.concatenate(([0.0], np.cumsum(total_w * widths))) / J_PER_KWH
    twin = _draw_energy_so_far(ax, x, cumulative_kwh)
    shown = handles + twin.get_legend_handles_labels()[0] + window_handles
    ax.legend(
        shown,
        [h.get_label() for h in shown],
        loc="upper left",
        ncol=2,
        fontsize=8.5,
        framealpha=0.9,
    )
    set_title(ax, title)
    return ax, twin


def _stack_power(
    ax: Any, x: FloatArray, widths: FloatArray, power: dict[str, FloatArray]
) -> FloatArray:
    """Fill each domain's power on top of the ones below, outline the total; return it."""
    lower = np.zeros(widths.size)
    extra = iter(_EXTRA_COLOURS * 4)
    for domain in _ordered(list(power)):
        watts = power[domain]
        upper = lower + watts
        mean_w = float(np.sum(watts * widths) / np.sum(widths))
        ax.fill_between(
            x,
            np.append(lower, lower[-1]),
            np.append(upper, upper[-1]),
            step="post",
            color=_COLOURS.get(domain) or next(extra),
            alpha=0.85,
            linewidth=0,
            label=f"{domain} (mean {mean_w:,.1f} W)",
        )
        lower = upper
    ax.step(x, np.append(lower, lower[-1]), where="post", color="#333333", linewidth=0.8)
    ax.set_xlim(x[0], x[-1])
    peak_w = float(lower.max())
    ax.set_ylim(0, peak_w * 1.3 if peak_w > 0 else 1.0)
    return lower


def _window_label(spans: WindowSpans) -> str:
    """``eval (12x)``; a nested window with its parents, ``epoch / eval (12x)``."""
    return f"{printable(' / '.join(spans.path))} ({spans.entries}x)"


def _shade_windows(ax: Any, windows: tuple[WindowSpans, ...], scale: float) -> list[Any]:
    """A translucent band over each span of each window, one colour per window (the
    windows of the run first, then nested ones); return the legend's handles, one per
    window (one for all those past the colours)."""
    ordered = sorted(
        (w for w in windows if w.start_s),
        key=lambda w: (len(w.parents), w.start_s[0]),
    )
    handles: list[Any] = []
    more = len(ordered) - len(_WINDOW_COLOURS)
    for index, spans in enumerate(ordered):
        if index < len(_WINDOW_COLOURS):
            colour, label = _WINDOW_COLOURS[index], _window_label(spans)
        else:
            colour = _MORE_WINDOWS
            first = index == len(_WINDOW_COLOURS)
            label = f"{more} more window{'s' if more > 1 else ''}" if first else ""
        for start_s, end_s in zip(spans.start_s, spans.end_s, strict=True):
            band = ax.axvspan(
                start_s / scale,
                end_s / scale,
                color=colour,
                alpha=_WINDOW_ALPHA,
                linewidth=0,
                label=label or "_nolegend_",
            )
            if label:
                handles.append(band)
                label = ""  # one legend entry per colour
    return handles


def _draw_energy_so_far(ax: Any, x: FloatArray, cumulative_kwh: FloatArray) -> Any:
    """Draw the IT energy so far (kWh at each of ``x``) on a twin y axis of ``ax``, in the
    unit the report gives its total in; return the twin."""
    total_kwh = float(cumulative_kwh[-1])
    e_scale, e_unit = energy_axis(total_kwh)
    twin = ax.twinx()
    twin.plot(
        x,
        cumulative_kwh / e_scale,
        color=_ENERGY_COLOUR,
        linewidth=1.8,
        linestyle="--",
        label=f"energy so far, IT ({format_energy_kwh(total_kwh)})",
    )
    total = total_kwh / e_scale
    twin.set_ylim(0, total * 1.15 if total > 0 else 1.0)
    twin.set_ylabel(f"energy so far, IT ({e_unit})", color=_ENERGY_COLOUR)
    twin.tick_params(axis="y", colors=_ENERGY_COLOUR)
    return twin


def _figure(
    edges: FloatArray,
    power: dict[str, FloatArray],
    *,
    title: str | None,
    note: str | None,
    path: PathArg | None,
    ax: Any,
    windows: tuple[WindowSpans, ...] = (),
) -> Any:
    if ax is not None:
        _draw(ax, edges, power, title, windows)
        return save(ax.figure, path)
    figure = new_figure(5.6)
    _draw(figure.add_subplot(), edges, power, title, windows)
    add_note(figure, note)
    return save(figure, path)


def plot_power(
    times_s: npt.ArrayLike,
    power_by_domain: Mapping[str, npt.ArrayLike],
    path: PathArg | None = None,
    *,
    ax: Any = None,
    start_s: float = 0.0,
    title: str | None = None,
    note: str | None = None,
) -> Any:
    """Plot power over time per domain, stacked, with the energy so far.

    Args:
        times_s: Seconds since the run started: either n sample times, each power value
            being the mean power from the previous time (``start_s`` for the first), or
            n + 1 bin edges.
        power_by_domain: Watts per domain (``"gpu"``, ``"cpu"``, ``"dram"``, ...), n each.
        path: Where to save the figure (PNG, or another format by its suffix).
        ax: A matplotlib Axes to draw into instead of a new figure.
        start_s: Where the first interval starts, when ``times_s`` are sample times.
        title: A title.
        note: A footnote (the assumptions), on a new figure only.

    Returns:
        The matplotlib Figure.

    Raises:
        ConfigurationError: matplotlib is missing, or the arrays are empty, of different
            lengths, not finite, or the times do not increase.
    """
    power = _power_arrays(power_by_domain)
    n = next(iter(power.values())).size
    edges = _edges(times_s, n, start_s)
    return _figure(edges, power, title=title, note=note, path=path, ax=ax)


def _windows_note(trace: TraceData) -> str:
    """What the bands leave out: windows whose neighbouring entries were merged."""
    merged = [w for w in trace.windows if w.merged]
    if not merged:
        return ""
    names = ", ".join(
        f"{printable(' / '.join(w.path))} ({w.entries} entries in {len(w.start_s)} bands)"
        for w in merged
    )
    return (
        f"Shaded: {names}; neighbouring entries merged, so a band also covers the time "
        "between them."
    )


def plot_report(report: Report, path: PathArg | None = None, *, ax: Any = None) -> Any:
    """Plot a report's power trace per domain, its named windows shaded, the energy so
    far, and a caption beneath: its figures, how they were obtained, the sources.

    Args:
        report: A measured report with a trace.
        path: Where to save the figure (PNG, or another format by its suffix).
        ax: A matplotlib Axes to draw into instead of a new figure (no footnote then).

    Returns:
        The matplotlib Figure.

    Raises:
        ConfigurationError: matplotlib is missing, or the report has no trace (estimates
            and projections have none).
    """
    trace = report_trace(report)
    power = {d: np.asarray(v, dtype=np.float64) for d, v in trace.power_w.items()}
    title = f"{printable(report.name or 'run')}: power by domain [{method_label(report)}]"
    note = "\n".join(
        part
        for part in (
            figure_caption(report),
            f"{sources_sentence(report)} {_windows_note(trace)}".strip(),
        )
        if part
    )
    return _figure(
        trace_edges(trace),
        power,
        title=title,
        note=note,
        path=path,
        ax=ax,
        windows=trace.windows,
    )
