"""The Report value: derived figures, renderings, re-accounting, projection, round-trips."""

from __future__ import annotations

import json

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nlpfootprint as nf
from helpers import measured_report
from nlpfootprint.errors import ConfigurationError, ReportFormatError
from nlpfootprint.report import SCHEMA, ChannelReport, Report
from nlpfootprint.testing import FakeClock, FakeMeter


def test_mean_power_maps_plain_domain_strings() -> None:
    report = measured_report()
    assert set(report.mean_power_w) == {"gpu", "cpu", "dram"}
    assert all(type(k) is str for k in report.mean_power_w)
    assert report.mean_power_w["gpu"] == pytest.approx(600.0)
    assert report.mean_power_w["cpu"] == pytest.approx(60.0)


def test_each_channel_says_how_it_was_obtained() -> None:
    report = measured_report()
    assert [c.source for c in report.channels] == ["sampled", "sampled", "counter", "estimated"]
    assert report.method == "mixed"
    assert "partly estimated" in str(report)


def test_to_dict_carries_steps_tokens_and_per_unit_energy_as_numbers() -> None:
    d = measured_report().to_dict()
    assert d["schema"] == SCHEMA
    assert d["steps"] == 400
    assert d["tokens"] == 204_800
    assert isinstance(d["j_per_step"], float)
    assert isinstance(d["j_per_token"], float)
    assert d["j_per_step"] == pytest.approx(d["energy_j"] / 400)


def test_dict_and_json_round_trip_exactly() -> None:
    report = measured_report(price_per_kwh=0.1, carbon_intensity=250.0, pue=1.1)
    assert Report.from_dict(report.to_dict()) == report
    assert Report.from_json(report.to_json()) == report
    assert Report.from_dict(json.loads(report.to_json(indent=None))) == report


def test_from_dict_recomputes_derived_figures_instead_of_trusting_them() -> None:
    d = measured_report().to_dict()
    d["energy_kwh"] = 1e9
    assert Report.from_dict(d).energy_kwh < 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"schema": "something/9"}, "schema is 'something/9'"),
        ({}, "schema is None"),
        ([1, 2], "expected a report dict"),
    ],
)
def test_from_dict_rejects_what_is_not_a_report(data: object, message: str) -> None:
    with pytest.raises(ReportFormatError, match=message):
        Report.from_dict(data)  # type: ignore[arg-type]


def test_from_dict_rejects_a_truncated_report_clearly() -> None:
    d = measured_report().to_dict()
    del d["channels"]
    with pytest.raises(ReportFormatError, match="malformed"):
        Report.from_dict(d)


def test_from_json_rejects_garbage_clearly() -> None:
    with pytest.raises(ReportFormatError, match="not JSON"):
        Report.from_json("{nope")


def test_text_rendering_shows_figures_channels_windows_and_assumptions() -> None:
    report = measured_report(price_per_kwh=0.2)
    text = str(report)
    for needle in (
        "nlpfootprint report: run",
        "kWh",
        "PUE 1.58",
        "lbs",
        "USD",
        "gpu:0",
        "sampled",
        "counter",
        "estimated",
        "train x4",
        "eval x4",
        "Uptime Institute",
        "tokens",
    ):
        assert needle in text, needle


def test_with_assumptions_reaccounts_without_changing_the_measurement() -> None:
    report = measured_report()
    other = report.with_assumptions(pue=1.1, carbon_intensity=50.0, price_per_kwh=0.3)
    assert other.energy_j == report.energy_j
    assert other.facility_energy_kwh == pytest.approx(report.energy_kwh * 1.1)
    assert other.co2e_kg == pytest.approx(report.energy_kwh * 1.1 * 50.0 / 1000)
    assert other.cost_usd == pytest.approx(report.energy_kwh * 1.1 * 0.3)
    assert not other.assumptions.intensity_is_default
    assert other.windows[0].assumptions.pue == 1.1
    same = report.with_assumptions()
    assert same.assumptions == report.assumptions


