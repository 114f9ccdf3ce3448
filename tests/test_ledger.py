"""The ledger, driven directly: counters, gaps, resets, energy per step, and merging."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlpfootprint.accounting import WeightedStats, counter_energy_j, trapezoid_energy_j
from nlpfootprint.assumptions import Assumptions
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.ledger import ChannelTotals, Ledger, LedgerState, StepEnergy, StepStats, Totals
from nlpfootprint.meters.base import Channel
from nlpfootprint.provenance import Device
from nlpfootprint.report import Report
from nlpfootprint.trace import BoundedTrace
from strategies import powers_w, time_origins, wrapped_counter

REL = 1e-9
#: A bound no reading of these tests reaches: the bounds have tests of their own.
UNBOUNDED_W = 1e15


def close(a: float, b: float, abs_tol: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=abs_tol)


def power(cid: str = "gpu:0", max_power_w: float | None = None) -> Channel:
    return Channel(cid, cid.partition(":")[0], "power", max_power_w=max_power_w)


def counter(
    cid: str = "cpu:0", max_energy_j: float | None = None, max_power_w: float | None = None
) -> Channel:
    return Channel(
        cid, cid.partition(":")[0], "energy", max_energy_j=max_energy_j, max_power_w=max_power_w
    )


def one_channel(channel: Channel, warnings: list[str] | None = None) -> Ledger:
    return Ledger([[channel]], warn=None if warnings is None else warnings.append)


# -- counters -----------------------------------------------------------------------------


@given(counter=wrapped_counter(), origin=time_origins)
def test_a_wrapping_counter_is_unwrapped_across_every_wrap(
    counter: tuple[np.ndarray, np.ndarray, float], origin: float
) -> None:
    true, readings, max_range = counter
    trace = BoundedTrace(origin, bin_s=1.0, capacity=16)
    channel = Channel("cpu:0", "cpu", "energy", max_energy_j=max_range, max_power_w=UNBOUNDED_W)
    ledger = Ledger([[channel]], trace=trace)
    for i, value in enumerate(readings.tolist()):
        ledger.on_reading(0, origin + i, [value])
    (totals,), warnings = ledger.closing(origin + len(readings) - 1)
    assert totals.energy_j == true[-1] - true[0]
    assert totals.readings == len(readings)
    assert (totals.resets, totals.failures, totals.gap_s) == (0, 0, 0.0)
    assert warnings == []
    assert close(trace.total_j(), totals.energy_j)


def test_a_counter_read_past_its_wrap_range_is_a_failure_not_a_wrap() -> None:
    warnings: list[str] = []
    ledger = one_channel(counter(max_energy_j=100.0), warnings)
    for t, value in enumerate([90.0, 150.0, 10.0]):
        ledger.on_reading(0, float(t), [value])
    (totals,) = ledger.totals().channels
    assert totals == ChannelTotals(energy_j=20.0, readings=2, failures=1, gap_s=2.0, rejected=1)
    assert warnings == ["cpu:0 read 150.0, not a value in [0, 100]"]


def test_a_counter_without_a_wrap_range_counts_each_drop_as_a_reset() -> None:
    ledger = one_channel(counter())
    for t, value in enumerate([10.0, 20.0, 5.0, 15.0, 3.0, 3.0]):
        ledger.on_reading(0, float(t), [value])
    (totals,), warnings = ledger.closing(5.0)
    # 10 up, then 5 after the first reset (a lower bound), 10 up, 3 after the second
    assert totals == ChannelTotals(energy_j=28.0, readings=6, failures=0, gap_s=0.0, resets=2)
    assert warnings == [
        "cpu:0: the counter went backwards 2 time(s) with no known wrap range; counted as "
        "resets (a lower bound)"
    ]


@given(
    readings=st.lists(st.integers(min_value=0, max_value=10**6).map(float), max_size=50),
)
def test_resets_are_the_drops_of_a_counter_without_a_wrap_range(readings: list[float]) -> None:
    ledger = one_channel(counter(max_power_w=UNBOUNDED_W))
    for t, value in enumerate(readings):
        ledger.on_reading(0, float(t), [value])
    (totals,) = ledger.totals().channels
    drops = sum(b < a for a, b in itertools.pairwise(readings))
    assert totals.resets == drops
    assert totals.energy_j == counter_energy_j(readings)
    assert totals.energy_j >= 0.0


# -- failures and gaps --------------------------------------------------------------------


def test_a_gap_runs_from_the_last_good_reading_to_the_next_one() -> None:
    warnings: list[str] = []
    ledger = Ledger([[power()]], meter_names=["nvml"], warn=warnings.append)
    ledger.on_reading(0, 10.0, [100.0])
    ledger.on_failure(0, 12.0, "MeterError: busy")
    ledger.on_failure(0, 13.0, "MeterError: busy")
    (during,) = ledger.totals().channels
    assert (during.failures, during.gap_s) == (2, 0.0)  # still open: not counted yet
    ledger.on_reading(0, 15.0, [300.0])
    (totals,), closing = ledger.closing(15.0)
    # the power is integrated across the gap; the gap is from 10 (not 12) to 15
    assert totals == ChannelTotals(energy_j=1000.0, readings=2, failures=2, gap_s=5.0)
    assert warnings == [
        "meter nvml failed at t=2.000 s: MeterError: busy; channels gpu:0 have a gap until it "
        "reads again (the others go on)"
    ]
    assert closing == [
        "gpu:0: 2 failed reading(s); 5.000 s (100.0% of the run) not covered by readings on "
        "both sides"
    ]


def test_a_gap_still_open_at_the_end_is_closed_at_closing() -> None:
    ledger = one_channel(power())
    ledger.on_reading(0, 0.0, [50.0])
    ledger.on_reading(0, 1.0, [50.0])
    ledger.on_failure(0, 2.0, "OSError: gone")
    (totals,), warnings = ledger.closing(7.0)
    assert totals == ChannelTotals(energy_j=50.0, readings=2, failures=1, gap_s=6.0)
    assert warnings == [
        "gpu:0: 1 failed reading(s); 6.000 s (85.7% of the run) not covered by readings on "
        "both sides"
    ]
    # closing reports; it changes nothing
    assert ledger.totals().channels == (attrs.evolve(totals, gap_s=0.0),)
    assert ledger.closing(7.0)[0] == (totals,)


def test_a_channel_failing_before_its_first_reading_has_a_gap_from_the_runs_start() -> None:
    ledger = Ledger([[power("gpu:0")], [power("gpu:1")]])
    ledger.on_reading(0, 4.0, [100.0])
    ledger.on_failure(1, 4.0, "MeterError: not yet")
    ledger.on_reading(0, 7.0, [100.0])
    ledger.on_reading(1, 7.0, [100.0])
    totals, warnings = ledger.closing(7.0)
    assert [t.gap_s for t in totals] == [0.0, 3.0]
    assert [t.energy_j for t in totals] == [300.0, 0.0]
    assert "gpu:1: 1 failed reading(s); 3.000 s" in warnings[0]


def test_a_channel_that_never_reads_is_a_gap_over_the_whole_run() -> None:
    ledger = Ledger([[power("gpu:0")], [counter("cpu:0")]])
    for t in (0.0, 2.0, 4.0):
        ledger.on_reading(0, t, [10.0])
        ledger.on_reading(1, t, [math.nan])
    (_, never), _ = ledger.closing(4.0)
    assert never == ChannelTotals(energy_j=0.0, readings=0, failures=3, gap_s=4.0, rejected=3)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_a_bad_value_fails_its_channel_only_and_warns_once(bad: float) -> None:
    warnings: list[str] = []
    ledger = Ledger([[power("gpu:0"), power("gpu:1")]], warn=warnings.append)
    for t in range(4):
        ledger.on_reading(0, float(t), [bad if t in (1, 2) else 100.0, 20.0])
    bad_channel, good_channel = ledger.totals().channels
    assert bad_channel == ChannelTotals(
        energy_j=300.0, readings=2, failures=2, gap_s=3.0, rejected=2
    )
    assert good_channel == ChannelTotals(energy_j=60.0, readings=4, failures=0, gap_s=0.0)
    assert warnings == [f"gpu:0 read {bad!r}, not a finite value >= 0"]


def test_a_failing_meter_is_warned_of_once_but_every_failure_counts() -> None:
    warnings: list[str] = []
    ledger = Ledger([[power()]], warn=warnings.append)
    ledger.on_reading(0, 0.0, [1.0])
    for t in (1.0, 2.0, 4.0, 5.0):
        ledger.on_failure(0, t, "MeterError: flaky")
        ledger.on_reading(0, t + 0.5, [1.0])
    (totals,) = ledger.totals().channels
    assert (totals.failures, totals.readings) == (4, 5)
    # each gap runs from the reading before the failure to the one after it
    assert close(totals.gap_s, 1.5 + 1.0 + 2.0 + 1.0)
    assert len(warnings) == 1


# -- bounds: what a device can physically draw --------------------------------------------


def test_a_power_above_the_channels_bound_is_refused_warned_once_and_bridged() -> None:
    warnings: list[str] = []
    ledger = one_channel(power(max_power_w=300.0), warnings)
    for t, watts in enumerate([100.0, 601.0, 100.0, 5e3, 600.0, 100.0]):
        ledger.on_reading(0, float(t), [watts])
    (totals,), closing = ledger.closing(5.0)
    # 600 W is the bound (2 x 300 W) and is kept; 601 W and 5 kW are refused
    assert totals == ChannelTotals(
        energy_j=200.0 + 700.0 + 350.0, readings=4, failures=2, gap_s=4.0, rejected=2
    )
    assert warnings == [
        "gpu:0 read 601.0 W, more than the 600 W it can draw (2 x its maximum of 300 W): "
        "refused, and bridged by a straight line between the good samples on either side"
    ]
    assert closing == [
        "gpu:0: 2 failed reading(s) (2 of them values refused); 4.000 s (80.0% of the run) "
        "not covered by readings on both sides"
    ]


def test_a_channel_standing_for_several_devices_is_bounded_by_all_of_them() -> None:
    eight = Channel("gpu:0-7", "gpu", "power", device=Device("A100", count=8))
    ledger = one_channel(eight)
    for t, watts in enumerate([3e4, 3.3e4]):
        ledger.on_reading(0, float(t), [watts])
    (totals,) = ledger.totals().channels
    assert (totals.readings, totals.rejected) == (1, 1)  # 8 x 4 kW = 32 kW


def test_each_kind_of_refused_value_is_warned_of_once_even_after_a_meter_failure() -> None:
    warnings: list[str] = []
    ledger = Ledger([[counter("cpu:0", max_power_w=100.0)]], warn=warnings.append)
    ledger.on_reading(0, 0.0, [0.0])
    ledger.on_failure(0, 1.0, "MeterError: busy")
    events = [(2.0, math.nan), (3.0, math.nan), (4.0, 1e9), (5.0, 2e9), (6.0, 500.0)]
    for t, value in events:
        ledger.on_reading(0, t, [value])
    (totals,) = ledger.totals().channels
    assert (totals.energy_j, totals.failures, totals.rejected, totals.gap_s) == (
        500.0,
        5,
        4,
        6.0,
    )
    assert warnings[0].startswith("meter meter 0 failed at t=1.000 s")
    assert warnings[1] == "cpu:0 read nan, not a finite value >= 0"
    assert warnings[2].startswith("cpu:0 rose 1e+09 J in 4.000 s, more than its bound of 200 W")
    assert len(warnings) == 3


def test_a_re_based_counter_warns_of_the_interval_lost_and_traces_from_the_re_base() -> None:
    warnings: list[str] = []
    trace = BoundedTrace(100.0, bin_s=10.0, capacity=16)
    ledger = Ledger([[counter("cpu:0", max_power_w=100.0)]], trace=trace, warn=warnings.append)
    for t, value in ((100.0, 0.0), (110.0, 1_000.0), (120.0, 5e9), (130.0, 5e9 + 1_500.0)):
        ledger.on_reading(0, t, [value])
    (totals,), _ = ledger.closing(130.0)
    assert (totals.energy_j, totals.failures, totals.rejected, totals.gap_s) == (
        2_500.0,
        1,
        1,
        20.0,
    )
    assert warnings[1] == (
        "cpu:0: the counter stayed at the level it jumped to at t=20.000 s, so it is counted "
        "on from there; its energy from t=10.000 s to then is lost (a gap)"
    )
    # 100 W, nothing from 110 s to 120 s (lost), 150 W
    assert list(trace.data().power_w["cpu"]) == [100.0, 0.0, 150.0]


def test_a_value_refused_where_no_time_passed_is_still_reported_at_closing() -> None:
    ledger = one_channel(power())
    for value in (100.0, math.nan, 100.0):
        ledger.on_reading(0, 7.0, [value])
    (totals,), closing = ledger.closing(7.0)
    assert (totals.failures, totals.rejected, totals.gap_s) == (1, 1, 0.0)
    assert closing == ["gpu:0: 1 failed reading(s) (1 of them values refused)"]


def test_a_counter_reset_where_a_wrap_was_impossible_says_so_at_closing() -> None:
    ledger = one_channel(counter("gpu:0", max_energy_j=1e6, max_power_w=700.0))
    for t, value in ((0.0, 497_000.0), (30.0, 500_000.0), (60.0, 3_000.0)):
        ledger.on_reading(0, t, [value])
    (totals,), closing = ledger.closing(60.0)
    assert (totals.energy_j, totals.resets, totals.rejected) == (6_000.0, 1, 0)
    assert closing == [
        "gpu:0: the counter went backwards 1 time(s) by more than a wrap could explain in the "
        "time elapsed; counted as resets (a lower bound)"
    ]


# -- a reference model: the same readings through the plain accounting functions ----------

#: The layout of the random runs: a power meter, a wrapping two-channel counter and a
#: counter with no wrap range.
MAX_RANGE_J = 5_000.0
LAYOUT: tuple[tuple[Channel, ...], ...] = (
    (power("gpu:0", UNBOUNDED_W),),
    (counter("cpu:0", MAX_RANGE_J, UNBOUNDED_W), counter("dram:0", MAX_RANGE_J, UNBOUNDED_W)),
    (counter("other:0", max_power_w=UNBOUNDED_W),),
)
BAD = math.nan


@attrs.frozen
class Round:
    """One sampling round: each meter's values (None: it raised), then steps counted."""

    t: float
    values: tuple[tuple[float, ...] | None, ...]
    steps: int = 0
    tokens: int = 0

    def all_good(self) -> Round:
        """This round with every meter reading a good value, and no steps."""
        fixed = tuple(
            tuple(0.0 if math.isnan(v) else v for v in (row or (0.0,) * len(channels)))
            for row, channels in zip(self.values, LAYOUT, strict=True)
        )
        return Round(self.t, fixed)


