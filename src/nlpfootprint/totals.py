"""The frozen values a :class:`~nlpfootprint.ledger.Ledger` gives: totals per channel, the
step statistics, and a whole state that merges with another.

Kept apart from the running ledger so that a state sent between processes, or saved, is
plain data: it needs no lock, no meter and no trace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters.base import Channel

__all__ = [
    "ChannelTotals",
    "LedgerState",
    "StepEnergy",
    "StepStats",
    "Totals",
    "add_flops",
    "flops_since",
]


def add_flops(a: float | None, b: float | None) -> float | None:
    """Two FLOP counts added; None (none counted) only when both are None."""
    if a is None:
        return b
    return a if b is None else a + b


def flops_since(now: float | None, then: float | None) -> float | None:
    """The FLOPs counted between two instants; None when none were counted by the later."""
    if now is None:
        return None
    return now - (then or 0.0)


@attrs.frozen
class ChannelTotals:
    """One channel's cumulative figures at one instant.

    Attributes:
        energy_j: The energy integral.
        readings: Readings counted.
        failures: Failed readings: the meter raised, or the value was refused.
        gap_s: Seconds not covered by readings on both sides.
        resets: Times the counter went backwards and was taken as reset.
        rejected: Values refused (of the failures): not a finite number >= 0, past a
            counter's wrap range, or more than the device can draw.
    """

    energy_j: float
    readings: int
    failures: int
    gap_s: float
    resets: int = 0
    rejected: int = 0

    def since(self, start: ChannelTotals) -> ChannelTotals:
        """What accumulated between ``start`` and this instant."""
        return ChannelTotals(
            self.energy_j - start.energy_j,
            self.readings - start.readings,
            self.failures - start.failures,
            self.gap_s - start.gap_s,
            self.resets - start.resets,
            self.rejected - start.rejected,
        )

    def plus(self, later: ChannelTotals) -> ChannelTotals:
        """These figures followed by ``later``'s (the same channel, a consecutive span)."""
        return ChannelTotals(
            self.energy_j + later.energy_j,
            self.readings + later.readings,
            self.failures + later.failures,
            self.gap_s + later.gap_s,
            self.resets + later.resets,
            self.rejected + later.rejected,
        )


@attrs.frozen
class Totals:
    """Cumulative figures at one instant: per channel, plus steps, tokens and FLOPs (None
    when no step gave any)."""

    channels: tuple[ChannelTotals, ...]
    steps: int
    tokens: int
    flops: float | None = None


@attrs.frozen
class StepEnergy:
    """How the energy per step varied over a run, between sampling rounds.

    Attributes:
        intervals: Sampling intervals that completed at least one step (the first skipped).
        mean_j_per_step: Step-weighted mean of the intervals' joules per step.
        std_j_per_step: Step-weighted standard deviation of the same.
    """

    intervals: int
    mean_j_per_step: float
    std_j_per_step: float

    @property
    def relative_spread(self) -> float:
        """Standard deviation over mean (0.0 when the mean is 0)."""
        return self.std_j_per_step / self.mean_j_per_step if self.mean_j_per_step else 0.0


@attrs.frozen
class StepStats:
    """The running statistics behind :class:`StepEnergy`, mergeable (Chan et al. 1979)."""

    count: int = 0
    weight: float = 0.0
    mean: float = 0.0
    sum_sq: float = 0.0

    def then(self, later: StepStats) -> StepStats:
        """The statistics of both sets of intervals together (exact pairwise update)."""
        if not later.weight:
            return self
        if not self.weight:
            return later
        weight = self.weight + later.weight
        delta = later.mean - self.mean
        return StepStats(
            count=self.count + later.count,
            weight=weight,
            mean=self.mean + delta * later.weight / weight,
            sum_sq=self.sum_sq + later.sum_sq + delta * delta * self.weight * later.weight / weight,
        )

    def energy(self) -> StepEnergy | None:
        """As a report shows it (None before two intervals)."""
        if self.count < 2:
            return None
        return StepEnergy(self.count, self.mean, math.sqrt(max(self.sum_sq, 0.0) / self.weight))


