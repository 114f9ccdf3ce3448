"""The pytest plugin (the ``nlpfootprint`` ``pytest11`` entry point): a user's test file,
written into a temporary project, uses the fixtures ``fake_clock``, ``fake_meter`` and
``energy_tracker`` in a pytest run of its own, as in the user's CI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "howto-notebooks.md"

#: A user's tests of the fixtures themselves (run in that order: pytest keeps file order).
USER_TESTS = """
import pytest

import nlpfootprint as nf
from nlpfootprint.testing import FakeClock, FakeMeter

LEFT_RUNNING = []


def test_the_fixtures_share_one_clock(fake_clock, fake_meter, energy_tracker):
    assert isinstance(fake_clock, FakeClock)
    assert isinstance(fake_meter, FakeMeter)
    assert [c.id for c in fake_meter.channels] == ["gpu:0"]
    assert energy_tracker.running
    assert energy_tracker.settings.clock is fake_clock
    assert list(energy_tracker.settings.meters) == [fake_meter]
    assert nf.current_tracker() is energy_tracker


def test_the_fake_gpu_draws_100_w_on_the_fake_clock(energy_tracker, fake_clock):
    fake_clock.advance(3600)
    report = energy_tracker.stop()
    assert report.energy_kwh == pytest.approx(0.1)
    assert report.mean_power_w == pytest.approx({"gpu": 100.0})


def test_a_tracker_left_running(energy_tracker, fake_clock):
    fake_clock.advance(2)
    LEFT_RUNNING.append(energy_tracker)


def test_is_stopped_after_its_test():
    (tracker,) = LEFT_RUNNING
    assert not tracker.running
    assert tracker.report.energy_j == pytest.approx(200.0)
    assert nf.current_tracker() is None


def test_each_test_gets_its_own_tracker(energy_tracker):
    assert energy_tracker is not LEFT_RUNNING[0]
    assert energy_tracker.snapshot().energy_j == 0.0


def test_a_wrong_expectation_fails(energy_tracker, fake_clock):
    fake_clock.advance(10)
    assert energy_tracker.stop().energy_j == pytest.approx(999.0)
"""


def pytest_in(project: Path, *args: str, autoload: bool = True) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``project`` (outside this repository: none of its configuration)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def documented_test_file() -> str:
    """The test file that the pytest part of the how-to shows."""
    pytest_part = DOC.read_text(encoding="utf-8").split("\n## Test training code")[1]
    (block,) = re.findall(r"^```python\n(.*?)^```$", pytest_part, re.M | re.S)
    return str(block)


def test_the_fixtures_work_from_a_user_test_file_through_the_entry_point(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS, encoding="utf-8")
    (tmp_path / "test_documented.py").write_text(documented_test_file(), encoding="utf-8")
    result = pytest_in(tmp_path, "-rf")
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"1 failed, 6 passed in .*", summary), result.stdout + result.stderr
    (failure,) = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert "test_user.py::test_a_wrong_expectation_fails" in failure
    assert "1000.0 == 999.0" in failure  # 100 W for 10 s, really measured


def test_the_plugin_loads_by_name_when_autoloading_is_off(tmp_path: Path) -> None:
    (tmp_path / "test_documented.py").write_text(documented_test_file(), encoding="utf-8")
    without = pytest_in(tmp_path, autoload=False)
    assert without.returncode == 1
    assert "fixture 'energy_tracker' not found" in without.stdout
    loaded = pytest_in(tmp_path, "-p", "nlpfootprint.testing", autoload=False)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "1 passed" in loaded.stdout
