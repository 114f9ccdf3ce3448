"""Carbon intensity over time: a grid's hourly (or finer) figures, read from a local file.

A grid's intensity swings by a factor of two or more within a day, so a run's CO2e is the
energy of each interval times *that interval's* intensity, not the run's energy times a
yearly average. An :class:`IntensitySeries` holds (UTC time, g/kWh) steps: each value holds
from its timestamp to the next one, and the last for the series' typical step (the median
spacing). :func:`weighted_intensity` weights a run's energy profile by it and gives the
energy-weighted mean as an :class:`~nlpfootprint.intensity.Intensity`, so that every figure
downstream (CO2e, lbs, the renderings) is the energy-weighted one:
``sum(energy_i * intensity_i) == energy * weighted_mean`` exactly.

Energy outside the series (a run that starts before it or outlasts it) is weighted by the
series' fallback, a yearly figure, and said so in a warning.

Files are read from disk only; nothing is ever fetched. The accepted layouts
(:meth:`IntensitySeries.from_csv`):

- ``timestamp,g_per_kwh``: ISO 8601 times (``2024-05-01T13:00:00Z``; an offset is
  converted to UTC; a time without one is read as UTC), values in g CO2e/kWh;
- an Electricity Maps export (its data portal's CSV: ``Datetime (UTC)``, ...,
  ``Carbon Intensity gCO₂eq/kWh (life cycle assessment)``, ...): the life-cycle column by
  default (the basis of the shipped tables), the direct one with ``column="direct"``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import os
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeAlias

import attrs

from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError
from nlpfootprint.intensity import DEFAULT_INTENSITY, Intensity, carbon_intensity
from nlpfootprint.series_csv import iso, parse_time, read_series_csv
from nlpfootprint.trace import TraceData

__all__ = [
    "SERIES_BASES",
    "WARNING_PREFIX",
    "IntensityArg",
    "IntensitySeries",
    "as_series",
    "Segment",
    "Weighting",
    "parse_time",
    "segments_from_trace",
    "weighted_co2_g_per_kwh",
    "weighted_intensity",
]

#: What a series' values mean: the grid's average intensity, or the marginal one (the
#: intensity of the generation that a change in demand would have added).
SERIES_BASES = ("average", "marginal")

#: How a warning about a series begins (re-accounting replaces the earlier ones).
WARNING_PREFIX = "intensity series: "

PathArg = str | os.PathLike[str]


@attrs.frozen
class Segment:
    """A run's energy over one interval of wall-clock time (UTC seconds)."""

    start: float
    end: float
    energy_j: float


