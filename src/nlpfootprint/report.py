"""The :class:`Report`: a frozen value holding what a run measured and what it cost.

A report keeps the raw quantities (per-channel joules, duration, steps, tokens) and the
assumptions used to account them (PUE, carbon intensity, price). Everything else --
kWh, facility kWh, CO2e, cost, mean power, J per step -- is derived on access through
:mod:`nlpfootprint.accounting`, so a report can be re-accounted under other assumptions
with :meth:`Report.with_assumptions` and always stays consistent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import attrs

from nlpfootprint import accounting
from nlpfootprint._validate import nonnegative, pue_value
from nlpfootprint.errors import ConfigurationError, ReportFormatError
from nlpfootprint.intensity import Intensity, resolve_intensity
from nlpfootprint.render import format_duration
from nlpfootprint.trace import TraceData

__all__ = ["SCHEMA", "Assumptions", "ChannelReport", "Projection", "Report"]

#: Identifies the dictionary/JSON layout written by :meth:`Report.to_dict`.
SCHEMA = "nlpfootprint.report/1"

#: The paper's PUE, the 2018 global average data-centre PUE (Uptime Institute).
PAPER_PUE = 1.58
PAPER_PUE_SOURCE = (
    "the 2018 global average data-centre PUE (Uptime Institute survey), as used by "
    "Strubell et al. (ACL 2019)"
)


def _amount(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    """An attrs validator: a finite number >= 0 (the error names the field)."""
    nonnegative(attribute.name, value)


def _count(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    """An attrs validator: a whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{attribute.name}={value!r}: expected a whole number >= 0")


