"""When and where the same run would emit least: ``Report.advise`` and ``nlpfootprint advise``.

With an :class:`~nlpfootprint.series.IntensitySeries`, the run's energy profile (its power
trace, kept as measured) is moved to start at every step of the series where the whole run
fits, and each start's CO2e is the profile weighted by the series there; the best start and
the saving against the actual start follow. With regions, the run is re-accounted under
each grid's yearly figure from the shipped tables (and its price, when the report has one:
the shipped tables hold no electricity prices, so it is the same everywhere).

Moving a profile assumes the run would draw the same power at another time -- true of the
hardware, not of a shared cluster's queue -- and an average-basis series gives the
emissions attributed to the run, not what shifting it would avoid (a marginal series is
closer to that); the text says which basis was used.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from nlpfootprint import accounting
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.series import IntensitySeries, Segment, parse_time, segments_from_trace
from nlpfootprint.units import format_mass_kg, format_money

if TYPE_CHECKING:
    from nlpfootprint.report import Report

__all__ = ["Advice", "RegionOption", "StartOption", "advise"]


def _utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat(timespec="seconds").replace("+00:00", "Z")


@attrs.frozen
class StartOption:
    """The run started at ``start`` (UTC): its CO2e under the series."""

    start: dt.datetime
    co2e_kg: float


@attrs.frozen
class RegionOption:
    """The run on another grid (yearly figure): its CO2e and, with a price, its cost."""

    key: str
    g_per_kwh: float
    source: str
    co2e_kg: float
    cost: float | None


@attrs.frozen
class Advice:
    """What a different start time or region would have emitted.

    Attributes:
        actual_start: When the run started (UTC), when known.
        actual_co2e_kg: The run's CO2e as it ran (weighted by the series when one was
            given, else the report's own).
        best_start: The start, among the series' steps where the whole run fits, with
            the least CO2e (None without a series, or when the run is longer than it).
        best_co2e_kg: That start's CO2e.
        saving_kg: ``actual_co2e_kg - best_co2e_kg`` (negative: the actual start was the
            best).
        starts: Every start considered, in time order.
        regions: The run under each region's yearly figure, least CO2e first.
        series: The series used, described; "" without one.
        basis: ``"average"`` or ``"marginal"`` (the series'); "" without one.
        currency: The currency of the regions' costs.
        notes: What the figures assume.
    """

    actual_start: dt.datetime | None
    actual_co2e_kg: float
    best_start: dt.datetime | None = None
    best_co2e_kg: float | None = None
    saving_kg: float | None = None
    starts: tuple[StartOption, ...] = ()
    regions: tuple[RegionOption, ...] = ()
    series: str = ""
    basis: str = ""
    currency: str = "USD"
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601 UTC)."""
        return {
            "actual_start": _iso(self.actual_start),
            "actual_co2e_kg": self.actual_co2e_kg,
            "best_start": _iso(self.best_start),
            "best_co2e_kg": self.best_co2e_kg,
            "saving_kg": self.saving_kg,
            "series": self.series,
            "basis": self.basis,
            "starts": [{"start": _iso(s.start), "co2e_kg": s.co2e_kg} for s in self.starts],
            "regions": [attrs.asdict(r) for r in self.regions],
            "currency": self.currency,
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=2)

    def _lines(self) -> list[tuple[str, str]]:
        rows = [
            ("actual start", _iso(self.actual_start) or "not known"),
            ("actual CO2e", format_mass_kg(self.actual_co2e_kg)),
        ]
        if self.series:
            rows.append(("series", f"{self.series}"))
            if self.best_start is None or self.best_co2e_kg is None:
                rows.append(("best start", "none: the run does not fit in the series"))
            else:
                rows.append(
                    (
                        "best start",
                        f"{_iso(self.best_start)}: {format_mass_kg(self.best_co2e_kg)} "
                        f"({self._saving_words()}), of {len(self.starts)} starts considered",
                    )
                )
        return rows

    def _saving_words(self) -> str:
        if self.saving_kg is None:
            return ""
        if self.saving_kg <= 0:
            return "the actual start was the best"
        share = self.saving_kg / self.actual_co2e_kg if self.actual_co2e_kg > 0 else 0.0
        return f"saves {format_mass_kg(self.saving_kg)}, {100 * share:.1f}%"

    def _region_rows(self) -> list[tuple[str, str, str, str]]:
        return [
            (
                r.key,
                f"{r.g_per_kwh:.4g}",
                format_mass_kg(r.co2e_kg),
                "not computed (no price)"
                if r.cost is None
                else format_money(r.cost, self.currency),
            )
            for r in self.regions
        ]

    def __str__(self) -> str:
        lines = ["nlpfootprint advice", ""]
        lines += [f"  {name:<13} {value}" for name, value in self._lines()]
        if self.regions:
            lines += ["", "  region                 g/kWh     CO2e         cost"]
            lines += [f"  {k:<20} {g:>7}  {c:>12}  {m}" for k, g, c, m in self._region_rows()]
        lines += ["", "notes", *(f"  - {n}" for n in self.notes)]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The advice as Markdown: the figures, the regions' table, the notes."""
        out = ["**nlpfootprint advice**", "", "| | |", "| --- | --- |"]
        out += [f"| {name} | {value} |" for name, value in self._lines()]
        if self.regions:
            out += ["", "| region | g/kWh | CO2e | cost |", "| --- | ---: | ---: | ---: |"]
            out += [f"| {k} | {g} | {c} | {m} |" for k, g, c, m in self._region_rows()]
        out += ["", *(f"- {n}" for n in self.notes)]
        return "\n".join(out)


def _profile_co2e(
    segments: Sequence[Segment], series: IntensitySeries, shifts: np.ndarray, pue: float
) -> np.ndarray:
    """The CO2e (kg) of the profile moved by each of ``shifts`` seconds, all inside the
    series: the integral of the step function by its cumulative sum, exact per segment."""
    edges = np.array([*series.times, series.end])
    values = np.array(series.g_per_kwh)
    cumulative = np.concatenate([[0.0], np.cumsum(values * np.diff(edges))])
    starts = np.array([s.start for s in segments])
    ends = np.array([s.end for s in segments])
    energy = np.array([s.energy_j for s in segments])
    width = np.where(ends > starts, ends - starts, 1.0)
    out = np.empty(len(shifts))
    for i, shift in enumerate(shifts):
        a = np.interp(starts + shift, edges, cumulative)
        b = np.interp(ends + shift, edges, cumulative)
        steps = np.clip(
            np.searchsorted(edges, starts + shift, side="right") - 1, 0, len(values) - 1
        )
        at = values[steps]  # an instant's own step, for a segment of no width
        mean = np.where(ends > starts, (b - a) / width, at)  # g/kWh over each segment
        out[i] = float(np.sum(energy * mean))
    kwh_factor = accounting.joules_to_kwh(1.0) * pue / 1000.0  # J x g/kWh -> kg, with PUE
    result: np.ndarray = out * kwh_factor
    return result


def advise(
    report: Report,
    *,
    series: IntensitySeries | None = None,
    regions: Sequence[str | float] | None = None,
) -> Advice:
    """When (``series``) and where (``regions``) the run in ``report`` would emit least.

    Raises:
        ConfigurationError: Neither given; a series for a report without a power trace or
            a start time (an estimate, a projection); an unknown region key.
    """
    if series is None and not regions:
        raise ConfigurationError(
            "advise needs a series (when: an IntensitySeries, --series FILE) or regions "
            "(where: e.g. ['FRA', 'DEU', 'gcp:europe-west4']), or both"
        )
    start = parse_time(report.started_at, "started_at") if report.started_at else None
    a = report.assumptions
    notes = [
        "the same energy profile, as measured, moved in time or place: the hardware draws "
        "the same power anywhere, at any hour",
        f"PUE {a.pue:g} throughout",
    ]
    actual = report.co2e_kg
    fields: dict[str, Any] = {}
    if series is not None:
        segments = segments_from_trace(report.trace, report.started_at)
        weighting = report.weighted_by(series)  # refuses a report it cannot place in time
        actual = report.with_assumptions(carbon_intensity=weighting.intensity).co2e_kg
        first, last = segments[0].start, max(s.end for s in segments)
        duration = last - first
        candidates = np.array([t for t in series.times if t + duration <= series.end])
        fields.update(series=series.describe(), basis=series.basis)
        notes.append(
            f"{series.basis}-basis series: "
            + (
                "the emissions attributed to the run at each start, not what moving it would "
                "avoid (a marginal series estimates that)"
                if series.basis == "average"
                else "what the generation a change in demand would add emits"
            )
        )
        if weighting.outside_share > 0:
            notes.append(*weighting.warnings)
        if len(candidates):
            co2e = _profile_co2e(segments, series, candidates - first, a.pue)
            best = int(np.argmin(co2e))
            fields.update(
                starts=tuple(
                    StartOption(_utc(float(t)), float(c))
                    for t, c in zip(candidates, co2e, strict=True)
                ),
                best_start=_utc(float(candidates[best])),
                best_co2e_kg=float(co2e[best]),
                saving_kg=actual - float(co2e[best]),
            )
        else:
            notes.append(
                f"the run ({duration / 3600:.3g} h) is longer than the series: no start fits"
            )
    if regions:
        options = []
        for result in report.compare_regions(list(regions)):
            kwh = accounting.facility_energy_kwh(report.energy_kwh, a.pue)
            cost = None if a.price_per_kwh is None else kwh * a.price_per_kwh
            options.append(
                RegionOption(
                    result.key,
                    result.intensity.g_per_kwh,
                    result.intensity.describe(),
                    result.co2e_kg,
                    cost,
                )
            )
        fields["regions"] = tuple(sorted(options, key=lambda o: o.co2e_kg))
        notes.append(
            "regions at their yearly average intensity (the shipped tables); the shipped "
            "tables hold no electricity prices, so a cost is the report's price everywhere"
            if a.price_per_kwh is not None
            else "regions at their yearly average intensity (the shipped tables); no cost: "
            "the report has no price (and the shipped tables hold none)"
        )
    return Advice(
        actual_start=None if start is None else _utc(start),
        actual_co2e_kg=actual,
        currency=a.currency,
        notes=tuple(notes),
        **fields,
    )
