"""The CPU estimate's scope (issue 13, point 1): machine scope keeps being the default (a
dedicated node, as the paper measured), this process tree's share is measured alongside,
and when other processes used more than 20% of the busy CPU time the report says so with
both figures; ``cpu_scope``/``cpu_tdp_w`` choose, and ``nlpfootprint run`` takes them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters.estimated import EstimatedCpuMeter
from nlpfootprint.testing import FakeMeter


class Times:
    """Machine CPU times and this tree's CPU seconds, advanced by the test."""

    def __init__(self) -> None:
        self.busy = 100.0
        self.idle = 1000.0
        self.mine = 10.0

    def cpu_times(self) -> SimpleNamespace:
        return SimpleNamespace(user=self.busy, system=0.0, idle=self.idle)

    def tree(self) -> float:
        return self.mine


def machine_meter(times: Times) -> EstimatedCpuMeter:
    return EstimatedCpuMeter(
        80.0,
        sockets=1,
        model="test CPU",
        logical_cpus=4,
        cpu_times=times.cpu_times,
        process_cpu_seconds=times.tree,
    )


def test_other_processes_load_is_said_with_both_figures() -> None:
    times = Times()
    meter = machine_meter(times)
    times.busy += 10.0  # 10 busy CPU-seconds, of which this tree's: 4
    times.mine += 4.0
    times.idle += 30.0
    meter.read()
    (warning,) = meter.final_warnings()
    assert "other processes used 60% of the busy CPU time (6.0 of 10.0 CPU-seconds)" in warning
    # this tree's own: 4 CPU-s x 80 W / 4 logical CPUs = 80 J
    assert "this process tree's own CPU time gives 80.000 J" in warning
    assert "cpu_scope='process'" in warning
    assert "--cpu-scope process" in warning


def test_on_a_vm_this_trees_own_figure_is_charged_the_vms_share_too() -> None:
    times = Times()
    meter = EstimatedCpuMeter(
        model="Intel(R) Xeon(R) Platinum 8358 CPU @ 2.60GHz",  # 250 W, 64 threads
        virtual=True,
        logical_cpus=4,
        cpu_times=times.cpu_times,
        process_cpu_seconds=times.tree,
    )
    times.busy += 10.0
    times.mine += 4.0
    (warning,) = meter.final_warnings()
    # 4 CPU-s x (250 W x 4/64 threads) / 4 logical CPUs = 4 x 250 / 64 = 15.625 J
    assert "this process tree's own CPU time gives 15.625 J" in warning


@pytest.mark.parametrize(("busy", "mine"), [(10.0, 9.0), (0.5, 0.0)])
def test_no_warning_for_a_run_that_had_the_cpu_to_itself_or_barely_used_it(
    busy: float, mine: float
) -> None:
    times = Times()
    meter = machine_meter(times)
    times.busy += busy
    times.mine += mine
    assert meter.final_warnings() == []


def test_process_scope_has_nothing_to_add() -> None:
    times = Times()
    meter = EstimatedCpuMeter(80.0, scope="process", logical_cpus=4, process_cpu_seconds=times.tree)
    times.mine += 50.0
    assert meter.final_warnings() == []


def test_the_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="cpu_scope='node'"):
        nf.track_energy(cpu_scope="node")  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match="cpu_tdp_w"):
        nf.track_energy(cpu_tdp_w=-5)
    with pytest.raises(ConfigurationError, match="EstimatedCpuMeter"):
        nf.track_energy(meters=[FakeMeter.constant(1.0)], cpu_scope="process")


def _estimated_cpu(report: nf.Report) -> nf.ChannelReport:
    cpu = [c for c in report.channels if c.domain == "cpu"]
    if not cpu or cpu[0].basis is None:
        pytest.skip("the CPU is measured here (RAPL), not estimated")
    return cpu[0]


def test_track_energy_takes_the_scope_and_tdp_for_auto_meters() -> None:
    with nf.track_energy(cpu_scope="process", cpu_tdp_w=10.0, distributed=None) as tracker:
        pass
    basis = _estimated_cpu(tracker.report).basis
    assert basis is not None
    assert (basis.scope, basis.rated_w) == ("process", 10.0)


def _burn_outside_this_tree(seconds: float) -> None:
    """Start a CPU-bound process that is not a descendant of this one (its parent exits,
    so it is re-parented), as another user's job on a shared machine."""
    code = (
        "import os, time\n"
        "if os.fork():\n"
        "    os._exit(0)\n"
        f"end = time.monotonic() + {seconds}\n"
        "while time.monotonic() < end:\n"
        "    pass\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_busy_neighbour_is_reported_in_machine_scope() -> None:
    with nf.track_energy(distributed=None, interval_s=0.1) as tracker:
        _burn_outside_this_tree(2.0)
        time.sleep(2.2)
    _estimated_cpu(tracker.report)
    assert any("other processes used" in w for w in tracker.report.warnings), (
        tracker.report.warnings
    )


def test_nlpfootprint_run_takes_cpu_scope_and_tdp(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "run", "--cpu-scope", "process", "--cpu-tdp",
         "10", "--log", str(log), "--", sys.executable, "-c", "pass"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    basis = _estimated_cpu(nf.Report.from_log(log)).basis
    assert basis is not None
    assert (basis.scope, basis.rated_w) == ("process", 10.0)
    bad = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "run", "--cpu-scope", "node", "--", "true"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "--cpu-scope" in bad.stderr
