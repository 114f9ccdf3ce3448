"""NvmlMeter driven through a pynvml-like module: the real backend, no GPU needed."""

from __future__ import annotations

import logging
import sys
import threading
import types

import pytest

import nlpfootprint as nf
from fake_nvml import (
    NVML_ERROR_DRIVER_NOT_LOADED,
    NVML_ERROR_LIBRARY_NOT_FOUND,
    NVML_ERROR_NO_PERMISSION,
    FakeGpu,
    make_pynvml,
)
from nlpfootprint.errors import (
    ConfigurationError,
    MeterError,
    MeterPermissionError,
    MeterUnavailableError,
)
from nlpfootprint.meters.nvml import NvmlMeter
from nlpfootprint.testing import FakeClock, FakeMeter

UUID_A = "GPU-aaaaaaaa-1111-2222-3333-444444444444"
UUID_B = "GPU-bbbbbbbb-1111-2222-3333-444444444444"
UUID_C = "GPU-bbbbcccc-1111-2222-3333-444444444444"


def meter_for(fakes: list[FakeGpu], clock: FakeClock | None = None, **kw: object) -> NvmlMeter:
    kw.setdefault("environ", {})
    return NvmlMeter(nvml=make_pynvml(fakes, clock=clock), **kw)  # type: ignore[arg-type]


def test_energy_counter_is_preferred_and_exact_through_the_tracker() -> None:
    clock = FakeClock()
    meter = meter_for([FakeGpu(power_w=300.0)], clock)
    (channel,) = meter.channels
    assert (channel.id, channel.kind, channel.source) == ("gpu:0", "energy", "counter")
    assert "H100" in channel.label
    assert "limit 700 W" in channel.label
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10) as tracker:
        clock.advance(3600)
    assert tracker.report.energy_kwh == pytest.approx(0.3, rel=1e-12)
    assert tracker.report.method == "measured"


@pytest.mark.parametrize(
    ("limit_w", "max_limit_w", "expected"),
    [
        (300.0, 400.0, 400.0),  # the highest limit it can be set to
        (300.0, None, 300.0),  # no constraints: the enforced limit
        (None, None, None),  # NVML says neither: the ledger's default for a GPU
    ],
)
def test_each_gpu_states_the_most_it_can_draw(
    limit_w: float | None, max_limit_w: float | None, expected: float | None
) -> None:
    meter = meter_for([FakeGpu(limit_w=limit_w, max_limit_w=max_limit_w)])
    assert meter.gpus[0].max_power_w == expected
    assert meter.channels[0].max_power_w == expected


def test_gpu_without_counter_falls_back_to_power_and_is_never_zero() -> None:
    clock = FakeClock()
    meter = meter_for([FakeGpu(counter=False, power_w=250.0)], clock)
    (channel,) = meter.channels
    assert (channel.kind, channel.source) == ("power", "sampled")
    with nf.track_energy(meters=[meter], clock=clock) as tracker:
        clock.advance(100)
    assert tracker.report.energy_j == pytest.approx(25_000.0)


def test_each_gpu_chooses_its_own_way_of_being_read() -> None:
    meter = meter_for(
        [
            FakeGpu(uuid=UUID_A),
            FakeGpu(uuid=UUID_B, counter=False),
            FakeGpu(uuid=UUID_C, counter=False, power=False, utilization=40, limit_w=300),
        ]
    )
    assert [g.mode for g in meter.gpus] == ["counter", "power", "estimated"]
    assert [c.source for c in meter.channels] == ["counter", "sampled", "estimated"]
    assert meter.read()[2] == pytest.approx(120.0)  # 300 W limit x 40 %
    assert any("limit (300 W) x utilisation" in n for n in meter.notes)


def test_gpu_with_no_reading_at_all_is_left_out_with_a_reason() -> None:
    blind = FakeGpu(uuid=UUID_B, counter=False, power=False, utilization=None)
    meter = meter_for([FakeGpu(uuid=UUID_A), blind])
    assert [g.uuid for g in meter.gpus] == [UUID_A]
    assert any("not measured" in n for n in meter.notes)
    with pytest.raises(MeterUnavailableError, match="no visible GPU reports"):
        meter_for([blind])