def _optional_amount(
    _instance: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None:
        nonnegative(attribute.name, value)


@attrs.frozen
class Assumptions:
    """What a report's conversions assumed. Printed with every report.

    Attributes:
        pue: Power usage effectiveness (facility energy / IT energy), >= 1.
        pue_source: Where the PUE comes from.
        intensity: Grid carbon intensity used for CO2e.
        intensity_is_default: True when the user did not choose one.
        price_per_kwh: Electricity price, or None when no cost is computed.
        currency: The price's currency (default ``"USD"``).
        meters: How the meters were chosen (``"auto"`` or ``"given"``), with a note.
    """

    pue: float = attrs.field(default=PAPER_PUE, converter=pue_value)
    pue_source: str = PAPER_PUE_SOURCE
    intensity: Intensity = attrs.field(factory=lambda: resolve_intensity(None)[0])
    intensity_is_default: bool = True
    price_per_kwh: float | None = attrs.field(default=None, validator=_optional_amount)
    currency: str = "USD"
    meters: str = "given"

    @classmethod
    def build(
        cls,
        *,
        pue: float = PAPER_PUE,
        carbon_intensity: Intensity | float | str | None = None,
        price_per_kwh: float | None = None,
        currency: str = "USD",
        meters: str = "given",
    ) -> Assumptions:
        """Validate user arguments into assumptions (errors name the bad value)."""
        pue = pue_value(pue)
        intensity, is_default = resolve_intensity(carbon_intensity)
        price = None if price_per_kwh is None else nonnegative("price_per_kwh", price_per_kwh)
        return cls(
            pue=pue,
            pue_source=PAPER_PUE_SOURCE if pue == PAPER_PUE else "given by the user",
            intensity=intensity,
            intensity_is_default=is_default,
            price_per_kwh=price,
            currency=currency,
            meters=meters,
        )

    def lines(self) -> list[str]:
        """The assumptions as sentences, for renderings."""
        out = [f"PUE {self.pue:g}: {self.pue_source}"]
        intensity = f"carbon intensity {self.intensity.describe()}"
        if self.intensity_is_default:
            intensity += (
                " -- the default (world average); set your grid with carbon_intensity= "
                "(a number in g/kWh)"
            )
        out.append(intensity)
        if self.price_per_kwh is None:
            out.append("electricity price: not given, so no cost (set price_per_kwh=)")
        else:
            out.append(f"electricity price {self.price_per_kwh:g} {self.currency}/kWh")
        out.append(f"meters: {self.meters}")
        return out


@attrs.frozen
class ChannelReport:
    """What one channel measured.

    Attributes:
        id: Channel id (``gpu:0``, ``cpu:0``, ...).
        domain: ``gpu``, ``cpu``, ``dram`` or ``other``.
        kind: ``energy`` (a counter) or ``power`` (sampled watts).
        source: ``counter``, ``sampled`` or ``estimated``: how the energy was obtained.
        label: What the channel is (device name, estimation model).
        energy_j: Energy over the report's duration, in joules.
        readings: Successful readings.
        failures: Failed readings.
        gap_s: Seconds not covered by successful readings on both sides.
        duration_s: The span the energy is over (the report's duration).

    ``mean_power_w`` (a property) is ``energy_j / duration_s``.
    """

    id: str = attrs.field(validator=attrs.validators.instance_of(str))
    domain: str = attrs.field(validator=attrs.validators.instance_of(str))
    kind: str = attrs.field(validator=attrs.validators.instance_of(str))
    source: str = attrs.field(validator=attrs.validators.instance_of(str))
    label: str = attrs.field(validator=attrs.validators.instance_of(str))
    energy_j: float = attrs.field(validator=_amount)
    readings: int = attrs.field(default=0, validator=_count)
    failures: int = attrs.field(default=0, validator=_count)
    gap_s: float = attrs.field(default=0.0, validator=_amount)
    duration_s: float = attrs.field(default=0.0, validator=_amount)

    @property
    def mean_power_w(self) -> float:
        """Mean power over ``duration_s``, in watts (0.0 for an empty span)."""
        return accounting.mean_power_w(self.energy_j, self.duration_s)

    def scaled(self, factor: float) -> ChannelReport:
        """This channel over a span ``factor`` times as long, at the same mean power."""
        return attrs.evolve(
            self, energy_j=self.energy_j * factor, duration_s=self.duration_s * factor
        )


@attrs.frozen
class Projection:
    """How a projected report was made from a measured one."""

    basis: str  # "hours" or "steps"
    factor: float
    measured_duration_s: float
    measured_steps: int


@attrs.frozen
class Report:
    """A finished measurement and its conversion to energy, CO2e and cost.

    Attributes:
        duration_s: Wall (monotonic) duration of the measured block.
        channels: Per-channel energy and how it was obtained.
        assumptions: PUE, carbon intensity, price used for the derived figures.
        steps: Steps counted with ``tracker.step()``.
        tokens: Tokens counted with ``tracker.step(tokens=...)``.
        windows: Named sub-measurements (``tracker.window("eval")``), repeated entries
            of the same name summed, with ``count`` saying how many.
        warnings: Everything that went wrong or is worth knowing (failed meters, gaps).
        name: The block or window name.
        count: For a window, how many times it was entered.
        started_at: Wall-clock start, ISO 8601 UTC (a label only).
        interval_s: The sampling interval used.
        trace: Power over time per domain (bounded resolution), when recorded.
        projection: Set when this report was projected from a measured one.

    Derived (properties): ``energy_j``, ``energy_kwh``, ``facility_energy_kwh``,
    ``co2e_kg``, ``co2e_lbs``, ``cost_usd``, ``mean_power_w``, ``energy_j_by_domain``,
    ``j_per_step``, ``j_per_token``, ``method``.
    """

    duration_s: float = attrs.field(validator=_amount)
    channels: tuple[ChannelReport, ...]
    assumptions: Assumptions = attrs.field(factory=Assumptions)
    steps: int = attrs.field(default=0, validator=_count)
    tokens: int = attrs.field(default=0, validator=_count)
    windows: tuple[Report, ...] = ()
    warnings: tuple[str, ...] = ()
    name: str | None = None
    count: int = attrs.field(default=1, validator=_count)
    started_at: str | None = None
    interval_s: float | None = None
    trace: TraceData | None = None
    projection: Projection | None = None

    # -- derived figures -------------------------------------------------------------

    @property
    def energy_j(self) -> float:
        """IT energy (before PUE) in joules, summed over channels."""
        return math.fsum(c.energy_j for c in self.channels)

    @property
    def energy_kwh(self) -> float:
        """IT energy (before PUE) in kWh."""
        return accounting.joules_to_kwh(self.energy_j)

    @property
    def facility_energy_kwh(self) -> float:
        """Energy drawn by the facility, IT energy x PUE (the paper's kWh-PUE)."""
        return accounting.facility_energy_kwh(self.energy_kwh, self.assumptions.pue)

    @property
    def co2e_kg(self) -> float:
        """Emissions in kg CO2e, facility kWh x carbon intensity."""
        return accounting.co2e_kg(self.facility_energy_kwh, self.assumptions.intensity.g_per_kwh)

    @property
    def co2e_lbs(self) -> float:
        """Emissions in pounds CO2e (the paper's unit)."""
        return accounting.kg_to_lbs(self.co2e_kg)

    @property
    def cost_usd(self) -> float | None:
        """Electricity cost (facility kWh x price), or None when no price was given."""
        price = self.assumptions.price_per_kwh
        return (
            None if price is None else accounting.electricity_cost(self.facility_energy_kwh, price)
        )

    @property
    def energy_j_by_domain(self) -> dict[str, float]:
        """IT energy per domain (``"cpu"``, ``"dram"``, ``"gpu"``, ``"other"``) present."""
        out: dict[str, float] = {}
        for c in self.channels:
            out[c.domain] = out.get(c.domain, 0.0) + c.energy_j
        return out

    @property
    def mean_power_w(self) -> dict[str, float]:
        """Mean power per domain present, its energy divided by ``duration_s``."""
        return {
            domain: accounting.mean_power_w(energy, self.duration_s)
            for domain, energy in self.energy_j_by_domain.items()
        }

    @property
    def j_per_step(self) -> float | None:
        """IT joules per counted step, or None when no steps were counted."""
        return self.energy_j / self.steps if self.steps else None

    @property
    def j_per_token(self) -> float | None:
        """IT joules per counted token, or None when no tokens were counted."""
        return self.energy_j / self.tokens if self.tokens else None

    @property
    def method(self) -> str:
        """Where the energy figures come from.

        ``measured`` (counters or sampled power only), ``estimated`` (estimates only),
        ``mixed``, or ``none`` when no channel produced a reading.
        """
        sources = {c.source for c in self.channels if c.energy_j or c.readings}
        if not sources:
            return "none"
        if sources == {"estimated"}:
            return "estimated"
        return "mixed" if "estimated" in sources else "measured"

    # -- transformations -------------------------------------------------------------

    def with_assumptions(
        self,
        *,
        pue: float | None = None,
        carbon_intensity: Intensity | float | str | None = None,
        price_per_kwh: float | None = None,
    ) -> Report:
        """The same measurement accounted under other assumptions (None keeps the current).

        >>> from nlpfootprint.report import Report, ChannelReport
        >>> r = Report(3600.0, (ChannelReport("gpu:0", "gpu", "power", "sampled", "", 3.6e6),))
        >>> r.with_assumptions(pue=1.1, carbon_intensity=100).co2e_kg
        0.11000000000000001
        """
        old = self.assumptions
        new = Assumptions.build(
            pue=old.pue if pue is None else pue,
            carbon_intensity=old.intensity if carbon_intensity is None else carbon_intensity,
            price_per_kwh=old.price_per_kwh if price_per_kwh is None else price_per_kwh,
            currency=old.currency,
            meters=old.meters,
        )
        if carbon_intensity is None:
            new = attrs.evolve(new, intensity_is_default=old.intensity_is_default)
        if pue is None:
            new = attrs.evolve(new, pue_source=old.pue_source)
        return attrs.evolve(
            self,
            assumptions=new,
            windows=tuple(
                w.with_assumptions(
                    pue=pue, carbon_intensity=carbon_intensity, price_per_kwh=price_per_kwh
                )
                for w in self.windows
            ),
        )

    def project(self, *, hours: float | None = None, steps: int | None = None) -> Report:
        """Scale this measurement to a longer (or shorter) run -- the paper's extrapolation.

        ``hours``: the whole run's wall time; ``steps``: its number of steps (needs steps
        counted with ``tracker.step()``). Power stays the same; energy, CO2e and cost scale.
        """
        factor = accounting.projection_factor(
            duration_s=self.duration_s, steps=self.steps, hours=hours, target_steps=steps
        )
        basis = "hours" if hours is not None else "steps"
        note = (
            f"projected from {format_duration(self.duration_s)} measured "
            f"({self.steps} steps) by x{factor:.6g} ({basis})"
        )
        return attrs.evolve(
            self,
            duration_s=self.duration_s * factor,
            channels=tuple(c.scaled(factor) for c in self.channels),
            steps=round(self.steps * factor),
            tokens=round(self.tokens * factor),
            windows=(),
            trace=None,
            warnings=(*self.warnings, note),
            projection=Projection(basis, factor, self.duration_s, self.steps),
        )

    # -- serialisation ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the raw quantities *and* the derived figures.

        :meth:`from_dict` reads it back (the derived figures are recomputed, not trusted).
        """
        a = self.assumptions
        return {
            "schema": SCHEMA,
            "name": self.name,
            "count": self.count,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "interval_s": self.interval_s,
            "method": self.method,
            "energy_j": self.energy_j,
            "energy_kwh": self.energy_kwh,
            "facility_energy_kwh": self.facility_energy_kwh,
            "co2e_kg": self.co2e_kg,
            "co2e_lbs": self.co2e_lbs,
            "cost_usd": self.cost_usd,
            "mean_power_w": self.mean_power_w,
            "steps": self.steps,
            "tokens": self.tokens,
            "j_per_step": self.j_per_step,
            "j_per_token": self.j_per_token,
            "channels": [
                {**attrs.asdict(c), "mean_power_w": c.mean_power_w} for c in self.channels
            ],
            "assumptions": {
                "pue": a.pue,
                "pue_source": a.pue_source,
                "intensity": attrs.asdict(a.intensity),
                "intensity_is_default": a.intensity_is_default,
                "price_per_kwh": a.price_per_kwh,
                "currency": a.currency,
                "meters": a.meters,
            },
            "warnings": list(self.warnings),
            "windows": [w.to_dict() for w in self.windows],
            "trace": None
            if self.trace is None
            else {
                "start_s": list(self.trace.start_s),
                "width_s": list(self.trace.width_s),
                "power_w": {k: list(v) for k, v in self.trace.power_w.items()},
            },
            "projection": None if self.projection is None else attrs.asdict(self.projection),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """Rebuild a report from :meth:`to_dict` output.

        Raises:
            ReportFormatError: ``data`` is not a report dict of a schema this version reads.
        """
        if not isinstance(data, Mapping):
            raise ReportFormatError(f"expected a report dict, got {type(data).__name__}")
        schema = data.get("schema")
        if schema != SCHEMA:
            raise ReportFormatError(
                f"not an nlpfootprint report: schema is {schema!r}, expected {SCHEMA!r}"
            )
        try:
            a = data["assumptions"]
            trace = data.get("trace")
            projection = data.get("projection")
            return cls(
                duration_s=data["duration_s"],
                channels=tuple(
                    ChannelReport(**{k: v for k, v in c.items() if k != "mean_power_w"})
                    for c in data["channels"]
                ),
                assumptions=Assumptions(
                    pue=a["pue"],
                    pue_source=a["pue_source"],
                    intensity=Intensity(**a["intensity"]),
                    intensity_is_default=bool(a["intensity_is_default"]),
                    price_per_kwh=a["price_per_kwh"],
                    currency=a["currency"],
                    meters=a["meters"],
                ),
                steps=data["steps"],
                tokens=data["tokens"],
                windows=tuple(cls.from_dict(w) for w in data["windows"]),
                warnings=tuple(data["warnings"]),
                name=data["name"],
                count=data["count"],
                started_at=data["started_at"],
                interval_s=data["interval_s"],
                trace=None
                if trace is None
                else TraceData(
                    start_s=tuple(trace["start_s"]),
                    width_s=tuple(trace["width_s"]),
                    power_w={k: tuple(v) for k, v in trace["power_w"].items()},
                ),
                projection=None if projection is None else Projection(**projection),
            )
        except ReportFormatError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise ReportFormatError(f"malformed report dict: {err!r}") from err

    @classmethod
    def from_json(cls, text: str) -> Report:
        """Rebuild a report from :meth:`to_json` output."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as err:
            raise ReportFormatError(f"not JSON: {err}") from err
        return cls.from_dict(data)

    def __str__(self) -> str:
        from nlpfootprint.render import render_text

        return render_text(self)
