"""A figure's caption: how the run ended when not well, its figures and how they were
obtained.

What a reader pastes under a plot of the run (the plot prints it as its footnote):

>>> import textwrap
>>> import nlpfootprint as nf
>>> from nlpfootprint.testing import FakeClock, FakeMeter
>>> clock = FakeClock()
>>> meters = [
...     FakeMeter.counter(450.0, domain="gpu", clock=clock),
...     FakeMeter.constant([40.0, 8.0], domain=["cpu", "dram"], estimated=True),
... ]
>>> with nf.track_energy(meters=meters, clock=clock, name="lm-8x1024") as t:
...     clock.advance(47.3)
>>> print(textwrap.fill(figure_caption(t.report), 80))
lm-8x1024: 6.543 Wh IT energy over 47.30 s, 10.34 Wh with PUE 1.58, 4.738 g CO2e
at 458 g/kWh (world average). GPU measured (counter); CPU and DRAM estimated.

(A real meter names its backend: ``GPU measured (NVML counter)``.) A run that failed,
or a channel that covers less than :data:`~nlpfootprint.report_parts.PARTIAL_COVERAGE`
of the run, is said first: ``Run failed (raised RuntimeError: CUDA out of memory).``,
``gpu:0 covers 20% of the run.`` The numbers are formatted as in the report's tables
(:mod:`nlpfootprint.units`); how each domain was obtained is read from its channels'
fields, never from their labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nlpfootprint.provenance import Method
from nlpfootprint.render.common import printable
from nlpfootprint.report_parts import PARTIAL_COVERAGE
from nlpfootprint.units import (
    format_duration,
    format_energy_kwh,
    format_mass_kg,
    format_money,
    significant,
)

if TYPE_CHECKING:
    from nlpfootprint.report import Report
    from nlpfootprint.report_parts import ChannelReport

__all__ = [
    "figure_caption",
    "figures_sentence",
    "how_sentence",
    "sources_sentence",
    "status_sentence",
]

#: How a domain is named in a sentence.
_DOMAIN_WORDS = {"gpu": "GPU", "cpu": "CPU", "dram": "DRAM", "other": "other hardware"}


def _where(report: Report) -> str:
    """Which grid the carbon intensity is of: ``world average``, ``FRA, 2025``, ..."""
    a = report.assumptions
    if a.intensity_is_default:
        return "world average"
    intensity = a.intensity
    where = ", ".join(str(x) for x in (intensity.key, intensity.year) if x)
    return where or intensity.source


def figures_sentence(report: Report, *, label: str | None = None) -> str:
    """The run's figures in one sentence: IT energy and duration, energy x PUE, CO2e and
    the intensity it was converted at, the cost when priced.

    ``label`` names the run (default: its name, else none).
    """
    a = report.assumptions
    name = label if label is not None else report.name
    head = f"{printable(name)}: " if name else ""
    figures = (
        f"{head}{format_energy_kwh(report.energy_kwh)} IT energy over "
        f"{format_duration(report.duration_s)}, {format_energy_kwh(report.facility_energy_kwh)}"
        f" with PUE {a.pue:g}, {format_mass_kg(report.co2e_kg)} CO2e at "
        f"{significant(a.intensity.g_per_kwh, 3)} g/kWh ({printable(_where(report))})"
    )
    cost = report.cost_usd
    if cost is not None and a.price_per_kwh is not None:
        figures += (
            f", {format_money(cost, a.currency)} at {a.price_per_kwh:g} {printable(a.currency)}/kWh"
        )
    return figures + "."


def _how(channels: list[ChannelReport]) -> str:
    """How one domain's energy was obtained: ``measured (NVML counter)``, ``estimated``,
    or ``partly estimated``."""
    methods = {c.method for c in channels}
    if methods == {Method.ESTIMATED}:
        return "estimated"
    if Method.ESTIMATED in methods:
        return "partly estimated"
    if Method.ATTRIBUTED in methods:  # the device measured, this process's share estimated
        return "measured, and attributed to this process by its share of the device's use"
    details: list[str] = []
    for c in channels:
        backend = f"{c.backend.display} " if c.backend.display else ""
        detail = f"{backend}{'counter' if c.method is Method.COUNTER else 'power samples'}"
        if detail not in details:
            details.append(detail)
    return f"measured ({', '.join(details)})"


def how_sentence(report: Report) -> str:
    """How each domain's energy was obtained, domains alike grouped: ``GPU measured (NVML
    counter); CPU and DRAM estimated.`` (empty when no channel has a reading)."""
    by_domain: dict[str, list[ChannelReport]] = {}
    for c in report.channels:
        if c.energy_j or c.readings:
            by_domain.setdefault(str(c.domain), []).append(c)
    by_how: dict[str, list[str]] = {}
    for domain, channels in by_domain.items():
        by_how.setdefault(_how(channels), []).append(_DOMAIN_WORDS.get(domain, domain))
    parts = [
        f"{' and '.join(domains) if len(domains) < 3 else ', '.join(domains)} {how}"
        for how, domains in by_how.items()
    ]
    return f"{'; '.join(parts)}." if parts else ""


def sources_sentence(report: Report) -> str:
    """Where the PUE and the carbon intensity come from."""
    a = report.assumptions
    return printable(f"Sources: PUE: {a.pue_source}; carbon intensity: {a.intensity.source}.")


def status_sentence(report: Report) -> str:
    """How the run ended when it failed, and each channel that covers less than
    :data:`~nlpfootprint.report_parts.PARTIAL_COVERAGE` of it: ``Run failed (raised
    RuntimeError: ...). gpu:0 covers 20% of the run.`` (empty for a whole, clean run)."""
    sentences: list[str] = []
    outcome = report.outcome
    if outcome is not None and not outcome.ok:
        sentences.append(f"Run failed ({printable(outcome.detail)}).")
    partial = [
        f"{printable(c.id)} covers {100 * c.coverage:.0f}%"
        for c in report.channels
        if c.coverage < PARTIAL_COVERAGE
    ]
    if partial:
        sentences.append(f"{partial[0]} of the run{''.join(f'; {p}' for p in partial[1:])}.")
    return " ".join(sentences)


def figure_caption(report: Report, *, label: str | None = None) -> str:
    """A caption for a figure of the run: how it ended when it failed or is partly
    covered, its figures, then how they were obtained.

    >>> import textwrap
    >>> import nlpfootprint as nf
    >>> from nlpfootprint.testing import FakeClock, FakeMeter
    >>> clock = FakeClock()
    >>> with nf.track_energy(meters=[FakeMeter.constant(300.0, domain="gpu")], clock=clock,
    ...                      name="demo") as t:
    ...     clock.advance(3600)
    >>> print(textwrap.fill(figure_caption(t.report), 80))
    demo: 300.0 Wh IT energy over 60.0 min, 474.0 Wh with PUE 1.58, 217.2 g CO2e at
    458 g/kWh (world average). GPU measured (power samples).
    """
    parts = (status_sentence(report), figures_sentence(report, label=label), how_sentence(report))
    return " ".join(part for part in parts if part)