def _meter_values(channels: Sequence[Channel]) -> st.SearchStrategy[tuple[float, ...] | None]:
    value = (
        powers_w
        if channels[0].kind == "power"
        else st.integers(min_value=0, max_value=int(channels[0].max_energy_j or 10**6)).map(float)
    )
    maybe_bad = st.one_of(value, value, value, st.just(BAD))
    row = st.tuples(*(maybe_bad for _ in channels))
    return st.one_of(row, row, row, st.none())


_rounds = st.tuples(
    st.integers(min_value=0, max_value=5 * 10**6),  # microseconds since the round before
    st.tuples(*(_meter_values(channels) for channels in LAYOUT)),
    st.integers(min_value=0, max_value=4),
    st.integers(min_value=0, max_value=1000),
)


@st.composite
def ledger_runs(draw: st.DrawFn, min_rounds: int = 0) -> list[Round]:
    """Rounds at non-decreasing times (whole microseconds, from a random origin)."""
    t = draw(time_origins)
    rounds = []
    for wait_us, values, steps, tokens in draw(st.lists(_rounds, min_size=min_rounds, max_size=16)):
        t += wait_us / 1e6
        rounds.append(Round(t, values, steps, tokens if steps else 0))
    return rounds


def feed(ledger: Ledger, rounds: Sequence[Round]) -> None:
    for r in rounds:
        for meter, row in enumerate(r.values):
            if row is None:
                ledger.on_failure(meter, r.t, "MeterError: scripted")
            else:
                ledger.on_reading(meter, r.t, row)
        ledger.count(r.steps, r.tokens)
        ledger.on_round(r.t)


