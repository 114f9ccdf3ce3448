"""A report for a paper: a LaTeX ``booktabs`` table and a ready "compute and carbon" sentence.

Strubell, Ganesh & McCallum (ACL 2019) ask authors to report training time and cost;
:func:`render_latex` gives the figures as a table and the sentence for the paper's text:
the hardware (from the channels' labels), the hours, the energy with PUE, the CO2e with
the carbon intensity and its source, the cost, and how the figures were obtained.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from nlpfootprint.accounting import LBS_PER_KG
from nlpfootprint.render import figure_rows, format_duration, method_label

if TYPE_CHECKING:
    from nlpfootprint.report import ChannelReport, Report

__all__ = ["hardware_phrase", "latex_escape", "paper_sentence", "render_latex"]

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

# "64 x Tesla V100 SXM2 at 300 W ..." (an estimate's label)
_COUNTED = re.compile(r"^(\d+) x (.+?) at [\d.]+ W\b")
# "gpu:0-63" (a channel standing for several devices)
_ID_RANGE = re.compile(r":(\d+)-(\d+)$")


def latex_escape(text: str) -> str:
    r"""Escape text for LaTeX: ``gpu_0 & 5%`` becomes ``gpu\_0 \& 5\%``."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group()], " ".join(text.splitlines()))


def _number(value: float) -> str:
    """A figure for prose: one decimal with thousands separators, or 3 significant digits."""
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} hours" if seconds >= 36000 else f"{seconds / 3600:.2f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.1f} minutes"
    return f"{seconds:.1f} seconds"


def _mass(kg: float, lbs: float) -> str:
    pounds = f"{lbs:,.0f}" if abs(lbs) >= 10 else f"{lbs:.3g}"
    mass = f"{_number(kg)} kg" if abs(kg) >= 1 else f"{_number(kg * 1000)} g"
    return f"{mass} CO$_2$e ({pounds} lbs)"


def _money(amount: float, currency: str, *, price: bool = False) -> str:
    figure = f"{amount:g}" if price else f"{amount:,.2f}"
    return rf"\${figure}" if currency == "USD" else f"{figure} {latex_escape(currency)}"


def _meter_name(label: str) -> str:
    return next((m for m in ("NVML", "RAPL", "pyRAPL") if m in label.split()), "")


def _how(channels: list[ChannelReport]) -> str:
    """How one domain's energy was obtained, from its channels' sources and labels."""
    phrases: list[str] = []
    for c in channels:
        meter = _meter_name(c.label.replace("(", " ").replace(":", " "))
        prefix = f"{meter} " if meter else ""
        if c.source == "counter":
            phrase = f"measured with {prefix}energy counters"
        elif c.source == "sampled":
            phrase = f"measured by sampling {prefix}power"
        elif "utilisation" in c.label:
            phrase = "estimated as power limit x utilisation, not measured"
        elif "utilization" in c.label or "as given" in c.label:
            phrase = "estimated from rated power, not measured"
        elif "TDP" in c.label:
            phrase = "estimated from TDP and load, not measured"
        elif "W/GiB" in c.label:
            phrase = "estimated from installed memory, not measured"
        else:
            phrase = "estimated, not measured"
        if phrase not in phrases:
            phrases.append(phrase)
    return " and ".join(phrases).replace(" x ", r" $\times$ ")


def _devices(channel: ChannelReport) -> tuple[int, str]:
    """How many devices a channel stands for, and their name, from its id and label."""
    counted = _COUNTED.match(channel.label)
    if counted:
        return int(counted.group(1)), counted.group(2)
    span = _ID_RANGE.search(channel.id)
    n = int(span.group(2)) - int(span.group(1)) + 1 if span else 1
    return n, channel.label.split(" (")[0].split(": ")[0].strip() or channel.id


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
        if domain == "gpu" or (
            domain == "other" and all(_COUNTED.match(c.label) for c in channels)
        ):
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
    from nlpfootprint.intensity import STRUBELL_2019

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
    """The figures as sentences for a paper's compute-and-carbon paragraph (LaTeX).

    >>> import nlpfootprint as nf
    >>> r = nf.estimate(hardware="V100", count=64, hours=79.2, carbon_intensity="strubell2019")
    >>> paper_sentence(r)[:60]
    'Training took 79.2 hours on 64 Tesla V100 SXM2 GPUs (estimat'
    """
    from nlpfootprint import __version__

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
    text = (
        f"Training {took} {_hours(report.duration_s)} on {hardware_phrase(report)}. "
        f"{drew} {energy}, or {_number(report.facility_energy_kwh)} kWh including a "
        f"data-centre PUE of {a.pue:g}, and {emitted} an estimated "
        f"{_mass(report.co2e_kg, report.co2e_lbs)} at {_intensity_phrase(report)}"
    )
    spread = projection.relative_spread if projection is not None else None
    if spread:
        low, high = report.bounds("co2e_kg")
        low_text, high_text = (_mass(x, x * LBS_PER_KG).split(" CO$_2$e")[0] for x in (low, high))
        text += (
            f" (energy per step varied by $\\pm${100 * spread:.1f}\\% in the measurement: "
            f"{low_text}--{high_text} CO$_2$e)"
        )
    if report.cost_usd is not None and a.price_per_kwh is not None:
        text += (
            f"; the electricity {cost} {_money(report.cost_usd, a.currency)} at "
            f"{_money(a.price_per_kwh, a.currency, price=True)}/kWh"
        )
    return (
        f"{text}. Figures from nlpfootprint {latex_escape(__version__)} "
        "following Strubell et al. (2019)."
    )


def _marking(report: Report) -> str:
    """Whether the figures were measured, in words for a caption."""
    marked = {
        "measured": "measured",
        "estimated": "ESTIMATED, not measured",
        "mixed": "partly estimated (see the text)",
        "none": "nothing measured",
    }[report.method]
    projection = report.projection
    if projection is not None:
        marked = f"PROJECTED x{projection.factor:.6g} by {projection.basis} from a {marked} run"
    return marked


def _caption(report: Report) -> str:
    a = report.assumptions
    marked = _marking(report)
    parts = [f"PUE {a.pue:g} ({a.pue_source})", f"carbon intensity {a.intensity.describe()}"]
    if a.intensity_is_default:
        parts[-1] += " (the default: world average)"
    if a.price_per_kwh is None:
        parts.append("no electricity price given, so no cost")
    else:
        parts.append(f"electricity {a.price_per_kwh:g} {a.currency}/kWh")
    name = f" of {report.name}" if report.name else ""
    return latex_escape(
        f"Energy, carbon and cost{name}, {marked}. Assumptions: {'; '.join(parts)}."
    )


def render_latex(report: Report, *, label: str = "tab:nlpfootprint") -> str:
    r"""A ``booktabs`` table of the figures and a ready sentence for the paper's text.

    The table's caption states the assumptions (PUE, carbon intensity with its source,
    price) and whether the figures were measured, estimated or projected; the sentence
    follows it. Needs ``\usepackage{booktabs}`` in the preamble.

    Args:
        report: The report.
        label: The table's ``\label``.
    """
    from nlpfootprint import __version__

    rows = []
    for name, value in figure_rows(report):
        cell = latex_escape(name)
        cell = _LATEX_LABELS.get(cell, cell)
        value_tex = latex_escape(value).replace(" x PUE", r" $\times$ PUE")
        rows.append(f"    {cell[:1].upper()}{cell[1:]} & {value_tex} \\\\")
    lines = [
        f"% nlpfootprint {latex_escape(__version__)}: {latex_escape(method_label(report))}",
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
