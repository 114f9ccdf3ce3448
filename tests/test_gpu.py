"""The NVML meter on a real NVIDIA GPU. Marked ``gpu``; skipped where none is present."""

from __future__ import annotations

import time

import pytest

import nlpfootprint as nf
from helpers import wait_until
from nlpfootprint.errors import NlpFootprintError
from nlpfootprint.meters.nvml import NvmlMeter


def _real_meter(**kw: object) -> NvmlMeter:
    try:
        return NvmlMeter(**kw)  # type: ignore[arg-type]
    except (NlpFootprintError, ImportError) as err:
        pytest.skip(f"no usable NVIDIA GPU here: {err}")


pytestmark = pytest.mark.gpu


def test_real_gpu_has_a_channel_per_visible_gpu_with_name_uuid_and_limit() -> None:
    meter = _real_meter()
    try:
        assert meter.channels
        for gpu, channel in zip(meter.gpus, meter.channels, strict=True):
            assert gpu.uuid.startswith(("GPU-", "MIG-"))
            assert gpu.name in channel.label
            assert gpu.mode in ("counter", "power", "estimated")
        values = meter.read()
        assert all(v >= 0 for v in values)
    finally:
        meter.close()


def test_real_gpu_energy_counter_grows_while_the_gpu_is_on() -> None:
    meter = _real_meter(mode="counter")
    try:
        first = meter.read()
        start = time.monotonic()
        wait_until(lambda: time.monotonic() - start > 1.0, what="a second to pass")
        second = meter.read()
        # an idle H100/H200 draws tens of watts: over a second the counter must move
        assert all(b > a for a, b in zip(first, second, strict=True))
    finally:
        meter.close()


def test_real_gpu_through_the_tracker_reports_measured_energy() -> None:
    meter = _real_meter()
    try:
        with nf.track_energy(meters=[meter], interval_s=0.1) as tracker:
            start = time.monotonic()
            wait_until(lambda: time.monotonic() - start > 1.0, what="a second to pass")
        report = tracker.report
        assert report.method in ("measured", "mixed")
        assert report.energy_j > 0
        assert report.mean_power_w["gpu"] > 5.0  # no datacentre GPU idles below 5 W
    finally:
        meter.close()