def channel_events(rounds: Sequence[Round], index: int) -> list[tuple[float, float | None]]:
    """``(t, value)`` of one channel, in order; None for a failure."""
    meter, column = [(m, c) for m, chans in enumerate(LAYOUT) for c in range(len(chans))][index]
    out: list[tuple[float, float | None]] = []
    for r in rounds:
        row = r.values[meter]
        value = None if row is None or math.isnan(row[column]) else row[column]
        out.append((r.t, value))
    return out


def reference_gap_s(
    events: Sequence[tuple[float, float | None]], first_t: float, end_t: float
) -> float:
    """Seconds of the run not covered by good readings on both sides: each span between
    good readings (or from the run's start, or to its end) that holds a failure."""
    gap, since, failed = 0.0, first_t, False
    for t, value in events:
        if value is None:
            failed = True
        else:
            if failed:
                gap += t - since
            since, failed = t, False
    return gap + (end_t - since if failed else 0.0)


@settings(max_examples=80)
@given(rounds=ledger_runs(min_rounds=1))
def test_a_ledgers_totals_are_the_accounting_functions_on_its_good_readings(
    rounds: list[Round],
) -> None:
    ledger = Ledger([list(c) for c in LAYOUT])
    feed(ledger, rounds)
    first_t, end_t = rounds[0].t, rounds[-1].t + 2.5
    totals, _ = ledger.closing(end_t)
    assert (ledger.first_t, ledger.last_t) == (first_t, rounds[-1].t)
    for index, (channel, got) in enumerate(zip(ledger.channels, totals, strict=True)):
        events = channel_events(rounds, index)
        good = [(t, v) for t, v in events if v is not None]
        times, values = [t for t, _ in good], [v for _, v in good]
        if channel.kind == "power":
            expected_j = trapezoid_energy_j(times, values)
        else:
            expected_j = counter_energy_j(values, channel.max_energy_j)
        drops = sum(b < a for a, b in itertools.pairwise(values))
        assert close(got.energy_j, expected_j), (channel.id, got.energy_j, expected_j)
        assert got.readings == len(good)
        assert got.failures == len(events) - len(good)
        assert close(got.gap_s, reference_gap_s(events, first_t, end_t)), channel.id
        assert got.resets == (
            drops if channel.max_energy_j is None and channel.kind == "energy" else 0
        )
    counted = ledger.totals()
    assert counted.steps == sum(r.steps for r in rounds)
    assert counted.tokens == sum(r.tokens for r in rounds)


