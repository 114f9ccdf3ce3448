"""CSV: one line per report under one header, for a spreadsheet of many runs."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from nlpfootprint.render.common import printable

if TYPE_CHECKING:
    from nlpfootprint.report import Report

__all__ = ["CSV_COLUMNS", "render_csv_header", "render_csv_row"]

#: The columns of :func:`render_csv_row`, in order (:func:`render_csv_header` writes them).
CSV_COLUMNS: tuple[str, ...] = (
    "name",
    "started_at",
    "duration_s",
    "energy_kwh",
    "facility_energy_kwh",
    "co2e_kg",
    "co2e_lbs",
    "cost_usd",
    "currency",
    "steps",
    "tokens",
    "j_per_step",
    "j_per_token",
    "flops",
    "flops_per_j",
    "tokens_per_j",
    "mfu",
    "peak_flops_per_s",
    "precision",
    "flops_method",
    "pue",
    "g_per_kwh",
    "intensity",
    "intensity_source",
    "price_per_kwh",
    "method",
    "projection_factor",
    "coverage",
    "ended_ok",
    "exit_status",
    "signal",
    "dynamic_energy_kwh",
    "dynamic_co2e_kg",
    "baseline_w",
)


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().removesuffix("\n")


def _cell(value: object) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else printable(str(value))


def render_csv_header() -> str:
    """The header line of :func:`render_csv_row`, without a line terminator."""
    return _csv_line(list(CSV_COLUMNS))


def render_csv_row(report: Report) -> str:
    """One CSV line of the report's figures and assumptions, without a line terminator.

    Numbers are written at full precision, an empty cell is None (no price, no steps, no
    FLOPs, no peak), and ``method`` says whether the figures were measured or estimated;
    ``ended_ok``, ``exit_status`` and ``signal`` how the run ended (empty when not known);
    ``dynamic_energy_kwh``, ``dynamic_co2e_kg`` and ``baseline_w`` (the idle power of the
    report's channels, summed) are empty without an idle baseline.
    Control characters in a text cell (a run name from a log) are written as visible
    escapes. Join rows with ``"\\n"`` under :func:`render_csv_header` for a file of many runs.
    """
    a, outcome = report.assumptions, report.outcome
    efficiency, peak = report.efficiency, (report.peak if report.flops is not None else None)
    values: dict[str, object] = {
        "name": report.name,
        "started_at": report.started_at,
        "duration_s": report.duration_s,
        "energy_kwh": report.energy_kwh,
        "facility_energy_kwh": report.facility_energy_kwh,
        "co2e_kg": report.co2e_kg,
        "co2e_lbs": report.co2e_lbs,
        "cost_usd": report.cost_usd,
        "currency": a.currency if a.price_per_kwh is not None else None,
        "steps": report.steps,
        "tokens": report.tokens,
        "j_per_step": report.j_per_step,
        "j_per_token": report.j_per_token,
        "flops": report.flops,
        "flops_per_j": report.flops_per_j,
        "tokens_per_j": report.tokens_per_j,
        "mfu": report.mfu,
        "peak_flops_per_s": None if peak is None else peak.flops_per_s,
        "precision": None if report.flops is None else efficiency.precision,
        "flops_method": None if report.flops is None else efficiency.flops_method,
        "pue": a.pue,
        "g_per_kwh": a.intensity.g_per_kwh,
        "intensity": a.intensity.key or None,
        "intensity_source": a.intensity.source,
        "price_per_kwh": a.price_per_kwh,
        "method": report.method,
        "projection_factor": None if report.projection is None else report.projection.factor,
        "coverage": report.coverage,
        "ended_ok": None if outcome is None else outcome.ok,
        "exit_status": None if outcome is None else outcome.exit_status,
        "signal": None if outcome is None else outcome.signal,
        "dynamic_energy_kwh": report.dynamic_energy_kwh,
        "dynamic_co2e_kg": report.dynamic_co2e_kg,
        "baseline_w": None
        if report.baseline is None
        else report.baseline.power_of(c.id for c in report.channels),
    }
    return _csv_line([_cell(values[column]) for column in CSV_COLUMNS])