def test_gpu_lost_mid_run_is_a_gap_for_that_gpu_and_the_other_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    gpus = [FakeGpu(uuid=UUID_A, power_w=100.0), FakeGpu(uuid=UUID_B, power_w=200.0)]
    meter = meter_for(gpus, clock)
    gpus[1].lost_after_reads = gpus[1].reads + 5  # 5 more good reads: t = 0..4
    tracker = nf.track_energy(meters=[meter], clock=clock, interval_s=1.0)
    with caplog.at_level(logging.WARNING, logger="nlpfootprint"), tracker:
        clock.advance(10)
    gpu0, gpu1 = tracker.report.channels
    assert gpu0.energy_j == pytest.approx(1000.0)
    assert gpu1.energy_j == pytest.approx(800.0)
    assert gpu1.gap_s == pytest.approx(6.0)
    lost = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
    assert len(lost) == 1
    assert UUID_B in lost[0]


def test_every_gpu_lost_raises_meter_error_so_the_tracker_records_a_gap() -> None:
    gpu = FakeGpu(uuid=UUID_A)
    meter = meter_for([gpu])
    gpu.lost_after_reads = gpu.reads
    with pytest.raises(MeterError, match="GPU is lost"):
        meter.read()


def test_cuda_visible_devices_by_index_selects_those_gpus() -> None:
    gpus = [FakeGpu(uuid=UUID_A), FakeGpu(uuid=UUID_B), FakeGpu(uuid=UUID_C)]
    meter = meter_for(gpus, environ={"CUDA_VISIBLE_DEVICES": "2,0"})
    assert [g.index for g in meter.gpus] == [2, 0]
    assert [c.id for c in meter.channels] == ["gpu:0", "gpu:1"]  # CUDA's numbering
    assert UUID_C in meter.channels[0].label


def test_cuda_visible_devices_by_uuid_prefix_selects_that_gpu() -> None:
    gpus = [FakeGpu(uuid=UUID_A), FakeGpu(uuid=UUID_B)]
    meter = meter_for(gpus, environ={"CUDA_VISIBLE_DEVICES": "GPU-bbbbbbbb"})
    assert [g.uuid for g in meter.gpus] == [UUID_B]


def test_ambiguous_or_unknown_uuid_is_a_clear_error() -> None:
    gpus = [FakeGpu(uuid=UUID_B), FakeGpu(uuid=UUID_C)]
    with pytest.raises(ConfigurationError, match="matches several GPUs"):
        meter_for(gpus, environ={"CUDA_VISIBLE_DEVICES": "GPU-bbbb"})
    with pytest.raises(ConfigurationError, match="matches no GPU"):
        meter_for(gpus, gpus=["GPU-ffff"])


def test_cuda_visible_devices_stops_at_the_first_invalid_entry_like_cuda() -> None:
    gpus = [FakeGpu(uuid=UUID_A), FakeGpu(uuid=UUID_B)]
    meter = meter_for(gpus, environ={"CUDA_VISIBLE_DEVICES": "1,nope,0"})
    assert [g.index for g in meter.gpus] == [1]


def test_empty_cuda_visible_devices_means_no_gpu_is_measured() -> None:
    with pytest.raises(MeterUnavailableError, match="hides every GPU"):
        meter_for([FakeGpu()], environ={"CUDA_VISIBLE_DEVICES": ""})


def test_explicit_gpus_argument_wins_over_the_environment() -> None:
    gpus = [FakeGpu(uuid=UUID_A), FakeGpu(uuid=UUID_B)]
    meter = meter_for(gpus, gpus=[1], environ={"CUDA_VISIBLE_DEVICES": "0"})
    assert [g.uuid for g in meter.gpus] == [UUID_B]
    with pytest.raises(ConfigurationError, match="expected a list"):
        meter_for(gpus, gpus=0)


def test_mig_instance_is_measured_as_its_whole_gpu_and_says_so() -> None:
    mig = "MIG-12345678-aaaa-bbbb-cccc-dddddddddddd"
    gpus = [FakeGpu(uuid=UUID_A), FakeGpu(uuid=UUID_B, mig=[mig])]
    meter = meter_for(gpus, environ={"CUDA_VISIBLE_DEVICES": mig})
    (info,) = meter.gpus
    assert (info.index, info.uuid, info.mig) == (1, mig, True)
    assert "whole-GPU readings" in meter.channels[0].label


