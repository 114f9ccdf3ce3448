"""Estimated meters and detection: labelled estimated, following the load, explained."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError, MeterUnavailableError
from nlpfootprint.meters.discovery import Backend, detect
from nlpfootprint.meters.estimated import (
    DEFAULT_CPU_TDP_W,
    IDLE_FRACTION_OF_TDP,
    EstimatedCpuMeter,
    EstimatedDramMeter,
    cpu_model_name,
    cpu_socket_count,
)
from nlpfootprint.testing import FakeClock, FakeMeter


class FakeCpuTimes:
    """Cumulative CPU times as the OS reports them, advanced by hand."""

    def __init__(self) -> None:
        self.user = 100.0
        self.system = 50.0
        self.idle = 1000.0
        self.iowait = 5.0
        self.steal = 1.0

    def __call__(self) -> SimpleNamespace:
        return SimpleNamespace(**vars(self))

    def run(self, seconds: float, cpus: int, busy_fraction: float) -> None:
        self.user += seconds * cpus * busy_fraction
        self.idle += seconds * cpus * (1 - busy_fraction)


GENERIC_VM_CPU = "Intel(R) Xeon(R) Processor"


def machine_meter(times: FakeCpuTimes, **kwargs: Any) -> EstimatedCpuMeter:
    kwargs.setdefault("model", GENERIC_VM_CPU)
    kwargs.setdefault("sockets", 1)
    kwargs.setdefault("virtual", False)  # bare metal, whatever machine runs the tests
    return EstimatedCpuMeter(cpu_times=times, **kwargs)


class FakeProcessSeconds:
    """Cumulative CPU seconds of a process tree, advanced by hand."""

    def __init__(self) -> None:
        self.seconds = 3.25

    def __call__(self) -> float:
        return self.seconds


def test_idle_machine_estimates_idle_power_and_busy_machine_tdp() -> None:
    times = FakeCpuTimes()
    meter = machine_meter(times, tdp_w=120.0, logical_cpus=8)
    start = meter.read()[0]
    times.run(10.0, cpus=8, busy_fraction=0.0)
    idle_j = meter.read()[0] - start
    times.run(10.0, cpus=8, busy_fraction=1.0)
    busy_j = meter.read()[0] - start - idle_j
    assert IDLE_FRACTION_OF_TDP == 0.12
    assert idle_j == pytest.approx(0.12 * 120.0 * 10.0)  # 14.4 W for 10 s
    assert busy_j == pytest.approx(120.0 * 10.0)  # TDP for 10 s


def test_machine_estimate_rises_linearly_from_idle_floor_to_tdp() -> None:
    times = FakeCpuTimes()
    meter = machine_meter(times, tdp_w=100.0, sockets=2, logical_cpus=4)
    times.run(60.0, cpus=4, busy_fraction=0.25)
    expected_w = 2 * 100.0 * (0.12 + (1 - 0.12) * 0.25)
    assert meter.read() == [pytest.approx(expected_w * 60.0)]


def test_idle_fraction_zero_gives_plain_tdp_times_utilisation() -> None:
    times = FakeCpuTimes()
    meter = machine_meter(times, tdp_w=100.0, sockets=2, logical_cpus=4, idle_fraction=0)
    times.run(60.0, cpus=4, busy_fraction=0.25)
    assert meter.read() == [pytest.approx(2 * 100.0 * 0.25 * 60.0)]


def test_steal_and_iowait_count_as_not_busy_time() -> None:
    times = FakeCpuTimes()
    meter = machine_meter(times, tdp_w=100.0, logical_cpus=2)
    times.steal += 10.0
    times.iowait += 10.0  # 10 s of wall time on 2 CPUs, none of it busy
    assert meter.read() == [pytest.approx(0.12 * 100.0 * 10.0)]


def test_machine_estimate_does_not_depend_on_how_often_it_is_read() -> None:
    often, seldom = FakeCpuTimes(), FakeCpuTimes()
    often_meter = machine_meter(often, tdp_w=90.0, logical_cpus=4)
    seldom_meter = machine_meter(seldom, tdp_w=90.0, logical_cpus=4)
    for busy_fraction in (0.0, 1.0, 0.3, 0.9, 0.05):
        often.run(7.0, cpus=4, busy_fraction=busy_fraction)
        seldom.run(7.0, cpus=4, busy_fraction=busy_fraction)
        often_meter.read()
    assert often_meter.read() == [pytest.approx(seldom_meter.read()[0])]


def test_machine_estimate_never_goes_backwards_when_os_counters_do() -> None:
    times = FakeCpuTimes()
    meter = machine_meter(times, tdp_w=100.0, logical_cpus=2)
    times.run(10.0, cpus=2, busy_fraction=0.5)
    before = meter.read()[0]
    times.iowait -= 4.0  # Linux may report a smaller iowait than before
    assert meter.read()[0] == before


def test_process_scope_charges_the_process_tree_cpu_time_over_all_logical_cpus() -> None:
    seconds = FakeProcessSeconds()
    meter = EstimatedCpuMeter(
        tdp_w=100.0,
        scope="process",
        sockets=2,
        model=GENERIC_VM_CPU,
        process_cpu_seconds=seconds,
        logical_cpus=8,
    )
    assert meter.read() == [0.0]
    seconds.seconds += 12.0  # e.g. 4 s on each of 3 CPUs
    assert meter.read() == [pytest.approx(2 * 100.0 * 12.0 / 8)]


def test_idle_process_estimates_nothing_however_long_it_waits() -> None:
    seconds = FakeProcessSeconds()
    meter = EstimatedCpuMeter(
        tdp_w=100.0,
        scope="process",
        model=GENERIC_VM_CPU,
        process_cpu_seconds=seconds,
        logical_cpus=4,
        sockets=1,
    )
    assert meter.idle_fraction == 0.0
    assert meter.read() == [0.0]


def test_process_scope_never_goes_backwards_when_a_child_leaves_the_tree() -> None:
    seconds = FakeProcessSeconds()
    meter = EstimatedCpuMeter(
        tdp_w=40.0,
        scope="process",
        model=GENERIC_VM_CPU,
        process_cpu_seconds=seconds,
        logical_cpus=4,
        sockets=1,
    )
    seconds.seconds += 8.0
    grown = meter.read()[0]
    seconds.seconds -= 5.0  # a daemonised child took its time with it
    assert meter.read()[0] == grown == pytest.approx(40.0 * 8.0 / 4)


def test_process_scope_with_real_psutil_follows_cpu_burned_in_this_process() -> None:
    meter = EstimatedCpuMeter(tdp_w=100.0, scope="process", sockets=1)
    logical = psutil.cpu_count(logical=True) or 1
    before_j = meter.read()[0]
    cpu_before = time.process_time()
    deadline = time.monotonic() + 20.0
    while time.process_time() - cpu_before < 0.5 and time.monotonic() < deadline:
        sum(i * i for i in range(10_000))
    burned_s = time.process_time() - cpu_before
    grown_j = meter.read()[0] - before_j
    assert burned_s >= 0.5, "could not burn 0.5 s of CPU within 20 s"
    assert grown_j == pytest.approx(100.0 * burned_s / logical, rel=0.25)


BURN_CHILD = (
    "import sys, time\n"
    "start = time.process_time()\n"
    "while time.process_time() - start < 0.4:\n"
    "    sum(i * i for i in range(10_000))\n"
    "print(time.process_time(), flush=True)\n"
    "sys.stdin.read()\n"
)


def test_process_scope_counts_living_and_exited_children() -> None:
    meter = EstimatedCpuMeter(tdp_w=100.0, scope="process", sockets=1)
    logical = psutil.cpu_count(logical=True) or 1
    with subprocess.Popen(
        [sys.executable, "-c", BURN_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert child.stdin is not None
        child_cpu_s = float(child.stdout.readline())  # the child has burned, still alive
        living_j = meter.read()[0]
        child.stdin.close()
        assert child.wait(timeout=30) == 0
    exited_j = meter.read()[0]
    expected_j = 100.0 * child_cpu_s / logical
    assert living_j >= 0.9 * expected_j
    assert exited_j >= living_j
    assert exited_j <= expected_j + 100.0 * 2.0 / logical  # the child, plus slack for us


def test_cpu_estimate_channel_is_an_estimated_energy_counter_with_its_tdp_stated() -> None:
    meter = machine_meter(FakeCpuTimes(), logical_cpus=2)
    (channel,) = meter.channels
    assert (channel.id, channel.kind, channel.estimated) == ("cpu:0", "energy", True)
    assert channel.source == "estimated"
    assert f"TDP {DEFAULT_CPU_TDP_W:g} W (assumed default)" in channel.label
    assert (meter.tdp_w, meter.tdp_source, meter.tdp_match) == (85.0, "assumed default", None)


def test_tdp_comes_from_the_table_when_the_model_is_known_and_the_label_says_so() -> None:
    meter = machine_meter(
        FakeCpuTimes(), model="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", logical_cpus=80
    )
    source = "table: Intel Xeon Gold 6248 (codecarbon cpu_power.csv, Intel/AMD spec pages)"
    assert (meter.tdp_w, meter.tdp_source) == (150.0, source)
    assert meter.tdp_match is not None
    assert meter.tdp_match.how == "exact"
    (channel,) = meter.channels
    assert channel.label.startswith("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz: 1 x TDP 150 W")
    assert source in channel.label
    assert "machine scope" in channel.label
    assert "idle floor 12% of TDP" in channel.label


def test_a_given_tdp_wins_over_the_table() -> None:
    meter = machine_meter(FakeCpuTimes(), tdp_w=99.0, model="AMD EPYC 7763", logical_cpus=2)
    assert (meter.tdp_w, meter.tdp_source, meter.tdp_match) == (99.0, "given", None)
    assert "TDP 99 W (given)" in meter.channels[0].label


def test_a_vm_that_hides_the_model_gets_the_stated_default() -> None:
    meter = machine_meter(FakeCpuTimes(), model=GENERIC_VM_CPU, logical_cpus=2)
    assert (meter.tdp_w, meter.tdp_source) == (DEFAULT_CPU_TDP_W, "assumed default")


def test_process_scope_label_says_the_scope_and_no_idle_floor() -> None:
    meter = EstimatedCpuMeter(
        scope="process",
        model="AMD EPYC 7763 64-Core Processor",
        sockets=1,
        process_cpu_seconds=FakeProcessSeconds(),
        logical_cpus=128,
        virtual=False,
    )
    label = meter.channels[0].label
    assert "TDP 280 W (table: AMD EPYC 7763" in label
    assert "process scope" in label
    assert "no idle floor" in label
    assert "scope='process'" in repr(meter)


def test_cpu_estimate_through_the_tracker_is_labelled_estimated() -> None:
    times = FakeCpuTimes()
    clock = FakeClock()
    meter = machine_meter(times, tdp_w=50.0, logical_cpus=2)
    # one interval: the CPU time of the 100 s shows up at its end, as it would
    with nf.track_energy(meters=[meter], clock=clock, interval_s=100.0) as tracker:
        times.run(100.0, cpus=2, busy_fraction=0.5)
        clock.advance(100.0)
    report = tracker.report
    # 100 busy CPU-seconds, plus the idle floor on the 100 idle ones: 50 W / 2 CPUs each.
    assert report.energy_j == pytest.approx(50.0 / 2 * (100.0 + 0.12 * 100.0))
    assert report.method == "estimated"
    assert "ESTIMATED" in str(report)


def test_real_psutil_cpu_meter_reads_a_non_negative_growing_counter() -> None:
    meter = EstimatedCpuMeter()
    first = meter.read()[0]
    sum(i * i for i in range(200_000))  # some work
    assert meter.read()[0] >= first >= 0.0


def test_estimated_channels_state_the_most_their_model_can_give() -> None:
    cpu = machine_meter(FakeCpuTimes(), tdp_w=50.0, sockets=2, logical_cpus=4)
    assert cpu.channels[0].max_power_w == 100.0  # TDP x sockets: every CPU busy
    assert EstimatedDramMeter(total_bytes=16 * 2**30).channels[0].max_power_w == 6.0
    assert EstimatedDramMeter(total_bytes=0).channels[0].max_power_w is None  # 0 W: no bound


def test_dram_estimate_is_three_watts_per_eight_gigabytes() -> None:
    meter = EstimatedDramMeter(total_bytes=16 * 2**30)
    assert meter.read() == [pytest.approx(6.0)]
    (channel,) = meter.channels
    assert (channel.kind, channel.estimated, channel.domain) == ("power", True, "dram")
    assert "16.0 GiB" in channel.label
    assert "Crucial: 3 W per 8 GB" in channel.label
    assert meter.w_per_gib_source == "Crucial: 3 W per 8 GB"


def test_dram_process_scope_takes_the_resident_share_of_installed_memory() -> None:
    resident = [4 * 2**30]
    meter = EstimatedDramMeter(
        total_bytes=16 * 2**30, scope="process", rss_bytes=lambda: resident[0]
    )
    assert meter.read() == [pytest.approx(6.0 * 0.25)]
    resident[0] = 32 * 2**30  # shared pages counted per process can exceed the total
    assert meter.read() == [pytest.approx(6.0)]
    assert "process scope" in meter.channels[0].label
    assert meter.power_w == pytest.approx(6.0)


def test_dram_process_scope_with_real_psutil_is_a_small_part_of_the_machine() -> None:
    meter = EstimatedDramMeter(scope="process")
    (power_w,) = meter.read()
    assert 0.0 < power_w < meter.power_w


def test_dram_with_a_given_rate_says_so() -> None:
    meter = EstimatedDramMeter(total_bytes=8 * 2**30, w_per_gib=0.5)
    assert meter.read() == [pytest.approx(4.0)]
    assert "0.5 W/GiB (given)" in meter.channels[0].label


def test_bad_estimator_arguments_name_the_value() -> None:
    with pytest.raises(ConfigurationError, match="tdp_w=-5"):
        EstimatedCpuMeter(tdp_w=-5, cpu_times=FakeCpuTimes(), logical_cpus=1)
    with pytest.raises(ConfigurationError, match="total_bytes=-1"):
        EstimatedDramMeter(total_bytes=-1)
    with pytest.raises(ConfigurationError, match="scope='socket'"):
        EstimatedCpuMeter(scope="socket", cpu_times=FakeCpuTimes(), logical_cpus=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"idle_fraction=1\.5"):
        machine_meter(FakeCpuTimes(), logical_cpus=1, idle_fraction=1.5)
    with pytest.raises(ConfigurationError, match="idle floor is the machine's"):
        EstimatedCpuMeter(
            scope="process",
            idle_fraction=0.1,
            process_cpu_seconds=FakeProcessSeconds(),
            logical_cpus=1,
        )


def test_cpu_model_and_sockets_come_from_proc_cpuinfo(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cpuinfo").write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\nphysical id\t: 0\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 7763 64-Core Processor\nphysical id\t: 1\n"
    )
    assert cpu_model_name(tmp_path) == "AMD EPYC 7763 64-Core Processor"
    assert cpu_socket_count(tmp_path) == 2
    assert cpu_socket_count(tmp_path / "nowhere") == 1


def test_the_cpu_model_is_read_without_starting_a_subprocess(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("cpu_model_name started a subprocess")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "popen", refuse)
    assert cpu_model_name()


def test_detect_fills_only_domains_nothing_measured() -> None:
    measured_cpu = Backend("fake-rapl", ("cpu",), lambda: FakeMeter.constant(1.0, domain="cpu"))
    estimated_cpu = Backend(
        "estimated-cpu", ("cpu",), lambda: FakeMeter.constant(9.0, domain="cpu"), estimated=True
    )
    estimated_dram = Backend(
        "estimated-dram",
        ("dram",),
        lambda: FakeMeter.constant(3.0, domain="dram", estimated=True),
        estimated=True,
    )
    detection = detect([estimated_cpu, estimated_dram, measured_cpu])
    assert detection.used == ("fake-rapl", "estimated-dram")
    assert "measured meter covers cpu" in detection.skipped["estimated-cpu"]
    assert "fake-rapl" in detection.summary()


def test_detect_explains_a_backend_that_is_not_available() -> None:
    def unavailable() -> nf.PowerMeter:
        raise MeterUnavailableError("no NVML library (pip install nlpfootprint[nvidia])")

    detection = detect(
        [
            Backend("nvml", ("gpu",), unavailable),
            Backend("estimated-dram", ("dram",), EstimatedDramMeter, estimated=True),
        ]
    )
    assert detection.skipped == {"nvml": "no NVML library (pip install nlpfootprint[nvidia])"}
    assert detection.used == ("estimated-dram",)


def test_default_detection_here_estimates_cpu_and_dram() -> None:
    detection = detect()
    try:
        assert {c.domain for m in detection.meters for c in m.channels} >= {"cpu", "dram"}
        assert all(c.estimated for m in detection.meters for c in m.channels)
    finally:
        for meter in detection.meters:
            meter.close()


# -- /proc/stat read directly, reads inline -----------------------------------------------


def _write_stat(path: Path, *ticks: int) -> None:
    fields = " ".join(str(t) for t in ticks)
    path.write_text(f"cpu  {fields}\ncpu0 {fields}\nintr 12 0 0\nctxt 99\n")


def test_proc_stat_is_parsed_from_its_first_line_in_ticks(tmp_path: Path) -> None:
    from nlpfootprint.meters.cputimes import CpuTimes, ProcStatCpuTimes

    stat = tmp_path / "stat"
    tick = os.sysconf("SC_CLK_TCK")
    _write_stat(stat, 100 * tick, 0, 50 * tick, 1000 * tick, 5 * tick, 0, tick, 2 * tick, 0, 0)
    times = ProcStatCpuTimes(str(stat))()
    assert times == CpuTimes(100.0, 0.0, 50.0, 1000.0, 5.0, 0.0, 1.0, 2.0)
    # the same descriptor reads the file again from its start: new values show
    _write_stat(stat, 200 * tick, 0, 50 * tick, 1000 * tick, 5 * tick, 0, tick, 2 * tick, 0, 0)
    assert ProcStatCpuTimes(str(stat))().user == 200.0


def test_a_file_not_in_the_proc_stat_format_is_refused(tmp_path: Path) -> None:
    from nlpfootprint.meters.cputimes import ProcStatCpuTimes

    stat = tmp_path / "stat"
    stat.write_text("intr 1 2 3\n")
    with pytest.raises(OSError, match="not the /proc/stat format"):
        ProcStatCpuTimes(str(stat))
    with pytest.raises(FileNotFoundError):
        ProcStatCpuTimes(str(tmp_path / "missing"))


def test_the_meter_counts_from_proc_stat_and_closes_it(tmp_path: Path) -> None:
    from nlpfootprint.meters.cputimes import ProcStatCpuTimes

    stat = tmp_path / "stat"
    tick = os.sysconf("SC_CLK_TCK")
    _write_stat(stat, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    source = ProcStatCpuTimes(str(stat))
    meter = EstimatedCpuMeter(100.0, sockets=1, logical_cpus=2, cpu_times=source, model="x")
    # one second on both CPUs, half of it busy: 100 W x (0.12 x 2 + 0.88 x 1) / 2 CPUs
    _write_stat(stat, tick, 0, 0, tick, 0, 0, 0, 0, 0, 0)
    assert meter.read() == [pytest.approx(100.0 * (0.12 * 2 + 0.88 * 1) / 2)]
    source.close()
    with pytest.raises(OSError, match="Bad file descriptor"):
        source()


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="no /proc/stat (not Linux)")
def test_proc_stat_agrees_with_psutil_here() -> None:
    from nlpfootprint.meters.cputimes import ProcStatCpuTimes, installed_bytes

    ours, theirs = ProcStatCpuTimes()(), psutil.cpu_times()
    for field in ("user", "system", "idle", "iowait", "steal"):
        assert abs(getattr(ours, field) - getattr(theirs, field)) < 5.0, field
    assert installed_bytes() == psutil.virtual_memory().total
    meter = EstimatedCpuMeter()
    assert meter._source is not None  # read directly, not through psutil
    meter.close()


def test_estimated_meters_promise_inline_reads() -> None:
    assert EstimatedCpuMeter.reads_inline is True
    assert EstimatedDramMeter.reads_inline is True


def _fake_proc(root: Path, pid: int, ticks: tuple[int, int, int, int], children: list[int]) -> None:
    """``/proc/<pid>`` with one thread: its stat (a comm with spaces and a paren) and the
    children it started."""
    (root / str(pid) / "task" / str(pid)).mkdir(parents=True)
    rest = " ".join(["S", "1"] + ["0"] * 9 + [str(t) for t in ticks] + ["20", "0", "1"])
    (root / str(pid) / "stat").write_text(f"{pid} (python (x) y) {rest}\n")
    (root / str(pid) / "task" / str(pid) / "children").write_text(
        "".join(f"{c} " for c in children)
    )


def test_a_process_tree_is_summed_from_its_own_proc_files(tmp_path: Path) -> None:
    from nlpfootprint.meters.cputimes import ProcTreeCpuSeconds

    tick = os.sysconf("SC_CLK_TCK")
    _fake_proc(tmp_path, 10, (tick, 2 * tick, 3 * tick, 4 * tick), [11, 12])
    _fake_proc(tmp_path, 11, (5 * tick, 0, 0, 0), [13])
    _fake_proc(tmp_path, 13, (0, 6 * tick, 0, 0), [])
    # 12 is listed but gone (exited between the listing and the read): skipped
    tree = ProcTreeCpuSeconds(10, proc=str(tmp_path))
    assert tree() == pytest.approx(1 + 2 + 3 + 4 + 5 + 6)
    (tmp_path / "11" / "stat").unlink()  # 11 gone: its child 13 is not found either
    assert tree() == pytest.approx(10.0)


def test_a_kernel_without_children_lists_is_refused(tmp_path: Path) -> None:
    from nlpfootprint.meters.cputimes import ProcTreeCpuSeconds

    _fake_proc(tmp_path, 10, (1, 1, 1, 1), [])
    (tmp_path / "10" / "task" / "10" / "children").unlink()
    with pytest.raises(OSError, match="children does not exist"):
        ProcTreeCpuSeconds(10, proc=str(tmp_path))


@pytest.mark.skipif(
    not Path(f"/proc/self/task/{os.getpid()}/children").exists(),
    reason="no /proc/<pid>/task/<tid>/children here",
)
def test_the_proc_tree_agrees_with_psutil_on_a_real_tree_with_a_grandchild() -> None:
    from nlpfootprint.meters.cputimes import ProcTreeCpuSeconds
    from nlpfootprint.meters.estimated import process_tree_cpu_seconds

    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"
    grandchild = (
        f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {burn.format(s=5)!r}])"
    )
    child = subprocess.Popen([sys.executable, "-c", burn.format(s=0.3) + grandchild])
    try:
        deadline = time.monotonic() + 30
        while len(psutil.Process().children(recursive=True)) < 2:
            assert time.monotonic() < deadline, "the grandchild did not start"
            time.sleep(0.05)
        time.sleep(0.3)
        ours, theirs = ProcTreeCpuSeconds()(), process_tree_cpu_seconds()
        assert abs(ours - theirs) < 0.1
        assert ours > time.process_time() + 0.25  # the child's burn is in it
    finally:
        for process in psutil.Process().children(recursive=True):
            process.kill()
        child.wait()
    meter = EstimatedCpuMeter(scope="process")
    assert type(meter._seconds).__name__ == "ProcTreeCpuSeconds"


def test_a_process_trees_resident_memory_is_summed_from_statm(tmp_path: Path) -> None:
    from nlpfootprint.meters.cputimes import ProcTreeRssBytes

    page = os.sysconf("SC_PAGE_SIZE")
    _fake_proc(tmp_path, 10, (0, 0, 0, 0), [11])
    _fake_proc(tmp_path, 11, (0, 0, 0, 0), [])
    (tmp_path / "10" / "statm").write_text("1000 300 50 1 0 200 0\n")
    (tmp_path / "11" / "statm").write_text("900 20 10 1 0 100 0\n")
    assert ProcTreeRssBytes(10, proc=str(tmp_path))() == 320 * page


@pytest.mark.skipif(
    not Path(f"/proc/self/task/{os.getpid()}/children").exists(),
    reason="no /proc/<pid>/task/<tid>/children here",
)
def test_the_proc_tree_memory_agrees_with_psutil_and_the_dram_meter_uses_it() -> None:
    from nlpfootprint.meters.cputimes import ProcTreeRssBytes
    from nlpfootprint.meters.estimated import process_tree_rss_bytes

    ours, theirs = ProcTreeRssBytes()(), process_tree_rss_bytes()
    assert abs(ours - theirs) < 4 << 20  # the same tree, read a moment apart
    meter = EstimatedDramMeter(scope="process")
    assert type(meter._rss_bytes).__name__ == "ProcTreeRssBytes"
    assert 0 < meter.read()[0] < meter.power_w


# -- a VM's share of its package (issue 13, point 2), on fake /proc/cpuinfo trees ---------


def cpuinfo_tree(root: Path, model: str, *, cpus: int, virtual: bool, sockets: int = 1) -> Path:
    """A ``proc/cpuinfo`` as Linux writes it on x86: one block per logical CPU."""
    flags = "fpu vme de pse tsc msr pae mce cx8 apic sep sse sse2 ht syscall nx lm"
    if virtual:
        flags += " hypervisor"
    blocks = [
        f"processor\t: {n}\nvendor_id\t: GenuineIntel\nmodel name\t: {model}\n"
        f"physical id\t: {n * sockets // cpus}\nflags\t\t: {flags}\n"
        for n in range(cpus)
    ]
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "cpuinfo").write_text("\n".join(blocks))
    return root


XEON_8358 = "Intel(R) Xeon(R) Platinum 8358 CPU @ 2.60GHz"


def test_a_vm_with_a_known_model_is_charged_its_share_of_the_package(tmp_path: Path) -> None:
    tree = cpuinfo_tree(tmp_path, XEON_8358, cpus=2, virtual=True)
    times = FakeCpuTimes()
    meter = EstimatedCpuMeter(cpu_times=times, logical_cpus=2, root=tree)
    start = meter.read()[0]
    times.run(10.0, cpus=2, busy_fraction=1.0)
    share_w = 250.0 * 2 / 64  # Platinum 8358: 250 W, 64 threads per package
    assert meter.read()[0] - start == pytest.approx(share_w * 10.0)
    (channel,) = meter.channels
    assert channel.label.startswith(
        f"{XEON_8358}: TDP 250 W (table: Intel Xeon Platinum 8358 (codecarbon cpu_power.csv, "
        "Intel/AMD spec pages)) x 2/64 threads (VM share) = 7.81 W; machine scope"
    )
    assert channel.max_power_w == pytest.approx(share_w)
    assert (meter.share.rule, meter.share.model_threads) == ("vm share", 64)
    assert meter.notes == []


def test_bare_metal_is_still_charged_whole_sockets(tmp_path: Path) -> None:
    tree = cpuinfo_tree(tmp_path, XEON_8358, cpus=128, virtual=False, sockets=2)
    times = FakeCpuTimes()
    meter = EstimatedCpuMeter(cpu_times=times, logical_cpus=128, root=tree)
    start = meter.read()[0]
    times.run(10.0, cpus=128, busy_fraction=1.0)
    assert meter.read()[0] - start == pytest.approx(2 * 250.0 * 10.0)
    assert meter.channels[0].label.startswith(f"{XEON_8358}: 2 x TDP 250 W (table: ")
    assert (meter.share.rule, meter.notes) == ("sockets", [])


def test_a_vm_with_an_unknown_model_keeps_the_package_and_says_why(tmp_path: Path) -> None:
    tree = cpuinfo_tree(tmp_path, GENERIC_VM_CPU, cpus=2, virtual=True)
    times = FakeCpuTimes()
    meter = EstimatedCpuMeter(cpu_times=times, logical_cpus=2, root=tree)
    start = meter.read()[0]
    times.run(10.0, cpus=2, busy_fraction=1.0)
    assert meter.read()[0] - start == pytest.approx(DEFAULT_CPU_TDP_W * 10.0)
    assert (
        f"{GENERIC_VM_CPU}: 1 x TDP 85 W (assumed default), whole package: a VM with 2 vCPUs "
        "whose share is unknown; machine scope"
    ) in meter.channels[0].label
    (note,) = meter.notes
    assert f"a VM with 2 vCPUs, but its CPU model, {GENERIC_VM_CPU!r}, matches no part" in note
    assert "(1 x 85 W, assumed default)" in note
    assert "cpu_tdp_w=W (nlpfootprint run --cpu-tdp W)" in note


def test_the_share_note_reaches_the_report(tmp_path: Path) -> None:
    tree = cpuinfo_tree(
        tmp_path, "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", cpus=2, virtual=True
    )
    meter = EstimatedCpuMeter(cpu_times=FakeCpuTimes(), logical_cpus=2, root=tree)
    with nf.track_energy(meters=[meter], clock=FakeClock(), distributed=None) as tracker:
        pass
    assert any("300 W x 2 / the package's threads" in w for w in tracker.report.warnings)


def test_a_given_tdp_and_thread_count_make_the_share() -> None:
    meter = machine_meter(
        FakeCpuTimes(),
        tdp_w=300.0,
        model="custom",
        virtual=True,
        model_threads=64,
        logical_cpus=2,
    )
    assert meter.share.power_w == pytest.approx(9.375)
    assert "TDP 300 W (given) x 2/64 threads (VM share) = 9.38 W" in meter.channels[0].label
    with pytest.raises(ConfigurationError, match="model_threads=0"):
        machine_meter(FakeCpuTimes(), virtual=True, model_threads=0)
    with pytest.raises(ConfigurationError, match="virtual='yes'"):
        machine_meter(FakeCpuTimes(), virtual="yes")


def test_process_scope_on_a_vm_charges_each_cpu_second_one_threads_worth(
    tmp_path: Path,
) -> None:
    tree = cpuinfo_tree(tmp_path, "AMD EPYC 7763 64-Core Processor", cpus=4, virtual=True)
    seconds = FakeProcessSeconds()
    meter = EstimatedCpuMeter(
        scope="process", process_cpu_seconds=seconds, logical_cpus=4, root=tree
    )
    seconds.seconds += 10.0
    assert meter.read()[0] == pytest.approx(280.0 / 128 * 10.0)


def test_nlpfootprint_meters_prints_what_share_this_machine_is_charged() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "meters"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    if "estimated-cpu   used" not in result.stdout:
        pytest.skip("the CPU is measured here, not estimated")
    here = EstimatedCpuMeter(cpu_times=FakeCpuTimes(), process_cpu_seconds=FakeProcessSeconds())
    assert f"{here.model}: {here.share.describe()};" in result.stdout
    for note in here.notes:
        assert f"note: {note}" in result.stdout
