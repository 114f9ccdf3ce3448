"""The command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nlpfootprint as nf

SCRIPT = shutil.which("nlpfootprint", path=str(Path(sys.executable).parent))


def run_cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [sys.executable, "-m", "nlpfootprint", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_version_is_the_package_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"nlpfootprint {nf.__version__}"


def test_no_command_prints_help_and_fails() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "demo" in result.stdout


@pytest.mark.skipif(SCRIPT is None, reason="console script not installed next to this python")
def test_console_script_is_installed() -> None:
    assert SCRIPT is not None
    result = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_demo_trains_and_prints_the_report_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run_cli(
        "demo",
        "--steps",
        "120",
        "--seconds",
        "60",
        "--interval-s",
        "0.2",
        "--carbon-intensity",
        "strubell2019",
        "--price-per-kwh",
        "0.12",
        "--json",
        str(out),
        "--log",
        str(tmp_path / "demo.jsonl"),
    )
    assert result.returncode == 0, result.stderr
    assert "nlpfootprint report" in result.stdout
    assert "ESTIMATED" in result.stdout  # no measured meter on a CI machine
    report = nf.Report.from_json(out.read_text())
    assert report.steps == 120
    assert report.assumptions.intensity.key == "strubell2019"
    assert report.cost_usd is not None
    assert report.cost_usd > 0
    assert json.loads(out.read_text())["method"] == "estimated"
    # the demo writes its run log and says how to re-account it
    assert f"nlpfootprint report {tmp_path / 'demo.jsonl'}" in result.stdout
    again = nf.Report.from_log(tmp_path / "demo.jsonl", carbon_intensity="FRA")
    assert again.energy_j == pytest.approx(report.energy_j)
    assert again.assumptions.intensity.key == "FRA"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--pue", "0.5", "--steps", "1"], "--pue 0.5"),
        (["demo", "--carbon-intensity", "-3", "--steps", "1"], "--carbon-intensity -3"),
        (["demo", "--carbon-intensity", "atlantis", "--steps", "1"], "atlantis"),
    ],
)
def test_bad_options_exit_2_with_one_clear_line(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_meters_explains_what_is_measured_and_why_not_the_rest() -> None:
    result = run_cli("meters")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for backend in ("nvml", "rapl", "estimated-cpu", "estimated-dram"):
        assert backend in out
    if "nvml            not used" in out:
        assert "NVIDIA" in out  # why there is no GPU reading
    if "rapl            not used" in out:
        assert "powercap" in out
    if "estimated-cpu   used" in out:
        assert "TDP" in out
        assert "ESTIMATED" in out


def test_meters_json_is_machine_readable() -> None:
    result = run_cli("meters", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {b["backend"] for b in data["backends"]} >= {"nvml", "rapl"}


def test_demo_refuses_a_json_path_in_a_missing_folder_before_training(tmp_path: Path) -> None:
    result = run_cli("demo", "--steps", "1000000", "--json", str(tmp_path / "no" / "r.json"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "step " not in result.stdout  # it did not train first
