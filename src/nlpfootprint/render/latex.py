"""A report for a paper: a LaTeX ``booktabs`` table and a ready "compute and carbon" sentence.

Strubell, Ganesh & McCallum (ACL 2019) ask authors to report training time and cost;
:func:`render_latex` gives the figures as a table and the sentence for the paper's text:
the hardware (from the channels' device and provenance fields, never their labels), the
hours, the energy with PUE, the CO2e with the carbon intensity and its source, the cost, and
how the figures were obtained.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from nlpfootprint.intensity import STRUBELL_2019
from nlpfootprint.provenance import Basis, Method
from nlpfootprint.render.common import assumption_lines, figure_rows, method_label, printable
from nlpfootprint.render.efficiency import paper_efficiency_sentence
from nlpfootprint.units import format_duration, format_prose_number, significant, time_unit
from nlpfootprint.version import package_version

if TYPE_CHECKING:
    from nlpfootprint.report import Report
    from nlpfootprint.report_parts import ChannelReport

__all__ = [
    "default_label",
    "hardware_phrase",
    "latex_escape",
    "latex_value",
    "paper_sentence",
    "render_latex",
]

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))

#: A LaTeX label's prettier form (applied after escaping).
_LATEX_LABELS = {"CO2e": "CO$_2$e", "energy x PUE": r"energy $\times$ PUE"}

_REFERENCE = (
    "% Method: Strubell, Ganesh and McCallum (2019), Energy and Policy Considerations for "
    "Deep Learning in NLP, ACL 2019, pp. 3645-3650."
)


def latex_escape(text: str) -> str:
    r"""Escape text for LaTeX: ``gpu_0 & 5%`` becomes ``gpu\_0 \& 5\%``; control
    characters are shown as escapes first (:func:`~nlpfootprint.render.common.printable`)."""
    text = printable(" ".join(text.splitlines()))
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group()], text)


_number = format_prose_number


def _hours(seconds: float) -> str:
    """A duration in words: hours from one hour on (a paper speaks of GPU hours, never of
    days or of 90 minutes), else the ladder's minutes or seconds."""
    if seconds >= 3600:
        return f"{seconds / 3600:{',.1f' if seconds >= 36000 else '.2f'}} hours"
    size, _, word = time_unit(seconds, largest="min")
    return f"{seconds / size:.1f} {word}"


def _kg(kg: float) -> str:
    return f"{_number(kg)} kg" if abs(kg) >= 1 else f"{_number(kg * 1000)} g"


def _mass(kg: float, lbs: float) -> str:
    pounds = f"{lbs:,.0f}" if abs(lbs) >= 10 else f"{lbs:.3g}"
    return f"{_kg(kg)} CO$_2$e ({pounds} lbs)"


def _money(amount: float, currency: str, *, price: bool = False) -> str:
    if price:
        figure = f"{amount:g}"
    else:  # to the cent, or 2 significant figures below one (never "$0.00")
        figure = f"{amount:,.2f}" if abs(amount) >= 0.01 else significant(amount, 2)
    return rf"\${figure}" if currency == "USD" else f"{figure} {latex_escape(currency)}"


#: How an estimate was made, by its basis, in words for the paper.
_ESTIMATED_FROM = {
    Basis.POWER_LIMIT_X_UTILISATION: "estimated as power limit x utilisation, not measured",
    Basis.RATED_POWER: "estimated from rated power, not measured",
    Basis.GIVEN_POWER: "estimated from the power stated for it, not measured",
    Basis.TDP: "estimated from TDP and load, not measured",
    Basis.MEMORY: "estimated from installed memory, not measured",
    Basis.PROCESS_SHARE: "measured with NVML for the whole GPU and attributed to this process "
    "by its share of the GPU's use",
}


def _how(channels: list[ChannelReport]) -> str:
    """How one domain's energy was obtained, from its channels' method, backend and basis."""
    phrases: list[str] = []
    for c in channels:
        prefix = f"{c.backend.display} " if c.backend.display else ""
        if c.method is Method.COUNTER:
            phrase = f"measured with {prefix}energy counters"
        elif c.method is Method.SAMPLED:
            phrase = f"measured by sampling {prefix}power"
        elif c.basis is not None:
            phrase = _ESTIMATED_FROM[c.basis.basis]
        else:
            phrase = "estimated, not measured"
        if phrase not in phrases:
            phrases.append(phrase)
    return " and ".join(phrases).replace(" x ", r" $\times$ ")