def test_project_by_hours_scales_energy_and_keeps_power() -> None:
    report = measured_report()  # 1 h 4 min measured
    projected = report.project(hours=84)
    factor = 84 * 3600 / report.duration_s
    assert projected.energy_j == pytest.approx(report.energy_j * factor)
    assert projected.mean_power_w == pytest.approx(report.mean_power_w)
    assert projected.duration_s == pytest.approx(84 * 3600)
    assert projected.projection is not None
    assert projected.projection.basis == "hours"
    assert "PROJECTED" in str(projected)


def test_project_by_steps_uses_energy_per_step() -> None:
    report = measured_report()
    projected = report.project(steps=1_000_000)
    assert projected.steps == 1_000_000
    assert projected.energy_j == pytest.approx(report.j_per_step * 1_000_000)  # type: ignore[operator]


def test_project_needs_exactly_one_target_and_counted_steps() -> None:
    report = measured_report()
    with pytest.raises(ConfigurationError, match="exactly one"):
        report.project()
    with pytest.raises(ConfigurationError, match="exactly one"):
        report.project(hours=1, steps=1)
    no_steps = attrs.evolve(report, steps=0)
    with pytest.raises(ConfigurationError, match="no steps were counted"):
        no_steps.project(steps=10)


finite = st.floats(min_value=0, max_value=1e12, allow_nan=False)


@given(
    energies=st.lists(finite, min_size=1, max_size=5),
    duration=st.floats(min_value=1e-3, max_value=1e9),
    pue=st.floats(min_value=1.0, max_value=3.0),
    intensity=st.floats(min_value=0, max_value=2000),
    price=st.none() | st.floats(min_value=0, max_value=10),
    steps=st.integers(min_value=0, max_value=10**9),
    tokens=st.integers(min_value=0, max_value=10**12),
)
def test_any_report_round_trips_through_json(
    energies: list[float],
    duration: float,
    pue: float,
    intensity: float,
    price: float | None,
    steps: int,
    tokens: int,
) -> None:
    channels = tuple(
        ChannelReport(f"gpu:{i}", "gpu", "power", "sampled", "x", e, readings=3)
        for i, e in enumerate(energies)
    )
    report = Report(
        duration_s=duration,
        channels=channels,
        assumptions=nf.Assumptions.build(pue=pue, carbon_intensity=intensity, price_per_kwh=price),
        steps=steps,
        tokens=tokens,
    )
    assert Report.from_json(report.to_json()) == report
    assert report.co2e_kg == pytest.approx(report.facility_energy_kwh * intensity / 1000)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration_s", -5, "duration_s=-5"),
        ("steps", 1.5, "steps=1.5"),
        ("count", -1, "count=-1"),
    ],
)
def test_from_dict_rejects_impossible_values_with_a_clear_error(
    field: str, value: object, message: str
) -> None:
    d = measured_report().to_dict()
    d[field] = value
    with pytest.raises(ReportFormatError, match=message):
        Report.from_dict(d)


def test_from_dict_rejects_bad_channel_and_price_values() -> None:
    d = measured_report().to_dict()
    d["channels"][0]["energy_j"] = "abc"
    with pytest.raises(ReportFormatError, match="energy_j='abc'"):
        Report.from_dict(d)
    d = measured_report().to_dict()
    d["assumptions"]["price_per_kwh"] = -3
    with pytest.raises(ReportFormatError, match="price_per_kwh=-3"):
        Report.from_dict(d)


def test_from_json_of_nothing_is_a_report_format_error() -> None:
    with pytest.raises(ReportFormatError, match="not JSON"):
        Report.from_json(None)  # type: ignore[arg-type]