# -- energy per step ----------------------------------------------------------------------


def test_energy_per_step_skips_the_first_interval_and_carries_stepless_rounds_forward() -> None:
    ledger = one_channel(power())
    readings_and_steps = [(0.0, 0), (1.0, 1), (2.0, 2), (3.0, 0), (4.0, 1)]
    for t, steps in readings_and_steps:
        ledger.on_reading(0, t, [100.0])  # 100 J a second
        ledger.count(steps)
        ledger.on_round(t)
    # intervals: (0,1] 1 step: skipped (it holds work begun before counting);
    # (1,2] 2 steps: 50 J/step; (2,3] no step: carried; (2,4] 1 step: 200 J/step
    stats = ledger.step_stats()
    assert (stats.count, stats.weight) == (2, 3.0)
    assert close(stats.mean, (2 * 50.0 + 200.0) / 3)
    energy = stats.energy()
    assert energy is not None
    assert energy.intervals == 2
    assert close(energy.std_j_per_step, math.sqrt((2 * 50.0**2 + 100.0**2) / 3))
    assert ledger.round_counts() == (4, 0)


def test_energy_per_step_needs_two_intervals() -> None:
    assert StepStats().energy() is None
    assert StepStats(count=1, weight=3.0, mean=5.0).energy() is None
    assert StepStats(count=2, weight=2.0, mean=5.0, sum_sq=8.0).energy() == StepEnergy(2, 5.0, 2.0)