def _devices(channel: ChannelReport) -> tuple[int, str]:
    """How many devices a channel stands for, and their name."""
    device = channel.device
    if device is None:
        return 1, channel.label or channel.id
    return device.count, device.name or channel.id


def _device_counts(channels: list[ChannelReport], noun: str) -> str:
    models: Counter[str] = Counter()
    for c in channels:
        n, model = _devices(c)
        models[model] += n
    return " and ".join(
        f"{n} {latex_escape(m)}{noun}{'s' if noun and n != 1 else ''}" for m, n in models.items()
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def hardware_phrase(report: Report) -> str:
    """What ran and how its energy was obtained, e.g. ``64 Tesla V100 SXM2 GPUs (...)``."""
    active = [c for c in report.channels if c.energy_j or c.readings]
    by_domain: dict[str, list[ChannelReport]] = {}
    for c in active:
        by_domain.setdefault(c.domain, []).append(c)
    parts: list[str] = []
    for domain, channels in by_domain.items():
        how = _how(channels)
        counted = all(c.device is not None and c.basis is not None for c in channels)
        if domain == "gpu" or (domain == "other" and counted):
            what = _device_counts(channels, " GPU" if domain == "gpu" else "")
        elif domain == "cpu":
            what = "the CPU" if len(channels) == 1 else _plural(len(channels), "CPU package")
        elif domain == "dram":
            what = "DRAM"
        elif [c.id for c in channels] == ["total"]:
            what = f"hardware drawing {_number(channels[0].mean_power_w)} W in total"
        else:
            what = "other hardware"
        parts.append(f"{what} ({how})")
    if not parts:
        return "hardware from which no meter produced a reading"
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _intensity_phrase(report: Report) -> str:
    """``432.7 g/kWh (US EPA (2018) average, ...)``: the intensity, where and whence."""
    intensity = report.assumptions.intensity
    if report.assumptions.intensity_is_default:
        key = "the default world average"
    elif intensity.key == STRUBELL_2019.key:
        key = ""  # the source names the paper
    else:
        key = intensity.key
    year = str(intensity.year or "")
    where = [x for x in (key, year) if x and x not in intensity.source]
    head = f"{', '.join(where)}; " if where else ""
    source = latex_escape(f"{head}{intensity.source}")
    return f"{_number(intensity.g_per_kwh)} g/kWh ({source})"


def paper_sentence(report: Report) -> str:
    """The figures as sentences for a paper's compute-and-carbon paragraph (LaTeX): with
    FLOPs counted, their number, FLOP/J and MFU too; with an idle baseline, the energy
    above it beside the total (the figures stay total).

    >>> import nlpfootprint as nf
    >>> r = nf.estimate(hardware="V100", count=64, hours=79.2, carbon_intensity="strubell2019")
    >>> paper_sentence(r)[:60]
    'Training took 79.2 hours on 64 Tesla V100 SXM2 GPUs (estimat'
    """
    a = report.assumptions
    projection = report.projection
    estimated = report.method == "estimated"
    if projection is None:
        took, drew, emitted, cost = "took", "It drew", "emitted", "cost"
    else:
        measured = format_duration(projection.measured_duration_s)
        took = (
            f"is projected, from a {latex_escape(measured)} measurement scaled "
            rf"$\times${projection.factor:.6g} by {projection.basis}, to take"
        )
        drew, emitted, cost = "It would draw", "emit", "would cost"
    energy = f"{'an estimated ' if estimated else ''}{_number(report.energy_kwh)} kWh"
    if report.method == "mixed":
        energy += " (partly estimated)"
    dynamic = report.dynamic_energy_kwh
    if dynamic is not None and report.baseline is not None:
        energy += (
            f" (of which {_number(dynamic)} kWh above an idle baseline of "
            f"{report.baseline.power_of(c.id for c in report.channels):.4g} W)"
        )
    text = (
        f"Training {took} {_hours(report.duration_s)} on {hardware_phrase(report)}. "
        f"{drew} {energy}, or {_number(report.facility_energy_kwh)} kWh including a "
        f"data-centre PUE of {a.pue:g}, and {emitted} an estimated "
        f"{_mass(report.co2e_kg, report.co2e_lbs)} at {_intensity_phrase(report)}"
    )
    spread = projection.relative_spread if projection is not None else None
    if spread:
        low, high = report.bounds("co2e_kg")
        low_text, high_text = _kg(low), _kg(high)
        text += (
            f" (energy per step varied by $\\pm${100 * spread:.1f}\\% in the measurement: "
            f"{low_text}--{high_text} CO$_2$e)"
        )
    if report.cost_usd is not None and a.price_per_kwh is not None and report.cost_usd >= 1e-6:
        text += (
            f"; the electricity {cost} {_money(report.cost_usd, a.currency)} at "
            f"{_money(a.price_per_kwh, a.currency, price=True)}/kWh"
        )
    return (
        f"{text}.{paper_efficiency_sentence(report, latex_escape)} Figures from nlpfootprint "
        f"{latex_escape(package_version())} following Strubell et al. (2019)."
    )


def _caption(report: Report) -> str:
    parts = assumption_lines(report.assumptions, advice=False)
    name = f" of {report.name}" if report.name else ""
    marked = method_label(report, caption=True)
    return _typeset(
        latex_escape(f"Energy, carbon and cost{name}, {marked}. Assumptions: {'; '.join(parts)}.")
    )


#: A range written ``a..b`` in the text tables (an en dash in LaTeX).
_RANGE = re.compile(r"(?<=[\dA-Za-z%])\.\.(?=\d)")


def _typeset(escaped: str) -> str:
    r"""What plain text writes as ``+-``, ``CO2e`` and ``a..b``, as LaTeX typesets it:
    ``$\pm$``, ``CO$_2$e`` and ``a--b`` (on text already escaped)."""
    text = escaped.replace("+-", r"$\pm$").replace("CO2e", "CO$_2$e")
    return _RANGE.sub("--", text)


def latex_value(text: str) -> str:
    """A table value as LaTeX: escaped, then typeset (``x PUE``, ``+-``, ``CO2e``, ranges)."""
    return _typeset(latex_escape(text).replace(" x PUE", r" $\times$ PUE"))


def default_label(report: Report) -> str:
    """``tab:nlpfootprint``, or with the run's name: ``tab:nlpfootprint-gpt2-small``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", report.name or "").strip("-").lower()[:48]
    return f"tab:nlpfootprint-{slug}" if slug else "tab:nlpfootprint"


def render_latex(report: Report, *, label: str | None = None) -> str:
    r"""A ``booktabs`` table of the figures and a ready sentence for the paper's text.

    The table's caption states the assumptions (PUE, carbon intensity with its source,
    price) and whether the figures were measured, estimated or projected; the sentence
    follows it. Needs ``\usepackage{booktabs}`` in the preamble.

    Args:
        report: The report.
        label: The table's ``\label`` (default: :func:`default_label`, from the run's
            name, so that two tables of one paper differ).
    """
    label = default_label(report) if label is None else label
    rows = []
    for name, value in figure_rows(report):
        cell = latex_escape(name)
        cell = _LATEX_LABELS.get(cell, cell)
        value_tex = latex_value(value)
        rows.append(f"    {cell[:1].upper()}{cell[1:]} & {value_tex} \\\\")
    lines = [
        f"% nlpfootprint {latex_escape(package_version())}: {latex_escape(method_label(report))}",
        r"% requires \usepackage{booktabs}",
        _REFERENCE,
    ]
    if report.assumptions.intensity_is_default:
        lines.append(
            "% NOTE: the carbon intensity is the default world average; "
            "pass carbon_intensity= for the grid the run used"
        )
    lines += [
        r"\begin{table}[ht]",
        r"  \centering",
        r"  \small",
        r"  \begin{tabular}{@{}lp{0.62\linewidth}@{}}",
        r"    \toprule",
        r"    Figure & Value \\",
        r"    \midrule",
        *rows,
        r"    \bottomrule",
        r"  \end{tabular}",
        f"  \\caption{{{_caption(report)}}}",
        f"  \\label{{{label}}}",
        r"\end{table}",
        "",
        "% For the paper's compute and carbon paragraph:",
        paper_sentence(report),
    ]
    return "\n".join(lines) + "\n"
