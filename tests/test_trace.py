"""Tests for the bounded power trace kept for plots."""

from __future__ import annotations

import itertools
import math
import re

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlpfootprint.trace import BoundedTrace, TraceData
from strategies import time_origins, trace_segments

Segment = tuple[float, float, str, float]

bin_widths_s = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
capacities = st.integers(min_value=1, max_value=32).map(lambda n: 2 * n)


def bin_energies(data: TraceData, domain: str) -> list[float]:
    """Energy in each bin of one domain's series: mean power x bin width."""
    return [p * w for p, w in zip(data.power_w[domain], data.width_s, strict=True)]


@st.composite
def filled_traces(draw: st.DrawFn) -> tuple[BoundedTrace, list[Segment], float]:
    """A trace with a random origin, bin width and small capacity, fed random segments."""
    origin = draw(time_origins)
    bin_s = draw(bin_widths_s)
    trace = BoundedTrace(origin=origin, bin_s=bin_s, capacity=draw(capacities))
    segments = draw(trace_segments(origin))
    for segment in segments:
        trace.add(*segment)
    return trace, segments, bin_s


# --------------------------------------------------------------------------- construction


@pytest.mark.parametrize("capacity", [0, 1, 3, 7, -2])
def test_trace_rejects_a_capacity_that_is_not_an_even_number_of_at_least_two(
    capacity: int,
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"capacity={capacity}")):
        BoundedTrace(origin=0.0, capacity=capacity)


