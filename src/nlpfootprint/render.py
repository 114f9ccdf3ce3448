"""Renderings of a :class:`~nlpfootprint.report.Report` for people: the text table.

Every rendering states the assumptions behind its figures and whether they were
measured or estimated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nlpfootprint.report import Report

__all__ = ["format_duration", "format_energy_j", "format_mass_kg", "render_text"]


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


def render_text(report: Report) -> str:
    """The report as a plain-text table (what ``str(report)`` gives)."""
    return "\n".join(_text_lines(report))


def _text_lines(report: Report) -> list[str]:
    title = f"nlpfootprint report{f': {report.name}' if report.name else ''}"
    label = {
        "measured": "measured",
        "estimated": "ESTIMATED (no power meter read; see channels)",
        "mixed": "partly estimated (see channels)",
        "none": "nothing measured",
    }[report.method]
    if report.projection is not None:
        label = f"PROJECTED x{report.projection.factor:.6g} by {report.projection.basis}, {label}"
    lines = [f"{title}  [{label}]", ""]
    rows: list[tuple[str, str]] = [
        ("duration", format_duration(report.duration_s)),
        ("energy (IT)", f"{report.energy_kwh:.6g} kWh ({format_energy_j(report.energy_j)})"),
        (
            "energy x PUE",
            f"{report.facility_energy_kwh:.6g} kWh (PUE {report.assumptions.pue:g})",
        ),
        (
            "CO2e",
            f"{format_mass_kg(report.co2e_kg)} = {report.co2e_lbs:.6g} lbs "
            f"at {report.assumptions.intensity.g_per_kwh:g} g/kWh"
            + (" (default: world average)" if report.assumptions.intensity_is_default else ""),
        ),
    ]
    cost = report.cost_usd
    rows.append(
        (
            "cost",
            "not computed (no price_per_kwh)"
            if cost is None
            else f"{cost:.6g} {report.assumptions.currency} at "
            f"{report.assumptions.price_per_kwh:g}/kWh",
        )
    )
    if report.mean_power_w:
        rows.append(
            (
                "mean power",
                ", ".join(f"{d} {w:.1f} W" for d, w in sorted(report.mean_power_w.items())),
            )
        )
    if report.steps:
        rows.append(("steps", f"{report.steps:,} ({format_energy_j(report.j_per_step or 0)}/step)"))
    if report.tokens:
        rows.append(
            ("tokens", f"{report.tokens:,} ({format_energy_j(report.j_per_token or 0)}/token)")
        )
    if report.step_energy is not None:
        spread = report.step_energy.relative_spread
        rows.append(
            (
                "J/step spread",
                f"+-{100 * spread:.1f}% (1 sd) across {report.step_energy.intervals} intervals",
            )
        )
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
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    if report.channels:
        lines += ["", "  channel      domain  source     energy        mean W  label"]
        for c in report.channels:
            mean = c.mean_power_w
            lines.append(
                f"  {c.id:<12} {c.domain:<7} {c.source:<10} {format_energy_j(c.energy_j):>12}"
                f"  {mean:>7.1f}  {c.label}"
            )
    if report.windows:
        lines += ["", "  windows"]
        lines += _window_lines(report.windows, depth=2)
    lines += ["", "  assumptions"] + [f"    - {s}" for s in report.assumptions.lines()]
    if report.warnings:
        lines += ["", "  warnings"] + [f"    ! {w}" for w in report.warnings]
    return lines


def _window_lines(windows: tuple[Report, ...], depth: int) -> list[str]:
    out = []
    for w in windows:
        times = f" x{w.count}" if w.count > 1 else ""
        out.append(
            f"{' ' * depth}  {w.name}{times}: {format_duration(w.duration_s)}, "
            f"{format_energy_j(w.energy_j)}, {format_mass_kg(w.co2e_kg)} CO2e"
        )
        out += _window_lines(w.windows, depth + 2)
    return out
