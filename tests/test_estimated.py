"""Estimated meters and detection: labelled estimated, following the load, explained."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError, MeterUnavailableError
from nlpfootprint.meters.discovery import Backend, detect
from nlpfootprint.meters.estimated import (
    DEFAULT_CPU_TDP_W,
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


def test_idle_machine_estimates_near_zero_and_busy_machine_near_tdp() -> None:
    times = FakeCpuTimes()
    meter = EstimatedCpuMeter(tdp_w=120.0, sockets=1, cpu_times=times, logical_cpus=8)
    start = meter.read()[0]
    times.run(10.0, cpus=8, busy_fraction=0.0)
    idle = meter.read()[0] - start
    times.run(10.0, cpus=8, busy_fraction=1.0)
    busy = meter.read()[0] - start - idle
    assert idle == pytest.approx(0.0)
    assert busy == pytest.approx(120.0 * 10.0)


def test_cpu_estimate_is_proportional_to_utilisation_and_sockets() -> None:
    times = FakeCpuTimes()
    meter = EstimatedCpuMeter(tdp_w=100.0, sockets=2, cpu_times=times, logical_cpus=4)
    times.run(60.0, cpus=4, busy_fraction=0.25)
    assert meter.read() == [pytest.approx(2 * 100.0 * 0.25 * 60.0)]


def test_cpu_estimate_channel_is_an_estimated_energy_counter_with_its_tdp_stated() -> None:
    meter = EstimatedCpuMeter(cpu_times=FakeCpuTimes(), logical_cpus=2, sockets=1)
    (channel,) = meter.channels
    assert (channel.id, channel.kind, channel.estimated) == ("cpu:0", "energy", True)
    assert channel.source == "estimated"
    assert f"TDP {DEFAULT_CPU_TDP_W:g} W (assumed default)" in channel.label


def test_cpu_estimate_through_the_tracker_is_labelled_estimated() -> None:
    times = FakeCpuTimes()
    clock = FakeClock()
    meter = EstimatedCpuMeter(tdp_w=50.0, sockets=1, cpu_times=times, logical_cpus=2)
    with nf.track_energy(meters=[meter], clock=clock) as tracker:
        times.run(100.0, cpus=2, busy_fraction=0.5)
        clock.advance(100.0)
    report = tracker.report
    assert report.energy_j == pytest.approx(2500.0)
    assert report.method == "estimated"
    assert "ESTIMATED" in str(report)


def test_real_psutil_cpu_meter_reads_a_non_negative_growing_counter() -> None:
    meter = EstimatedCpuMeter()
    first = meter.read()[0]
    sum(i * i for i in range(200_000))  # some work
    assert meter.read()[0] >= first >= 0.0


def test_dram_estimate_is_three_watts_per_eight_gigabytes() -> None:
    meter = EstimatedDramMeter(total_bytes=16 * 2**30)
    assert meter.read() == [pytest.approx(6.0)]
    (channel,) = meter.channels
    assert (channel.kind, channel.estimated, channel.domain) == ("power", True, "dram")
    assert "16.0 GiB" in channel.label


def test_bad_estimator_arguments_name_the_value() -> None:
    with pytest.raises(ConfigurationError, match="tdp_w=-5"):
        EstimatedCpuMeter(tdp_w=-5, cpu_times=FakeCpuTimes(), logical_cpus=1)
    with pytest.raises(ConfigurationError, match="total_bytes=-1"):
        EstimatedDramMeter(total_bytes=-1)


def test_cpu_model_and_sockets_come_from_proc_cpuinfo(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "proc").mkdir()
    (root / "proc" / "cpuinfo").write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\nphysical id\t: 0\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 7763 64-Core Processor\nphysical id\t: 1\n"
    )
    assert cpu_model_name(root) == "AMD EPYC 7763 64-Core Processor"
    assert cpu_socket_count(root) == 2
    assert cpu_socket_count(root / "nowhere") == 1


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
