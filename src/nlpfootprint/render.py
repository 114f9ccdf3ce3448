"""Renderings of a :class:`~nlpfootprint.report.Report` for people and tables.

The text table (``str(report)``), Markdown, HTML (a notebook's ``_repr_html_``) and a CSV
row; the LaTeX table and the paper's sentence live in :mod:`nlpfootprint.render_paper`.
Every rendering states the assumptions behind its figures and whether they were measured
or estimated, and the tables share :func:`figure_rows`, so each format prints the same
numbers.
"""

from __future__ import annotations

import csv
import html
import io
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nlpfootprint.report import Report

__all__ = [
    "CSV_COLUMNS",
    "channel_rows",
    "figure_rows",
    "format_duration",
    "format_energy_j",
    "format_mass_kg",
    "markdown_escape",
    "method_label",
    "render_csv_header",
    "render_csv_row",
    "render_html",
    "render_markdown",
    "render_text",
    "window_lines",
]

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
)

CHANNEL_COLUMNS = ("channel", "domain", "source", "energy", "mean W", "label")


def format_energy_j(energy_j: float) -> str:
    """Joules with a readable unit (uJ .. GJ)."""
    for unit, size in (("GJ", 1e9), ("MJ", 1e6), ("kJ", 1e3), ("J", 1.0), ("mJ", 1e-3)):
        if abs(energy_j) >= size:
            return f"{energy_j / size:.3f} {unit}"
    return f"{energy_j * 1e6:.3f} uJ" if energy_j else "0 J"


def format_mass_kg(mass_kg: float) -> str:
    """A CO2e mass in g, kg or t."""
    if abs(mass_kg) >= 1000:
        return f"{mass_kg / 1000:.3f} t"
    if abs(mass_kg) >= 1:
        return f"{mass_kg:.3f} kg"
    return f"{mass_kg * 1000:.4g} g"


def format_duration(seconds: float) -> str:
    """Seconds as s, min, h or days."""
    if seconds < 120:
        return f"{seconds:.2f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds / 86400:.2f} days"


# -- what every rendering shares -------------------------------------------------------


def method_label(report: Report) -> str:
    """Whether the figures were measured, estimated or projected, as the tables mark it."""
    label = {
        "measured": "measured",
        "estimated": "ESTIMATED (no power meter read; see channels)",
        "mixed": "partly estimated (see channels)",
        "none": "nothing measured",
    }[report.method]
    if report.projection is not None:
        label = f"PROJECTED x{report.projection.factor:.6g} by {report.projection.basis}, {label}"
    return label


def _title(report: Report) -> str:
    return f"nlpfootprint report{f': {report.name}' if report.name else ''}"


def figure_rows(report: Report) -> list[tuple[str, str]]:
    """The report's figures as (name, formatted value) rows, the same in every table."""
    a = report.assumptions
    rows: list[tuple[str, str]] = [
        ("duration", format_duration(report.duration_s)),
        ("energy (IT)", f"{report.energy_kwh:.6g} kWh ({format_energy_j(report.energy_j)})"),
        ("energy x PUE", f"{report.facility_energy_kwh:.6g} kWh (PUE {a.pue:g})"),
        (
            "CO2e",
            f"{format_mass_kg(report.co2e_kg)} = {report.co2e_lbs:.6g} lbs "
            f"at {a.intensity.g_per_kwh:g} g/kWh"
            + (" (default: world average)" if a.intensity_is_default else ""),
        ),
    ]
    cost = report.cost_usd
    rows.append(
        (
            "cost",
            "not computed (no price_per_kwh)"
            if cost is None
            else f"{cost:.6g} {a.currency} at {a.price_per_kwh:g}/kWh",
        )
    )
    if report.mean_power_w:
        power = ", ".join(f"{d} {w:.1f} W" for d, w in sorted(report.mean_power_w.items()))
        rows.append(("mean power", power))
    if report.steps:
        rows.append(("steps", f"{report.steps:,} ({format_energy_j(report.j_per_step or 0)}/step)"))
    if report.tokens:
        rows.append(
            ("tokens", f"{report.tokens:,} ({format_energy_j(report.j_per_token or 0)}/token)")
        )
    if report.step_energy is not None:
        spread = report.step_energy.relative_spread
        intervals = report.step_energy.intervals
        rows.append(("J/step spread", f"+-{100 * spread:.1f}% (1 sd) across {intervals} intervals"))
    spread_p = report.projection.relative_spread if report.projection is not None else None
    if spread_p:
        low, high = report.bounds("facility_energy_kwh")
        co2_low, co2_high = report.bounds("co2e_kg")
        rows.append(
            (
                "band (1 sd)",
                f"{low:.6g}..{high:.6g} kWh x PUE, {format_mass_kg(co2_low)}.."
                f"{format_mass_kg(co2_high)} CO2e",
            )
        )
    return rows


def channel_rows(report: Report) -> list[tuple[str, str, str, str, str, str]]:
    """One row per channel: id, domain, source, energy, mean watts, label."""
    return [
        (
            c.id,
            c.domain,
            c.source,
            format_energy_j(c.energy_j),
            f"{c.mean_power_w:.1f}",
            c.label,
        )
        for c in report.channels
    ]


