"""Plots of power over time per domain, with the energy so far (``nlpfootprint[plot]``).

:func:`plot_report` draws a report's bounded trace; :func:`plot_power` draws arrays, such
as those read back from a run log. Both build a :class:`matplotlib.figure.Figure` directly
(never through ``pyplot``, so an interactive user's backend and current figure are left
alone), save it when given a path, and return it. matplotlib is imported on first use.
"""

from __future__ import annotations

import importlib
import os
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from nlpfootprint.errors import ConfigurationError
from nlpfootprint.render.common import assumption_lines, method_label, printable
from nlpfootprint.units import (
    J_PER_KWH,
    energy_axis,
    format_energy_kwh,
    format_lbs,
    format_mass_kg,
    format_money,
    time_unit,
)

if TYPE_CHECKING:
    from nlpfootprint.report import Report

__all__ = ["plot_power", "plot_report"]

PathArg = str | os.PathLike[str]
FloatArray = npt.NDArray[np.float64]

#: Stacking order (bottom first) and colours of the domains.
_DOMAIN_ORDER = ("gpu", "cpu", "dram", "other")
_COLOURS = {"gpu": "#4c9a2a", "cpu": "#2f6fb0", "dram": "#e08a1e", "other": "#8c8c8c"}
_EXTRA_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf")
_DPI = 150


def _matplotlib() -> tuple[Any, Any]:
    """(Figure, FigureCanvasAgg), or a ConfigurationError saying how to install them."""
    try:
        figure = importlib.import_module("matplotlib.figure")
        agg = importlib.import_module("matplotlib.backends.backend_agg")
    except ImportError as err:
        raise ConfigurationError(
            "plotting needs matplotlib, which is not installed: pip install 'nlpfootprint[plot]'"
        ) from err
    return figure.Figure, agg.FigureCanvasAgg


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
    ax: Any, edges: FloatArray, power: dict[str, FloatArray], title: str | None
) -> tuple[Any, Any]:
    """Stack the domains' power as steps on ``ax``, energy so far on a twin axis."""
    scale, unit, _ = time_unit(float(edges[-1] - edges[0]))
    x = edges / scale
    widths = np.diff(edges)
    total_w = _stack_power(ax, x, widths, power)
    ax.set_xlabel(f"time since start ({unit})")
    ax.set_ylabel("power (W)")
    ax.grid(True, alpha=0.3, linewidth=0.6)
    cumulative_kwh = np.concatenate(([0.0], np.cumsum(total_w * widths))) / J_PER_KWH
    twin = _draw_energy_so_far(ax, x, cumulative_kwh)
    handles, labels = ax.get_legend_handles_labels()
    twin_handles, twin_labels = twin.get_legend_handles_labels()
    ax.legend(
        handles + twin_handles,
        labels + twin_labels,
        loc="upper left",
        ncol=2,
        fontsize=8.5,
        framealpha=0.9,
    )
    if title:
        flat = " ".join(title.split())  # a command line may hold newlines
        shown = flat if len(flat) <= 90 else flat[:87] + "..."
        ax.set_title(shown, fontsize=11, loc="left")
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


def _draw_energy_so_far(ax: Any, x: FloatArray, cumulative_kwh: FloatArray) -> Any:
    """Draw the IT energy so far (kWh at each of ``x``) on a twin y axis of ``ax``; return it."""
    e_scale, e_unit = energy_axis(float(cumulative_kwh[-1]))
    twin = ax.twinx()
    twin.plot(
        x,
        cumulative_kwh / e_scale,
        color="#b22222",
        linewidth=1.8,
        linestyle="--",
        label=f"energy so far, IT ({cumulative_kwh[-1] / e_scale:,.4g} {e_unit})",
    )
    total = float(cumulative_kwh[-1] / e_scale)
    twin.set_ylim(0, total * 1.15 if total > 0 else 1.0)
    twin.set_ylabel(f"energy so far, IT ({e_unit})", color="#b22222")
    twin.tick_params(axis="y", colors="#b22222")
    return twin


def _figure(
    edges: FloatArray,
    power: dict[str, FloatArray],
    *,
    title: str | None,
    note: str | None,
    path: PathArg | None,
    ax: Any,
) -> Any:
    figure_class, canvas_class = _matplotlib()
    if ax is not None:
        _draw(ax, edges, power, title)
        figure = ax.figure
    else:
        figure = figure_class(figsize=(10, 5.6))
        canvas_class(figure)  # an Agg canvas of its own: pyplot's state is left alone
        ax = figure.add_subplot()
        _draw(ax, edges, power, title)
        lines = textwrap.wrap(note, 150) if note else []
        figure.subplots_adjust(left=0.08, right=0.9, top=0.91, bottom=0.12 + 0.03 * len(lines))
        if lines:
            figure.text(0.01, 0.015, "\n".join(lines), fontsize=7.5, color="#444444", va="bottom")
    if path is not None:
        figure.savefig(os.fspath(path), dpi=_DPI)
    return figure


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


def _report_note(report: Report) -> str:
    figures = (
        f"IT energy {format_energy_kwh(report.energy_kwh)}; x PUE = "
        f"{format_energy_kwh(report.facility_energy_kwh)}; {format_mass_kg(report.co2e_kg)} "
        f"CO2e ({format_lbs(report.co2e_lbs)})"
    )
    if report.cost_usd is not None:
        figures += f"; cost {format_money(report.cost_usd, report.assumptions.currency)}"
    return (
        f"{figures}. Assumptions: {'; '.join(assumption_lines(report.assumptions, advice=False))}."
    )


def plot_report(report: Report, path: PathArg | None = None, *, ax: Any = None) -> Any:
    """Plot a report's power trace per domain, with the energy so far and the assumptions.

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
    trace = report.trace
    if trace is None or not trace.start_s or not trace.power_w:
        why = (
            "it is projected"
            if report.projection is not None
            else "it is an estimate"
            if report.method == "estimated"
            else "no trace was recorded"
        )
        raise ConfigurationError(
            f"nothing to plot: the report has no power trace ({why}); only a measured "
            "report carries one"
        )
    starts = np.asarray(trace.start_s, dtype=np.float64)
    edges = np.append(starts, starts[-1] + trace.width_s[-1])
    power = {d: np.asarray(v, dtype=np.float64) for d, v in trace.power_w.items()}
    title = f"{printable(report.name or 'run')}: power by domain [{method_label(report)}]"
    return _figure(edges, power, title=title, note=_report_note(report), path=path, ax=ax)