def varied_report() -> Report:
    """Steps of 60 s; power alternates 200 W / 400 W between steps, sampled every 10 s.

    The trapezoid smears each switch over one 10-s interval, so steps cost 13 kJ and 23 kJ
    in turn: a mean of 18 kJ and a standard deviation of 5 kJ. A reading right after each
    step lines the intervals up with the steps (live, steps end between readings and an
    interval's energy can belong partly to the next step).
    """
    clock = FakeClock()
    meter = FakeMeter.trace(lambda t: 200.0 if int(t // 60) % 2 == 0 else 400.0, clock=clock)
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10.0) as tracker:
        for _ in range(20):
            clock.advance(60)
            tracker.step()
            tracker.sample()
    return tracker.report


def test_energy_per_step_spread_is_measured_across_intervals() -> None:
    report = varied_report()
    stats = report.step_energy
    assert stats is not None
    assert stats.intervals >= 10
    assert stats.mean_j_per_step == pytest.approx(18_000.0, rel=0.05)
    assert stats.std_j_per_step == pytest.approx(5_000.0, rel=0.05)
    assert "J/step spread" in str(report)
    assert Report.from_json(report.to_json()) == report


def test_projection_band_is_one_sd_of_energy_per_step() -> None:
    report = varied_report()
    projected = report.project(steps=1_000)
    spread = projected.projection.relative_spread  # type: ignore[union-attr]
    assert spread == pytest.approx(5 / 18, rel=0.1)
    low, high = projected.bounds("co2e_kg")
    assert low == pytest.approx(projected.co2e_kg * (1 - spread))
    assert high == pytest.approx(projected.co2e_kg * (1 + spread))
    # named for what it is (issue 13, point 4): the spread of energy per step, not an
    # uncertainty of the total
    assert "J/step band" in str(projected)
    assert "not an uncertainty of the total" in str(projected)


def test_constant_power_gives_no_band() -> None:
    report = measured_report()
    projected = report.project(hours=10)
    assert projected.bounds("energy_kwh") == pytest.approx(
        (projected.energy_kwh, projected.energy_kwh)
    )


def test_project_by_runs_is_the_papers_table_4_multiplier() -> None:
    report = measured_report()
    sweep = report.project(runs=4789)  # the paper's R&D cycle for one model
    assert sweep.energy_j == pytest.approx(report.energy_j * 4789)
    assert sweep.projection is not None
    assert sweep.projection.basis == "runs"
    assert sweep.steps == report.steps * 4789


def test_bounds_refuses_what_it_cannot_bound() -> None:
    report = measured_report()
    with pytest.raises(ConfigurationError, match="bounds\\(figure='duration_s'\\)"):
        report.bounds("duration_s")
    with pytest.raises(ConfigurationError, match="no price_per_kwh"):
        report.bounds("cost_usd")


def test_reports_that_differ_only_in_how_meters_were_chosen_add_up() -> None:
    from nlpfootprint.windows import merge_entries

    a = Report(10.0, (ChannelReport("gpu:0", "gpu", "power", "sampled", "", 100.0),))
    b = attrs.evolve(a, assumptions=attrs.evolve(a.assumptions, meters="auto: NVML"))
    total = merge_entries(a, b)
    assert total.energy_j == pytest.approx(200.0)
    assert total.count == 2
    assert total.assumptions.meters == "given; auto: NVML"
    with pytest.raises(ConfigurationError, match="different assumptions"):
        merge_entries(a, a.with_assumptions(pue=2.0))


def test_a_projection_whose_energy_overflows_is_refused_naming_the_target() -> None:
    """The duration x factor fits a float but the energy x factor does not (300 W for
    10 s, x1e306): refused as too large, naming runs=, not a raw energy_j error."""
    from nlpfootprint.testing import FakeClock, FakeMeter

    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(300.0)], clock=clock) as tracker:
        clock.advance(10.0)
    with pytest.raises(ConfigurationError, match=r"runs=1e\+306: the projection would be too"):
        tracker.report.project(runs=1e306)


def test_ratios_that_overflow_a_float_are_none_not_inf() -> None:
    tiny = Report(1.0, (ChannelReport("gpu:0", "gpu", "energy", "counter", "", 1e-308),), tokens=2)
    assert tiny.tokens_per_j is None  # 2 / 1e-308 overflows
    assert Report.from_json(tiny.to_json()) == tiny