def test_mixed_models_with_index_selection_warn_about_cuda_device_order() -> None:
    gpus = [FakeGpu(uuid=UUID_A, name="NVIDIA A100"), FakeGpu(uuid=UUID_B, name="NVIDIA T4")]
    meter = meter_for(gpus, environ={"CUDA_VISIBLE_DEVICES": "0,1"})
    assert any("CUDA_DEVICE_ORDER=PCI_BUS_ID" in n for n in meter.notes)
    ordered = meter_for(
        gpus, environ={"CUDA_VISIBLE_DEVICES": "0,1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    )
    assert ordered.notes == []


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        (NVML_ERROR_LIBRARY_NOT_FOUND, MeterUnavailableError, "no NVIDIA driver"),
        (NVML_ERROR_DRIVER_NOT_LOADED, MeterUnavailableError, "no NVIDIA driver"),
        (NVML_ERROR_NO_PERMISSION, MeterPermissionError, "--gpus all"),
    ],
)
def test_nvml_start_errors_are_translated_once_with_the_way_forward(
    code: int, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        NvmlMeter(nvml=make_pynvml([FakeGpu()], init_error=code), environ={})
    assert info.value.__cause__ is not None  # the NVML error is kept as the cause


def test_no_gpu_at_all_is_unavailable() -> None:
    with pytest.raises(MeterUnavailableError, match="no NVIDIA GPU"):
        meter_for([])


def test_missing_pynvml_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    with pytest.raises(MeterUnavailableError, match=r"nlpfootprint\[nvidia\]"):
        NvmlMeter(environ={})


def test_close_shuts_nvml_down_once() -> None:
    module = make_pynvml([FakeGpu()])
    meter = NvmlMeter(nvml=module, environ={})
    meter.close()
    meter.close()
    assert module.calls == {"init": 1, "shutdown": 1, "origin": module.calls["origin"]}


def test_failed_construction_still_shuts_nvml_down() -> None:
    module = make_pynvml([FakeGpu()])
    with pytest.raises(MeterUnavailableError):
        NvmlMeter(nvml=module, environ={"CUDA_VISIBLE_DEVICES": ""})
    assert module.calls["shutdown"] == 1


def test_windows_synchronise_cuda_before_their_boundary_readings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    synced: list[int] = []
    cuda = types.SimpleNamespace(
        is_available=lambda: True,
        is_initialized=lambda: True,
        current_device=lambda: 1,
        synchronize=synced.append,
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    clock = FakeClock()
    meter = meter_for([FakeGpu()], clock)
    with nf.track_energy(meters=[meter], clock=clock) as tracker, tracker.window("eval"):
        clock.advance(1)
    assert synced == [1, 1, 1]  # window start, window end, stop: the caller's device
    meter.sync_cuda = False
    meter.sync()
    assert len(synced) == 3


def test_a_sync_on_the_worker_thread_waits_for_the_callers_cuda_device(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """torch.cuda.synchronize() waits for the current device's queue, and a thread's current
    device starts at 0: the sync must be bound to the user's device before it is handed to
    the meter's worker (a DDP rank on GPU 3 waits for GPU 3)."""
    current = threading.local()
    synced: list[tuple[int, str]] = []

    def synchronize(device: int | None = None) -> None:
        used = device if device is not None else getattr(current, "device", 0)
        synced.append((used, threading.current_thread().name))

    cuda = types.SimpleNamespace(
        is_available=lambda: True,
        is_initialized=lambda: True,
        current_device=lambda: getattr(current, "device", 0),
        synchronize=synchronize,
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    current.device = 3  # the user's thread, after torch.cuda.set_device(3)
    meter = meter_for([FakeGpu()])
    with nf.track_energy(meters=[meter], interval_s=3600) as tracker, tracker.window("eval"):
        pass
    assert [device for device, _ in synced] == [3, 3, 3]
    assert all(name.startswith("nlpfootprint-sync") for _, name in synced)


def test_nvml_meter_sits_beside_other_meters() -> None:
    clock = FakeClock()
    meter = meter_for([FakeGpu(power_w=300.0)], clock)
    cpu = FakeMeter.constant(50.0, domain="cpu")
    with nf.track_energy(meters=[meter, cpu], clock=clock) as tracker:
        clock.advance(10)
    assert tracker.report.mean_power_w == pytest.approx({"gpu": 300.0, "cpu": 50.0})


def test_mode_insists_on_one_way_of_reading() -> None:
    gpus = [FakeGpu(uuid=UUID_A), FakeGpu(uuid=UUID_B, counter=False)]
    power = meter_for(gpus, mode="power")
    assert [g.mode for g in power.gpus] == ["power", "power"]
    counter = meter_for(gpus, mode="counter")
    assert [g.uuid for g in counter.gpus] == [UUID_A]
    assert any("cannot be read in mode 'counter'" in n for n in counter.notes)
    with pytest.raises(ConfigurationError, match="mode='fast'"):
        meter_for(gpus, mode="fast")