@settings(max_examples=80)
@given(rounds=ledger_runs())
def test_energy_per_step_is_the_weighted_spread_over_intervals_with_steps(
    rounds: list[Round],
) -> None:
    ledger = Ledger([list(c) for c in LAYOUT])
    # each interval between rounds that completed steps, the first one skipped; the energy
    # of rounds without a step goes to the next interval with one
    values, weights = [], []
    mark_j, mark_steps, warm = 0.0, 0, False
    steps = 0
    for r in rounds:
        feed(ledger, [r])
        steps += r.steps
        energy_j = math.fsum(c.energy_j for c in ledger.totals().channels)
        if steps > mark_steps:
            if warm:
                values.append((energy_j - mark_j) / (steps - mark_steps))
                weights.append(steps - mark_steps)
            mark_j, mark_steps, warm = energy_j, steps, True
    got = ledger.step_stats().energy()
    if len(values) < 2:
        assert got is None
        return
    assert got is not None
    mean = float(np.average(values, weights=weights))
    std = math.sqrt(float(np.average((np.array(values) - mean) ** 2, weights=weights)))
    scale = max(abs(v) for v in values)
    assert got.intervals == len(values)
    assert close(got.mean_j_per_step, mean, abs_tol=1e-9 * scale)
    # the variance, not the deviation: a square root near 0 magnifies any rounding
    assert close(got.std_j_per_step**2, std**2, abs_tol=1e-9 * scale**2)


