"""The :class:`Report`: a frozen value holding what a run measured and what it cost.

A report keeps the raw quantities (per-channel joules, duration, steps, tokens), where each
came from (backend, device, method: fields, never prose) and the assumptions used to account
them (PUE, carbon intensity, price). Everything else -- kWh, facility kWh, CO2e, cost, mean
power, J per step -- is derived on access through :mod:`nlpfootprint.accounting`, so a
report can be re-accounted under other assumptions with :meth:`Report.with_assumptions` and
always stays consistent.

The report imports none of its consumers. Its shortcuts (``str(report)``, ``to_markdown``,
``to_latex``, ``_repr_html_``, ``plot``, ``from_log``, ...) are one-line lazy delegates,
gathered at the end of the class: the only imports in the package that point up the layers.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, SupportsIndex

import attrs

from nlpfootprint import accounting
from nlpfootprint.assumptions import Assumptions, amount, count
from nlpfootprint.checks import MAX_COUNT, MAX_FLOAT_SAFE_INT, flops_value, whole_number
from nlpfootprint.errors import (
    ConfigurationError,
    ConfigurationTypeError,
    NlpFootprintError,
    ReportFormatError,
)
from nlpfootprint.idle import BASELINE_WARNING, Baseline, power_map
from nlpfootprint.intensity import Intensity
from nlpfootprint.ledger import Ledger
from nlpfootprint.peaks import Efficiency, Peak, find_peak
from nlpfootprint.report_dict import (
    MAX_WINDOW_DEPTH,
    SCHEMA,
    SCHEMA_PATTERN,
    overflowing_figures,
    parse_report_json,
    report_fields,
    report_to_dict,
)
from nlpfootprint.report_parts import (
    PARTIAL_COVERAGE,
    ChannelReport,
    JobInfo,
    Outcome,
    Projection,
)
from nlpfootprint.series import WARNING_PREFIX as SERIES_WARNING
from nlpfootprint.series import (
    IntensityArg,
    IntensitySeries,
    Weighting,
    as_series,
    segments_from_trace,
    weighted_intensity,
)
from nlpfootprint.totals import LedgerState, StepEnergy
from nlpfootprint.trace import TraceData
from nlpfootprint.units import format_duration, format_energy_j, format_mass_kg

if TYPE_CHECKING:
    from nlpfootprint.advice import Advice
    from nlpfootprint.equivalents import Equivalent, RegionResult

__all__ = [
    "PARTIAL_COVERAGE",
    "SCHEMA",
    "SCHEMA_PATTERN",
    "Assumptions",
    "Baseline",
    "ChannelReport",
    "JobInfo",
    "Outcome",
    "Projection",
    "Report",
    "StepEnergy",
]


def _finite(value: float) -> float | None:
    """``value``, or None when a ratio overflowed (JSON and the renderings take no inf)."""
    return value if math.isfinite(value) else None


def _optional_flops(value: object) -> float | None:
    return None if value is None else flops_value("flops", value, maximum=math.inf)


#: The figures proportional to energy, which a projection's band applies to.
_PROPORTIONAL = ("energy_j", "energy_kwh", "facility_energy_kwh", "co2e_kg", "co2e_lbs", "cost_usd")


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
        step_energy: How energy per step varied between sampling rounds.
        job: For a distributed job (``torchrun``, ``srun``, ``mpirun``), which job and
            which part of it: the whole job on rank 0, each device once, with the ranks
            that did not report (see :class:`~nlpfootprint.report_parts.JobInfo`).
        outcome: How the measured block or command ended (completed, raised, the command's
            exit status or signal); None when ``stop()`` was called without a ``with``
            block (see :class:`~nlpfootprint.report_parts.Outcome`).
        flops: Floating-point operations counted with ``tracker.step(flops=...)``; None
            when no step gave any.
        efficiency: How to read them: their method, the precision and any peak given
            (see :class:`~nlpfootprint.peaks.Efficiency`).
        baseline: The idle power of each channel, when the run was given one
            (``track_energy(baseline=...)``, :meth:`with_baseline`): the dynamic figures
            are counted above it (see :class:`~nlpfootprint.idle.Baseline`).

    Derived (properties): ``energy_j``, ``energy_kwh``, ``facility_energy_kwh``,
    ``co2e_kg``, ``co2e_lbs``, ``cost_usd``, ``mean_power_w``, ``energy_j_by_domain``,
    ``energy_j_by_host``, ``j_per_step``, ``j_per_token``, ``method``, ``coverage``,
    ``flops_per_j``, ``tokens_per_j``, ``peak``, ``mfu``, ``dynamic_energy_j``,
    ``dynamic_energy_kwh``, ``dynamic_co2e_kg``. The paper's figures (``energy_kwh``,
    ``co2e_kg``, ...) are always the total; the dynamic ones stand beside them.
    """

    duration_s: float = attrs.field(validator=amount)
    channels: tuple[ChannelReport, ...]
    assumptions: Assumptions = attrs.field(factory=Assumptions)
    steps: int = attrs.field(default=0, validator=count)
    tokens: int = attrs.field(default=0, validator=count)
    windows: tuple[Report, ...] = ()
    warnings: tuple[str, ...] = ()
    name: str | None = None
    count: int = attrs.field(default=1, validator=count)
    started_at: str | None = None
    interval_s: float | None = None
    trace: TraceData | None = None
    projection: Projection | None = None
    step_energy: StepEnergy | None = None
    job: JobInfo | None = None
    outcome: Outcome | None = None
    flops: float | None = attrs.field(default=None, converter=_optional_flops)
    efficiency: Efficiency = attrs.field(factory=Efficiency)
    baseline: Baseline | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(Baseline))
    )

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
    def dynamic_energy_j(self) -> float | None:
        """IT energy above the idle baseline in joules (None without a baseline): each
        channel's energy less its idle power x its duration, at least 0; a channel the
        baseline does not name counts in full."""
        return None if self.baseline is None else self.baseline.dynamic_j(self.channels)

    @property
    def dynamic_energy_kwh(self) -> float | None:
        """:attr:`dynamic_energy_j` in kWh (None without a baseline)."""
        dynamic = self.dynamic_energy_j
        return None if dynamic is None else accounting.joules_to_kwh(dynamic)

    @property
    def dynamic_co2e_kg(self) -> float | None:
        """The emissions of the dynamic energy, x PUE x carbon intensity, in kg CO2e
        (None without a baseline)."""
        dynamic = self.dynamic_energy_kwh
        if dynamic is None:
            return None
        a = self.assumptions
        return accounting.co2e_kg(
            accounting.facility_energy_kwh(dynamic, a.pue), a.intensity.g_per_kwh
        )

    @property
    def energy_j_by_domain(self) -> dict[str, float]:
        """IT energy per domain (``"cpu"``, ``"dram"``, ``"gpu"``, ``"other"``) present."""
        out: dict[str, float] = {}
        for c in self.channels:
            out[c.domain.value] = out.get(c.domain.value, 0.0) + c.energy_j
        return out

    @property
    def coverage(self) -> float:
        """The least share of the run any channel covered with readings on both sides
        (1.0 when every channel was read throughout; below
        :data:`~nlpfootprint.report_parts.PARTIAL_COVERAGE` the report is headed "partial")."""
        return min((c.coverage for c in self.channels), default=1.0)

    @property
    def energy_j_by_host(self) -> dict[str, float]:
        """IT energy per machine, from each channel's device (``"?"``: host not known)."""
        out: dict[str, float] = {}
        for c in self.channels:
            host = c.device.host if c.device is not None and c.device.host else "?"
            out[host] = out.get(host, 0.0) + c.energy_j
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
    def flops_per_j(self) -> float | None:
        """Counted FLOPs per IT joule; None without FLOPs or energy (or when the ratio
        overflows a float: a vanishing energy)."""
        energy = self.energy_j
        return _finite(self.flops / energy) if self.flops is not None and energy > 0 else None

    @property
    def tokens_per_j(self) -> float | None:
        """Counted tokens per IT joule; None without tokens or energy (or when the ratio
        overflows a float: a vanishing energy)."""
        energy = self.energy_j
        return _finite(self.tokens / energy) if self.tokens and energy > 0 else None

    @property
    def peak(self) -> Peak | None:
        """The peak FLOP rate MFU is measured against: ``peak_flops_per_s`` given, or the
        sum of the GPUs' peaks for the precision from the table; None when unknown."""
        return find_peak(self.efficiency, self.channels)[0]

    @property
    def mfu(self) -> float | None:
        """Model FLOPs utilisation: the FLOP rate achieved (FLOPs / duration) over
        :attr:`peak`; None without FLOPs, duration or a known peak."""
        peak = self.peak
        if self.flops is None or peak is None or self.duration_s <= 0:
            return None
        return _finite(self.flops / self.duration_s / peak.flops_per_s)

    @property
    def method(self) -> str:
        """Where the energy figures come from.

        ``measured`` (counters or sampled power only), ``estimated`` (estimates only),
        ``mixed`` (some estimated, or attributed: a shared GPU's measured energy split by
        an estimated share), or ``none`` when no channel produced a reading.
        """
        sources = {c.source for c in self.channels if c.energy_j or c.readings}
        if not sources:
            return "none"
        if sources == {"estimated"}:
            return "estimated"
        return "mixed" if sources & {"estimated", "attributed"} else "measured"

    # -- transformations -------------------------------------------------------------

    def with_assumptions(
        self,
        *,
        pue: float | None = None,
        carbon_intensity: IntensityArg = None,
        price_per_kwh: float | None = None,
    ) -> Report:
        """The same measurement accounted under other assumptions (None keeps the current).

        ``carbon_intensity`` may be an :class:`~nlpfootprint.series.IntensitySeries` (or
        the path of a CSV file of one): each interval's energy is then weighted by that
        interval's intensity (the report's power trace placed at its start time), and the
        report's intensity is the
        energy-weighted mean, with the plain mean and the series named in its source.
        Windows take the run's weighted mean.

        >>> from nlpfootprint.report import Report, ChannelReport
        >>> r = Report(3600.0, (ChannelReport("gpu:0", "gpu", "power", "sampled", "", 3.6e6),))
        >>> r.with_assumptions(pue=1.1, carbon_intensity=100).co2e_kg
        0.11000000000000001

        Raises:
            ConfigurationError: A series for a report without a power trace or a start
                time (an estimate, a projection, a sum of runs).
        """
        warnings = self.warnings
        if carbon_intensity is not None:  # the last series' warnings go with its figures
            warnings = tuple(w for w in warnings if not w.startswith(SERIES_WARNING))
        series = as_series(carbon_intensity)
        intensity: Intensity | float | str | None
        if series is not None:
            weighting = self.weighted_by(series)
            intensity = weighting.intensity
            warnings = (*warnings, *weighting.warnings)
        else:
            intensity = carbon_intensity  # type: ignore[assignment]  # not a series: a key
        new = self.assumptions.replaced(
            pue=pue, carbon_intensity=intensity, price_per_kwh=price_per_kwh
        )
        return attrs.evolve(
            self,
            assumptions=new,
            warnings=warnings,
            windows=tuple(
                w.with_assumptions(pue=pue, carbon_intensity=intensity, price_per_kwh=price_per_kwh)
                for w in self.windows
            ),
        )

    def with_baseline(self, baseline: Baseline | Mapping[str, float] | None) -> Report:
        """The same measurement with its dynamic energy counted above ``baseline``: a
        :class:`~nlpfootprint.idle.Baseline`, or a mapping of channel id to idle watts
        (taken as given); None removes it. Its windows take it too.

        The warnings about an earlier baseline give way to this one's: the channels it
        does not name (counted in full), the ids it names that the run has not, and each
        channel that drew less than its idle power (counted as 0).

        >>> gpu = ChannelReport("gpu:0", "gpu", "power", "sampled", "", 1000.0, duration_s=10.0)
        >>> Report(10.0, (gpu,)).with_baseline({"gpu:0": 62.0}).dynamic_energy_j  # 100 W
        380.0
        """
        if baseline is not None and not isinstance(baseline, Baseline):
            baseline = Baseline(power_map(baseline, "baseline"), "given")
        warnings = [w for w in self.warnings if not w.startswith(BASELINE_WARNING)]
        if baseline is not None:
            warnings += baseline.check(self)
        return attrs.evolve(_with_baseline(self, baseline), warnings=tuple(warnings))

    def weighted_by(self, series: IntensitySeries) -> Weighting:
        """This run's energy weighted by ``series`` over its wall-clock time: the
        energy-weighted mean intensity, the plain mean, and the share outside the series.

        Raises:
            ConfigurationError: No power trace or start time to place the energy in time
                (an estimate, a projection, a sum of runs), or a projected report.
        """
        if self.projection is not None:
            raise ConfigurationError(
                "an intensity series weights a measurement over its own time: weight the "
                "measured report, then project it"
            )
        return weighted_intensity(segments_from_trace(self.trace, self.started_at), series)

    def project(
        self,
        *,
        hours: float | None = None,
        steps: SupportsIndex | None = None,
        runs: float | None = None,
    ) -> Report:
        """Scale this measurement to another run -- the paper's extrapolation.

        Give one of ``hours`` (the whole run's wall time), ``steps`` (its number of steps;
        needs steps counted with ``tracker.step()``) or ``runs`` (this run repeated, as in
        the paper's Table 4: a tuning sweep of many runs, a whole R&D cycle). Power stays
        the same; energy, CO2e and cost scale. When the measurement saw energy per step vary
        between sampling intervals, :meth:`bounds` gives a band of +-1 standard deviation.

        Raises:
            ConfigurationError: Not exactly one target; a negative, NaN or infinite one;
                more than 10**18 steps; nothing measured to scale (no duration or no
                steps); or a target so large that a figure would not fit in a float.
            ConfigurationTypeError: ``steps`` is not a whole number (``1.5``), or
                ``hours``/``runs`` not a number.
        """
        if steps is not None:
            steps = whole_number("steps", steps, what="a whole number of steps", maximum=MAX_COUNT)
        factor = accounting.projection_factor(
            duration_s=self.duration_s,
            steps=self.steps,
            hours=hours,
            target_steps=steps,
            runs=runs,
        )
        basis = "hours" if hours is not None else "steps" if steps is not None else "runs"
        target = {"hours": hours, "steps": steps, "runs": runs}[basis]
        too_large = ConfigurationError(
            f"{basis}={target!r}: the projection would be too large for a float to hold "
            f"(x{factor:.3g} of what was measured)"
        )
        counts = (self.steps * factor, self.tokens * factor)
        flops = None if self.flops is None else self.flops * factor
        scaled = (factor, self.duration_s * factor, self.energy_j * factor, flops or 0.0)
        finite = all(math.isfinite(x) for x in scaled)  # the total bounds every channel
        if not finite or max(counts) > MAX_FLOAT_SAFE_INT:
            raise too_large
        spread = self.step_energy.relative_spread if self.step_energy is not None else None
        note = (
            f"projected from {format_duration(self.duration_s)} measured "
            f"({self.steps} steps) by x{factor:.6g} ({basis})"
        )
        if spread is not None:
            note += f"; energy per step varied by +-{100 * spread:.1f}% between intervals"
        projected = attrs.evolve(
            self,
            duration_s=self.duration_s * factor,
            channels=tuple(c.scaled(factor) for c in self.channels),
            steps=round(counts[0]),
            tokens=round(counts[1]),
            flops=flops,
            windows=(),
            trace=None,
            warnings=(*self.warnings, note),
            projection=Projection(basis, factor, self.duration_s, self.steps, spread),
            step_energy=None,
        )
        if overflowing_figures(projected):
            raise too_large
        return projected

    def bounds(self, figure: str) -> tuple[float, float]:
        """(low, high) of ``figure`` for a projected report; (value, value) otherwise.

        ``figure`` is one of the energy-proportional figures: ``energy_j``, ``energy_kwh``,
        ``facility_energy_kwh``, ``co2e_kg``, ``co2e_lbs``, ``cost_usd``.

        >>> from nlpfootprint.report import Report, ChannelReport, Projection
        >>> r = Report(3600.0, (ChannelReport("gpu:0", "gpu", "power", "sampled", "", 3.6e6),))
        >>> r.bounds("energy_kwh")
        (1.0, 1.0)
        """
        allowed = ", ".join(_PROPORTIONAL)
        if not isinstance(figure, str):
            raise ConfigurationTypeError(
                f"bounds(figure={figure!r}): expected a figure's name, one of {allowed}"
            )
        if figure not in _PROPORTIONAL:
            raise ConfigurationError(f"bounds(figure={figure!r}): expected one of {allowed}")
        value = getattr(self, figure)
        if value is None:
            raise ConfigurationError(f"bounds({figure!r}): no {figure} (no price_per_kwh given)")
        spread = self.projection.relative_spread if self.projection is not None else None
        if not spread:
            return (value, value)
        return (value * max(0.0, 1.0 - spread), value * (1.0 + spread))

    # -- building ----------------------------------------------------------------------

    @classmethod
    def from_ledger(cls, ledger: Ledger, end_t: float, **fields: Any) -> Report:
        """The report of a run whose readings went into ``ledger``, ending at ``end_t``:
        :meth:`from_state` of its state then, with its power trace. One function for a live
        run and a replayed run log alike."""
        return cls.from_state(ledger.state(end_t), end_t, trace=ledger.trace_data(), **fields)

    @classmethod
    def from_state(
        cls,
        state: LedgerState,
        end_t: float,
        *,
        assumptions: Assumptions,
        warnings: Sequence[str] = (),
        **fields: Any,
    ) -> Report:
        """The report of a ledger's ``state`` (one ledger's, or several merged) for a run
        ending at ``end_t``.

        ``warnings`` come first, then the state's own about gaps and counter resets;
        ``fields`` are the other attributes (``name``, ``windows``, ``trace``, ...).
        """
        start = state.first_t if state.first_t is not None else end_t
        duration = max(end_t - start, 0.0)
        return cls(
            duration_s=duration,
            channels=tuple(
                ChannelReport.of(c, t, duration)
                for c, t in zip(state.channels, state.totals.channels, strict=True)
            ),
            assumptions=assumptions,
            steps=state.totals.steps,
            tokens=state.totals.tokens,
            flops=state.totals.flops,
            warnings=(*warnings, *state.warnings(end_t)),
            step_energy=state.step_stats.energy(),
            **fields,
        )

    # -- serialisation (the layout: nlpfootprint.report_dict) -------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the raw quantities *and* the derived figures.

        :meth:`from_dict` reads it back (the derived figures are recomputed, not trusted).
        """
        return report_to_dict(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """Rebuild a report from :meth:`to_dict` output (schema 2, or 1 from older versions).

        Raises:
            ReportFormatError: ``data`` is not a report dict of a schema this version reads,
                or one with missing or impossible values, or windows nested deeper than
                ``MAX_WINDOW_DEPTH`` (100).
        """
        return cls._from_dict(data, 0)

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any], depth: int) -> Report:
        if depth > MAX_WINDOW_DEPTH:
            raise ReportFormatError(
                f"malformed report dict: windows nested deeper than {MAX_WINDOW_DEPTH} levels"
            )
        fields = report_fields(data)
        windows = tuple(cls._from_dict(w, depth + 1) for w in fields.pop("windows"))
        try:
            return cls(**fields, windows=windows)
        except (TypeError, ValueError, ArithmeticError, NlpFootprintError) as err:
            raise ReportFormatError(f"malformed report dict: {err!r}") from err

    @classmethod
    def from_json(cls, text: str | bytes | bytearray) -> Report:
        """Rebuild a report from :meth:`to_json` output.

        Raises:
            ReportFormatError: ``text`` is not JSON, is longer than ``MAX_JSON_BYTES``
                (64 MiB) or nested deeper than ``MAX_JSON_DEPTH`` (256), or is not a report
                (see :meth:`from_dict`).
        """
        return cls.from_dict(parse_report_json(text))

    # -- shortcuts: one-line lazy delegates, the only upward imports -------------------

    @classmethod
    def from_log(
        cls,
        path: str | os.PathLike[str],
        *,
        pue: float | None = None,
        carbon_intensity: IntensityArg = None,
        price_per_kwh: float | None = None,
        from_samples: bool = False,
    ) -> Report:
        """The report of a run log (``track_energy(log=...)``), re-accounted where given:
        see :func:`nlpfootprint.runlog.report_from_log`."""
        from nlpfootprint.runlog import report_from_log

        return report_from_log(
            path,
            pue=pue,
            carbon_intensity=carbon_intensity,
            price_per_kwh=price_per_kwh,
            from_samples=from_samples,
        )

    def equivalents(self) -> tuple[Equivalent, ...]:
        """This report's CO2e as everyday activities: the paper's Table 1, then current ones.

        >>> r = Report(3600.0, (ChannelReport("gpu:0", "gpu", "power", "sampled", "", 3.6e9),))
        >>> str(r.equivalents()[0]).startswith("0.")
        True
        """
        from nlpfootprint.equivalents import equivalents

        return equivalents(self.co2e_kg)

    def compare_regions(self, keys: Sequence[str | float]) -> tuple[RegionResult, ...]:
        """The same run's CO2e on other grids, e.g. ``["USA", "FRA", "DEU", "CHN"]``."""
        from nlpfootprint.equivalents import compare_regions

        return compare_regions(self, keys)

    def advise(
        self,
        *,
        series: IntensitySeries | None = None,
        regions: Sequence[str | float] | None = None,
    ) -> Advice:
        """When (``series``: every start where the run fits) and where (``regions``: their
        yearly figures) the same run would emit least: see :func:`nlpfootprint.advice.advise`.
        """
        from nlpfootprint.advice import advise

        return advise(self, series=series, regions=regions)

    def __str__(self) -> str:
        from nlpfootprint.render.text import render_text

        return render_text(self)

    def to_markdown(self) -> str:
        """The report as Markdown: figures, channels, windows, assumptions, warnings."""
        from nlpfootprint.render.markdown import render_markdown

        return render_markdown(self)

    def to_latex(self, *, label: str | None = None) -> str:
        """A LaTeX ``booktabs`` table (``\\label{label}``, by default from the run's name)
        and a ready sentence for a paper."""
        from nlpfootprint.render.latex import render_latex

        return render_latex(self, label=label)

    def to_csv_row(self) -> str:
        """One CSV line of figures and assumptions, under :meth:`csv_header`."""
        from nlpfootprint.render.csv_row import render_csv_row

        return render_csv_row(self)

    @staticmethod
    def csv_header() -> str:
        """The header line for :meth:`to_csv_row`."""
        from nlpfootprint.render.csv_row import render_csv_header

        return render_csv_header()

    def _repr_html_(self) -> str:
        from nlpfootprint.render.html import render_html

        return render_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's plain display: one line of the main figures (``print(report)``: all)."""
        name = f" {self.name!r}" if self.name else ""
        per_token = f", {format_energy_j(self.j_per_token)}/token" if self.j_per_token else ""
        p.text(
            f"<Report{name}: {format_energy_j(self.energy_j)} ({self.method}) in "
            f"{format_duration(self.duration_s)}, {format_mass_kg(self.co2e_kg)} CO2e, "
            f"{self.steps:,} step{'' if self.steps == 1 else 's'}{per_token}>"
        )

    def plot(self, path: str | os.PathLike[str] | None = None, *, ax: Any = None) -> Any:
        """Power over time per domain with energy so far (needs ``nlpfootprint[plot]``).

        Saves a PNG (or any format matplotlib knows by the suffix) when ``path`` is given,
        draws into ``ax`` when given, and returns the matplotlib Figure.
        """
        from nlpfootprint.render.plot import plot_report

        return plot_report(self, path, ax=ax)


def _with_baseline(report: Report, baseline: Baseline | None) -> Report:
    """``report`` and its windows, at every level, with ``baseline`` (warnings as they are)."""
    return attrs.evolve(
        report,
        baseline=baseline,
        windows=tuple(_with_baseline(w, baseline) for w in report.windows),
    )
