"""detect(): measured meters first, estimates only for what nothing measured, and a reason
for every backend not used. Backends here are the real ones, pointed at fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

import nlpfootprint as nf
from fake_amdsmi import FakeAmdGpu, make_amdsmi
from fake_nvml import NVML_ERROR_LIBRARY_NOT_FOUND, FakeGpu, make_pynvml
from nlpfootprint.meters.amd import AmdSmiMeter
from nlpfootprint.meters.discovery import Backend, default_backends, detect
from nlpfootprint.meters.estimated import EstimatedCpuMeter, EstimatedDramMeter
from nlpfootprint.meters.nvml import NvmlMeter
from nlpfootprint.meters.rapl import RaplMeter
from powercap import desktop, server


def backends(
    tmp: Path, *, gpus: list[FakeGpu] | None, rapl_root: Path | None, init_error: int | None = None
) -> list[Backend]:
    return [
        Backend(
            "nvml",
            ("gpu",),
            lambda: NvmlMeter(nvml=make_pynvml(gpus or [], init_error=init_error), environ={}),
        ),
        Backend("rapl", ("cpu", "dram"), lambda: RaplMeter(rapl_root or tmp / "missing")),
        Backend("estimated-cpu", ("cpu",), EstimatedCpuMeter, estimated=True),
        Backend("estimated-dram", ("dram",), EstimatedDramMeter, estimated=True),
    ]


def test_gpu_server_with_rapl_is_measured_everywhere_and_estimates_nothing(
    tmp_path: Path,
) -> None:
    root = server(tmp_path).root
    detection = detect(backends(tmp_path, gpus=[FakeGpu(), FakeGpu(uuid="GPU-2")], rapl_root=root))
    try:
        assert detection.used == ("nvml", "rapl")
        assert "measured meter covers cpu" in detection.skipped["estimated-cpu"]
        assert "measured meter covers dram" in detection.skipped["estimated-dram"]
        ids = [c.id for m in detection.meters for c in m.channels]
        assert ids == ["gpu:0", "gpu:1", "cpu:0", "cpu:1", "dram:0", "dram:1"]
    finally:
        detection.close()


def test_amd_like_tree_without_dram_fills_only_dram_with_an_estimate(tmp_path: Path) -> None:
    root = desktop(tmp_path, dram=False).root
    detection = detect(backends(tmp_path, gpus=None, rapl_root=root))
    try:
        assert detection.used == ("rapl", "estimated-dram")
        assert "no NVIDIA GPU" in detection.skipped["nvml"]
        sources = {c.id: c.source for m in detection.meters for c in m.channels}
        assert sources == {"cpu:0": "counter", "dram:0": "estimated"}
    finally:
        detection.close()


def test_machine_with_nothing_measurable_says_why_for_each_backend(tmp_path: Path) -> None:
    detection = detect(
        backends(
            tmp_path, gpus=[FakeGpu()], rapl_root=None, init_error=NVML_ERROR_LIBRARY_NOT_FOUND
        )
    )
    try:
        assert detection.used == ("estimated-cpu", "estimated-dram")
        assert "no NVIDIA driver" in detection.skipped["nvml"]
        assert "no powercap tree" in detection.skipped["rapl"]
        summary = detection.summary()
        assert summary.startswith("auto: used estimated-cpu, estimated-dram; not used: nvml (")
    finally:
        detection.close()


def test_disabled_backends_are_skipped_with_that_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NLPFOOTPRINT_DISABLE", "nvml, rapl")
    detection = detect(backends(tmp_path, gpus=[FakeGpu()], rapl_root=server(tmp_path).root))
    try:
        assert detection.skipped["nvml"] == detection.skipped["rapl"]
        assert detection.skipped["nvml"] == "disabled by NLPFOOTPRINT_DISABLE"
    finally:
        detection.close()


def test_meter_notes_reach_the_detection_and_the_report(tmp_path: Path) -> None:
    blind = FakeGpu(uuid="GPU-blind", counter=False, power=False, utilization=None)
    detection = detect(backends(tmp_path, gpus=[FakeGpu(), blind], rapl_root=None))
    try:
        assert any("GPU 1" in n and "not measured" in n for n in detection.notes)
        with nf.track_energy(meters=list(detection.meters), interval_s=60) as tracker:
            pass
        assert any("not measured" in w for w in tracker.report.warnings)
    finally:
        detection.close()


def test_default_backends_are_measured_first() -> None:
    names = [(b.name, b.estimated) for b in default_backends()]
    assert names == [
        ("nvml", False),
        ("amdsmi", False),
        ("rapl", False),
        ("estimated-cpu", True),
        ("estimated-dram", True),
    ]


def test_detection_as_json_lists_every_backend() -> None:
    detection = detect()
    try:
        data = detection.to_dict()
    finally:
        detection.close()
    names = {b["backend"] for b in data["backends"]}
    assert names == {"nvml", "amdsmi", "rapl", "estimated-cpu", "estimated-dram"}
    for entry in data["backends"]:
        assert ("reason" in entry) == (entry["status"] == "not used")


def test_a_measured_meter_whose_channel_ids_clash_is_skipped_with_the_way_out(
    tmp_path: Path,
) -> None:
    amd = make_amdsmi([FakeAmdGpu()])
    both = [
        Backend("nvml", ("gpu",), lambda: NvmlMeter(nvml=make_pynvml([FakeGpu()]), environ={})),
        Backend("amdsmi", ("gpu",), lambda: AmdSmiMeter(amdsmi=amd, environ={})),
    ]
    detection = detect(both)
    try:
        assert detection.used == ("nvml",)
        assert "gpu:0 clash" in detection.skipped["amdsmi"]
        assert "first_channel" in detection.skipped["amdsmi"]
    finally:
        detection.close()
    assert amd.calls["shutdown"] == 1  # the meter left out was closed
