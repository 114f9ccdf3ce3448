"""The command line's errors, in its own words, and never a traceback (issue 13, 5 and 6).

Run as a real subprocess: what a user sees is the process's streams and exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import nlpfootprint as nf
from nlpfootprint.cli import cli_words
from nlpfootprint.testing import FakeClock, FakeMeter

#: 128 + SIGPIPE: what a shell reports for a program ended by a reader that went away.
BROKEN_PIPE = 141


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONWARNINGS": "error"}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nlpfootprint", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        check=False,
    )


@pytest.fixture
def run_log(tmp_path: Path) -> Path:
    """A finished run's log: 100 W for 20 s."""
    clock = FakeClock()
    log = tmp_path / "run.jsonl"
    with nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock, log=log):
        for _ in range(20):
            clock.advance(1.0)
    return log


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert "usage:" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nlpfootprint "), result.stderr
    return lines[0]


# -- 5: the flags, not the Python parameters ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said", "python"),
    [
        (["--power-w", "-3", "--hours", "1"], "--power-w -3", "power_w"),
        (["--hardware", "V100", "--hours", "-1"], "--hours -1", "hours="),
        (["--hardware", "V100", "--hours", "1", "--count", "0"], "--count 0", "count="),
        (["--hardware", "V100", "--hours", "1", "--pue", "9"], "--pue 9", "pue="),
        (
            ["--hardware", "V100", "--hours", "1", "--carbon-intensity", "5000"],
            "--carbon-intensity 5000",
            "carbon_intensity",
        ),
        (
            ["--hardware", "V100", "--hours", "1", "--carbon-intensity", "atlantis"],
            "--carbon-intensity atlantis",
            "carbon_intensity",
        ),
        (["--hardware", "V100", "--hours", "1", "--prices", "-2.5"], "--prices -2.5", "prices="),
        (["--hardware", "V100", "--hours", "1", "--prices", "nope"], "--prices nope", "prices="),
        (["--hardware", "Z9000", "--hours", "1"], "--hardware Z9000", "hardware="),
        # the library's own message, raised while the command runs (not while parsing)
        (["--power-w", "1e300", "--hours", "1e300"], "--hours 1e+300 at --power-w", "power_w"),
        (
            ["--hardware", "TPU v3", "--hours", "1", "--prices", "gcp-2026"],
            "--hardware 'TPU v3'",
            "hardware=",
        ),
    ],
    ids=[
        "power-w",
        "hours",
        "count",
        "pue",
        "intensity-number",
        "intensity-key",
        "prices-number",
        "prices-table",
        "hardware",
        "while-running",
        "while-running-quoted",
    ],
)
def test_estimate_errors_name_the_flags_not_the_python_parameters(
    args: list[str], said: str, python: str
) -> None:
    line = _one_error_line(run_cli("estimate", *args))
    assert said in line
    assert python not in line


def test_an_unknown_hardware_points_to_the_power_flag_not_the_parameter() -> None:
    line = _one_error_line(run_cli("estimate", "--hardware", "Z9000", "--hours", "1"))
    assert "(--power-w)" in line


def test_a_check_that_calls_the_value_otherwise_still_names_the_flag(run_log: Path) -> None:
    # --project-hours is checked as "hours": the message names the flag the user typed
    line = _one_error_line(run_cli("report", str(run_log), "--project-hours", "-1"))
    assert "--project-hours -1" in line
    assert "hours=" not in line


@pytest.mark.parametrize(
    ("command", "args", "said", "python"),
    [
        ("demo", ["--interval-s", "0"], "--interval-s 0", "interval_s"),
        ("demo", ["--pue", "0.5"], "--pue 0.5", "pue="),
        ("run", ["--log-flush-s", "-1", "--", "true"], "--log-flush-s -1", "log_flush_s"),
        ("report", ["LOG", "--price-per-kwh", "-1"], "--price-per-kwh -1", "price_per_kwh"),
    ],
    ids=["demo-interval", "demo-pue", "run-flush", "report-price"],
)
def test_every_command_names_its_flags(
    command: str, args: list[str], said: str, python: str, run_log: Path
) -> None:
    args = [str(run_log) if a == "LOG" else a for a in args]
    line = _one_error_line(run_cli(command, *args))
    assert said in line
    assert python not in line