weighted_values = st.lists(
    st.tuples(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
        st.integers(min_value=1, max_value=1000).map(float),
    ),
    max_size=30,
)


def stats_of(pairs: Sequence[tuple[float, float]]) -> StepStats:
    s = WeightedStats()
    for value, weight in pairs:
        s.add(value, weight)
    return StepStats(s.count, s.weight, s.mean, s.sum_sq)


@given(pairs=weighted_values, data=st.data())
def test_step_stats_then_equals_the_stats_of_all_values_at_once(
    pairs: list[tuple[float, float]], data: st.DataObject
) -> None:
    k = data.draw(st.integers(min_value=0, max_value=len(pairs)), label="split")
    combined = stats_of(pairs[:k]).then(stats_of(pairs[k:]))
    whole = stats_of(pairs)
    scale = max((abs(v) for v, _ in pairs), default=0.0)
    assert combined.count == whole.count == len(pairs)
    assert combined.weight == whole.weight
    assert close(combined.mean, whole.mean, abs_tol=1e-9 * scale)
    assert close(combined.sum_sq, whole.sum_sq, abs_tol=1e-9 * whole.weight * scale**2)


@given(pairs=weighted_values)
def test_step_stats_of_nothing_are_the_identity_of_then(pairs: list[tuple[float, float]]) -> None:
    stats = stats_of(pairs)
    assert StepStats().then(stats) == stats
    assert stats.then(StepStats()) == stats


# -- merging ------------------------------------------------------------------------------


def test_merging_disjoint_channels_puts_them_side_by_side() -> None:
    a = Ledger([[power("gpu:0")]])
    b = Ledger([[power("gpu:1"), counter("cpu:0")]])
    a.on_reading(0, 1.0, [100.0])
    a.on_reading(0, 3.0, [100.0])
    b.on_reading(0, 2.0, [50.0, 10.0])
    b.on_reading(0, 6.0, [50.0, 30.0])
    for ledger, rounds in ((a, ((1.0, 0), (3.0, 4))), (b, ((2.0, 1), (6.0, 2)))):
        for t, steps in rounds:
            ledger.count(steps, 100 * steps)
            ledger.on_round(t)
    merged = a.state().merge(b.state())
    assert [c.id for c in merged.channels] == ["gpu:0", "gpu:1", "cpu:0"]
    assert merged.totals == Totals(
        (
            ChannelTotals(200.0, 2, 0, 0.0),
            ChannelTotals(200.0, 2, 0, 0.0),
            ChannelTotals(20.0, 2, 0, 0.0),
        ),
        steps=4,  # processes of one job step together: the larger count
        tokens=700,  # each counts its own tokens
    )
    assert merged.step_stats == StepStats()
    assert (merged.first_t, merged.last_t) == (1.0, 6.0)
    assert b.state().merge(a.state()).totals.steps == 4


