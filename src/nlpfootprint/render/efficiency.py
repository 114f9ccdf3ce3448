"""The efficiency figures of a report that counted FLOPs, in words: FLOPs and FLOP/J,
tokens/J, and MFU with the peak it is measured against (or why there is none).

A report without FLOPs has none of these rows. Counts of FLOPs are written in scientific
notation (``4.20e22 FLOP``), rates with SI prefixes (``989.4 TFLOP/s``, ``320.0 GFLOP/J``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nlpfootprint.peaks import find_peak
from nlpfootprint.units import format_flops, format_flops_per, significant

if TYPE_CHECKING:
    from nlpfootprint.report import Report

__all__ = ["FLOPS_METHOD_WORDS", "efficiency_rows", "mfu_phrase", "paper_efficiency_sentence"]

#: How the FLOPs were obtained, by ``report.efficiency.flops_method``, in words.
FLOPS_METHOD_WORDS = {
    "given": "given with tracker.step(flops=...)",
    "counted": "counted with PyTorch's FlopCounterMode on the first training step, times the steps",
    "estimated": "estimated as 6 x parameters x tokens (Kaplan et al. 2020)",
}


def mfu_phrase(report: Report) -> str | None:
    """``41.2% of 7.915 PFLOP/s (8 x H100 SXM5, bf16 dense peak)``; None without an MFU."""
    mfu, peak = report.mfu, report.peak
    if mfu is None or peak is None:
        return None
    return f"{100 * mfu:.1f}% of {format_flops_per(peak.flops_per_s, 's')} ({peak.describe()})"


def efficiency_rows(report: Report) -> list[tuple[str, str]]:
    """(name, value) rows: ``FLOPs``, ``tokens/J`` (when tokens were counted), ``MFU`` --
    none when the report counted no FLOPs."""
    if report.flops is None:
        return []
    method = FLOPS_METHOD_WORDS.get(report.efficiency.flops_method, "given")
    per_j = report.flops_per_j
    rate = f"{format_flops_per(per_j, 'J')}, " if per_j is not None else ""
    rows = [("FLOPs", f"{format_flops(report.flops)} ({rate}{method})")]
    tokens_per_j = report.tokens_per_j
    if tokens_per_j is not None:
        rows.append(("tokens/J", f"{significant(tokens_per_j)} tokens/J"))
    phrase = mfu_phrase(report)
    if phrase is None:
        why = find_peak(report.efficiency, report.channels)[1] or "no duration measured"
        phrase = f"not computed: {why}"
    rows.append(("MFU", phrase))
    return rows


#: How the FLOPs were obtained, for a paper's sentence (empty: given, source unsaid).
_PAPER_METHOD = {
    "given": "",
    "counted": "counted with PyTorch's FlopCounterMode on the first training step",
    "estimated": "estimated as 6 x parameters x tokens, Kaplan et al. (2020)",
}


def _power_of_ten(value: float) -> str:
    r"""``4.20e22`` as LaTeX: ``$4.20 \times 10^{22}$`` (a small value as it is)."""
    if abs(value) < 1e6:
        return f"{value:,.0f}"
    mantissa, exponent = f"{value:.2e}".split("e")
    return rf"${mantissa} \times 10^{{{int(exponent)}}}$"


def paper_efficiency_sentence(report: Report, escape: Callable[[str], str]) -> str:
    r"""The FLOPs, FLOP/J and MFU as a sentence for a paper (LaTeX, ``escape`` applied to
    the words), starting with a space; empty when the report counted no FLOPs.

    >>> from nlpfootprint.report import Report, ChannelReport
    >>> from nlpfootprint.peaks import Efficiency
    >>> r = Report(3600.0, (ChannelReport("gpu:0", "gpu", "power", "sampled", "", 3.6e6),),
    ...            flops=3.6e18, efficiency=Efficiency(peak_flops_per_s=1e15))
    >>> sentence = paper_efficiency_sentence(r, str)
    >>> sentence.startswith(r" It performed $3.60 \times 10^{18}$ floating-point operations")
    True
    >>> sentence.endswith(r"100.0\% of a peak of 1.000 PFLOP/s (given as peak_flops_per_s).")
    True
    """
    if report.flops is None:
        return ""
    verb = "It performed" if report.projection is None else "It would perform"
    notes = [_PAPER_METHOD.get(report.efficiency.flops_method, "")]
    if report.flops_per_j is not None:
        per_j = format_flops_per(report.flops_per_j, "J").replace("FLOP/J", "FLOP")
        notes.append(f"{per_j} per joule of IT energy")
    said = "; ".join(escape(n) for n in notes if n)
    text = f" {verb} {_power_of_ten(report.flops)} floating-point operations"
    text += f" ({said})" if said else ""
    mfu, peak = report.mfu, report.peak
    if mfu is not None and peak is not None:
        text += (
            f", a model FLOPs utilisation (MFU) of {100 * mfu:.1f}\\% of a peak of "
            f"{escape(format_flops_per(peak.flops_per_s, 's'))} ({escape(peak.describe())})"
        )
    return f"{text}.".replace(" x ", r" $\times$ ")