def test_a_count_that_is_not_whole_is_one_line_not_the_usage_text() -> None:
    line = _one_error_line(
        run_cli("estimate", "--hardware", "V100", "--hours", "1", "--count", "2.5")
    )
    assert "--count" in line
    assert "2.5" in line


FLAGS = {
    "power_w": "--power-w",
    "cpu_power_w": "--cpu-power-w",
    "hardware": "--hardware",
    "prices": "--prices",
    "pue": "--pue",
}


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("power_w=-3.0: must be zero or positive", "--power-w -3.0: must be zero or positive"),
        ("hardware='TPU v3': no price", "--hardware 'TPU v3': no price"),
        ("hardware='a100': no price", "--hardware a100: no price"),
        ("pass its power in watts (power_w=)", "pass its power in watts (--power-w)"),
        ("give cpu_power_w or power_w", "give --cpu-power-w or --power-w"),
        ("pue=10**400: too large", "--pue 10**400: too large"),
        # not a parameter: a path, a key, part of a longer name, an unknown parameter
        ("/tmp/pue=2/run.jsonl: missing", "/tmp/pue=2/run.jsonl: missing"),
        ("gcp:pue=2 is no key", "gcp:pue=2 is no key"),
        ("max_pue=2 and my_power_w", "max_pue=2 and my_power_w"),
        ("interval_s=0.0: must be positive", "interval_s=0.0: must be positive"),
        # a Python value no flag takes stays Python
        ("or pass prices={name: (low, high)}", "or pass prices={name: (low, high)}"),
    ],
)
def test_cli_words_turns_parameters_into_flags_and_nothing_else(message: str, words: str) -> None:
    assert cli_words(message, FLAGS) == words


# -- 6: no tracebacks -----------------------------------------------------------------------


@pytest.fixture
def closed_pipe() -> Iterator[int]:
    """The write end of a pipe whose reader has gone (``| head -1`` once head has exited):
    every write to it fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    yield write
    os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        ["regions"],
        ["regions", "--json"],
        ["regions", "--sources"],
        ["report", "LOG"],
        ["report", "LOG", "--format", "json"],
        ["report", "LOG", "--format", "csv"],
        ["report", "LOG", "--format", "latex"],
        ["estimate", "--hardware", "V100", "--hours", "1"],
        ["estimate", "--hardware", "V100", "--hours", "1", "--json"],
        ["meters"],
        ["--version"],
    ],
    ids=lambda a: "-".join(a).replace("LOG", "log"),
)
def test_output_into_a_closed_pipe_ends_quietly(
    args: list[str], run_log: Path, closed_pipe: int
) -> None:
    args = [str(run_log) if a == "LOG" else a for a in args]
    result = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", *args],
        stdout=closed_pipe,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        env=_env(),
        check=False,
    )
    assert result.stderr == ""
    assert result.returncode == BROKEN_PIPE


def test_a_plot_into_a_missing_folder_is_one_line_naming_it(run_log: Path, tmp_path: Path) -> None:
    path = tmp_path / "missing" / "dir" / "power.png"
    result = run_cli("report", str(run_log), "--plot", str(path))
    line = _one_error_line(result)
    assert f"--plot {path}" in line
    assert "does not exist" in line
    assert result.stdout == ""


@pytest.mark.parametrize("name", ["power.foo", "power"])
def test_a_plot_of_an_unknown_format_is_one_line_with_the_formats(
    run_log: Path, tmp_path: Path, name: str
) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / name
    result = run_cli("report", str(run_log), "--plot", str(path))
    line = _one_error_line(result)
    assert f"--plot {path}" in line
    assert "png" in line
    assert "pdf" in line
    assert result.stdout == ""  # no report before the error
    assert list(tmp_path.glob("power*")) == []


def test_a_plot_that_fails_to_write_leaves_no_report_on_stdout(
    run_log: Path, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    folder = tmp_path / "power.png"
    folder.mkdir()  # a folder where the file should go
    result = run_cli("report", str(run_log), "--plot", str(folder))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert str(folder) in result.stderr
    assert result.stdout == ""


def test_a_plot_beside_json_keeps_stdout_json(run_log: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "power.png"
    result = run_cli("report", str(run_log), "--format", "json", "--plot", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["energy_kwh"] > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot written to {path}" in result.stderr
