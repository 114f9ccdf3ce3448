"""Hourly carbon intensity: energy-weighted CO2e, series files, re-accounting a log, advice."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nlpfootprint as nf
from helpers import run_cli
from nlpfootprint.series import IntensitySeries, Segment, parse_time, weighted_intensity
from nlpfootprint.testing import FakeClock, FakeMeter

HOUR = 3600.0


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd)


def measured(hours: float, watts: float = 1000.0, log: Path | None = None) -> nf.Report:
    """A run of ``hours`` at constant ``watts`` on a FakeClock (placed at the real time it
    started), sampled every 15 minutes, accounted at PUE 1."""
    clock = FakeClock()
    with nf.track_energy(
        meters=[FakeMeter.constant(watts)], clock=clock, pue=1.0, log=log, price_per_kwh=0.3
    ) as tracker:
        for _ in range(round(hours * 4)):
            clock.advance(HOUR / 4)
            tracker.sample()
    return tracker.report


def hourly(start: float, values: list[float], **options: object) -> IntensitySeries:
    return IntensitySeries.from_pairs(
        [(start + i * HOUR, v) for i, v in enumerate(values)],
        **options,  # type: ignore[arg-type]
    )


def test_each_intervals_energy_is_weighted_by_its_own_hour() -> None:
    report = measured(2.0)  # 2 kWh, 1 kWh in each hour after the start
    t0 = parse_time(report.started_at)
    # the run is half in a 100 g/kWh half-hour, an hour at 300 and half an hour at 500
    series = IntensitySeries.from_pairs(
        [(t0 - HOUR / 2, 100.0), (t0 + HOUR / 2, 300.0), (t0 + 1.5 * HOUR, 500.0)]
    )
    weighted = report.with_assumptions(carbon_intensity=series)
    assert weighted.energy_kwh == pytest.approx(2.0)
    expected_g = 0.5 * 100 + 1.0 * 300 + 0.5 * 500  # kWh x g/kWh in each step
    assert weighted.co2e_kg == pytest.approx(expected_g / 1000, rel=1e-12)
    intensity = weighted.assumptions.intensity
    assert intensity.g_per_kwh == pytest.approx(300.0)
    assert "energy-weighted mean of the series" in intensity.source
    assert "plain mean over the run 300 g/kWh" in intensity.source
    assert intensity.basis == "average, energy-weighted over time"
    assert "(energy-weighted over the run's time)" in str(weighted)
    assert not weighted.warnings


def test_weighting_is_by_energy_not_by_time() -> None:
    # 3 kWh at 100 g/kWh then 1 kWh at 500 g/kWh: energy-weighted 200, plain mean 300
    segments = [Segment(0.0, HOUR, 3.6e6 * 3), Segment(HOUR, 2 * HOUR, 3.6e6)]
    series = IntensitySeries.from_pairs([(0.0, 100.0), (HOUR, 500.0)])
    weighting = weighted_intensity(segments, series)
    assert weighting.intensity.g_per_kwh == pytest.approx(200.0)
    assert weighting.plain_mean_g_per_kwh == pytest.approx(300.0)


def test_the_tracker_weights_its_report_and_the_log_keeps_it(tmp_path: Path) -> None:
    start = dt.datetime.now(dt.UTC).timestamp()
    hour0 = start - start % HOUR
    series = hourly(hour0 - HOUR, [200.0] * 30, fallback="FRA")
    clock = FakeClock()
    log = tmp_path / "run.jsonl"
    with nf.track_energy(
        meters=[FakeMeter.constant(500.0)], clock=clock, carbon_intensity=series, log=log
    ) as tracker:
        during = tracker.snapshot(read=False).assumptions.intensity
        clock.advance(HOUR)
    assert during.key == "FRA"  # snapshots: the series' yearly fallback
    report = tracker.report
    assert report.assumptions.intensity.g_per_kwh == pytest.approx(200.0)
    assert report.co2e_kg == pytest.approx(report.facility_energy_kwh * 0.2)
    assert nf.Report.from_log(log).assumptions.intensity == report.assumptions.intensity


def test_energy_outside_the_series_is_weighted_by_the_yearly_figure_and_said() -> None:
    report = measured(2.0)
    t0 = parse_time(report.started_at)
    series = IntensitySeries.from_pairs([(t0, 100.0)], step_s=HOUR / 2, fallback="FRA")
    weighted = report.with_assumptions(carbon_intensity=series)
    fra = nf.carbon_intensity("FRA").g_per_kwh
    assert weighted.co2e_kg == pytest.approx((0.5 * 100 + 1.5 * fra) / 1000, rel=1e-12)
    assert any(
        "intensity series: 75.0% of the energy fell outside the series" in w and "FRA" in w
        for w in weighted.warnings
    ), weighted.warnings
    assert "75.0% of the energy outside it" in weighted.assumptions.intensity.source


def test_a_report_that_cannot_be_placed_in_time_is_refused() -> None:
    series = IntensitySeries.from_pairs([(0.0, 100.0)])
    estimated = nf.estimate(hours=1, power_w=300)
    with pytest.raises(nf.ConfigurationError, match="power trace and start time"):
        estimated.with_assumptions(carbon_intensity=series)
    with pytest.raises(nf.ConfigurationError, match="weight the measured report, then project"):
        measured(1.0).project(hours=10).with_assumptions(carbon_intensity=series)


def test_csv_layouts(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text(
        "timestamp,g_per_kwh\n2024-05-01T01:00:00Z,300\n2024-05-01T00:00:00+00:00,200\n"
        "2024-05-01T04:00:00+02:00,400\n"  # 02:00 UTC
    )
    series = nf.IntensitySeries.from_csv(plain)
    assert series.g_per_kwh == (200.0, 300.0, 400.0)  # sorted by time
    assert series.value_at(parse_time("2024-05-01T02:30:00Z")) == 400.0
    assert series.end == parse_time("2024-05-01T03:00:00Z")  # the last holds one step
    assert series.basis == "average"
    emaps = tmp_path / "FR_2023_hourly.csv"
    emaps.write_text(
        "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
        "Carbon Intensity gCO₂eq/kWh (life cycle assessment),Low Carbon Percentage,"
        "Renewable Percentage,Data Source,Data Estimated,Data Estimation Method\n"
        "2023-01-01 00:00:00,France,France,FR,17.12,45.3,95.1,40.2,entsoe.eu,false,\n"
        "2023-01-01 01:00:00,France,France,FR,16.0,44.0,95.3,40.0,entsoe.eu,false,\n"
    )
    life = nf.IntensitySeries.from_csv(emaps)
    assert life.g_per_kwh == (45.3, 44.0)
    assert life.times[0] == parse_time("2023-01-01T00:00:00Z")  # naive times are UTC
    assert "life cycle assessment" in life.source
    assert nf.IntensitySeries.from_csv(emaps, column="direct").g_per_kwh == (17.12, 16.0)
    marginal = tmp_path / "moer.csv"
    marginal.write_text("timestamp,marginal_g_per_kwh\n2024-01-01T00:00:00Z,700\n")
    assert nf.IntensitySeries.from_csv(marginal, column="marginal_g_per_kwh").basis == "marginal"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("", "the file is empty"),
        ("when,value\n2024-01-01T00:00:00Z,1\n", "no time column in the header"),
        ("timestamp,value\n2024-01-01T00:00:00Z,1\n", "no value column in the header"),
        ("timestamp,g_per_kwh\nyesterday,100\n", "line 2: time='yesterday': not an ISO 8601"),
        ("timestamp,g_per_kwh\n2024-01-01T00:00:00Z,lots\n", "line 2: g_per_kwh='lots' is not"),
        ("timestamp,g_per_kwh\n2024-01-01T00:00:00Z,-5\n", "line 2: g_per_kwh=-5.0: must be zero"),
        (
            "timestamp,g_per_kwh\n2024-01-01T00:00:00Z,5\n2024-01-01T00:00:00+00:00,6\n",
            "given twice",
        ),
        ("timestamp,g_per_kwh\n", "no (time, value) rows"),
    ],
)
def test_a_bad_series_file_is_one_clear_line(tmp_path: Path, content: str, says: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    with pytest.raises(nf.ConfigurationError, match=r"bad\.csv") as err:
        nf.IntensitySeries.from_csv(bad)
    assert says in str(err.value)
    run = measured(0.5, log=tmp_path / "run.jsonl")
    assert run.energy_j > 0
    result = cli("report", "run.jsonl", "--carbon-intensity", "bad.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert says in result.stderr


def test_a_log_is_re_accounted_against_a_series_obtained_later(tmp_path: Path) -> None:
    report = measured(3.0, log=tmp_path / "run.jsonl")
    t0 = parse_time(report.started_at)
    hour0 = t0 - t0 % HOUR
    grid = tmp_path / "grid.csv"
    values = [400, 300, 200, 100, 50, 500]
    grid.write_text(
        "timestamp,g_per_kwh\n"
        + "".join(f"{iso(hour0 + i * HOUR)},{v}\n" for i, v in enumerate(values))
    )
    series = nf.IntensitySeries.from_csv(grid)
    expected = report.with_assumptions(carbon_intensity=series).co2e_kg
    again = nf.Report.from_log(tmp_path / "run.jsonl", carbon_intensity=series)
    assert again.co2e_kg == pytest.approx(expected, rel=1e-12)
    assert nf.Report.from_log(tmp_path / "run.jsonl", carbon_intensity=str(grid)).co2e_kg == (
        pytest.approx(expected, rel=1e-12)
    )
    result = cli(
        "report", "run.jsonl", "--carbon-intensity", "grid.csv", "--format", "json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["co2e_kg"] == pytest.approx(expected, rel=1e-12)


def test_advise_finds_the_best_start_of_a_synthetic_series(tmp_path: Path) -> None:
    report = measured(2.0, log=tmp_path / "run.jsonl")
    t0 = parse_time(report.started_at)
    hour0 = t0 - t0 % HOUR
    # a dip of two hours at 50 g/kWh starting at hour 5
    values = [400.0] * 5 + [50.0, 50.0] + [400.0] * 5
    series = hourly(hour0, values)
    advice = report.advise(series=series, regions=["FRA", "DEU"])
    assert advice.best_start == dt.datetime.fromtimestamp(hour0 + 5 * HOUR, dt.UTC)
    assert advice.best_co2e_kg == pytest.approx(2.0 * 50 / 1000, rel=1e-9)
    # starts where the whole 2 h run fits: hours 0..10 of the 12
    assert len(advice.starts) == 11
    actual = report.with_assumptions(carbon_intensity=series).co2e_kg
    assert advice.actual_co2e_kg == pytest.approx(actual)
    assert advice.saving_kg == pytest.approx(actual - 0.1)
    assert [r.key for r in advice.regions] == ["FRA", "DEU"]  # least CO2e first
    assert advice.regions[0].cost == pytest.approx(2.0 * 0.3)
    grid = tmp_path / "grid.csv"
    grid.write_text(
        "timestamp,g_per_kwh\n"
        + "".join(f"{iso(hour0 + i * HOUR)},{v}\n" for i, v in enumerate(values))
    )
    result = cli(
        "advise", "run.jsonl", "--series", "grid.csv", "--regions", "FRA,DEU", "--format",
        "json", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["best_start"] == iso(hour0 + 5 * HOUR)
    assert data["best_co2e_kg"] == pytest.approx(0.1, rel=1e-9)
    text = cli("advise", "run.jsonl", "--series", "grid.csv", cwd=tmp_path)
    assert "best start" in text.stdout
    assert "saves" in text.stdout


def test_advise_says_when_the_run_does_not_fit_and_needs_something_to_compare() -> None:
    report = measured(2.0)
    t0 = parse_time(report.started_at)
    short = hourly(t0, [100.0])
    advice = report.advise(series=short)
    assert advice.best_start is None
    assert any("longer than the series" in n for n in advice.notes)
    with pytest.raises(nf.ConfigurationError, match="advise needs a series"):
        report.advise()


def test_an_estimate_refuses_a_series_on_the_command_line(tmp_path: Path) -> None:
    grid = tmp_path / "grid.csv"
    grid.write_text("timestamp,g_per_kwh\n2024-01-01T00:00:00Z,100\n")
    result = cli("estimate", "--hours", "1", "--power-w", "300", "--carbon-intensity", "grid.csv",
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    assert "an estimate has no time" in result.stderr


def test_nlpfootprint_run_weights_by_a_series_file(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).timestamp()
    hour0 = now - now % HOUR
    grid = tmp_path / "grid.csv"
    grid.write_text(
        "timestamp,g_per_kwh\n" + "".join(f"{iso(hour0 + i * HOUR)},123\n" for i in range(-1, 3))
    )
    result = cli(
        "run", "--log", "run.jsonl", "--carbon-intensity", "grid.csv", "--interval-s", "0.05",
        "--", sys.executable, "-c", "import time; time.sleep(0.3)", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "at 123 g/kWh (energy-weighted over the run's time)" in result.stderr
    logged = nf.Report.from_log(tmp_path / "run.jsonl")
    assert logged.assumptions.intensity.g_per_kwh == pytest.approx(123.0)


@pytest.mark.parametrize(
    "life_cycle_header",
    [
        "Carbon Intensity gCO₂eq/kWh (LCA)",  # older data-portal files
        "Carbon intensity gCO₂eq/kWh (Life cycle)",  # newer ones
        "Carbon Intensity gCO₂eq/kWh (life cycle assessment)",  # as the portal lists it
    ],
)
def test_electricity_maps_life_cycle_columns_in_each_spelling(
    tmp_path: Path, life_cycle_header: str
) -> None:
    direct = life_cycle_header.split("(", maxsplit=1)[0] + "(direct)"
    path = tmp_path / "FR_2023_hourly.csv"
    path.write_text(
        f"Datetime (UTC),Country,Zone name,Zone id,{direct},{life_cycle_header}\n"
        "2023-01-01 00:00:00,France,France,FR,17.12,45.3\n"
    )
    assert nf.IntensitySeries.from_csv(path).g_per_kwh == (45.3,)
    assert nf.IntensitySeries.from_csv(path, column="lca").g_per_kwh == (45.3,)
    assert nf.IntensitySeries.from_csv(path, column="direct").g_per_kwh == (17.12,)


def test_errors_name_the_files_own_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "gappy.csv"
    path.write_text("timestamp,g_per_kwh\n\n2024-01-01T00:00:00Z,100\n\n2024-01-01T01:00:00Z,x\n")
    with pytest.raises(nf.ConfigurationError, match=r"gappy\.csv, line 5: g_per_kwh='x'"):
        nf.IntensitySeries.from_csv(path)
    path.write_text("timestamp,g_per_kwh\n2024-01-01T00:00:00Z,100\n2024-01-01T01:00:00Z,5000\n")
    with pytest.raises(nf.ConfigurationError, match=r"gappy\.csv, line 3: .*5000"):
        nf.IntensitySeries.from_csv(path)
    path.write_text("timestamp,g_per_kwh\n2024-01-01T00:00:00Z,1\n\n2024-01-01T00:00:00+00:00,2\n")
    with pytest.raises(nf.ConfigurationError, match=r"line 4: .* given twice .*first on line 2"):
        nf.IntensitySeries.from_csv(path)


def test_energy_split_between_steps_inside_one_trace_bin() -> None:
    # one 2 h bin of 2 kWh over a step at its middle: half at 100, half at 500
    segments = [Segment(0.0, 2 * HOUR, 7.2e6)]
    series = IntensitySeries.from_pairs([(0.0, 100.0), (HOUR, 500.0)])
    assert weighted_intensity(segments, series).intensity.g_per_kwh == pytest.approx(300.0)
    # a quarter of the bin before the series: weighted by the fallback
    series = IntensitySeries.from_pairs([(HOUR / 2, 100.0)], step_s=3 * HOUR, fallback=500.0)
    weighting = weighted_intensity(segments, series)
    assert weighting.intensity.g_per_kwh == pytest.approx(0.25 * 500 + 0.75 * 100)
    assert weighting.outside_share == pytest.approx(0.25)


def test_re_accounting_replaces_the_last_series_warnings() -> None:
    report = measured(2.0)
    t0 = parse_time(report.started_at)
    short = IntensitySeries.from_pairs([(t0, 100.0)], step_s=HOUR / 2)
    partly = report.with_assumptions(carbon_intensity=short)
    assert sum("fell outside the series" in w for w in partly.warnings) == 1
    again = partly.with_assumptions(carbon_intensity=short)
    assert sum("fell outside the series" in w for w in again.warnings) == 1
    covering = hourly(t0 - HOUR, [200.0] * 5)
    assert not any("intensity series" in w for w in partly.with_assumptions(
        carbon_intensity=covering).warnings)  # fmt: skip
    assert not any("intensity series" in w for w in partly.with_assumptions(
        carbon_intensity="FRA").warnings)  # fmt: skip


def test_a_long_gap_in_the_data_is_said() -> None:
    report = measured(3.0)
    t0 = parse_time(report.started_at)
    series = IntensitySeries.from_pairs(
        [(t0 - HOUR, 100.0), (t0, 100.0), (t0 + 3 * HOUR, 100.0), (t0 + 4 * HOUR, 100.0)]
    )
    weighted = report.with_assumptions(carbon_intensity=series)
    assert any("no value from" in w and "a gap in the data" in w for w in weighted.warnings)


def test_the_tracker_places_its_run_at_the_time_it_started() -> None:
    start = dt.datetime.now(dt.UTC).timestamp()
    minute0 = start - start % 60
    # a different value every minute: a run misplaced by a minute would get another
    series = IntensitySeries.from_pairs([(minute0 + 60 * i, 100.0 + i) for i in range(-5, 30)])
    clock = FakeClock()
    with nf.track_energy(
        meters=[FakeMeter.constant(100.0)], clock=clock, carbon_intensity=series
    ) as tracker:
        clock.advance(1.0)
    t0 = parse_time(tracker.report.started_at)
    assert tracker.report.assumptions.intensity.g_per_kwh == pytest.approx(
        series.value_at(t0 + 0.5)
    )


def test_series_fallback_on_the_command_line(tmp_path: Path) -> None:
    report = measured(1.0, log=tmp_path / "run.jsonl")
    t0 = parse_time(report.started_at)
    grid = tmp_path / "grid.csv"  # covers the first half hour only
    grid.write_text(f"timestamp,g_per_kwh\n{iso(t0)},100\n{iso(t0 + HOUR / 4)},100\n")
    argv = ["report", "run.jsonl", "--carbon-intensity", "grid.csv", "--format", "json"]
    fra = nf.carbon_intensity("FRA").g_per_kwh
    data = json.loads(cli(*argv, "--series-fallback", "FRA", cwd=tmp_path).stdout)
    assert data["assumptions"]["intensity"]["g_per_kwh"] == pytest.approx(0.5 * 100 + 0.5 * fra)
    lonely = cli("report", "run.jsonl", "--series-fallback", "FRA", cwd=tmp_path)
    assert lonely.returncode == 2
    assert "applies to an hourly series" in lonely.stderr
    advice = cli("advise", "run.jsonl", "--series", "grid.csv", "--series-fallback", "FRA",
                 "--format", "markdown", cwd=tmp_path)  # fmt: skip
    assert advice.returncode == 0, advice.stderr
    assert advice.stdout.startswith("**nlpfootprint advice**")
    assert "| actual CO2e |" in advice.stdout
    assert "longer than the series: no start fits" in advice.stdout