@settings(max_examples=80)
@given(rounds=ledger_runs(min_rounds=1), data=st.data())
def test_merging_consecutive_spans_gives_the_whole_runs_totals(
    rounds: list[Round], data: st.DataObject
) -> None:
    k = data.draw(st.integers(min_value=0, max_value=len(rounds) - 1), label="split")
    # the split round reads every channel, and both spans hold it: one ends there, the
    # other starts there (a span begins with a reading)
    rounds[k] = attrs.evolve(rounds[k].all_good(), steps=rounds[k].steps, tokens=rounds[k].tokens)
    whole, first, second = (Ledger([list(c) for c in LAYOUT]) for _ in range(3))
    feed(whole, rounds)
    feed(first, rounds[: k + 1])
    feed(second, [rounds[k].all_good(), *rounds[k + 1 :]])

    merged = first.state().merge(second.state())
    expected = whole.state()
    assert merged.channels == expected.channels
    assert (merged.first_t, merged.last_t) == (expected.first_t, expected.last_t)
    assert (merged.totals.steps, merged.totals.tokens) == (
        expected.totals.steps,
        expected.totals.tokens,
    )
    for got, want in zip(merged.totals.channels, expected.totals.channels, strict=True):
        assert close(got.energy_j, want.energy_j), (got, want)
        assert got.readings == want.readings + 1  # the split reading, in both spans
        assert (got.failures, got.resets) == (want.failures, want.resets)
        assert close(got.gap_s, want.gap_s)


@given(rounds=ledger_runs(min_rounds=1), data=st.data())
def test_a_state_merged_with_what_came_after_it_is_the_later_state(
    rounds: list[Round], data: st.DataObject
) -> None:
    k = data.draw(st.integers(min_value=0, max_value=len(rounds)), label="split")
    ledger = Ledger([list(c) for c in LAYOUT])
    feed(ledger, rounds[:k])
    earlier = ledger.state()
    feed(ledger, rounds[k:])
    later = ledger.state()
    after = LedgerState(
        later.channels,
        Totals(
            tuple(
                b.since(a)
                for a, b in zip(earlier.totals.channels, later.totals.channels, strict=True)
            ),
            later.totals.steps - earlier.totals.steps,
            later.totals.tokens - earlier.totals.tokens,
        ),
        StepStats(),
        rounds[k].t if k < len(rounds) else None,
        later.last_t if k < len(rounds) else None,
    )
    merged = earlier.merge(after)
    assert (merged.totals.steps, merged.totals.tokens) == (
        later.totals.steps,
        later.totals.tokens,
    )
    assert (merged.first_t, merged.last_t) == (later.first_t, later.last_t)
    for got, want in zip(merged.totals.channels, later.totals.channels, strict=True):
        assert close(got.energy_j, want.energy_j)
        assert close(got.gap_s, want.gap_s)
        assert (got.readings, got.failures, got.resets) == (
            want.readings,
            want.failures,
            want.resets,
        )


def test_merging_consecutive_spans_combines_their_step_statistics() -> None:
    a, b = one_channel(counter()), one_channel(counter())
    for ledger, readings_j, start in ((a, (0.0, 10.0, 30.0, 60.0), 0), (b, (0.0, 40.0, 90.0), 3)):
        for t, value in enumerate(readings_j, start):  # b's span begins where a's ends
            ledger.on_reading(0, float(t), [value])
            ledger.count(1)  # one step a round: the first interval is skipped
            ledger.on_round(float(t))
    both = a.state().merge(b.state()).step_stats
    every = stats_of([(v, 1.0) for v in (10.0, 20.0, 30.0, 40.0, 50.0)])
    assert (both.count, both.weight) == (5, 5.0)
    assert close(both.mean, every.mean)
    assert close(both.sum_sq, every.sum_sq)


