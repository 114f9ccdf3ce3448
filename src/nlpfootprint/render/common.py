"""What every rendering shares: the figure rows, the channel rows, the windows, how the
figures were obtained, and the assumptions in prose -- each written once, here.

Everything is read from the report's fields (a channel's method and backend, a
projection's factor), never from its labels.

Text that comes from a report or a run log (a run name, channel ids and labels, window
names, warnings, error texts) may carry terminal control sequences. :func:`printable`
shows them as visible escapes; every renderer passes such text through it, and so does the
command line's error line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from nlpfootprint.render.efficiency import efficiency_rows
from nlpfootprint.report_parts import PARTIAL_COVERAGE
from nlpfootprint.units import (
    format_duration,
    format_energy_j,
    format_energy_kwh,
    format_lbs,
    format_mass_kg,
    format_money,
)

if TYPE_CHECKING:
    from nlpfootprint.assumptions import Assumptions
    from nlpfootprint.report import Report

__all__ = [
    "CHANNEL_COLUMNS",
    "METHOD_WORDS",
    "assumption_lines",
    "baseline_phrase",
    "channel_rows",
    "figure_rows",
    "method_label",
    "job_lines",
    "printable",
    "title",
    "warning_lines",
    "window_lines",
]

#: What a terminal acts on: C0 controls (escape, carriage return, backspace, ...), DEL,
#: C1 controls (a lone U+009B starts a sequence on some terminals), the line and paragraph
#: separators, and the bidirectional overrides and isolates that reorder what is shown.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def printable(text: str, *, keep: str = "") -> str:
    r"""``text`` with every control character shown as a visible escape, as Python writes
    it in a string literal: an escape character becomes ``\x1b``, a newline ``\n``.

    ``keep`` names the controls to leave as they are (``"\n"`` for text of several lines).
    Printable text, non-ASCII included, is unchanged, and so is text already escaped.

    >>> printable("gpu:0\x1b[31m A100\u202e")
    'gpu:0\\x1b[31m A100\\u202e'
    """
    if keep:
        return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)
    return _CONTROL.sub(_escape, text)


#: How a report's figures were obtained, by ``Report.method``: (for a table's heading, for
#: a caption).
METHOD_WORDS: dict[str, tuple[str, str]] = {
    "measured": ("measured", "measured"),
    "estimated": ("ESTIMATED (no power meter read; see channels)", "ESTIMATED, not measured"),
    "mixed": ("partly estimated (see channels)", "partly estimated (see the text)"),
    "none": ("nothing measured", "nothing measured"),
}

CHANNEL_COLUMNS = ("channel", "domain", "source", "energy", "mean W", "coverage", "label")


def method_label(report: Report, *, caption: bool = False) -> str:
    """Whether the figures were measured, estimated or projected, in words.

    ``caption=True`` gives the wording of a table's caption (``PROJECTED ... from a
    measured run``).
    """
    label = METHOD_WORDS[report.method][1 if caption else 0]
    if report.coverage < PARTIAL_COVERAGE:
        worst = min(report.channels, key=lambda c: c.coverage)
        label = (
            f"PARTIAL: {printable(worst.id)} covers {100 * worst.coverage:.0f}% of the run, {label}"
        )
    outcome = report.outcome
    if outcome is not None and not outcome.ok:
        detail = outcome.detail if len(outcome.detail) <= 60 else f"{outcome.detail[:57]}..."
        label = f"FAILED: {printable(detail)}, {label}"
    projection = report.projection
    if projection is None:
        return label
    scaled = f"PROJECTED x{projection.factor:.6g} by {projection.basis}"
    return f"{scaled} from a {label} run" if caption else f"{scaled}, {label}"


def title(report: Report) -> str:
    """``nlpfootprint report: NAME``."""
    return f"nlpfootprint report{f': {printable(report.name)}' if report.name else ''}"


def assumption_lines(a: Assumptions, *, advice: bool = True) -> list[str]:
    """The assumptions behind the figures, one sentence each: PUE, grid, price, meters.

    ``advice=False`` leaves out how to change them (for a paper's caption) and the meters.
    """
    intensity = f"carbon intensity {a.intensity.describe()}"
    if a.intensity_is_default:
        intensity += (
            " -- the default (world average); set your grid with carbon_intensity= (a key "
            "such as 'FRA', 'US-CA' or 'gcp:europe-west4', or g/kWh; nlpfootprint regions "
            "lists the keys)"
            if advice
            else " (the default: world average)"
        )
    if a.price_per_kwh is None:
        price = (
            "electricity price: not given, so no cost (set price_per_kwh=)"
            if advice
            else "no electricity price given, so no cost"
        )
    else:
        price = f"electricity price {a.price_per_kwh:g} {a.currency}/kWh"
    pue = f"PUE {a.pue:g}: {a.pue_source}" if advice else f"PUE {a.pue:g} ({a.pue_source})"
    out = [pue, intensity, price, *([f"meters: {a.meters}"] if advice else [])]
    return [printable(line) for line in out]


def figure_rows(report: Report) -> list[tuple[str, str]]:
    """The report's figures as (name, formatted value) rows, the same in every table."""
    a = report.assumptions
    rows: list[tuple[str, str]] = [
        ("duration", format_duration(report.duration_s)),
        (
            "energy (IT)",
            f"{format_energy_kwh(report.energy_kwh)} ({format_energy_j(report.energy_j)})",
        ),
        *_dynamic_rows(report),
        ("energy x PUE", f"{format_energy_kwh(report.facility_energy_kwh)} (PUE {a.pue:g})"),
        (
            "CO2e",
            f"{format_mass_kg(report.co2e_kg)} = {format_lbs(report.co2e_lbs)} "
            f"at {a.intensity.g_per_kwh:g} g/kWh"
            + (" (default: world average)" if a.intensity_is_default else "")
            + (" (energy-weighted over the run's time)" if a.intensity.key == "series" else ""),
        ),
    ]
    outcome = report.outcome
    if outcome is not None and (not outcome.ok or outcome.exit_status is not None):
        rows.insert(1, ("ended", outcome.detail))
    cost = report.cost_usd
    rows.append(
        (
            "cost",
            "not computed (no price_per_kwh)"
            if cost is None
            else f"{format_money(cost, a.currency)} at {a.price_per_kwh:g}/kWh",
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
    rows += efficiency_rows(report)  # FLOPs, tokens/J, MFU: only when FLOPs were counted
    if report.step_energy is not None:
        spread = report.step_energy.relative_spread
        intervals = report.step_energy.intervals
        rows.append(
            (
                "J/step spread",
                f"+-{100 * spread:.1f}% (1 sd of the energy per step between {intervals} "
                "sampling intervals)",
            )
        )
    spread_p = report.projection.relative_spread if report.projection is not None else None
    if spread_p:
        low, high = report.bounds("facility_energy_kwh")
        co2_low, co2_high = report.bounds("co2e_kg")
        rows.append(
            (
                "J/step band",
                f"{format_energy_kwh(low)}..{format_energy_kwh(high)} x PUE, "
                f"{format_mass_kg(co2_low)}..{format_mass_kg(co2_high)} CO2e: the projection "
                "at +-1 sd of the energy per step between sampling intervals (how steady the "
                "steps were, not an uncertainty of the total)",
            )
        )
    return [(name, printable(value)) for name, value in rows]


def baseline_phrase(report: Report) -> str | None:
    """``an idle baseline of 62 W measured for 5.00 s before the run``; None without one."""
    baseline = report.baseline
    if baseline is None:
        return None
    watts = baseline.power_of(c.id for c in report.channels)
    return f"an idle baseline of {watts:.4g} W {baseline.describe()}"


def _dynamic_rows(report: Report) -> list[tuple[str, str]]:
    """The ``dynamic energy`` row, beside the total, when the report has a baseline."""
    phrase, dynamic_j = baseline_phrase(report), report.dynamic_energy_j
    if phrase is None or dynamic_j is None:
        return []
    dynamic_kwh = report.dynamic_energy_kwh or 0.0
    return [
        (
            "dynamic energy",
            f"{format_energy_kwh(dynamic_kwh)} ({format_energy_j(dynamic_j)}) above {phrase}; "
            f"total {format_energy_kwh(report.energy_kwh)}",
        )
    ]


def channel_rows(report: Report) -> list[tuple[str, str, str, str, str, str, str]]:
    """One row per channel: id, domain, method, energy, mean watts, coverage, label (for
    a process-scope channel, the whole device's energy after it)."""
    return [
        (
            printable(c.id),
            c.domain.value,
            c.method.value,
            format_energy_j(c.energy_j),
            f"{c.mean_power_w:.1f}",
            f"{100 * c.coverage:.0f}%" if c.readings or c.gap_s else "-",  # "-": never read
            printable(c.label) + _whole_device(c.energy_j, c.device_energy_j),
        )
        for c in report.channels
    ]


def _whole_device(energy_j: float, device_j: float | None) -> str:
    """`` [of the whole device's 1.080 MJ: 30%]`` for a process-scope channel, else ''."""
    if device_j is None:
        return ""
    share = f": {100 * energy_j / device_j:.0f}%" if device_j > 0 else ""
    return f" [of the whole device's {format_energy_j(device_j)}{share}]"


def warning_lines(report: Report) -> list[str]:
    """The report's warnings, one line each, control characters shown as escapes."""
    return [printable(w) for w in report.warnings]


def window_lines(windows: tuple[Report, ...], depth: int = 0) -> list[tuple[int, str]]:
    """The windows, nested ones after their parent, as (depth, line) pairs."""
    out: list[tuple[int, str]] = []
    for w in windows:
        times = f" x{w.count}" if w.count > 1 else ""
        out.append(
            (
                depth,
                f"{printable(str(w.name))}{times}: {format_duration(w.duration_s)}, "
                f"{format_energy_j(w.energy_j)}, {format_mass_kg(w.co2e_kg)} CO2e",
            )
        )
        out += window_lines(w.windows, depth + 1)
    return out


def job_lines(report: Report) -> list[str]:
    """For a distributed job's report: which ranks and hosts it covers, each host's energy
    and devices, and the ranks that did not report (none for another report)."""
    job = report.job
    if job is None:
        return []
    if job.scope == "rank":
        return [
            f"rank {job.rank} of {job.world_size} ({job.engine}): this rank's own part; "
            + ("the job report is on rank 0" if job.engine != "launcher" else "not gathered")
        ]
    hosts = job.hosts
    out = [
        f"{len(job.parts)} of {job.world_size} ranks on {len(hosts)} host(s), gathered "
        f"through {job.engine}"
    ]
    energy = report.energy_j_by_host
    for host in hosts:
        ranks = [p for p in job.parts if p.host == host]
        channels = [c for p in ranks for c in p.channels]
        shown = ", ".join(channels[:8]) + (
            f", ... ({len(channels)} in all)" if len(channels) > 8 else ""
        )
        out.append(
            f"{printable(host)}: rank(s) {', '.join(str(p.rank) for p in ranks)}, "
            f"{format_energy_j(energy.get(host, 0.0))} ({printable(shown) or 'no device'})"
        )
    out += [f"missing: rank {m.rank}: {printable(m.reason)}" for m in job.missing]
    return out
