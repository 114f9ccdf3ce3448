"""Tests for the pure accounting functions: integration, counters, conversions, projection."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlpfootprint.accounting import (
    J_PER_KWH,
    LBS_PER_KG,
    CounterIntegrator,
    PowerIntegrator,
    co2e_kg,
    counter_deltas_j,
    counter_energy_j,
    electricity_cost,
    facility_energy_kwh,
    joules_to_kwh,
    kg_to_lbs,
    kwh_to_joules,
    mean_power_w,
    paper_energy_kwh,
    projection_factor,
    trapezoid_energy_j,
    unwrap,
)
from nlpfootprint.checks import MAX_PUE
from nlpfootprint.errors import ConfigurationError, NlpFootprintError
from strategies import (
    counter_readings,
    energies_j,
    intensities_g_per_kwh,
    nonnegative_amounts,
    power_trace,
    powers_w,
    prices_per_kwh,
    pues,
    scale_factors,
    split_power_trace,
    timestamps,
    wrapped_counter,
)

# Sums of at most ~200 non-negative float64 terms: pairwise vs sequential summation and
# telescoping differ by far less than this. The absolute part covers results that are 0.
REL = 1e-9
ABS = 1e-9

#: 0.954 lbs CO2e per kWh, the US average the paper used, in grams per kWh.
PAPER_G_PER_KWH = 0.954 / LBS_PER_KG * 1000.0


def approx(expected: float) -> object:
    return pytest.approx(expected, rel=REL, abs=ABS)


# --------------------------------------------------------------------------- trapezoid


def test_trapezoid_matches_the_docstring_example() -> None:
    assert trapezoid_energy_j([0.0, 1.0, 3.0], [100.0, 100.0, 200.0]) == 400.0


def test_trapezoid_uses_the_real_timestamps_not_the_sample_count() -> None:
    # Uneven gaps: 2 s at 10 W, then 8 s ramping 10 -> 30 W.
    assert trapezoid_energy_j([5.0, 7.0, 15.0], [10.0, 10.0, 30.0]) == pytest.approx(180.0)


@pytest.mark.parametrize("size", [0, 1])
def test_trapezoid_of_fewer_than_two_samples_is_zero(size: int) -> None:
    assert trapezoid_energy_j([100.0] * size, [50.0] * size) == 0.0


def test_trapezoid_accepts_numpy_arrays_and_returns_a_python_float() -> None:
    energy = trapezoid_energy_j(np.array([1.0, 2.0]), np.array([3.0, 3.0]))
    assert type(energy) is float
    assert energy == 3.0


@given(times=timestamps(min_size=1), power=powers_w)
def test_trapezoid_of_constant_power_is_power_times_duration(
    times: np.ndarray, power: float
) -> None:
    energy = trapezoid_energy_j(times, np.full(times.size, power))
    assert energy == approx(power * (times[-1] - times[0]))


@given(trace=power_trace())
def test_trapezoid_is_never_negative_for_non_negative_power(
    trace: tuple[np.ndarray, np.ndarray],
) -> None:
    times, power = trace
    assert trapezoid_energy_j(times, power) >= 0.0


@given(split=split_power_trace())
def test_trapezoid_is_additive_over_a_split_at_any_sample(
    split: tuple[np.ndarray, np.ndarray, int],
) -> None:
    times, power, k = split
    whole = trapezoid_energy_j(times, power)
    head = trapezoid_energy_j(times[: k + 1], power[: k + 1])
    tail = trapezoid_energy_j(times[k:], power[k:])
    assert head + tail == approx(whole)


@given(trace=power_trace(), shift=st.floats(min_value=-1e5, max_value=1e5))
def test_trapezoid_does_not_depend_on_the_time_origin(
    trace: tuple[np.ndarray, np.ndarray], shift: float
) -> None:
    times, power = trace
    # Shifting float times rounds each one, so compare with a tolerance scaled to the gaps.
    shifted = trapezoid_energy_j(times + shift, power)
    slack = 1e-9 * (abs(shift) + float(np.max(times, initial=0.0))) * float(np.sum(power)) + ABS
    assert shifted == pytest.approx(trapezoid_energy_j(times, power), rel=REL, abs=slack)


# --------------------------------------------------------------------------- PowerIntegrator


def test_power_integrator_first_sample_adds_nothing() -> None:
    integ = PowerIntegrator()
    assert integ.add(1234.5, 300.0) == 0.0
    assert integ.energy_j == 0.0


def test_power_integrator_of_constant_power_is_power_times_duration() -> None:
    integ = PowerIntegrator()
    for t in (10.0, 10.5, 12.0, 20.0):
        integ.add(t, 250.0)
    assert integ.energy_j == pytest.approx(250.0 * 10.0)


@given(times=timestamps(min_size=1), power=powers_w)
def test_power_integrator_of_constant_power_is_power_times_duration_for_any_times(
    times: np.ndarray, power: float
) -> None:
    integ = PowerIntegrator()
    for t in times:
        integ.add(float(t), power)
    assert integ.energy_j == approx(power * (times[-1] - times[0]))


@given(trace=power_trace())
def test_power_integrator_agrees_with_trapezoid_on_the_same_samples(
    trace: tuple[np.ndarray, np.ndarray],
) -> None:
    times, power = trace
    integ = PowerIntegrator()
    deltas = [integ.add(float(t), float(p)) for t, p in zip(times, power, strict=True)]
    assert integ.energy_j == approx(trapezoid_energy_j(times, power))
    assert math.fsum(deltas) == approx(integ.energy_j)


@given(trace=power_trace(min_size=2))
def test_power_integrator_step_deltas_are_the_trapezoid_of_each_interval(
    trace: tuple[np.ndarray, np.ndarray],
) -> None:
    times, power = trace
    integ = PowerIntegrator()
    integ.add(float(times[0]), float(power[0]))
    for i in range(1, times.size):
        delta = integ.add(float(times[i]), float(power[i]))
        assert delta == approx(trapezoid_energy_j(times[i - 1 : i + 1], power[i - 1 : i + 1]))


# --------------------------------------------------------------------------- counters


def test_counter_deltas_undo_a_wrap_when_the_range_is_known() -> None:
    deltas = counter_deltas_j([900.0, 50.0, 100.0], max_range=1000.0)
    assert deltas.tolist() == [150.0, 50.0]


def test_counter_without_range_treats_a_backwards_reading_as_a_reset() -> None:
    deltas = counter_deltas_j([100.0, 250.0, 30.0, 80.0])
    assert deltas.tolist() == [150.0, 30.0, 50.0]
    assert counter_energy_j([100.0, 250.0, 30.0, 80.0]) == 230.0


def test_counter_integrator_without_range_counts_a_reset_and_adds_the_new_value() -> None:
    integ = CounterIntegrator()
    got = [integ.add(t, v) for t, v in ((0.0, 100.0), (1.0, 250.0), (2.0, 30.0), (3.0, 80.0))]
    assert got == [0.0, 150.0, 30.0, 50.0]
    assert integ.resets == 1
    assert integ.energy_j == 230.0


def test_counter_integrator_with_range_unwraps_and_counts_no_reset() -> None:
    integ = CounterIntegrator(max_range=1000.0)
    got = [integ.add(t, v) for t, v in ((0.0, 900.0), (1.0, 50.0), (2.0, 100.0))]
    assert got == [0.0, 150.0, 50.0]
    assert integ.resets == 0
    assert integ.energy_j == 200.0


# -- a counter bounded by what its device can draw

#: 100 W at most, judged over the elapsed time plus one second.
BOUNDED = {"bound_w": 100.0, "slack_s": 1.0}


def test_a_bounded_counter_refuses_a_rise_beyond_the_bound_and_counts_nothing() -> None:
    integ = CounterIntegrator(**BOUNDED)
    assert integ.add(0.0, 1_000.0) == 0.0
    assert integ.add(9.0, 2_000.0) == 1_000.0  # 100 W x (9 s + 1 s): just possible
    assert integ.add(10.0, 2_201.0) is None  # 201 J in 1 s: no
    assert (integ.energy_j, integ.last_t, integ.last_value) == (1_000.0, 9.0, 2_000.0)


def test_a_one_off_glitch_is_bridged_exactly_from_the_last_good_reading() -> None:
    integ = CounterIntegrator(**BOUNDED)
    got = [integ.add(t, v) for t, v in ((0.0, 0.0), (10.0, 1e12), (20.0, 1_500.0))]
    assert got == [0.0, None, 1_500.0]
    assert (integ.energy_j, integ.span_t, integ.rebased, integ.pending) == (1_500.0, 0.0, 0, None)


def test_a_counter_that_stays_at_its_new_level_is_re_based_there() -> None:
    integ = CounterIntegrator(**BOUNDED)
    got = [integ.add(t, v) for t, v in ((0.0, 0.0), (10.0, 1e12), (20.0, 1e12 + 500.0))]
    # the 500 J from 10 s to 20 s count; what happened from 0 s to 10 s is unknown
    assert got == [0.0, None, 500.0]
    assert (integ.energy_j, integ.span_t, integ.rebased) == (500.0, 10.0, 1)


def test_a_drop_is_a_wrap_only_when_the_wrap_was_possible_in_the_time_elapsed() -> None:
    wrap = CounterIntegrator(max_range=10_000.0, **BOUNDED)
    assert [wrap.add(t, v) for t, v in ((0.0, 9_900.0), (10.0, 500.0))] == [0.0, 600.0]
    assert wrap.resets == 0
    reset = CounterIntegrator(max_range=10_000.0, **BOUNDED)
    assert [reset.add(t, v) for t, v in ((0.0, 5_000.0), (10.0, 500.0))] == [0.0, 500.0]
    assert reset.resets == 1  # a wrap would be 5,500 J in 10 s: a reset, 500 J since


@pytest.mark.parametrize("max_range", [None, 1e9])
def test_a_drop_to_a_value_impossible_since_a_reset_is_refused(max_range: float | None) -> None:
    integ = CounterIntegrator(max_range=max_range, **BOUNDED)
    got = [integ.add(t, v) for t, v in ((0.0, 5e8), (10.0, 1e8), (20.0, 5e8 + 2_000.0))]
    assert got == [0.0, None, 2_000.0]  # neither a wrap nor a reset: a glitch, bridged
    assert integ.resets == 0


@given(
    readings=wrapped_counter(max_size=50),
    seconds=st.lists(st.floats(min_value=0.0, max_value=1e3), min_size=50, max_size=50),
)
def test_a_bound_never_refuses_what_the_device_could_draw(
    readings: tuple[np.ndarray, np.ndarray, float], seconds: list[float]
) -> None:
    true, wrapped, max_range = readings
    bound_w = max_range  # at most one wrap between reads: at most max_range per second
    times = np.cumsum([0.0, *[1.0 + s for s in seconds[: true.size - 1]]])
    bounded = CounterIntegrator(max_range, bound_w=bound_w, slack_s=1.0)
    free = CounterIntegrator(max_range)
    for t, value in zip(times.tolist(), wrapped.tolist(), strict=True):
        assert bounded.add(t, value) == free.add(t, value)
    assert bounded.energy_j == free.energy_j == true[-1] - true[0]
    assert bounded.resets == bounded.rebased == 0


@pytest.mark.parametrize("values", [[], [42.0]])
def test_counter_of_fewer_than_two_readings_has_no_energy(values: list[float]) -> None:
    assert counter_deltas_j(values, max_range=100.0).size == 0
    assert counter_energy_j(values) == 0.0


@given(
    values=st.lists(
        st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False),
        max_size=200,
    )
)
def test_counter_without_range_gives_no_negative_delta_for_non_negative_readings(
    values: list[float],
) -> None:
    deltas = counter_deltas_j(values)
    assert np.all(deltas >= 0.0)
    for i, delta in enumerate(deltas):
        if values[i + 1] < values[i]:
            assert delta == values[i + 1]


@given(readings=counter_readings())
def test_counter_deltas_with_range_are_never_negative(
    readings: tuple[np.ndarray, float],
) -> None:
    values, max_range = readings
    deltas = counter_deltas_j(values, max_range)
    assert deltas.shape == (max(values.size - 1, 0),)
    assert np.all(deltas >= 0.0)
    assert np.all(deltas <= max_range)


@given(readings=counter_readings())
def test_counter_deltas_do_not_modify_their_input(readings: tuple[np.ndarray, float]) -> None:
    values, max_range = readings
    before = values.copy()
    counter_deltas_j(values, max_range)
    unwrap(values, max_range)
    np.testing.assert_array_equal(values, before)


@given(readings=counter_readings(min_size=1), data=st.data())
def test_counter_energy_is_additive_over_a_split_at_any_reading(
    readings: tuple[np.ndarray, float], data: st.DataObject
) -> None:
    values, max_range = readings
    k = data.draw(st.integers(min_value=0, max_value=values.size - 1))
    head = counter_energy_j(values[: k + 1], max_range)
    tail = counter_energy_j(values[k:], max_range)
    assert head + tail == approx(counter_energy_j(values, max_range))


@given(readings=counter_readings())
def test_counter_integrator_agrees_with_counter_deltas_on_the_same_readings(
    readings: tuple[np.ndarray, float],
) -> None:
    values, max_range = readings
    integ = CounterIntegrator(max_range=max_range)
    got = [integ.add(float(i), float(v)) for i, v in enumerate(values)]
    expected = counter_deltas_j(values, max_range)
    assert got[1:] == pytest.approx(expected.tolist(), rel=1e-12, abs=0.0)
    assert integ.energy_j == approx(counter_energy_j(values, max_range))
    assert integ.resets == 0


@given(
    values=st.lists(
        st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False),
        max_size=200,
    )
)
def test_counter_integrator_without_range_agrees_with_counter_deltas(
    values: list[float],
) -> None:
    integ = CounterIntegrator()
    got = [integ.add(float(i), v) for i, v in enumerate(values)]
    assert got[1:] == pytest.approx(counter_deltas_j(values).tolist(), rel=1e-12, abs=0.0)
    assert integ.resets == sum(b < a for a, b in itertools.pairwise(values))
    assert integ.energy_j == approx(counter_energy_j(values))


# --------------------------------------------------------------------------- unwrap


def test_unwrap_matches_the_docstring_example() -> None:
    assert unwrap([900.0, 50.0, 100.0], max_range=1000.0).tolist() == [900.0, 1050.0, 1100.0]


def test_unwrap_handles_several_wraps() -> None:
    got = unwrap([800.0, 100.0, 900.0, 10.0, 500.0], max_range=1000.0)
    assert got.tolist() == [800.0, 1100.0, 1900.0, 2010.0, 2500.0]


def test_unwrap_of_no_readings_is_empty() -> None:
    assert unwrap([], max_range=10.0).size == 0


@given(readings=counter_readings(min_size=1))
def test_unwrap_starts_at_the_first_reading_and_never_decreases(
    readings: tuple[np.ndarray, float],
) -> None:
    values, max_range = readings
    out = unwrap(values, max_range)
    assert out.shape == values.shape
    assert out[0] == values[0]
    assert np.all(np.diff(out) >= 0.0)


@given(readings=counter_readings(min_size=1))
def test_unwrap_span_equals_counter_energy(readings: tuple[np.ndarray, float]) -> None:
    values, max_range = readings
    out = unwrap(values, max_range)
    assert out[-1] - out[0] == pytest.approx(
        counter_energy_j(values, max_range), rel=REL, abs=1e-9 * float(out[-1])
    )


@given(counter=wrapped_counter())
def test_unwrap_reconstructs_a_monotone_counter_wrapped_modulo_max_range(
    counter: tuple[np.ndarray, np.ndarray, float],
) -> None:
    true, readings, max_range = counter
    out = unwrap(readings, max_range)
    # Integer-valued float64 well below 2**53: the reconstruction is exact.
    np.testing.assert_array_equal(out, true - true[0] + readings[0])
    assert counter_energy_j(readings, max_range) == true[-1] - true[0]


@given(counter=wrapped_counter())
def test_counter_integrator_recovers_the_true_increase_of_a_wrapped_counter(
    counter: tuple[np.ndarray, np.ndarray, float],
) -> None:
    true, readings, max_range = counter
    integ = CounterIntegrator(max_range=max_range)
    for i, value in enumerate(readings):
        integ.add(float(i), float(value))
    assert integ.energy_j == true[-1] - true[0]


# --------------------------------------------------------------------------- unit conversions


def test_one_kwh_is_three_point_six_megajoules() -> None:
    assert J_PER_KWH == 3.6e6
    assert joules_to_kwh(3.6e6) == 1.0
    assert kwh_to_joules(1.0) == 3.6e6


@given(energy=energies_j)
def test_joules_and_kwh_round_trip(energy: float) -> None:
    # The absolute part only matters for subnormal inputs, where dividing loses bits.
    assert kwh_to_joules(joules_to_kwh(energy)) == pytest.approx(energy, rel=1e-12, abs=1e-300)


def test_one_pound_in_kilograms_converts_to_exactly_one_pound() -> None:
    assert kg_to_lbs(0.45359237) == 1.0


def test_kg_to_lbs_of_one_kilogram_is_about_2_2046_pounds() -> None:
    assert kg_to_lbs(1.0) == pytest.approx(2.20462262185, rel=1e-12)


def test_mean_power_is_energy_over_duration() -> None:
    assert mean_power_w(3600.0, 60.0) == 60.0


def test_mean_power_of_an_empty_duration_is_zero() -> None:
    assert mean_power_w(100.0, 0.0) == 0.0


@pytest.mark.parametrize("duration_s", [-1.0, math.nan, math.inf])
def test_mean_power_rejects_an_impossible_duration(duration_s: float) -> None:
    with pytest.raises(ConfigurationError, match="duration_s="):
        mean_power_w(100.0, duration_s)


# --------------------------------------------------------------------------- facility, CO2e, cost


def test_facility_energy_is_it_energy_times_pue() -> None:
    assert facility_energy_kwh(10.0, 1.58) == pytest.approx(15.8)
    assert facility_energy_kwh(10.0, 1.0) == 10.0


def test_co2e_is_facility_kwh_times_grams_per_kwh_in_kilograms() -> None:
    assert co2e_kg(100.0, 400.0) == pytest.approx(40.0)


def test_electricity_cost_is_facility_kwh_times_price() -> None:
    assert electricity_cost(200.0, 0.25) == pytest.approx(50.0)


@given(energy=nonnegative_amounts, pue=pues, factor=scale_factors)
def test_facility_energy_scales_linearly_with_pue_and_it_energy(
    energy: float, pue: float, factor: float
) -> None:
    base = facility_energy_kwh(energy, pue)
    assert base == approx(energy * pue)
    higher = min(pue * factor, MAX_PUE)  # a PUE above 5 is refused
    assert facility_energy_kwh(energy, higher) == approx(higher / pue * base)
    assert facility_energy_kwh(energy * factor, pue) == approx(factor * base)


@given(energy=nonnegative_amounts, intensity=intensities_g_per_kwh, factor=scale_factors)
def test_co2e_scales_linearly_with_intensity_and_energy(
    energy: float, intensity: float, factor: float
) -> None:
    base = co2e_kg(energy, intensity)
    assert base == approx(energy * intensity / 1000.0)
    assert co2e_kg(energy, intensity * factor) == approx(factor * base)
    assert co2e_kg(energy * factor, intensity) == approx(factor * base)


@given(energy=nonnegative_amounts, price=prices_per_kwh, factor=scale_factors)
def test_electricity_cost_scales_linearly_with_price_and_energy(
    energy: float, price: float, factor: float
) -> None:
    base = electricity_cost(energy, price)
    assert base == approx(energy * price)
    assert electricity_cost(energy, price * factor) == approx(factor * base)
    assert electricity_cost(energy * factor, price) == approx(factor * base)


@given(energy=nonnegative_amounts, a=pues, b=pues)
def test_facility_energy_is_non_decreasing_in_pue(energy: float, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert 0.0 <= facility_energy_kwh(energy, low) <= facility_energy_kwh(energy, high)


@given(energy=nonnegative_amounts, a=intensities_g_per_kwh, b=intensities_g_per_kwh)
def test_co2e_is_non_decreasing_in_intensity(energy: float, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert 0.0 <= co2e_kg(energy, low) <= co2e_kg(energy, high)


@given(energy=nonnegative_amounts, a=prices_per_kwh, b=prices_per_kwh)
def test_electricity_cost_is_non_decreasing_in_price(energy: float, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert 0.0 <= electricity_cost(energy, low) <= electricity_cost(energy, high)


@given(a=nonnegative_amounts, b=nonnegative_amounts, pue=pues, intensity=intensities_g_per_kwh)
def test_co2e_of_a_run_is_non_decreasing_in_its_energy(
    a: float, b: float, pue: float, intensity: float
) -> None:
    low, high = sorted((a, b))
    assert co2e_kg(facility_energy_kwh(low, pue), intensity) <= co2e_kg(
        facility_energy_kwh(high, pue), intensity
    )


def test_zero_intensity_and_zero_price_give_zero() -> None:
    assert co2e_kg(123.0, 0.0) == 0.0
    assert electricity_cost(123.0, 0.0) == 0.0


# --------------------------------------------------------------------------- the paper


def test_paper_energy_reproduces_transformer_big_kwh() -> None:
    # Strubell et al. 2019, Table 3: Transformer (big), P100x8, 1515.43 W, 84 h, PUE 1.58.
    energy = paper_energy_kwh(hours=84, gpu_power_w=1515.43 / 8, gpu_count=8, pue=1.58)
    assert energy == pytest.approx(201.13, abs=0.005)


def test_paper_energy_default_pue_is_the_papers_1_58() -> None:
    assert paper_energy_kwh(hours=84, gpu_power_w=1515.43 / 8, gpu_count=8) == pytest.approx(
        paper_energy_kwh(hours=84, gpu_power_w=1515.43 / 8, gpu_count=8, pue=1.58), rel=1e-15
    )


def test_paper_co2e_reproduces_transformer_big_192_lbs() -> None:
    energy = paper_energy_kwh(hours=84, gpu_power_w=1515.43 / 8, gpu_count=8)
    lbs = kg_to_lbs(co2e_kg(energy, PAPER_G_PER_KWH))
    assert lbs == pytest.approx(201.13 * 0.954, abs=0.01)
    assert round(lbs) == 192


def test_paper_energy_sums_cpu_dram_and_each_gpu() -> None:
    # Eq. 1: PUE * t * (p_c + p_r + g * p_g) / 1000.
    energy = paper_energy_kwh(
        hours=2.0, cpu_power_w=100.0, dram_power_w=20.0, gpu_power_w=250.0, gpu_count=4, pue=1.5
    )
    assert energy == pytest.approx(1.5 * 2.0 * (100.0 + 20.0 + 4 * 250.0) / 1000.0)


@given(
    hours=st.floats(min_value=0.0, max_value=1e4),
    gpu_power_w=powers_w,
    gpu_count=st.integers(min_value=0, max_value=64),
    pue=pues,
    factor=scale_factors,
)
def test_paper_energy_is_linear_in_hours_and_pue(
    hours: float, gpu_power_w: float, gpu_count: int, pue: float, factor: float
) -> None:
    base = paper_energy_kwh(hours=hours, gpu_power_w=gpu_power_w, gpu_count=gpu_count, pue=pue)
    assert base >= 0.0
    assert paper_energy_kwh(
        hours=hours * factor, gpu_power_w=gpu_power_w, gpu_count=gpu_count, pue=pue
    ) == approx(factor * base)
    higher = min(pue * factor, MAX_PUE)  # a PUE above 5 is refused
    assert paper_energy_kwh(
        hours=hours, gpu_power_w=gpu_power_w, gpu_count=gpu_count, pue=higher
    ) == approx(higher / pue * base)


# --------------------------------------------------------------------------- projection


def test_projection_by_hours_matches_the_docstring() -> None:
    assert projection_factor(duration_s=1800.0, hours=84) == 168.0


def test_projection_by_steps_matches_the_docstring() -> None:
    assert projection_factor(duration_s=60.0, steps=100, target_steps=1_000_000) == 10000.0


@given(
    duration_s=st.floats(min_value=1e-3, max_value=1e7),
    hours=st.floats(min_value=0.0, max_value=1e5),
)
def test_projection_by_hours_times_duration_is_the_target_time(
    duration_s: float, hours: float
) -> None:
    factor = projection_factor(duration_s=duration_s, hours=hours)
    assert factor * duration_s == pytest.approx(hours * 3600.0, rel=1e-12, abs=1e-300)


@given(
    steps=st.integers(min_value=1, max_value=10**9),
    target=st.integers(min_value=0, max_value=10**12),
)
def test_projection_by_steps_is_target_over_measured_steps(steps: int, target: int) -> None:
    factor = projection_factor(duration_s=60.0, steps=steps, target_steps=target)
    assert factor == pytest.approx(target / steps, rel=1e-15)


def test_projection_by_steps_does_not_need_a_duration() -> None:
    assert projection_factor(duration_s=0.0, steps=10, target_steps=50) == 5.0


def test_projection_to_zero_hours_is_zero() -> None:
    assert projection_factor(duration_s=10.0, hours=0.0) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"duration_s": 60.0, "steps": 10}, id="neither"),
        pytest.param({"duration_s": 60.0, "steps": 10, "hours": 1.0, "target_steps": 5}, id="both"),
    ],
)
def test_projection_needs_exactly_one_of_hours_or_target_steps(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="exactly one target"):
        projection_factor(**kwargs)  # type: ignore[arg-type]


def test_projection_by_hours_rejects_a_measurement_without_duration() -> None:
    with pytest.raises(ConfigurationError, match="lasted 0 s"):
        projection_factor(duration_s=0.0, hours=84)


@pytest.mark.parametrize("duration_s", [-5.0, math.nan, math.inf])
def test_projection_rejects_an_impossible_measured_duration(duration_s: float) -> None:
    with pytest.raises(ConfigurationError, match="duration_s="):
        projection_factor(duration_s=duration_s, hours=84)


@pytest.mark.parametrize("steps", [0, -3])
def test_projection_by_steps_rejects_a_measurement_without_steps(steps: int) -> None:
    with pytest.raises(ConfigurationError, match="no steps were counted"):
        projection_factor(duration_s=60.0, steps=steps, target_steps=1000)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        pytest.param({"hours": -1.0}, "hours=-1.0", id="negative-hours"),
        pytest.param({"hours": math.nan}, "hours=nan", id="nan-hours"),
        pytest.param({"hours": math.inf}, "hours=inf", id="inf-hours"),
        pytest.param({"hours": "84"}, "hours='84'", id="string-hours"),
        pytest.param({"steps": 10, "target_steps": -1}, "steps=-1", id="negative-target"),
    ],
)
def test_projection_rejects_a_bad_target_naming_it(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(named)):
        projection_factor(duration_s=60.0, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- invalid inputs


def test_configuration_error_is_a_value_error_and_a_library_error() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(ConfigurationError, NlpFootprintError)
    with pytest.raises(ValueError, match=re.escape("pue=0.5")):
        facility_energy_kwh(1.0, 0.5)


@pytest.mark.parametrize(
    ("pue", "named"),
    [
        pytest.param(0.99, "pue=0.99", id="below-one"),
        pytest.param(0.0, "pue=0.0", id="zero"),
        pytest.param(-1.58, "pue=-1.58", id="negative"),
        pytest.param(math.nan, "pue=nan", id="nan"),
        pytest.param(math.inf, "pue=inf", id="inf"),
        pytest.param("1.58", "pue='1.58'", id="string"),
        pytest.param(None, "pue=None", id="none"),
        pytest.param(True, "pue=True", id="bool"),
    ],
)
def test_facility_energy_rejects_a_bad_pue_naming_it(pue: object, named: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(named)):
        facility_energy_kwh(1.0, pue)  # type: ignore[arg-type]


def test_pue_below_one_message_explains_the_rule() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("at least 1.0")):
        facility_energy_kwh(1.0, 0.9)


BAD_AMOUNTS = [
    pytest.param(-1.0, "=-1.0", id="negative"),
    pytest.param(math.nan, "=nan", id="nan"),
    pytest.param(math.inf, "=inf", id="inf"),
    pytest.param(-math.inf, "=-inf", id="minus-inf"),
    pytest.param("12", "='12'", id="string"),
    pytest.param([1.0], "=[1.0]", id="list"),
]


@pytest.mark.parametrize(("value", "suffix"), BAD_AMOUNTS)
@pytest.mark.parametrize(
    ("call", "name"),
    [
        pytest.param(lambda v: facility_energy_kwh(v, 1.5), "it_energy_kwh", id="facility-it"),
        pytest.param(lambda v: co2e_kg(v, 400.0), "facility_kwh", id="co2e-kwh"),
        pytest.param(lambda v: co2e_kg(1.0, v), "g_per_kwh", id="co2e-intensity"),
        pytest.param(lambda v: electricity_cost(v, 0.2), "facility_kwh", id="cost-kwh"),
        pytest.param(lambda v: electricity_cost(1.0, v), "price_per_kwh", id="cost-price"),
        pytest.param(lambda v: paper_energy_kwh(hours=v, gpu_power_w=1.0), "hours", id="hours"),
        pytest.param(lambda v: paper_energy_kwh(hours=1.0, cpu_power_w=v), "cpu_power_w", id="cpu"),
        pytest.param(
            lambda v: paper_energy_kwh(hours=1.0, dram_power_w=v), "dram_power_w", id="dram"
        ),
        pytest.param(lambda v: paper_energy_kwh(hours=1.0, gpu_power_w=v), "gpu_power_w", id="gpu"),
        pytest.param(lambda v: paper_energy_kwh(hours=1.0, gpu_count=v), "gpu_count", id="count"),
    ],
)
def test_accounting_rejects_a_bad_amount_naming_the_argument_and_value(
    call: object, name: str, value: object, suffix: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(name + suffix)):
        call(value)  # type: ignore[operator]


def test_paper_energy_rejects_a_pue_below_one() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("pue=0.5")):
        paper_energy_kwh(hours=1.0, gpu_power_w=100.0, pue=0.5)


@pytest.mark.parametrize(
    ("times", "power", "pattern"),
    [
        pytest.param(
            [0.0, 1.0, 2.0], [1.0, 2.0], "times_s has 3 values but power_w has 2", id="len"
        ),
        pytest.param(
            [0.0, 2.0, 1.0], [1.0, 1.0, 1.0], "times_s must be non-decreasing", id="order"
        ),
        pytest.param([0.0, math.nan], [1.0, 1.0], r"times_s contains \S*nan", id="nan-time"),
        pytest.param([0.0, 1.0], [1.0, math.inf], r"power_w contains \S*inf", id="inf-power"),
        pytest.param([0.0, 1.0], [-math.inf, 1.0], r"power_w contains \S*-inf", id="minus-inf"),
        pytest.param(
            [[0.0, 1.0], [2.0, 3.0]],
            [1.0, 1.0],
            r"times_s must be one-dimensional, got shape \(2, 2\)",
            id="2d-times",
        ),
        pytest.param(
            [0.0, 1.0],
            [[1.0, 1.0]],
            r"power_w must be one-dimensional, got shape \(1, 2\)",
            id="2d-power",
        ),
        pytest.param(3.0, [1.0], r"times_s must be one-dimensional, got shape \(\)", id="scalar"),
    ],
)
def test_trapezoid_rejects_bad_arrays_naming_the_problem(
    times: object, power: object, pattern: str
) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        trapezoid_energy_j(times, power)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "pattern"),
    [
        pytest.param([10.0, -1.0], r"\[0, max_range=100.0\]; got -1.0\.\.10.0", id="negative"),
        pytest.param([10.0, 100.5], r"\[0, max_range=100.0\]; got 10.0\.\.100.5", id="above"),
        pytest.param([10.0, math.nan], r"counter_values contains \S*nan", id="nan"),
        pytest.param([[1.0, 2.0]], "counter_values must be one-dimensional", id="2d"),
    ],
)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda v: counter_deltas_j(v, 100.0), id="deltas"),
        pytest.param(lambda v: counter_energy_j(v, 100.0), id="energy"),
        pytest.param(lambda v: unwrap(v, 100.0), id="unwrap"),
    ],
)
def test_counters_reject_bad_readings_naming_them(
    call: object, values: object, pattern: str
) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        call(values)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("max_range", "named"),
    [
        pytest.param(0.0, "max_range=0.0", id="zero"),
        pytest.param(-5.0, "max_range=-5.0", id="negative"),
        pytest.param(math.nan, "max_range=nan", id="nan"),
        pytest.param(math.inf, "max_range=inf", id="inf"),
        pytest.param("100", "max_range='100'", id="string"),
    ],
)
def test_counters_reject_a_bad_max_range_naming_it(max_range: object, named: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(named)):
        counter_deltas_j([1.0, 2.0], max_range)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=re.escape(named)):
        unwrap([1.0, 2.0], max_range)  # type: ignore[arg-type]


# ------------------------------------------------------------------ regressions from review


def test_counter_without_a_range_rejects_negative_readings() -> None:
    with pytest.raises(ConfigurationError, match="counter values must lie in"):
        counter_deltas_j([5.0, -3.0])


def test_non_finite_values_are_named_plainly_not_as_numpy_reprs() -> None:
    with pytest.raises(ConfigurationError, match=r"times_s contains nan;"):
        trapezoid_energy_j([0.0, math.nan], [1.0, 1.0])


def test_non_numbers_in_arrays_raise_a_configuration_error_naming_the_array() -> None:
    with pytest.raises(ConfigurationError, match="times_s must hold numbers"):
        trapezoid_energy_j(["a", "b"], [1.0, 2.0])  # type: ignore[list-item]


def test_unwrap_checks_its_range_even_for_an_empty_array() -> None:
    with pytest.raises(ConfigurationError, match="max_range=-1"):
        unwrap([], max_range=-1)


def test_integrators_reject_impossible_inputs() -> None:
    integ = PowerIntegrator()
    integ.add(10.0, 100.0)
    with pytest.raises(ConfigurationError, match="time went backwards"):
        integ.add(5.0, 100.0)
    with pytest.raises(ConfigurationError, match=r"max_range=-1\.0"):
        CounterIntegrator(max_range=-1.0)
    with pytest.raises(ConfigurationError, match=r"bound_w=0\.0"):
        CounterIntegrator(bound_w=0.0)
    with pytest.raises(ConfigurationError, match=r"slack_s=-1\.0"):
        CounterIntegrator(bound_w=1.0, slack_s=-1.0)
