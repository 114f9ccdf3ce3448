"""``nlpfootprint estimate`` as a new user runs it (issue 13, point 8), as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nlpfootprint as nf
from nlpfootprint.prices import GCP_2019, GCP_2026


def estimate_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "estimate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_measured_power_with_hardware_uses_the_power_and_prices_the_devices() -> None:
    result = estimate_cli("--hardware", "V100", "--count", "2", "--power-w", "200", "--hours", "10")
    assert result.returncode == 0, result.stderr
    assert "2 x Tesla V100 SXM2 (prices the cloud cost; power as given)" in result.stdout
    assert "200.0 W" in result.stdout
    assert "$15-$50 for 20 device-hours of V100" in result.stdout
    data = json.loads(
        estimate_cli("--hardware", "V100", "--power-w", "200", "--hours", "10", "--json").stdout
    )
    assert data["energy_kwh"] == 2.0
    assert data["hardware"]["power_as_given_w"] == 200.0
    assert data["cloud_cost"]["high"] == 24.8


def test_measured_power_refuses_flags_that_scale_the_rated_power() -> None:
    result = estimate_cli(
        "--hardware", "V100", "--power-w", "200", "--hours", "1", "--utilization", "0.5"
    )
    assert result.returncode == 2
    assert "--power-w 200 is the total draw, so --utilization cannot be added" in result.stderr
    assert "Traceback" not in result.stderr


def test_neither_hardware_nor_power_is_one_line_naming_both_flags() -> None:
    result = estimate_cli("--hours", "1")
    assert result.returncode == 2
    assert "give --hardware" in result.stderr
    assert "--power-w" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_notes_shown_are_about_the_hardware_asked_for() -> None:
    v100 = estimate_cli("--hardware", "V100", "--hours", "1").stdout
    assert "TPU" not in v100
    tpu = estimate_cli("--hardware", "TPU v3", "--hours", "1").stdout
    assert "per Cloud TPU device" in tpu
    assert "1.46" not in tpu  # the TPU v2 footnote
    a100 = estimate_cli("--hardware", "A100", "--hours", "1", "--prices", "gcp-2026").stdout
    assert "GPU only" in a100
    assert "H100 are left out" not in a100


def test_a_table_notes_for_follow_the_device() -> None:
    assert GCP_2019.notes_for("V100") == ()
    assert len(GCP_2019.notes_for("TPU v2")) == 2
    assert any("left out" in n for n in GCP_2026.notes_for("H100"))
    assert not any("left out" in n for n in GCP_2026.notes_for("A100 40GB"))


def test_zero_hours_is_refused_naming_the_flag() -> None:
    result = estimate_cli("--hardware", "V100", "--hours", "0")
    assert result.returncode == 2
    assert "--hours 0" in result.stderr
    assert "greater than zero" in result.stderr
    assert result.stdout == ""


def test_zero_hours_in_python_is_explained_in_the_warnings() -> None:
    report = nf.estimate(hardware="T4", hours=0)
    assert any("hours=0" in w for w in report.warnings)


def test_a_single_price_prints_one_clean_figure() -> None:
    out = estimate_cli("--hardware", "V100", "--hours", "10", "--prices", "2.5").stdout
    assert "cloud cost    $25 for 10 device-hours at $2.50 per device-hour\n" in out
    assert "any device" not in out
    assert "preemptible" not in out
    assert "(;" not in out


def test_the_default_prices_cover_l4_and_a100_with_the_table_date() -> None:
    l4 = estimate_cli("--hardware", "L4", "--count", "2", "--hours", "10").stdout
    assert "$4.46-$11 for 20 device-hours of L4 at $0.2231-$0.56 per device-hour" in l4
    assert f"gcp-2026 ({GCP_2026.date}, us-central1;" in l4
    a100 = estimate_cli("--hardware", "A100", "--hours", "10").stdout
    assert "of A100 40GB" in a100
    assert GCP_2026.date in a100
    v100 = estimate_cli("--hardware", "V100", "--count", "64", "--hours", "79.2").stdout
    assert "$3,751-$12,571" in v100
    assert "gcp-2019 (2019;" in v100


def test_cloud_cost_by_default_prices_current_devices_and_says_when() -> None:
    cost = nf.cloud_cost("L4", count=2, hours=10)
    assert (cost.table, cost.date) == ("gcp-2026", GCP_2026.date)
    assert cost.per_device_hour() == "$0.2231-$0.56"
    assert nf.cloud_cost("V100", 1, 1).table == "gcp-2019"


def test_an_unpriced_h100_says_why_each_table_lacks_it() -> None:
    out = estimate_cli("--hardware", "H100", "--hours", "1").stdout
    assert "not computed: price table gcp-2019" in out
    assert "nor does gcp-2026" in out
    assert "H100 are left out" in out


def test_the_cost_note_of_an_unpriced_device_names_flags_not_parameters() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "estimate", "--hardware", "H100", "--hours", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    cost = next(line for line in result.stdout.splitlines() if "cloud cost" in line)
    assert "--hardware 'H100 SXM5'" in cost
    assert "--prices 2.5" in cost
    assert "hardware=" not in cost