@attrs.frozen
class LedgerState:
    """A frozen copy of a ledger: what it had counted, and over which channels.

    Attributes:
        channels: The channels, in order.
        totals: Their figures, in the same order, with steps, tokens and FLOPs.
        step_stats: Energy per step across sampling rounds.
        first_t: The first reading's time (None: no reading).
        last_t: The last reading's time (None: no reading).
    """

    channels: tuple[Channel, ...]
    totals: Totals
    step_stats: StepStats = StepStats()
    first_t: float | None = None
    last_t: float | None = None

    def warnings(self, end_t: float) -> list[str]:
        """What to warn of in a run ending at ``end_t``: counter resets, and gaps (with the
        values refused among the failed readings)."""
        start = self.first_t if self.first_t is not None else end_t
        duration = end_t - start
        out = []
        for channel, totals in zip(self.channels, self.totals.channels, strict=True):
            if totals.resets:
                why = (
                    "with no known wrap range"
                    if channel.max_energy_j is None
                    else "by more than a wrap could explain in the time elapsed"
                )
                out.append(
                    f"{channel.id}: the counter went backwards {totals.resets} time(s) {why}; "
                    "counted as resets (a lower bound)"
                )
            refused = f" ({totals.rejected} of them values refused)" if totals.rejected else ""
            if totals.gap_s > 0 and duration > 0:
                out.append(
                    f"{channel.id}: {totals.failures} failed reading(s){refused}; "
                    f"{totals.gap_s:.3f} s ({100 * totals.gap_s / duration:.1f}% of the run) "
                    "not covered by readings on both sides"
                )
            elif refused:
                out.append(f"{channel.id}: {totals.failures} failed reading(s){refused}")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what one rank of a job sends to rank 0)."""
        return {
            "channels": [c.to_dict() for c in self.channels],
            "totals": [attrs.astuple(t) for t in self.totals.channels],
            "steps": self.totals.steps,
            "tokens": self.totals.tokens,
            "flops": self.totals.flops,
            "step_stats": attrs.astuple(self.step_stats),
            "first_t": self.first_t,
            "last_t": self.last_t,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerState:
        """Read :meth:`to_dict` output back (KeyError, TypeError or ValueError if malformed)."""
        channels = tuple(Channel.from_dict(c) for c in data["channels"])
        totals = tuple(ChannelTotals(*t) for t in data["totals"])
        if len(totals) != len(channels):
            raise ValueError(f"{len(channels)} channel(s) but {len(totals)} totals")
        return cls(
            channels,
            Totals(totals, int(data["steps"]), int(data["tokens"]), _flops(data.get("flops"))),
            StepStats(*data["step_stats"]),
            data["first_t"],
            data["last_t"],
        )

    def select(self, keep: Sequence[int], channels: Sequence[Channel]) -> LedgerState:
        """The channels at ``keep`` only, as ``channels`` (the same measurements renamed
        or re-homed); the step statistics, which are of all channels, are dropped."""
        return LedgerState(
            tuple(channels),
            attrs.evolve(self.totals, channels=tuple(self.totals.channels[k] for k in keep)),
            StepStats(),
            self.first_t,
            self.last_t,
        )

    def shifted(self, seconds: float) -> LedgerState:
        """The same state on a clock ``seconds`` ahead (another rank's origin)."""
        return attrs.evolve(
            self,
            first_t=None if self.first_t is None else self.first_t + seconds,
            last_t=None if self.last_t is None else self.last_t + seconds,
        )

    def merge(self, other: LedgerState) -> LedgerState:
        """Combine two states exactly.

        * Disjoint channels (two processes of one job, measured over the same time): the
          channels are put side by side; tokens and FLOPs add (each process counts its
          own); steps are the larger count (the processes of a data-parallel job step
          together). The energy-per-step spread of the sum cannot be known from the
          parts, so it is dropped.
        * The same channels over consecutive spans (``other`` after ``self``, as
          :meth:`Ledger.checkpoint` cuts them): every figure adds, and the step statistics
          combine exactly.

        Raises:
            ConfigurationError: The channels overlap only in part, or differ in kind; or
                the spans of the same channels overlap in time.
        """
        mine, theirs = [c.id for c in self.channels], [c.id for c in other.channels]
        span = _span(self, other)
        if not set(mine) & set(theirs):
            return LedgerState(
                self.channels + other.channels,
                Totals(
                    self.totals.channels + other.totals.channels,
                    max(self.totals.steps, other.totals.steps),
                    self.totals.tokens + other.totals.tokens,
                    add_flops(self.totals.flops, other.totals.flops),
                ),
                StepStats(),
                *span,
            )
        if mine != theirs or self.channels != other.channels:
            raise ConfigurationError(
                f"cannot merge ledgers of channels {mine} and {theirs}: give either disjoint "
                "channels or the very same ones (in the same order)"
            )
        if None not in (self.last_t, other.first_t) and other.first_t < self.last_t:  # type: ignore[operator]
            raise ConfigurationError(
                f"cannot merge spans of the same channels that overlap: the second starts at "
                f"t={other.first_t!r}, before the first ends (t={self.last_t!r})"
            )
        return LedgerState(
            self.channels,
            Totals(
                tuple(
                    a.plus(b)
                    for a, b in zip(self.totals.channels, other.totals.channels, strict=True)
                ),
                self.totals.steps + other.totals.steps,
                self.totals.tokens + other.totals.tokens,
                add_flops(self.totals.flops, other.totals.flops),
            ),
            self.step_stats.then(other.step_stats),
            *span,
        )


def _flops(value: object) -> float | None:
    """A state's FLOPs as sent (None, or a finite number >= 0; ValueError otherwise)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"flops={value!r} is not a number")
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"flops={value!r} is not a count of FLOPs (finite, >= 0)")
    return number


def _span(a: LedgerState, b: LedgerState) -> tuple[float | None, float | None]:
    firsts = [t for t in (a.first_t, b.first_t) if t is not None]
    lasts = [t for t in (a.last_t, b.last_t) if t is not None]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)