def window_lines(windows: tuple[Report, ...], depth: int = 0) -> list[tuple[int, str]]:
    """The windows, nested ones after their parent, as (depth, line) pairs."""
    out: list[tuple[int, str]] = []
    for w in windows:
        times = f" x{w.count}" if w.count > 1 else ""
        out.append(
            (
                depth,
                f"{w.name}{times}: {format_duration(w.duration_s)}, "
                f"{format_energy_j(w.energy_j)}, {format_mass_kg(w.co2e_kg)} CO2e",
            )
        )
        out += window_lines(w.windows, depth + 1)
    return out


# -- text ---------------------------------------------------------------------------------


def render_text(report: Report) -> str:
    """The report as a plain-text table (what ``str(report)`` gives)."""
    lines = [f"{_title(report)}  [{method_label(report)}]", ""]
    rows = figure_rows(report)
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    if report.channels:
        lines += ["", "  channel      domain  source     energy        mean W  label"]
        for c in report.channels:
            lines.append(
                f"  {c.id:<12} {c.domain:<7} {c.source:<10} {format_energy_j(c.energy_j):>12}"
                f"  {c.mean_power_w:>7.1f}  {c.label}"
            )
    if report.windows:
        lines += ["", "  windows"]
        lines += [f"    {'  ' * depth}{line}" for depth, line in window_lines(report.windows)]
    lines += ["", "  assumptions"] + [f"    - {s}" for s in report.assumptions.lines()]
    if report.warnings:
        lines += ["", "  warnings"] + [f"    ! {w}" for w in report.warnings]
    return "\n".join(lines)


# -- Markdown -----------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def markdown_escape(text: str) -> str:
    """Backslash-escape what Markdown (and its inline HTML) would interpret; no newlines."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def _markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]], align: str) -> list[str]:
    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(markdown_escape(c) for c in cells) + " |"

    rule = "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"
    return [line(header), rule, *(line(r) for r in rows)]


def render_markdown(report: Report) -> str:
    """The report as Markdown: figures, channels, windows, assumptions and warnings."""
    lines = [
        f"### {markdown_escape(_title(report))}",
        "",
        f"**Figures: {markdown_escape(method_label(report))}**",
        "",
        *_markdown_table(("figure", "value"), list(figure_rows(report)), "ll"),
    ]
    if report.channels:
        lines += ["", *_markdown_table(CHANNEL_COLUMNS, list(channel_rows(report)), "lllrrl")]
    if report.windows:
        lines += ["", "**Windows**", ""]
        lines += [
            f"{'  ' * depth}- {markdown_escape(line)}"
            for depth, line in window_lines(report.windows)
        ]
    lines += ["", "**Assumptions**", ""]
    lines += [f"- {markdown_escape(s)}" for s in report.assumptions.lines()]
    if report.warnings:
        lines += ["", "**Warnings**", ""]
        lines += [f"- {markdown_escape(w)}" for w in report.warnings]
    return "\n".join(lines) + "\n"


# -- HTML ---------------------------------------------------------------------------------

_LEFT = ' style="text-align:left"'
_RIGHT = ' style="text-align:right"'


def render_html(report: Report) -> str:
    """The report as a compact HTML fragment for notebooks, every text escaped."""
    e = html.escape
    marker = method_label(report)
    strong = report.method != "measured" or report.projection is not None
    mark = f"<strong>{e(marker)}</strong>" if strong else e(marker)
    parts = [
        '<div class="nlpfootprint-report">',
        f"<table><caption{_LEFT}><b>{e(_title(report))}</b> [{mark}]</caption><tbody>",
    ]
    parts += [
        f"<tr><th{_LEFT}>{e(k)}</th><td{_LEFT}>{e(v)}</td></tr>" for k, v in figure_rows(report)
    ]
    parts.append("</tbody></table>")
    if report.channels:
        aligns = (_LEFT, _LEFT, _LEFT, _RIGHT, _RIGHT, _LEFT)
        head = "".join(f"<th{a}>{e(c)}</th>" for a, c in zip(aligns, CHANNEL_COLUMNS, strict=True))
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>")
        for row in channel_rows(report):
            cells = "".join(f"<td{a}>{e(c)}</td>" for a, c in zip(aligns, row, strict=True))
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody></table>")
    if report.windows:
        items = "".join(
            f'<li style="margin-left:{1.5 * depth:g}em">{e(line)}</li>'
            for depth, line in window_lines(report.windows)
        )
        parts.append(f"<details><summary>windows</summary><ul>{items}</ul></details>")
    assumptions = "".join(f"<li>{e(s)}</li>" for s in report.assumptions.lines())
    parts.append(f"<p><b>assumptions</b></p><ul>{assumptions}</ul>")
    if report.warnings:
        warnings = "".join(f"<li>{e(w)}</li>" for w in report.warnings)
        parts.append(f"<p><b>warnings</b></p><ul>{warnings}</ul>")
    parts.append("</div>")
    return "\n".join(parts)


# -- CSV ----------------------------------------------------------------------------------


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().removesuffix("\n")


def _cell(value: object) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def render_csv_header() -> str:
    """The header line of :func:`render_csv_row`, without a line terminator."""
    return _csv_line(list(CSV_COLUMNS))


def render_csv_row(report: Report) -> str:
    """One CSV line of the report's figures and assumptions, without a line terminator.

    Numbers are written at full precision, an empty cell is None (no price, no steps), and
    ``method`` says whether the figures were measured or estimated. Join rows with ``"\\n"``
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
    }
    return _csv_line([_cell(values[column]) for column in CSV_COLUMNS])