@attrs.frozen(eq=False)
class IntensitySeries:
    """Grid carbon intensity over time: each value holds from its time to the next.

    Build one with :meth:`from_csv` or :meth:`from_pairs`.

    Attributes:
        times: The steps' start times, seconds since the epoch (UTC), increasing.
        g_per_kwh: The value of each step, g CO2e/kWh.
        end: When the last value stops holding (its time plus the median step).
        source: Where the figures come from (the file, or what the user said).
        basis: ``"average"`` or ``"marginal"``.
        fallback: The yearly figure for energy outside the series.
    """

    times: tuple[float, ...]
    g_per_kwh: tuple[float, ...]
    end: float
    source: str
    basis: str = "average"
    fallback: Intensity = DEFAULT_INTENSITY

    def __attrs_post_init__(self) -> None:
        if self.basis not in SERIES_BASES:
            raise ConfigurationError(
                f"basis={self.basis!r}: expected one of {', '.join(SERIES_BASES)}"
            )
        if not self.times or len(self.times) != len(self.g_per_kwh):
            raise ConfigurationError("an intensity series needs at least one (time, value) pair")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ConfigurationError("an intensity series' times must increase strictly")
        if self.end <= self.times[-1]:
            raise ConfigurationError("an intensity series must end after its last time")

    # -- building ---------------------------------------------------------------------

    @classmethod
    def from_pairs(
        cls,
        pairs: Iterable[tuple[object, object]],
        *,
        source: str = "given by the user",
        basis: str = "average",
        fallback: Intensity | float | str | None = None,
        step_s: float | None = None,
    ) -> IntensitySeries:
        """A series from (time, g/kWh) pairs, in any order (times as :func:`parse_time`
        reads them). ``step_s`` is how long the last value holds (default: the median
        spacing; one hour for a single value). ``fallback`` is the yearly figure for
        energy outside the series (a key such as ``"FRA"``, a number, an ``Intensity``;
        default: the world average).

        Raises:
            ConfigurationError: No pairs, a time given twice, a value out of range.
        """
        points: dict[float, float] = {}
        for i, pair in enumerate(pairs):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise ConfigurationTypeError(
                    f"entry {i}: expected a (time, g/kWh) pair, got {pair!r:.60}"
                )
            t = parse_time(pair[0], f"entry {i}: time")
            if t in points:
                raise ConfigurationError(f"the time {iso(t)} is given twice (entry {i})")
            try:
                value = Intensity(pair[1]).g_per_kwh
            except (ConfigurationError, ConfigurationTypeError) as err:
                raise ConfigurationError(f"entry {i} ({iso(t)}): {err}") from None
            points[t] = value
        if not points:
            raise ConfigurationError(f"no (time, value) rows in {source}")
        times = sorted(points)
        if step_s is None:
            spacing = [b - a for a, b in itertools.pairwise(times)]
            step_s = statistics.median(spacing) if spacing else 3600.0
        elif not (isinstance(step_s, int | float) and math.isfinite(step_s) and step_s > 0):
            raise ConfigurationError(f"step_s={step_s!r}: expected a number of seconds > 0")
        return cls(
            times=tuple(times),
            g_per_kwh=tuple(points[t] for t in times),
            end=times[-1] + float(step_s),
            source=source,
            basis=basis,
            fallback=carbon_intensity(fallback) if fallback is not None else DEFAULT_INTENSITY,
        )

    @classmethod
    def from_csv(
        cls,
        path: PathArg,
        *,
        column: str | None = None,
        basis: str | None = None,
        fallback: Intensity | float | str | None = None,
    ) -> IntensitySeries:
        """Read a series from a local CSV file (the layouts in the module docstring).

        Args:
            path: The file (read locally; never fetched).
            column: Which value column: a header name, or ``"direct"`` / ``"life cycle"``
                for an Electricity Maps export (default: life cycle).
            basis: ``"average"`` or ``"marginal"``; default ``"marginal"`` when the value
                column's name says marginal, else ``"average"``.
            fallback: The yearly figure for energy outside the series.

        Raises:
            ConfigurationError: The file cannot be read, or is not a series this reads: one
                line naming the file, the line and what is wrong.
        """
        path = Path(path)
        pairs, column_name, basis = read_series_csv(path, column=column, basis=basis)
        try:
            return cls.from_pairs(
                pairs,
                source=f"{path.name} ({column_name})",
                basis=basis,
                fallback=fallback,
            )
        except (ConfigurationError, ConfigurationTypeError) as err:
            raise ConfigurationError(f"intensity series {path}: {err}") from None

    # -- reading ----------------------------------------------------------------------

    @property
    def start(self) -> float:
        """When the first value starts holding (UTC seconds)."""
        return self.times[0]

    def value_at(self, t: float) -> float | None:
        """The value holding at ``t`` (UTC seconds), or None outside the series."""
        if t < self.times[0] or t >= self.end:
            return None
        return self.g_per_kwh[bisect.bisect_right(self.times, t) - 1]

    def mean_between(self, start: float, end: float) -> float | None:
        """The plain (time-weighted) mean over ``start..end`` where the series holds."""
        total = covered = 0.0
        for lo, hi, value in self.steps_between(start, end):
            total += (hi - lo) * value
            covered += hi - lo
        return total / covered if covered > 0 else None

    def steps_between(self, start: float, end: float) -> Iterable[tuple[float, float, float]]:
        """(lo, hi, value) of each step overlapping ``start..end``, clipped to it."""
        if end <= self.times[0] or start >= self.end:
            return
        i = max(bisect.bisect_right(self.times, start) - 1, 0)
        while i < len(self.times):
            lo = max(self.times[i], start)
            hi = min(self.times[i + 1] if i + 1 < len(self.times) else self.end, end)
            if lo >= end:
                break
            if hi > lo:
                yield lo, hi, self.g_per_kwh[i]
            i += 1

    def describe(self) -> str:
        """E.g. ``grid.csv (g_per_kwh), 2024-05-01T00:00:00Z..2024-05-08T00:00:00Z, average
        basis``."""
        return f"{self.source}, {iso(self.start)}..{iso(self.end)}, {self.basis} basis"

    def long_gaps(self, start: float, end: float) -> list[tuple[float, float]]:
        """The steps overlapping ``start..end`` that hold more than twice the usual step
        (a gap in the data, over which the value before it was carried on)."""
        usual = self.end - self.times[-1]
        edges = [*self.times, self.end]
        return [
            (lo, hi)
            for lo, hi in itertools.pairwise(edges)
            if hi - lo > 2 * usual and hi > start and lo < end
        ]


#: What ``carbon_intensity=`` takes: a number, a key, an Intensity, a series or the
#: path of a series' CSV file, or None (the default).
IntensityArg: TypeAlias = Intensity | float | str | IntensitySeries | os.PathLike[str] | None