@pytest.mark.parametrize("bin_s", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_trace_rejects_a_bin_width_that_is_not_positive_and_finite(bin_s: float) -> None:
    with pytest.raises(ValueError, match=re.escape(f"bin_s={bin_s}")):
        BoundedTrace(origin=0.0, bin_s=bin_s)


def test_trace_accepts_the_smallest_capacity() -> None:
    trace = BoundedTrace(origin=5.0, bin_s=1.0, capacity=2)
    trace.add(5.0, 100.0, "gpu", 7.0)
    assert trace.used <= 2
    assert trace.total_j() == pytest.approx(7.0)


def test_trace_rejects_an_unknown_domain_without_recording_it() -> None:
    trace = BoundedTrace(origin=0.0)
    # The hot path looks the domain up directly, so the refusal is a KeyError naming it.
    with pytest.raises(KeyError, match="tpu"):
        trace.add(0.0, 1.0, "tpu", 1.0)
    assert trace.total_j() == 0.0


# --------------------------------------------------------------------------- empty and simple


def test_empty_trace_has_no_energy_and_no_bins() -> None:
    trace = BoundedTrace(origin=123.0)
    data = trace.data()
    assert trace.total_j() == 0.0
    assert data == TraceData(start_s=(), width_s=(), power_w={})
    assert data.energy_j() == 0.0


def test_trace_matches_the_docstring_example() -> None:
    trace = BoundedTrace(origin=100.0, bin_s=1.0, capacity=4)
    for t in range(100, 110):
        trace.add(float(t), t + 1.0, "gpu", 50.0)
    assert trace.bin_s == 4.0
    assert trace.total_j() == pytest.approx(500.0)


def test_segment_inside_one_bin_puts_all_its_energy_in_that_bin() -> None:
    trace = BoundedTrace(origin=1000.0, bin_s=1.0, capacity=8)
    trace.add(1002.2, 1002.7, "cpu", 5.0)
    data = trace.data()
    assert trace.used == 3
    assert bin_energies(data, "cpu") == pytest.approx([0.0, 0.0, 5.0])


def test_segment_spanning_several_bins_is_spread_by_overlap() -> None:
    trace = BoundedTrace(origin=1000.0, bin_s=1.0, capacity=8)
    # 3 s at 10 W: half of bin 0, all of bins 1 and 2, half of bin 3.
    trace.add(1000.5, 1003.5, "gpu", 30.0)
    data = trace.data()
    assert bin_energies(data, "gpu") == pytest.approx([5.0, 10.0, 10.0, 5.0])
    # Mean power over each bin: the first is half idle; the last ends with the run at 3.5 s.
    assert data.width_s == (1.0, 1.0, 1.0, 0.5)
    assert data.power_w["gpu"] == pytest.approx((5.0, 10.0, 10.0, 10.0))


def test_segment_given_backwards_is_spread_like_the_forward_one() -> None:
    forward = BoundedTrace(origin=0.0, bin_s=1.0, capacity=8)
    backward = BoundedTrace(origin=0.0, bin_s=1.0, capacity=8)
    forward.add(0.5, 3.5, "gpu", 30.0)
    backward.add(3.5, 0.5, "gpu", 30.0)
    assert backward.data() == forward.data()


def test_instantaneous_segment_puts_its_energy_in_its_bin() -> None:
    trace = BoundedTrace(origin=0.0, bin_s=1.0, capacity=8)
    trace.add(2.5, 2.5, "dram", 3.0)
    assert bin_energies(trace.data(), "dram")[2] == pytest.approx(3.0)
    assert trace.total_j() == pytest.approx(3.0)


def test_domains_are_kept_apart_and_only_present_ones_are_reported() -> None:
    trace = BoundedTrace(origin=0.0, bin_s=1.0, capacity=8)
    trace.add(0.0, 0.5, "gpu", 50.0)
    trace.add(0.0, 0.5, "cpu", 10.0)
    data = trace.data()
    assert set(data.power_w) == {"gpu", "cpu"}
    assert data.power_w["gpu"] == pytest.approx((100.0,))
    assert data.power_w["cpu"] == pytest.approx((20.0,))


def test_bin_starts_are_relative_to_the_origin() -> None:
    trace = BoundedTrace(origin=5000.0, bin_s=2.0, capacity=8)
    trace.add(5000.0, 5005.0, "gpu", 5.0)
    data = trace.data()
    assert data.start_s == (0.0, 2.0, 4.0)
    assert data.width_s == (2.0, 2.0, 1.0)


# --------------------------------------------------------------------------- folding


def test_fold_doubles_the_bin_width_and_merges_neighbouring_bins() -> None:
    trace = BoundedTrace(origin=50.0, bin_s=1.0, capacity=4)
    for i in range(4):
        trace.add(50.0 + i + 0.25, 50.0 + i + 0.75, "cpu", float(i + 1))
    assert trace.bin_s == 1.0
    assert trace.used == 4
    trace.add(54.25, 54.75, "cpu", 5.0)
    data = trace.data()
    assert trace.bin_s == 2.0
    assert trace.used == 3
    assert data.start_s == (0.0, 2.0, 4.0)
    assert bin_energies(data, "cpu") == pytest.approx([1.0 + 2.0, 3.0 + 4.0, 5.0])


def test_a_far_segment_folds_as_many_times_as_needed() -> None:
    trace = BoundedTrace(origin=0.0, bin_s=1.0, capacity=4)
    trace.add(99.0, 100.0, "gpu", 1.0)
    # 100 s needs 4 bins of 32 s (4 x 16 s = 64 s is too short).
    assert trace.bin_s == 32.0
    assert trace.used == 4
    assert trace.total_j() == pytest.approx(1.0)


@given(filled=filled_traces())
def test_trace_conserves_total_energy_through_any_number_of_folds(
    filled: tuple[BoundedTrace, list[Segment], float],
) -> None:
    trace, segments, _ = filled
    added = math.fsum(energy for *_, energy in segments)
    assert trace.total_j() == pytest.approx(added, rel=1e-9, abs=1e-9)


@given(filled=filled_traces())
def test_trace_conserves_energy_per_domain(
    filled: tuple[BoundedTrace, list[Segment], float],
) -> None:
    trace, segments, _ = filled
    data = trace.data()
    for domain in ("gpu", "cpu", "dram", "other"):
        added = math.fsum(energy for _, _, d, energy in segments if d == domain)
        kept = math.fsum(bin_energies(data, domain)) if domain in data.power_w else 0.0
        assert kept == pytest.approx(added, rel=1e-9, abs=1e-9)


@given(filled=filled_traces())
def test_trace_never_exceeds_its_capacity(
    filled: tuple[BoundedTrace, list[Segment], float],
) -> None:
    trace, _, _ = filled
    data = trace.data()
    assert 0 <= trace.used <= trace.capacity
    assert len(data.start_s) == len(data.width_s) == trace.used
    assert all(len(series) == trace.used for series in data.power_w.values())


@given(filled=filled_traces())
def test_trace_bin_width_is_the_initial_width_doubled_a_whole_number_of_times(
    filled: tuple[BoundedTrace, list[Segment], float],
) -> None:
    trace, _, bin_s = filled
    folds = math.log2(trace.bin_s / bin_s)
    assert folds == int(folds)
    assert folds >= 0


@given(filled=filled_traces())
def test_trace_covers_the_run_at_the_finest_width_that_fits(
    filled: tuple[BoundedTrace, list[Segment], float],
) -> None:
    trace, _, bin_s = filled
    span = trace.end - trace.origin
    assert span < trace.capacity * trace.bin_s
    if trace.bin_s > bin_s:
        # The last fold was needed: half the width would not have covered the run.
        assert span >= trace.capacity * trace.bin_s / 2


@given(filled=filled_traces())
def test_trace_bins_are_a_regular_grid_with_a_possibly_shorter_last_bin(
    filled: tuple[BoundedTrace, list[Segment], float],
) -> None:
    trace, _, _ = filled
    data = trace.data()
    n = trace.used
    assert data.start_s == pytest.approx([i * trace.bin_s for i in range(n)])
    assert data.width_s[:-1] == pytest.approx([trace.bin_s] * (n - 1) if n else [])
    if n:
        assert 0.0 < data.width_s[-1] <= trace.bin_s


# --------------------------------------------------------------------------- TraceData


@given(filled=filled_traces())
def test_trace_data_energy_matches_the_trace_total(
    filled: tuple[BoundedTrace, list[Segment], float],
) -> None:
    trace, _, _ = filled
    assert trace.data().energy_j() == pytest.approx(trace.total_j(), rel=1e-9, abs=1e-9)


@given(
    origin=time_origins,
    gaps=st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=1, max_size=200),
    power_w=st.floats(min_value=0.0, max_value=1e4),
)
def test_trace_of_back_to_back_samples_at_constant_power_holds_power_times_duration(
    origin: float, gaps: list[float], power_w: float
) -> None:
    trace = BoundedTrace(origin=origin, bin_s=0.5, capacity=16)
    times = origin + np.concatenate([[0.0], np.cumsum(gaps)])
    for t0, t1 in itertools.pairwise(times):
        trace.add(float(t0), float(t1), "gpu", power_w * float(t1 - t0))
    expected = power_w * float(times[-1] - times[0])
    assert trace.total_j() == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert trace.data().energy_j() == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_trace_data_energy_is_width_times_power_summed_over_domains() -> None:
    data = TraceData(
        start_s=(0.0, 1.0), width_s=(1.0, 0.5), power_w={"gpu": (10.0, 20.0), "cpu": (1.0, 2.0)}
    )
    assert data.energy_j() == pytest.approx(10.0 + 10.0 + 1.0 + 1.0)