@pytest.mark.parametrize(
    ("mine", "theirs"),
    [
        ((power("gpu:0"), power("gpu:1")), (power("gpu:1"), power("gpu:2"))),
        ((power("gpu:0"), power("gpu:1")), (power("gpu:1"), power("gpu:0"))),
        ((power("gpu:0"),), (power("gpu:0"), power("gpu:1"))),
    ],
    ids=["overlapping", "reordered", "a-subset"],
)
def test_merging_channels_that_overlap_only_in_part_names_both_sets(
    mine: tuple[Channel, ...], theirs: tuple[Channel, ...]
) -> None:
    a, b = Ledger([mine]).state(), Ledger([theirs]).state()
    ids_a, ids_b = [c.id for c in mine], [c.id for c in theirs]
    with pytest.raises(ConfigurationError, match=re.escape(f"{ids_a} and {ids_b}")):
        a.merge(b)
    with pytest.raises(ConfigurationError, match=re.escape(f"{ids_b} and {ids_a}")):
        b.merge(a)


def test_merging_channels_of_the_same_ids_but_another_kind_is_refused() -> None:
    a = Ledger([[power("gpu:0")]]).state()
    b = Ledger([[counter("gpu:0")]]).state()
    with pytest.raises(ConfigurationError, match=re.escape("['gpu:0'] and ['gpu:0']")):
        a.merge(b)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(powers_w, st.integers(0, 3)), min_size=2, max_size=40),
    st.lists(st.integers(1, 39), max_size=4),
)
def test_checkpoints_cut_a_run_into_spans_that_merge_back_into_it_exactly(
    rounds: list[tuple[float, int]], cuts: list[int]
) -> None:
    ledger = one_channel(power())
    spans = []
    for t, (watts, steps) in enumerate(rounds):
        ledger.on_reading(0, float(t), [watts])
        ledger.count(steps, tokens=7 * steps)
        ledger.on_round(float(t))
        if t in cuts:
            spans.append(ledger.checkpoint())
    spans.append(ledger.checkpoint())
    whole, merged = ledger.state(), spans[0]
    for span in spans[1:]:
        merged = merged.merge(span)
    (got,), (want,) = merged.totals.channels, whole.totals.channels
    assert close(got.energy_j, want.energy_j)
    assert (got.readings, got.failures) == (want.readings, want.failures)
    assert (merged.totals.steps, merged.totals.tokens) == (whole.totals.steps, whole.totals.tokens)
    assert (merged.first_t, merged.last_t) == (whole.first_t, whole.last_t)
    assert merged.step_stats.count == whole.step_stats.count
    assert close(merged.step_stats.weight, whole.step_stats.weight)
    assert close(merged.step_stats.mean, whole.step_stats.mean)
    assert close(merged.step_stats.sum_sq, whole.step_stats.sum_sq)


def test_spans_of_the_same_channels_that_overlap_in_time_are_refused() -> None:
    a, b = one_channel(power()), one_channel(power())
    for ledger, times in ((a, (0.0, 5.0)), (b, (4.0, 9.0))):
        for t in times:
            ledger.on_reading(0, t, [10.0])
    with pytest.raises(ConfigurationError, match=r"overlap: the second starts at t=4\.0"):
        a.state().merge(b.state())


def test_the_merged_states_of_two_processes_make_one_report() -> None:
    ranks = [Ledger([[power(f"gpu:{rank}")]]) for rank in (0, 1)]
    for rank, ledger in enumerate(ranks):
        for t in range(11):
            ledger.on_reading(0, float(t), [100.0 * (rank + 1)])
        ledger.count(10, tokens=1000)
        ledger.on_round(10.0)
    job = ranks[0].state(10.0).merge(ranks[1].state(10.0))
    report = Report.from_state(job, 10.0, assumptions=Assumptions())
    assert [c.id for c in report.channels] == ["gpu:0", "gpu:1"]
    assert report.energy_j == pytest.approx(3000.0)
    assert (report.duration_s, report.steps, report.tokens) == (10.0, 10, 2000)


def test_a_state_at_an_end_time_closes_an_open_gap_and_one_without_leaves_it_out() -> None:
    ledger = one_channel(power())
    ledger.on_reading(0, 0.0, [10.0])
    ledger.on_failure(0, 1.0, "MeterError: lost")
    assert ledger.state().totals.channels[0].gap_s == 0.0
    assert ledger.state(3.0).totals.channels[0].gap_s == pytest.approx(3.0)
    assert ledger.closing(3.0)[0] == ledger.state(3.0).totals.channels


def test_counts_only_grow() -> None:
    with pytest.raises(ConfigurationError, match="only grow"):
        one_channel(power()).count(-1)