@attrs.frozen
class Weighting:
    """A run's energy weighted by a series: the figures a report shows about it.

    Attributes:
        intensity: The energy-weighted mean, as the report's intensity.
        plain_mean_g_per_kwh: The time-weighted mean of the series over the run.
        outside_share: The share of the energy outside the series (weighted by the
            fallback instead).
        warnings: What a reader must know (energy outside the series).
    """

    intensity: Intensity
    plain_mean_g_per_kwh: float | None
    outside_share: float
    warnings: tuple[str, ...] = ()


def weighted_co2_g_per_kwh(segments: Sequence[Segment], series: IntensitySeries) -> float:
    """sum(energy_i * intensity_i) / sum(energy_i): each segment's energy is spread evenly
    over its time and split between the steps it overlaps; energy outside the series is
    weighted by the fallback. 0 energy gives the fallback."""
    return _weigh(segments, series)[0]


def _weigh(segments: Sequence[Segment], series: IntensitySeries) -> tuple[float, float, float]:
    """(weighted mean, energy in joules, energy outside the series in joules)."""
    weighted = energy = outside = 0.0
    fallback = series.fallback.g_per_kwh
    for seg in segments:
        if seg.energy_j <= 0:
            continue
        energy += seg.energy_j
        width = seg.end - seg.start
        if width <= 0:  # an instant: the value at it
            value = series.value_at(seg.start)
            weighted += seg.energy_j * (fallback if value is None else value)
            outside += seg.energy_j if value is None else 0.0
            continue
        inside = 0.0
        for lo, hi, value in series.steps_between(seg.start, seg.end):
            share = seg.energy_j * (hi - lo) / width
            weighted += share * value
            inside += share
        weighted += (seg.energy_j - inside) * fallback
        outside += seg.energy_j - inside
    if energy <= 0:
        return fallback, 0.0, 0.0
    return weighted / energy, energy, max(outside, 0.0)


def weighted_intensity(segments: Sequence[Segment], series: IntensitySeries) -> Weighting:
    """The energy-weighted intensity of a run's energy ``segments`` under ``series``.

    Raises:
        ConfigurationError: No segments (a report without a power trace or start time).
    """
    if not segments:
        raise ConfigurationError(
            "an intensity series needs the run's energy over time: a measured report with "
            "its power trace and start time (an estimate or a projection has none)"
        )
    mean, energy, outside = _weigh(segments, series)
    start, end = segments[0].start, max(s.end for s in segments)
    plain = series.mean_between(start, end)
    share = outside / energy if energy > 0 else 0.0
    warnings = [
        f"{WARNING_PREFIX}the series has no value from {iso(lo)} to {iso(hi)} (a gap "
        "in the data): the value before the gap was carried over it"
        for lo, hi in series.long_gaps(start, end)
    ]
    if share > 0:
        warnings.append(
            f"{WARNING_PREFIX}{100 * share:.1f}% of the energy fell outside the series "
            f"({iso(series.start)}..{iso(series.end)}; the run {iso(start)}..{iso(end)}): "
            f"weighted by the yearly figure {series.fallback.describe()} instead"
        )
    plain_text = f"{plain:.4g} g/kWh" if plain is not None else "none (the run is outside it)"
    intensity = Intensity(
        g_per_kwh=mean,
        source=f"energy-weighted mean of the series {series.describe()}; plain mean over the run "
        f"{plain_text}"
        + (f"; {100 * share:.1f}% of the energy outside it at the yearly figure" if share else ""),
        year=dt.datetime.fromtimestamp(start, dt.UTC).year,
        basis=f"{series.basis}, energy-weighted over time",
        key="series",
    )
    return Weighting(intensity, plain, share, tuple(warnings))


def as_series(value: object) -> IntensitySeries | None:
    """``value`` as a series when it is one: an :class:`IntensitySeries`, or the path of a
    CSV file (a ``PathLike``, or a string ending in ``.csv``: no grid key does); else None.

    Raises:
        ConfigurationError: The file cannot be read as a series.
    """
    if isinstance(value, IntensitySeries):
        return value
    if isinstance(value, os.PathLike) or (
        isinstance(value, str) and value.strip().lower().endswith(".csv")
    ):
        return IntensitySeries.from_csv(os.fspath(value).strip())
    return None


def segments_from_trace(trace: TraceData | None, started_at: str | None) -> list[Segment]:
    """A run's energy over wall-clock time: each bin of its power trace, placed at the
    run's start time plus the bin's time since the start (so a run on a ``FakeClock`` is
    placed at the real time it started). Empty without a trace or a start time."""
    if trace is None or not started_at:
        return []
    origin = parse_time(started_at, "started_at")
    segments = []
    for i, (start, width) in enumerate(zip(trace.start_s, trace.width_s, strict=True)):
        energy = math.fsum(width * series[i] for series in trace.power_w.values())
        segments.append(Segment(origin + start, origin + start + width, energy))
    return segments