def test_trace_data_is_frozen() -> None:
    data = TraceData(start_s=(0.0,), width_s=(1.0,), power_w={"gpu": (1.0,)})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        data.start_s = ()  # type: ignore[misc]


# ------------------------------------------------------------------ regressions from review


def test_segment_starting_before_origin_keeps_all_its_energy() -> None:
    trace = BoundedTrace(origin=0.0, bin_s=1.0, capacity=8)
    trace.add(-1.0, 1.5, "gpu", 10.0)
    assert trace.total_j() == pytest.approx(10.0)


def test_segment_ending_on_a_bin_edge_opens_no_empty_bin() -> None:
    trace = BoundedTrace(origin=0.0, bin_s=1.0, capacity=8)
    trace.add(0.0, 1.0, "gpu", 100.0)
    data = trace.data()
    assert data.width_s == (1.0,)
    assert data.power_w == {"gpu": (100.0,)}


def test_exactly_full_grid_does_not_fold() -> None:
    trace = BoundedTrace(origin=100.0, bin_s=1.0, capacity=4)
    for t in range(100, 104):
        trace.add(float(t), t + 1.0, "cpu", 1.0)
    assert trace.bin_s == 1.0
    assert len(trace.data().start_s) == 4


def test_sliver_of_a_last_bin_cannot_make_power_infinite() -> None:
    trace = BoundedTrace(origin=0.0, bin_s=1.0, capacity=2)
    trace.add(0.0, 1.1e-304, "gpu", 19931.0)
    data = trace.data()
    assert all(math.isfinite(p) for p in data.power_w["gpu"])
    assert data.energy_j() == pytest.approx(19931.0)


@pytest.mark.parametrize(("t0", "t1"), [(0.0, math.inf), (math.nan, 1.0)])
def test_non_finite_times_are_rejected_and_leave_the_trace_usable(t0: float, t1: float) -> None:
    trace = BoundedTrace(origin=0.0, bin_s=1.0, capacity=4)
    with pytest.raises(ValueError, match="not finite"):
        trace.add(t0, t1, "gpu", 1.0)
    assert trace.bin_s == 1.0
    trace.add(0.0, 1.0, "gpu", 1.0)
    assert trace.total_j() == 1.0


def test_capacity_must_be_an_integer() -> None:
    with pytest.raises(ValueError, match=r"capacity=4\.0"):
        BoundedTrace(origin=0.0, capacity=4.0)  # type: ignore[arg-type]


def test_a_point_on_the_far_edge_of_a_full_grid_lands_in_the_last_bin() -> None:
    trace = BoundedTrace(origin=0.0, bin_s=1.0, capacity=4)
    trace.add(3.0, 4.0, "gpu", 1.0)
    trace.add(4.0, 4.0, "gpu", 0.5)  # zero-length segment exactly at the grid's end
    assert trace.bin_s == 1.0
    assert trace.total_j() == pytest.approx(1.5)
