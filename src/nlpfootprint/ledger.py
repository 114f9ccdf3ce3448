"""The ledger: O(1) running totals per channel, fed one reading at a time.

A live run and a replayed run log both pour their readings into a :class:`Ledger`, so
the two give the same totals by construction. The ledger keeps, per channel, the energy
integral (counters unwrapped, power integrated), counts of readings, failures and refused
values, the seconds not covered by readings on both sides (gaps) and counter resets; for
the run, the steps, tokens and FLOPs counted and how energy per step varied between
sampling rounds. Nothing grows with the length of the run. It builds no report and writes no file.

Every value is judged before it counts. One that is not a finite number >= 0, a counter
past its wrap range, a power above what the device can draw
(:attr:`~nlpfootprint.meters.base.Channel.power_bound_w`) or a counter rise beyond it in
the time elapsed is refused: counted as a failed reading and a refused value, warned of
once per channel and kind (with the value and the bound), and bridged as a gap is -- power
by a straight line between the good samples on either side, a counter by its next
plausible difference (see :class:`~nlpfootprint.accounting.CounterIntegrator`).

Times are seconds since the run's origin, as the sampler delivers them. Every method is
safe to call from the sampler thread and the user's thread at once.

Ledgers merge: :meth:`LedgerState.merge` combines the states of disjoint channels (two
processes of one job) or of the same channels over consecutive spans (a run in pieces).
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Sequence

import attrs

from nlpfootprint.accounting import CounterIntegrator, PowerIntegrator, WeightedStats
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters.base import COUNTER_SLACK_S, Channel
from nlpfootprint.totals import (
    ChannelTotals,
    LedgerState,
    StepEnergy,
    StepStats,
    Totals,
    add_flops,
    flops_since,
)
from nlpfootprint.trace import BoundedTrace, TraceData

__all__ = ["ChannelTotals", "Ledger", "LedgerState", "StepEnergy", "StepStats", "Totals"]

Warn = Callable[[str], None]


class _Account:
    """Running totals of one channel."""

    __slots__ = (
        "bound_w",
        "channel",
        "domain",
        "failures",
        "fast_top",
        "gap_from",
        "gap_s",
        "integrator",
        "readings",
        "rejected",
        "warned",
    )

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.domain = str(channel.domain)
        self.bound_w = channel.power_bound_w
        #: Values from 0 to this need no refusal check (:meth:`refusal` passes them all).
        top = channel.max_energy_j if channel.max_energy_j is not None else sys.float_info.max
        power = channel.kind == "power"
        self.fast_top = min(top, self.bound_w if power else sys.float_info.max)
        self.integrator: PowerIntegrator | CounterIntegrator = (
            CounterIntegrator(channel.max_energy_j, bound_w=self.bound_w, slack_s=COUNTER_SLACK_S)
            if channel.kind == "energy"
            else PowerIntegrator()
        )
        self.readings = 0
        self.failures = 0
        self.rejected = 0
        self.gap_s = 0.0
        self.gap_from: float | None = None
        self.warned: set[str] = set()

    def totals(self) -> ChannelTotals:
        resets = getattr(self.integrator, "resets", 0)
        return ChannelTotals(
            self.integrator.energy_j,
            self.readings,
            self.failures,
            self.gap_s,
            resets,
            self.rejected,
        )

    def refusal(self, value: float) -> tuple[str, str] | None:
        """(kind, warning) when ``value`` cannot be a reading of this channel, else None."""
        channel = self.channel
        top = channel.max_energy_j
        if not math.isfinite(value) or value < 0 or (top is not None and value > top):
            allowed = "a finite value >= 0" if top is None else f"a value in [0, {top:g}]"
            return "value", f"{channel.id} read {value!r}, not {allowed}"
        if channel.kind == "power" and value > self.bound_w:
            return "bound", (
                f"{channel.id} read {value!r} W, more than the {self.bound_w:g} W it can draw "
                f"({channel.power_bound_basis}): refused, and bridged by a straight line "
                "between the good samples on either side"
            )
        return None

    def jump(self, t: float, value: float) -> str:
        """The warning for a counter reading the integrator refused."""
        integrator = self.integrator
        assert isinstance(integrator, CounterIntegrator)
        last_t = integrator.last_t if integrator.last_t is not None else t
        seconds, last, bound = t - last_t, integrator.last_value, self.bound_w
        if value >= last:
            what = (
                f"rose {value - last:g} J in {seconds:.3f} s, more than its bound of "
                f"{bound:g} W allows"
            )
        else:
            what = (
                f"fell from {last:g} J to {value:g} J in {seconds:.3f} s, which no wrap or "
                f"reset within its bound of {bound:g} W explains"
            )
        return (
            f"{self.channel.id} {what} ({self.channel.power_bound_basis}): refused; the "
            "counter is bridged from its next plausible reading, or, if it stays at the new "
            "level, counted on from there"
        )


class Ledger:
    """Running totals for the channels of some meters; a sink of the sampler.

    Args:
        meter_channels: Each meter's channels, in the sampler's meter order.
        meter_names: A short name per meter, for warnings (default ``meter N``).
        trace: A bounded power trace to add each energy increment to (None: none kept).
        warn: Called with each warning as it arises (a failed meter, a bad value); the
            caller keeps and shows them.
    """

    def __init__(
        self,
        meter_channels: Sequence[Sequence[Channel]],
        *,
        meter_names: Sequence[str] | None = None,
        trace: BoundedTrace | None = None,
        warn: Warn | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._by_meter = [[_Account(c) for c in channels] for channels in meter_channels]
        self._accounts = [a for accounts in self._by_meter for a in accounts]
        names = meter_names if meter_names is not None else range(len(self._by_meter))
        self._names = [str(n) if isinstance(n, str) else f"meter {n}" for n in names]
        self._failed_meters: set[int] = set()
        self._trace = trace
        self._warn = warn if warn is not None else (lambda _: None)
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.steps = 0
        self.tokens = 0
        #: FLOPs counted with ``tracker.step(flops=...)``; None until a step gives some.
        self.flops: float | None = None
        self._round_counts = (0, 0)
        self._round_flops: float | None = None
        self._stats = WeightedStats()
        self._span_stats = WeightedStats()  # since the last checkpoint
        self._span_base = self._totals()
        self._span_start: float | None = None
        self._mark = (0.0, 0)  # (energy_j, steps) when energy per step was last taken
        self._warm = False

    @property
    def channels(self) -> tuple[Channel, ...]:
        """Every channel, in reading order."""
        return tuple(a.channel for a in self._accounts)

    def _seen(self, t: float) -> None:
        if self.first_t is None or t < self.first_t:  # a round's meters may end out of order
            self.first_t = t
        if self.last_t is None or t > self.last_t:
            self.last_t = t

    # -- the sink --------------------------------------------------------------------

    def on_reading(self, meter: int, t: float, values: Sequence[float]) -> None:
        """Integrate one meter's reading taken at ``t``.

        The hot path of a run: a value inside its channel's plain range (``0 <= value <=``
        :attr:`_Account.fast_top`) skips the refusal checks, and the energy each channel
        adds over the common span since the meter's previous reading goes to the trace
        once per domain, not once per channel.
        """
        with self._lock:
            self._seen(t)
            accounts = self._by_meter[meter]
            if len(values) != len(accounts):
                raise ValueError(
                    f"meter {meter} gave {len(values)} value(s) for {len(accounts)} channel(s)"
                )
            trace = self._trace
            span_t: float | None = None  # the span [span_t, t] most channels share
            pending: dict[str, float] = {}  # its energy per domain, for the trace
            for account, raw in zip(accounts, values):  # noqa: B905 - lengths checked above
                value = float(raw)
                if not 0.0 <= value <= account.fast_top:
                    refused = account.refusal(value)
                    if refused is not None:
                        self._refused(account, *refused)
                        continue
                integrator = account.integrator
                last_t = integrator.last_t
                delta = integrator.add(t, value)
                if delta is None:
                    self._refused(account, "jump", account.jump(t, value))
                    continue
                account.readings += 1
                if account.gap_from is not None:
                    account.gap_s += t - account.gap_from
                    account.gap_from = None
                rebased = isinstance(integrator, CounterIntegrator) and integrator.span_t != last_t
                if rebased and last_t is not None:
                    last_t = self._rebased(account, last_t)
                if trace is None or last_t is None or not delta:
                    continue
                if span_t is None:
                    span_t = last_t
                if last_t == span_t:
                    domain = account.domain
                    pending[domain] = pending.get(domain, 0.0) + delta
                else:
                    trace.add(last_t, t, account.domain, delta)
            if trace is not None and span_t is not None:
                for domain, energy in pending.items():
                    trace.add(span_t, t, domain, energy)

    def _rebased(self, account: _Account, lost_from: float) -> float:
        """A counter re-based at a reading it had refused: warn once; return the time its
        latest difference starts from."""
        integrator = account.integrator
        assert isinstance(integrator, CounterIntegrator)
        assert integrator.span_t is not None
        lost_to = integrator.span_t
        if "rebased" not in account.warned:
            account.warned.add("rebased")
            origin = self.first_t if self.first_t is not None else lost_from
            self._warn(
                f"{account.channel.id}: the counter stayed at the level it jumped to at "
                f"t={lost_to - origin:.3f} s, so it is counted on from there; its energy from "
                f"t={lost_from - origin:.3f} s to then is lost (a gap)"
            )
        return lost_to

    def on_failure(self, meter: int, t: float, error: str) -> None:
        """Record that a meter failed at ``t``: a gap for its channels, one warning."""
        with self._lock:
            self._seen(t)
            accounts = self._by_meter[meter]
            for account in accounts:
                self._failed(account)
            if meter not in self._failed_meters:
                self._failed_meters.add(meter)
                ids = ", ".join(a.channel.id for a in accounts)
                since = t - (self.first_t if self.first_t is not None else t)
                self._warn(
                    f"meter {self._names[meter]} failed at t={since:.3f} s: {error}; channels "
                    f"{ids} have a gap until it reads again (the others go on)"
                )

    def _failed(self, account: _Account) -> None:
        account.failures += 1
        if account.gap_from is None:
            last = account.integrator.last_t
            account.gap_from = last if last is not None else self.first_t

    def _refused(self, account: _Account, kind: str, warning: str) -> None:
        """A value refused: a failed reading, counted as refused, warned of once per kind."""
        self._failed(account)
        account.rejected += 1
        if kind not in account.warned:
            account.warned.add(kind)
            self._warn(warning)

    def on_round(self, t: float) -> None:
        """After each round: energy per step over the steps completed since the last one.

        Rounds with no completed step carry their energy forward; the first interval with
        steps is skipped (steps are counted when they end, so it holds uncounted work).
        """
        with self._lock:
            self._round_counts = (self.steps, self.tokens)
            self._round_flops = self.flops
            last_energy, last_steps = self._mark
            steps = self.steps - last_steps
            if steps <= 0:
                return
            energy = math.fsum(a.integrator.energy_j for a in self._accounts)
            if self._warm:
                for stats in (self._stats, self._span_stats):
                    stats.add((energy - last_energy) / steps, steps)
            self._warm = True
            self._mark = (energy, self.steps)

    def round_counts(self) -> tuple[int, int]:
        """(steps, tokens) as the latest round accounted them (what a run log records)."""
        with self._lock:
            return self._round_counts

    def round_totals(self) -> tuple[int, int, float | None]:
        """(steps, tokens, FLOPs) as the latest round accounted them (what a run log
        records; FLOPs None until a step gave some)."""
        with self._lock:
            return (*self._round_counts, self._round_flops)

    # -- the user's side -------------------------------------------------------------

    def count(self, steps: int, tokens: int | None = None, flops: float | None = None) -> None:
        """Add training steps, tokens and FLOPs (counts only grow: a negative one, or
        FLOPs that are not a finite number, are refused)."""
        if steps < 0 or (tokens or 0) < 0 or not (flops is None or 0 <= flops < math.inf):
            raise ConfigurationError(
                f"steps={steps!r}, tokens={tokens!r}, flops={flops!r}: step, token and FLOP "
                "counts only grow (by finite amounts)"
            )
        with self._lock:
            self.steps += steps
            if tokens:
                self.tokens += tokens
            if flops is not None:
                self.flops = add_flops(self.flops, float(flops))

    def count_to(self, steps: int, tokens: int, flops: float | None) -> None:
        """Raise the counts to a run log's totals (its FLOPs taken as written, so that a
        replay has the very figure the run had; None leaves them); a fall is refused."""
        with self._lock:
            now = (self.steps, self.tokens, self.flops or 0.0)
        self.count(steps - now[0], tokens - now[1], None if flops is None else flops - now[2])
        if flops is not None:
            with self._lock:
                self.flops = float(flops)

    def totals(self) -> Totals:
        """Cumulative figures now (for window boundaries)."""
        with self._lock:
            return self._totals()

    def _totals(self) -> Totals:
        return Totals(
            tuple(a.totals() for a in self._accounts), self.steps, self.tokens, self.flops
        )

    def closing(self, end_t: float) -> tuple[tuple[ChannelTotals, ...], list[str]]:
        """Per-channel figures for a run ending at ``end_t`` (an open gap closed there),
        and what to warn about them (counter resets, gaps)."""
        state = self.state(end_t)
        return state.totals.channels, state.warnings(end_t)

    def step_stats(self) -> StepStats:
        """The energy-per-step statistics so far."""
        with self._lock:
            return _frozen(self._stats)

    def trace_data(self) -> TraceData | None:
        """The power trace so far, or None when the ledger keeps none."""
        with self._lock:
            return None if self._trace is None else self._trace.data()

    def state(self, end_t: float | None = None) -> LedgerState:
        """A frozen copy of everything counted so far, taken at one instant (see
        :meth:`LedgerState.merge`).

        With ``end_t``, the copy is of a run that ends then: a channel still in a gap has
        it closed at ``end_t``. Without, an open gap is left out (it is counted when it
        closes, in a later state or checkpoint).
        """
        with self._lock:
            totals = self._totals()
            if end_t is not None:
                totals = attrs.evolve(
                    totals,
                    channels=tuple(
                        t
                        if a.gap_from is None
                        else attrs.evolve(t, gap_s=t.gap_s + end_t - a.gap_from)
                        for t, a in zip(totals.channels, self._accounts, strict=True)
                    ),
                )
            return LedgerState(
                self.channels, totals, _frozen(self._stats), self.first_t, self.last_t
            )

    def checkpoint(self) -> LedgerState:
        """What was counted since the previous checkpoint (or the start), and start a new span.

        The ledger goes on as before (its totals and report are unchanged); each
        checkpoint is the span between two of them, from the last reading before it to
        the last reading in it, so that consecutive checkpoints merge into the whole run
        exactly -- step statistics included, since a span carries on from the one before.
        """
        with self._lock:
            now = self._totals()
            base = self._span_base
            span = LedgerState(
                self.channels,
                Totals(
                    tuple(n.since(b) for n, b in zip(now.channels, base.channels, strict=True)),
                    now.steps - base.steps,
                    now.tokens - base.tokens,
                    flops_since(now.flops, base.flops),
                ),
                _frozen(self._span_stats),
                self._span_start if self._span_start is not None else self.first_t,
                self.last_t,
            )
            self._span_base, self._span_stats = now, WeightedStats()
            self._span_start = self.last_t
            return span


def _frozen(stats: WeightedStats) -> StepStats:
    return StepStats(stats.count, stats.weight, stats.mean, stats.sum_sq)
