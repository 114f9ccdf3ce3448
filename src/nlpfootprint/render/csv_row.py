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
    "pue",
    "g_per_kwh",
    "intensity",
    "intensity_source",
    "price_per_kwh",
    "method",
    "projection_factor",
    "coverage",
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

    Numbers are written at full precision, an empty cell is None (no price, no steps), and
    ``method`` says whether the figures were measured or estimated. Control characters in
    a text cell (a run name from a log) are written as visible escapes. Join rows with ``"\\n"``
    under :func:`render_csv_header` for a file of many runs.
    """
    a = report.assumptions
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
        "pue": a.pue,
        "g_per_kwh": a.intensity.g_per_kwh,
        "intensity": a.intensity.key or None,
        "intensity_source": a.intensity.source,
        "price_per_kwh": a.price_per_kwh,
        "method": report.method,
        "projection_factor": None if report.projection is None else report.projection.factor,
        "coverage": report.coverage,
    }
    return _csv_line([_cell(values[column]) for column in CSV_COLUMNS])
