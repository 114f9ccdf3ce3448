"""estimate() and cloud_cost(): the paper's Table 3 without measuring, and the CLI command."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpfootprint as nf
from nlpfootprint import cli
from nlpfootprint.commands import estimate as estimate_command
from nlpfootprint.errors import ConfigurationError, NlpFootprintError
from nlpfootprint.estimate import ESTIMATE_METERS, CostRange, cloud_cost, estimate, resolve_prices
from nlpfootprint.prices import GCP_2019, GCP_2026, PriceTable
from nlpfootprint.report import Report
from nlpfootprint.testing import FakeClock, FakeMeter
from strategies import intensities_g_per_kwh, prices_per_kwh, pues

# Strubell, Ganesh & McCallum (ACL 2019), Table 3, as printed: model, hardware, power (W),
# hours, kWh-PUE, CO2e (lbs), cloud compute cost (USD, low and high).
TABLE_3 = [
    ("Transformer base", "P100", 8, 1415.78, 12, 27, 26, 41, 140),
    ("Transformer big", "P100", 8, 1515.43, 84, 201, 192, 289, 981),
    ("ELMo", "P100", 3, 517.66, 336, 275, 262, 433, 1472),
    ("BERT base (GPU)", "V100", 64, 12041.51, 79.2, 1507, 1438, 3751, 12571),
    ("NAS", "P100", 8, 1515.43, 274120, 656347, 626155, 942973, 3201722),
]
# The rows priced on TPUs (their power is not in the paper): BERT base on TPU v2 x16 for
# 96 h, GPT-2 on TPU v3 x32 for 168 h.
TPU_ROWS = [("TPU v2", 16, 96, 2074, 6912), ("TPUv3", 32, 168, 12902, 43008)]


@pytest.mark.parametrize(
    ("model", "hardware", "count", "power_w", "hours", "kwh_pue", "lbs", "low", "high"),
    TABLE_3,
    ids=[row[0] for row in TABLE_3],
)
def test_estimate_reproduces_table_3(
    model: str,
    hardware: str,
    count: int,
    power_w: float,
    hours: float,
    kwh_pue: int,
    lbs: int,
    low: int,
    high: int,
) -> None:
    report = estimate(power_w=power_w, hours=hours, carbon_intensity="strubell2019", name=model)
    assert round(report.facility_energy_kwh) == kwh_pue
    assert round(report.co2e_lbs) == lbs
    assert report.co2e_kg == pytest.approx(lbs * 0.45359237, abs=0.5)
    cost = cloud_cost(hardware, count=count, hours=hours, prices="gcp-2019")
    assert (round(cost.low), round(cost.high)) == (low, high)
    assert report.name == model


def test_the_paper_big_transformer_is_201_point_1_kwh() -> None:
    report = estimate(power_w=1515.43, hours=84, carbon_intensity="strubell2019")
    assert report.facility_energy_kwh == pytest.approx(201.1, abs=0.05)
    assert report.facility_energy_kwh == pytest.approx(1.58 * 84 * 1515.43 / 1000, rel=1e-12)


@pytest.mark.parametrize(("hardware", "count", "hours", "low", "high"), TPU_ROWS)
def test_cloud_cost_reproduces_the_tpu_rows(
    hardware: str, count: int, hours: float, low: int, high: int
) -> None:
    cost = cloud_cost(hardware, count, hours)
    assert (round(cost.low), round(cost.high)) == (low, high)


def test_cost_range_prints_like_the_paper() -> None:
    assert str(cloud_cost("P100", 8, 12)) == "$41-$140"
    assert str(cloud_cost("P100", 8, 274120)) == "$942,973-$3,201,722"
    assert str(CostRange(0.43, 1.46)) == "$0.43-$1.46"
    assert str(CostRange(5.0, 5.0)) == "$5.00"
    assert str(CostRange(12.0, 30.0, currency="EUR")) == "12-30 EUR"


def test_cloud_cost_records_how_it_was_priced() -> None:
    cost = cloud_cost("Tesla V100-SXM2-16GB", count=64, hours=79.2)
    assert cost.table == "gcp-2019"
    assert cost.hardware == "V100"
    assert cost.device_hours == pytest.approx(5068.8)
    assert cost.currency == "USD"


def test_cloud_cost_takes_a_table_a_mapping_or_a_number() -> None:
    table = PriceTable(name="mine", source="s", date="2026", prices={"H100": (2.0, 4.0)})
    assert cloud_cost("H100", 8, 10, prices=table) == CostRange(
        160.0, 320.0, "USD", "mine", "H100", 80.0
    )
    by_mapping = cloud_cost("H100 SXM5", 2, 10, prices={"h100": (1.0, 3.0)})
    assert (by_mapping.low, by_mapping.high, by_mapping.table) == (20.0, 60.0, "given")
    flat = cloud_cost("RTX 4090", 4, 10, prices=0.5)
    assert (flat.low, flat.high, flat.hardware) == (20.0, 20.0, "any device")
    assert cloud_cost("T4", 1, 10, prices="gcp-2026").high == pytest.approx(3.5)
    assert resolve_prices("gcp-2019") is GCP_2019


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "count=0"),
        ({"count": 2.5}, "count=2.5"),
        ({"count": True}, "count=True"),
        ({"hours": -1.0}, "hours=-1.0"),
        ({"hours": math.nan}, "hours=nan"),
        ({"prices": "aws-2019"}, "gcp-2019"),
        ({"prices": object()}, "prices="),
        ({"prices": -1.0}, "prices=-1.0"),
        ({"hardware": "H100"}, "no single price for hardware='H100'"),
        ({"hardware": "Ascend 910B"}, "no price for hardware='Ascend 910B'"),
    ],
)
def test_cloud_cost_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"hardware": "V100", "count": 1, "hours": 1.0} | kwargs
    with pytest.raises(ConfigurationError, match=message):
        cloud_cost(**args)  # type: ignore[arg-type]


# -- estimate ----------------------------------------------------------------------------


def test_an_estimate_is_marked_estimated_everywhere() -> None:
    report = estimate(hardware="V100", count=64, hours=79.2, carbon_intensity="strubell2019")
    assert report.method == "estimated"
    assert report.assumptions.meters == ESTIMATE_METERS
    assert all(c.source == "estimated" and c.readings == 0 for c in report.channels)
    assert "ESTIMATED" in str(report)
    assert report.to_dict()["method"] == "estimated"
    assert Report.from_dict(report.to_dict()) == report


def test_hardware_power_is_count_times_rated_power_times_utilization() -> None:
    report = estimate(
        hardware="A100 80GB",
        count=8,
        utilization=0.5,
        cpu_power_w=200.0,
        dram_power_w=40.0,
        hours=10,
        pue=1.1,
        carbon_intensity=100.0,
        price_per_kwh=0.2,
    )
    assert report.mean_power_w == pytest.approx({"gpu": 1600.0, "cpu": 200.0, "dram": 40.0})
    assert report.energy_kwh == pytest.approx(18.4)
    assert report.facility_energy_kwh == pytest.approx(20.24)
    assert report.co2e_kg == pytest.approx(2.024)
    assert report.cost_usd == pytest.approx(4.048)
    gpu = report.channels[0]
    assert gpu.id == "gpu:0-7"
    assert "8 x A100 80GB SXM4 at 400 W" in gpu.label
    assert "utilization 0.5" in gpu.label
    assert report.duration_s == 36000.0
    assert any("max TDP" in w for w in report.warnings)


def test_tpus_are_not_counted_as_gpus() -> None:
    report = estimate(hardware="TPU v3", count=32, hours=1)
    assert report.mean_power_w == pytest.approx({"other": 32 * 283.0})
    assert "not TDP" in report.channels[0].label


def test_a_total_power_is_one_channel_saying_so() -> None:
    report = estimate(power_w=1000.0, hours=2)
    (channel,) = report.channels
    assert (channel.id, channel.domain, channel.kind) == ("total", "other", "power")
    assert "total power as given" in channel.label
    assert report.energy_kwh == pytest.approx(2.0)
    assert report.warnings == ()


def test_the_default_pue_is_the_papers_and_the_intensity_the_world_average() -> None:
    report = estimate(power_w=1000.0, hours=1)
    assert report.assumptions.pue == 1.58
    assert report.assumptions.intensity_is_default
    assert report.cost_usd is None


def test_zero_energy_reads_as_nothing_measured_not_as_an_estimate_of_something() -> None:
    assert estimate(power_w=0.0, hours=5).method == "none"
    assert estimate(hardware="T4", hours=0).energy_j == 0.0


def test_an_estimate_projects_and_reaccounts_like_a_measurement() -> None:
    report = estimate(power_w=1515.43, hours=84)
    paper = report.with_assumptions(carbon_intensity="strubell2019")
    assert round(paper.co2e_lbs) == 192
    assert report.project(hours=168).energy_kwh == pytest.approx(2 * report.energy_kwh)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": -1.0}, "hours=-1.0"),
        ({"hours": math.nan}, "hours=nan"),
        ({"hours": math.inf}, "hours=inf"),
        ({"hours": "84"}, "hours='84'"),
        ({"power_w": -5.0, "hardware": None}, "power_w=-5.0"),
        ({"power_w": math.nan, "hardware": None}, "power_w=nan"),
        ({"power_w": 1e308, "hardware": None, "hours": 1e308}, "too large for a float"),
        ({"pue": 0.9}, "pue=0.9"),
        ({"pue": math.nan}, "pue=nan"),
        ({"count": 0}, "count=0"),
        ({"count": -3}, "count=-3"),
        ({"count": 1.5}, "count=1.5"),
        ({"count": True}, "count=True"),
        ({"utilization": -0.1}, "utilization=-0.1"),
        ({"utilization": 1.5}, "utilization=1.5"),
        ({"utilization": math.nan}, "utilization=nan"),
        ({"cpu_power_w": -1.0}, "cpu_power_w=-1.0"),
        ({"dram_power_w": math.inf}, "dram_power_w=inf"),
        ({"carbon_intensity": -1.0}, "carbon_intensity=-1.0"),
        ({"carbon_intensity": "nowhere"}, "nowhere"),
        ({"price_per_kwh": -0.1}, "price_per_kwh=-0.1"),
        ({"price_per_kwh": math.nan}, "price_per_kwh=nan"),
        ({"hardware": "Ascend 910B"}, "Ascend 910B"),
        ({"hardware": "A100 PCIe"}, "ambiguous"),
        ({"hardware": None}, "exactly one of power_w"),
        ({"power_w": 100.0}, "exactly one of power_w"),
        ({"power_w": 100.0, "hardware": None, "count": 8}, "count"),
        ({"power_w": 100.0, "hardware": None, "utilization": 0.5}, "utilization"),
        ({"power_w": 100.0, "hardware": None, "cpu_power_w": 50.0}, "cpu_power_w"),
    ],
)
def test_bad_input_is_a_clear_error_naming_the_value(
    kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"hardware": "V100", "hours": 1.0} | kwargs
    with pytest.raises(NlpFootprintError, match=message) as info:
        estimate(**args)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


@settings(max_examples=60, deadline=None)
@given(
    power_w=st.floats(min_value=0.0, max_value=5000.0, allow_nan=False),
    hours=st.floats(min_value=0.01, max_value=1000.0, allow_nan=False),
    pue=pues,
    intensity=intensities_g_per_kwh,
    price=prices_per_kwh,
)
def test_the_calculator_agrees_with_measuring_constant_power(
    power_w: float, hours: float, pue: float, intensity: float, price: float
) -> None:
    estimated = estimate(
        power_w=power_w, hours=hours, pue=pue, carbon_intensity=intensity, price_per_kwh=price
    )
    clock = FakeClock()
    with nf.track_energy(
        meters=[FakeMeter.constant(power_w, domain="other")],
        clock=clock,
        interval_s=86400.0,
        pue=pue,
        carbon_intensity=intensity,
        price_per_kwh=price,
    ) as tracker:
        clock.advance(hours * 3600)
    measured = tracker.report
    for figure in ("energy_kwh", "facility_energy_kwh", "co2e_kg", "cost_usd"):
        assert getattr(estimated, figure) == pytest.approx(
            getattr(measured, figure), rel=1e-9, abs=1e-15
        ), figure
    assert estimated.duration_s == pytest.approx(measured.duration_s, rel=1e-9)


# -- the command -------------------------------------------------------------------------


def run_command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="nlpfootprint")
    estimate_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["estimate", *argv])
    status = args.run(args)
    return status, capsys.readouterr().out


def test_command_prints_energy_co2e_and_cloud_cost(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_command(
        capsys, "--hardware", "V100", "--count", "64", "--hours", "79.2",
        "--carbon-intensity", "strubell2019",
    )  # fmt: skip
    assert status == 0
    assert "ESTIMATED, not measured" in out
    assert "64 x Tesla V100 SXM2, 300 W (max board power)" in out
    assert "1,521 kWh" in out  # 4 significant figures, as every table (issue 13, point 10)
    assert "2,403 kWh (PUE 1.58)" in out
    assert "t = 2,292 lbs" in out
    assert "strubell2019, 2018; US EPA" in out
    assert "$3,751-$12,571" in out
    assert "gcp-2019 (2019;" in out
    assert "not computed (pass --price-per-kwh)" in out


def test_command_with_a_total_power_and_an_electricity_price(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out = run_command(
        capsys, "--power-w", "1515.43", "--hours", "84", "--carbon-intensity", "strubell2019",
        "--price-per-kwh", "0.1",
    )  # fmt: skip
    assert status == 0
    assert "201.1 kWh" in out
    assert "191.9 lbs" in out
    assert "20.11 USD at 0.1/kWh" in out
    assert "needs --hardware" in out


def test_command_notes_an_unpriced_device_unless_prices_were_asked_for(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out = run_command(capsys, "--hardware", "H100", "--hours", "1")
    assert status == 0
    assert "not computed: price table gcp-2019" in out
    with pytest.raises(ConfigurationError, match="no single price"):
        run_command(capsys, "--hardware", "H100", "--hours", "1", "--prices", "gcp-2019")
    status, out = run_command(capsys, "--hardware", "H100", "--hours", "2", "--prices", "3.5")
    assert "$7.00" in out
    status, out = run_command(capsys, "--hardware", "V100", "--hours", "1", "--prices", "none")
    assert "not computed (--prices none)" in out


def test_command_json_carries_the_report_and_the_cost(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_command(
        capsys, "--hardware", "A100", "--count", "8", "--hours", "10", "--prices", "gcp-2026",
        "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert status == 0
    assert data["method"] == "estimated"
    assert data["hardware"]["model"] == "A100 40GB SXM4"
    assert data["hardware"]["count"] == 8
    assert data["cloud_cost"]["table"] == "gcp-2026"
    assert data["cloud_cost"]["high"] == pytest.approx(80 * 2.93391)
    assert data["cloud_cost"]["date"] == GCP_2026.date
    assert data["cloud_cost"]["hardware"] == "A100 40GB"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hardware", "V100", "--hours", "-1"], "argument --hours: hours=-1.0"),
        (["--hardware", "V100", "--hours", "1", "--pue", "0.5"], "argument --pue: pue=0.5"),
        (["--hardware", "V100", "--hours", "1", "--count", "0"], "argument --count: count=0"),
        (["--hardware", "V200", "--hours", "1"], "argument --hardware: hardware='V200'"),
        (["--hardware", "V100", "--hours", "1", "--prices", "aws"], "argument --prices"),
    ],
)
def test_a_bad_flag_value_is_a_usage_error_found_while_parsing(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        run_command(capsys, *argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--power-w", "100", "--hours", "1", "--prices", "gcp-2019"], "--prices needs"),
        (["--power-w", "100", "--hours", "1", "--count", "4"], "count"),
    ],
)
def test_command_errors_are_library_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        run_command(capsys, *argv)


@pytest.mark.skipif(
    "estimate" not in cli.COMMANDS, reason="the estimate command is not registered in cli.py yet"
)
def test_command_runs_as_a_real_subprocess() -> None:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    argv = ["--hardware", "V100", "--count", "64", "--hours", "79.2"]
    result = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "estimate", *argv,
         "--carbon-intensity", "strubell2019"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ESTIMATED" in result.stdout
    assert "$3,751-$12,571" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "estimate", "--hardware", "V100", "--hours", "-1"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "--hours -1.0" in bad.stderr
