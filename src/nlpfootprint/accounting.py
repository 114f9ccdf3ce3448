"""Pure accounting: joules in, kWh, CO2e and money out.

Nothing here does I/O, reads a clock or keeps global state, so the same functions serve a
live run, a saved log and a what-if estimate. Arrays go through vectorised numpy (imported
when an array function is first called: the tracking path never needs it); the tracker
uses the incremental integrators (:class:`PowerIntegrator`,
:class:`CounterIntegrator`) so its memory stays constant however long a run lasts.

The method is Strubell, Ganesh & McCallum (ACL 2019), Eq. 1 and 2, generalised:

* IT energy = the sum over channels of their measured joules;
* facility energy = IT energy x PUE;
* CO2e = facility kWh x carbon intensity (g/kWh);
* electricity cost = facility kWh x price per kWh;
* projection = measured quantity x (target hours / measured hours), or x (target steps /
  measured steps) -- the paper's "measure a while, multiply by the training time".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nlpfootprint.checks import nonnegative, positive, pue_value
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.units import J_PER_KWH, LBS_PER_KG

__all__ = [
    "J_PER_KWH",
    "LBS_PER_KG",
    "CounterIntegrator",
    "PowerIntegrator",
    "WeightedStats",
    "co2e_kg",
    "counter_deltas_j",
    "counter_energy_j",
    "electricity_cost",
    "facility_energy_kwh",
    "joules_to_kwh",
    "kg_to_lbs",
    "kwh_to_joules",
    "mean_power_w",
    "paper_energy_kwh",
    "projection_factor",
    "trapezoid_energy_j",
    "unwrap",
]


if TYPE_CHECKING:  # numpy is imported by the array functions when first called
    import numpy as np
    import numpy.typing as npt

    ArrayLike = Sequence[float] | npt.NDArray[np.floating]


def _as_1d(name: str, values: ArrayLike) -> npt.NDArray[np.float64]:
    import numpy as np

    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ConfigurationError(f"{name} must hold numbers: {err}") from None
    if array.ndim != 1:
        raise ConfigurationError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = float(array[~np.isfinite(array)][0])
        raise ConfigurationError(f"{name} contains {bad!r}; every value must be finite")
    return array


def trapezoid_energy_j(times_s: ArrayLike, power_w: ArrayLike) -> float:
    """Integrate power samples over their real timestamps with the trapezoid rule.

    Args:
        times_s: Sample times in seconds, non-decreasing (any origin).
        power_w: Power at each time, in watts.

    Returns:
        Energy in joules. Fewer than two samples give 0.0.

    >>> trapezoid_energy_j([0.0, 1.0, 3.0], [100.0, 100.0, 200.0])
    400.0
    """
    import numpy as np

    t = _as_1d("times_s", times_s)
    p = _as_1d("power_w", power_w)
    if t.shape != p.shape:
        raise ConfigurationError(
            f"times_s has {t.size} values but power_w has {p.size}; they must pair up"
        )
    if t.size < 2:
        return 0.0
    dt = np.diff(t)
    if np.any(dt < 0):
        raise ConfigurationError("times_s must be non-decreasing")
    return float(np.sum(dt * (p[1:] + p[:-1]) * 0.5))


def counter_deltas_j(
    counter_values: ArrayLike, max_range: float | None = None
) -> npt.NDArray[np.float64]:
    """Energy between consecutive reads of a cumulative counter, never negative.

    A reading lower than the one before means the counter wrapped (when ``max_range`` is
    given: the delta is ``value - previous + max_range``) or was reset to zero (when it is
    not: the delta is the new value, a lower bound).
    """
    import numpy as np

    values = _as_1d("counter_values", counter_values)
    upper = np.inf if max_range is None else positive("max_range", max_range)
    if values.size and (np.any(values < 0) or np.any(values > upper)):
        raise ConfigurationError(
            f"counter values must lie in [0, max_range={max_range}]; got "
            f"{values.min()}..{values.max()}"
        )
    deltas = np.diff(values)
    wrapped = deltas < 0
    if max_range is not None:
        deltas[wrapped] += max_range
    else:
        deltas[wrapped] = values[1:][wrapped]
    return deltas


def unwrap(counter_values: ArrayLike, max_range: float) -> npt.NDArray[np.float64]:
    """Undo the wraparound of a counter that returns to 0 after ``max_range``.

    Assumes at most one wrap between consecutive reads (sample faster than the counter can
    wrap at full power). The result starts at the first reading and never decreases.

    >>> unwrap([900.0, 50.0, 100.0], max_range=1000.0).tolist()
    [900.0, 1050.0, 1100.0]
    """
    import numpy as np

    values = _as_1d("counter_values", counter_values)
    deltas = counter_deltas_j(values, positive("max_range", max_range))
    if values.size == 0:
        return values
    out = np.empty_like(values)
    out[0] = values[0]
    np.cumsum(deltas, out=out[1:])
    out[1:] += values[0]
    return out


def counter_energy_j(counter_values: ArrayLike, max_range: float | None = None) -> float:
    """Total energy seen by a cumulative counter between its first and last reading."""
    import numpy as np

    return float(np.sum(counter_deltas_j(counter_values, max_range)))


def joules_to_kwh(energy_j: float) -> float:
    """Convert joules to kilowatt-hours (1 kWh = 3.6 MJ)."""
    return energy_j / J_PER_KWH


def kwh_to_joules(energy_kwh: float) -> float:
    """Convert kilowatt-hours to joules."""
    return energy_kwh * J_PER_KWH


def kg_to_lbs(mass_kg: float) -> float:
    """Convert kilograms to pounds (the paper reports CO2e in lbs)."""
    return mass_kg * LBS_PER_KG


def facility_energy_kwh(it_energy_kwh: float, pue: float) -> float:
    """Energy drawn by the whole facility: IT energy x power usage effectiveness."""
    return nonnegative("it_energy_kwh", it_energy_kwh) * pue_value(pue)


def co2e_kg(facility_kwh: float, g_per_kwh: float) -> float:
    """Emissions in kg CO2-equivalent: facility kWh x grid intensity (g/kWh) / 1000."""
    return nonnegative("facility_kwh", facility_kwh) * nonnegative("g_per_kwh", g_per_kwh) / 1000.0


def electricity_cost(facility_kwh: float, price_per_kwh: float) -> float:
    """Electricity cost: facility kWh x price per kWh (in the price's currency)."""
    return nonnegative("facility_kwh", facility_kwh) * nonnegative("price_per_kwh", price_per_kwh)


def mean_power_w(energy_j: float, duration_s: float) -> float:
    """Average power over a duration; 0.0 for an empty duration."""
    duration_s = nonnegative("duration_s", duration_s)
    return energy_j / duration_s if duration_s > 0 else 0.0


def projection_factor(
    *,
    duration_s: float,
    steps: int = 0,
    hours: float | None = None,
    target_steps: int | None = None,
    runs: float | None = None,
) -> float:
    """How much to multiply a measurement by to stand for a longer (or shorter) run.

    Give exactly one of ``hours`` (target wall time), ``target_steps`` (target number of
    optimisation steps; needs ``steps`` > 0 measured) or ``runs`` (this whole run repeated,
    the paper's Table 4: a tuning sweep, an R&D cycle).

    >>> projection_factor(duration_s=1800.0, hours=84)
    168.0
    >>> projection_factor(duration_s=60.0, steps=100, target_steps=1_000_000)
    10000.0
    """
    if sum(x is not None for x in (hours, target_steps, runs)) != 1:
        raise ConfigurationError(
            "give exactly one target to project to: hours, a number of steps, or runs"
        )
    duration_s = nonnegative("duration_s", duration_s)
    if runs is not None:
        return nonnegative("runs", runs)
    if hours is not None:
        target_s = nonnegative("hours", hours) * 3600.0
        if duration_s <= 0:
            raise ConfigurationError(
                "cannot project by hours: the measurement lasted 0 s, so it has no rate"
            )
        return target_s / duration_s
    assert target_steps is not None
    nonnegative("steps", target_steps)
    if steps <= 0:
        raise ConfigurationError(
            "cannot project by steps: no steps were counted; call tracker.step() in the loop"
        )
    return target_steps / steps


def paper_energy_kwh(
    *,
    hours: float,
    cpu_power_w: float = 0.0,
    dram_power_w: float = 0.0,
    gpu_power_w: float = 0.0,
    gpu_count: int = 1,
    pue: float = 1.58,
) -> float:
    """Strubell et al. (2019) Eq. 1: p_t = PUE * t * (p_c + p_r + g * p_g) / 1000 [kWh].

    ``gpu_power_w`` is the average power of *one* GPU; ``hours`` is the training time.

    >>> round(paper_energy_kwh(hours=84, gpu_power_w=1515.43 / 8, gpu_count=8), 2)
    201.13
    """
    total_w = (
        nonnegative("cpu_power_w", cpu_power_w)
        + nonnegative("dram_power_w", dram_power_w)
        + nonnegative("gpu_count", gpu_count) * nonnegative("gpu_power_w", gpu_power_w)
    )
    return pue_value(pue) * nonnegative("hours", hours) * total_w / 1000.0


class PowerIntegrator:
    """Running trapezoid integral of power samples: O(1) memory.

    >>> integ = PowerIntegrator()
    >>> [integ.add(t, 100.0) for t in (10.0, 11.0, 13.0)]
    [0.0, 100.0, 200.0]
    >>> integ.energy_j
    300.0
    """

    __slots__ = ("energy_j", "last_t", "last_w")

    def __init__(self) -> None:
        self.energy_j = 0.0
        self.last_t: float | None = None
        self.last_w = 0.0

    def add(self, t: float, power_w: float) -> float:
        """Add a sample; return the energy (J) since the previous sample."""
        delta = 0.0
        if self.last_t is not None:
            if t < self.last_t:
                raise ConfigurationError(f"time went backwards: {t!r} after {self.last_t!r}")
            delta = (t - self.last_t) * (power_w + self.last_w) * 0.5
            self.energy_j += delta
        self.last_t = t
        self.last_w = power_w
        return delta


class CounterIntegrator:
    """Running sum of the deltas of a cumulative energy counter, unwrapping as it goes.

    A reading lower than the one before is a wrap when ``max_range`` is known, else a reset
    (a driver reload, say): the delta is then the new value, a lower bound, and ``resets``
    counts it.

    With ``bound_w``, the most power the device can draw, every reading is judged by what
    was physically possible since the one before: at most ``bound_w x (elapsed +
    slack_s)`` joules.

    * A rise beyond that is refused: :meth:`add` returns None and counts nothing.
    * A reading lower than the one before is a wrap only if the wrap's energy was
      possible; else a reset, if the new value itself was possible since a reset; else it
      is refused too.
    * After a refusal, the next reading is judged against the last one accepted (a one-off
      glitch is then bridged exactly: the counter's difference covers the whole span) and,
      failing that, against the refused one: a counter that stays at its new level is
      re-based there (``rebased`` counts it), the energy between the last reading accepted
      and the refused one being lost.

    >>> integ = CounterIntegrator(max_range=1000.0)
    >>> [integ.add(t, v) for t, v in ((0.0, 900.0), (1.0, 50.0), (2.0, 100.0))]
    [0.0, 150.0, 50.0]
    >>> integ = CounterIntegrator(max_range=1000.0, bound_w=100.0)
    >>> [integ.add(t, v) for t, v in ((0.0, 900.0), (1.0, 50.0), (2.0, 100.0))]
    [0.0, 50.0, 50.0]
    >>> integ.resets  # 150 J in 1 s is beyond 100 W: not a wrap, a reset
    1
    """

    __slots__ = (
        "bound_w",
        "energy_j",
        "last_t",
        "last_value",
        "max_range",
        "pending",
        "rebased",
        "resets",
        "slack_s",
        "span_t",
    )

    def __init__(
        self,
        max_range: float | None = None,
        *,
        bound_w: float | None = None,
        slack_s: float = 0.0,
    ) -> None:
        self.max_range = None if max_range is None else positive("max_range", max_range)
        self.bound_w = None if bound_w is None else positive("bound_w", bound_w)
        self.slack_s = nonnegative("slack_s", slack_s)
        self.energy_j = 0.0
        self.last_t: float | None = None
        self.last_value = 0.0
        self.resets = 0
        self.rebased = 0
        #: The refused reading a counter may have moved to, ``(t, value)``.
        self.pending: tuple[float, float] | None = None
        #: Where the span of the latest delta began (the previous reading, or a re-base).
        self.span_t: float | None = None

    def possible_j(self, seconds: float) -> float:
        """The most energy the device can have drawn in ``seconds`` (inf: no bound)."""
        if self.bound_w is None:
            return math.inf
        return self.bound_w * (max(seconds, 0.0) + self.slack_s)

    def _step(
        self, from_t: float, from_j: float, t: float, value_j: float
    ) -> tuple[float, bool] | None:
        """(energy, whether the counter was reset) from one reading to another, or None
        when no way from one to the other is possible."""
        most = self.possible_j(t - from_t)
        delta = value_j - from_j
        if delta >= 0:
            return (delta, False) if delta <= most else None
        if self.max_range is not None and delta + self.max_range <= most:
            return delta + self.max_range, False
        return (value_j, True) if value_j <= most else None

    def add(self, t: float, value_j: float) -> float | None:
        """Add a counter reading; return the energy (J) since the previous reading, or None
        when the reading is refused as impossible (see the class docstring)."""
        if self.last_t is None:
            self.last_t, self.last_value, self.span_t = t, value_j, t
            return 0.0
        start = self.last_t
        step = self._step(start, self.last_value, t, value_j)
        if step is None and self.pending is not None:
            step = self._step(*self.pending, t, value_j)
            if step is not None:
                start = self.pending[0]
                self.rebased += 1
        if step is None:
            self.pending = (t, value_j)
            return None
        self.pending = None
        delta, reset = step
        self.resets += reset
        self.energy_j += delta
        self.last_t, self.last_value, self.span_t = t, value_j, start
        return delta


class WeightedStats:
    """Running weighted mean and standard deviation (West's algorithm): O(1) memory.

    >>> stats = WeightedStats()
    >>> for x, w in ((1.0, 1.0), (3.0, 1.0)):
    ...     stats.add(x, w)
    >>> stats.mean, stats.std
    (2.0, 1.0)
    """

    __slots__ = ("count", "mean", "sum_sq", "weight")

    def __init__(self) -> None:
        self.count = 0
        self.weight = 0.0
        self.mean = 0.0
        self.sum_sq = 0.0

    def add(self, value: float, weight: float = 1.0) -> None:
        """Add ``value`` with ``weight`` (> 0)."""
        if weight <= 0:
            return
        self.count += 1
        self.weight += weight
        delta = value - self.mean
        self.mean += delta * weight / self.weight
        self.sum_sq += weight * delta * (value - self.mean)

    @property
    def std(self) -> float:
        """Weighted population standard deviation (0.0 with fewer than two values)."""
        return math.sqrt(max(self.sum_sq, 0.0) / self.weight) if self.count > 1 else 0.0
