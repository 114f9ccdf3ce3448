"""The running state of one measurement: O(1) accumulators per channel, fed by the sampler.

All updates and reads happen under one lock, so the sampler thread and the user's thread
(steps, windows, snapshots) can share it. Nothing here keeps a list that grows with the
length of the run: each channel has a running integral, counts and its gap bookkeeping,
and the power trace has a fixed number of bins.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence

import attrs

from nlpfootprint.accounting import CounterIntegrator, PowerIntegrator, WeightedStats
from nlpfootprint.meters.base import Channel, PowerMeter
from nlpfootprint.report import ChannelReport, StepEnergy
from nlpfootprint.runlog import RunLogWriter
from nlpfootprint.trace import BoundedTrace, TraceData

__all__ = ["ChannelTotals", "RunState", "Totals"]

log = logging.getLogger("nlpfootprint")


@attrs.frozen
class ChannelTotals:
    """One channel's cumulative figures at one instant."""

    energy_j: float
    readings: int
    failures: int
    gap_s: float

    def since(self, start: ChannelTotals) -> ChannelTotals:
        """What accumulated between ``start`` and this instant."""
        return ChannelTotals(
            self.energy_j - start.energy_j,
            self.readings - start.readings,
            self.failures - start.failures,
            self.gap_s - start.gap_s,
        )


@attrs.frozen
class Totals:
    """Cumulative figures at one instant: per channel, plus steps and tokens."""

    channels: tuple[ChannelTotals, ...]
    steps: int
    tokens: int


class _ChannelState:
    """Running totals of one channel."""

    __slots__ = ("channel", "failures", "gap_from", "gap_s", "integrator", "readings")

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.integrator: PowerIntegrator | CounterIntegrator = (
            CounterIntegrator(channel.max_energy_j)
            if channel.kind == "energy"
            else PowerIntegrator()
        )
        self.readings = 0
        self.failures = 0
        self.gap_s = 0.0
        self.gap_from: float | None = None

    def totals(self) -> ChannelTotals:
        return ChannelTotals(self.integrator.energy_j, self.readings, self.failures, self.gap_s)

    def report(self, totals: ChannelTotals, duration_s: float) -> ChannelReport:
        c = self.channel
        return ChannelReport(
            id=c.id,
            domain=c.domain.value,
            kind=c.kind,
            source=c.source,
            label=c.label,
            energy_j=max(totals.energy_j, 0.0),
            readings=totals.readings,
            failures=totals.failures,
            gap_s=max(totals.gap_s, 0.0),
            duration_s=max(duration_s, 0.0),
        )


class RunState:
    """Accumulators for ``meters``' channels; the sampler's callbacks feed it.

    Args:
        meters: The meters, in the sampler's order.
        trace: The bounded power trace to add energy increments to.
        log: Where to log every reading, failure and change of counts (None: nowhere).
    """

    def __init__(
        self,
        meters: Sequence[PowerMeter],
        trace: BoundedTrace,
        log: RunLogWriter | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self._meters = tuple(meters)
        self._by_meter = [[_ChannelState(c) for c in m.channels] for m in self._meters]
        self._channels = [s for states in self._by_meter for s in states]
        self._failed_meters: dict[int, int] = {}
        self._trace = trace
        self._log = log
        #: Time origin for messages and for gaps before the first reading.
        self.t0 = trace.origin
        self.warnings: list[str] = []
        self.steps = 0
        self.tokens = 0
        # energy per step between sampling rounds, for projection bands
        self.step_stats = WeightedStats()
        self._mark: tuple[float, int] | None = None  # (energy_j, steps) at the last update
        self._warm = False

    # -- the sampler's callbacks -----------------------------------------------------

    def on_reading(self, meter_index: int, t: float, values: Sequence[float]) -> None:
        """Integrate one meter's reading taken at ``t``."""
        if self._log is not None:
            self._log.sample(t, meter_index, values)
        trace = self._trace
        with self.lock:
            for state, raw in zip(self._by_meter[meter_index], values, strict=True):
                value = float(raw)
                top = state.channel.max_energy_j
                if not math.isfinite(value) or value < 0 or (top is not None and value > top):
                    allowed = "a finite value >= 0" if top is None else f"a value in [0, {top:g}]"
                    self._channel_failed(state, f"{state.channel.id} read {value!r}, not {allowed}")
                    continue
                integrator = state.integrator
                last_t = integrator.last_t
                delta = integrator.add(t, value)
                state.readings += 1
                if state.gap_from is not None:
                    state.gap_s += t - state.gap_from
                    state.gap_from = None
                if last_t is not None and delta:
                    trace.add(last_t, t, state.channel.domain, delta)

    def on_failure(self, meter_index: int, t: float, err: BaseException) -> None:
        """Record that a meter failed at ``t``: a gap for its channels, one warning."""
        if self._log is not None:
            self._log.failure(t, meter_index, f"{type(err).__name__}: {err}")
        with self.lock:
            first = meter_index not in self._failed_meters
            self._failed_meters[meter_index] = self._failed_meters.get(meter_index, 0) + 1
            states = self._by_meter[meter_index]
            for state in states:
                self._channel_failed(state, None)
            if first:
                ids = ", ".join(s.channel.id for s in states)
                self.warn(
                    f"meter {self._meters[meter_index]!r} failed at t={t - self.t0:.3f} s: "
                    f"{type(err).__name__}: {err}; channels {ids} have a gap until it reads "
                    "again (the others go on)"
                )

    def _channel_failed(self, state: _ChannelState, reason: str | None) -> None:
        state.failures += 1
        if state.gap_from is None:
            last = state.integrator.last_t
            state.gap_from = last if last is not None else self.t0
        if reason is not None and state.failures == 1:
            self.warn(reason)

    def warn(self, message: str) -> None:
        """Keep ``message`` for the report and log it now (from whichever thread)."""
        self.warnings.append(message)
        log.warning("nlpfootprint: %s", message)

    def on_round(self, t: float) -> None:
        """After each round: energy per step over the steps completed since the last update.

        Rounds with no completed step carry their energy forward; the first interval is
        skipped (steps are counted when they end, so it holds energy of uncounted work).
        """
        with self.lock:
            if self._log is not None:
                self._log.counts(t, self.steps, self.tokens)
            energy = sum(s.integrator.energy_j for s in self._channels)
            if self._mark is None:
                self._mark = (energy, self.steps)
                return
            last_energy, last_steps = self._mark
            steps = self.steps - last_steps
            if steps <= 0:
                return
            if self._warm:
                self.step_stats.add((energy - last_energy) / steps, steps)
            self._warm = True
            self._mark = (energy, self.steps)

    # -- the user's side -------------------------------------------------------------

    def count(self, steps: int, tokens: int | None) -> None:
        """Add training steps and tokens."""
        with self.lock:
            self.steps += steps
            if tokens:
                self.tokens += tokens

    def totals(self) -> Totals:
        """Cumulative figures now (for window boundaries)."""
        with self.lock:
            return Totals(tuple(s.totals() for s in self._channels), self.steps, self.tokens)

    def channel_reports(
        self, duration_s: float, since: Totals | None = None
    ) -> tuple[ChannelReport, ...]:
        """Per-channel figures accumulated since ``since`` (default: the start)."""
        with self.lock:
            return tuple(
                state.report(
                    state.totals() if since is None else state.totals().since(since.channels[i]),
                    duration_s,
                )
                for i, state in enumerate(self._channels)
            )

    def final_channel_reports(self, end_t: float) -> tuple[tuple[ChannelReport, ...], list[str]]:
        """Per-channel figures for the whole run ending at ``end_t``, and what to warn."""
        duration = end_t - self.t0
        with self.lock:
            channels = []
            warnings = list(self.warnings)
            for state in self._channels:
                totals = state.totals()
                if state.gap_from is not None:  # still in a gap at the end
                    totals = attrs.evolve(totals, gap_s=totals.gap_s + end_t - state.gap_from)
                resets = getattr(state.integrator, "resets", 0)
                if resets:
                    warnings.append(
                        f"{state.channel.id}: the counter went backwards {resets} time(s) with "
                        "no known wrap range; counted as resets (a lower bound)"
                    )
                if totals.gap_s > 0 and duration > 0:
                    warnings.append(
                        f"{state.channel.id}: {totals.failures} failed reading(s); "
                        f"{totals.gap_s:.3f} s ({100 * totals.gap_s / duration:.1f}% of the run) "
                        "not covered by readings on both sides"
                    )
                channels.append(state.report(totals, duration))
            return tuple(channels), warnings

    def step_energy(self) -> StepEnergy | None:
        """How energy per step varied across sampling intervals (None before two)."""
        with self.lock:
            stats = self.step_stats
            if stats.count < 2:
                return None
            return StepEnergy(stats.count, stats.mean, stats.std)

    def trace_data(self) -> TraceData:
        """The power trace so far (a :class:`~nlpfootprint.trace.TraceData`)."""
        with self.lock:
            return self._trace.data()
