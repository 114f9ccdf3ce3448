"""AmdSmiMeter driven through an amdsmi-like module: the real backend, no AMD GPU needed."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import types
from pathlib import Path

import pytest

import nlpfootprint as nf
from fake_amdsmi import (
    AMDSMI_STATUS_API_FAILED,
    AMDSMI_STATUS_DRIVER_NOT_LOADED,
    AMDSMI_STATUS_INIT_ERROR,
    AMDSMI_STATUS_NO_PERM,
    RESOLUTION_UJ,
    TOP,
    AmdSmiLibraryException,
    FakeAmdGpu,
    make_amdsmi,
)
from helpers import run_cli as shared_run_cli
from nlpfootprint.errors import (
    ConfigurationError,
    MeterError,
    MeterPermissionError,
    MeterUnavailableError,
)
from nlpfootprint.meters.amd import AmdSmiMeter
from nlpfootprint.meters.amd_devices import (
    AmdIdentity,
    amd_driver_present,
    missing_bindings_message,
    select_gpus,
)
from nlpfootprint.meters.discovery import Backend, detect
from nlpfootprint.meters.estimated import EstimatedCpuMeter
from nlpfootprint.provenance import Method
from nlpfootprint.report import Report
from nlpfootprint.testing import FakeClock

SERIAL_A = "0xAAAA000000000001"
SERIAL_B = "0xBBBB000000000002"
SERIAL_C = "0xBBBBCCCC00000003"


def gpu(serial: str, **kw: object) -> FakeAmdGpu:
    """A fake GPU with its own serial and amdsmi UUID."""
    return FakeAmdGpu(serial=serial, uuid=f"uuid-{serial[-1]}", **kw)  # type: ignore[arg-type]


def meter_for(fakes: list[FakeAmdGpu], clock: FakeClock | None = None, **kw: object) -> AmdSmiMeter:
    kw.setdefault("environ", {})
    enumeration = bool(kw.pop("enumeration", True))
    module = make_amdsmi(fakes, clock=clock, enumeration=enumeration)
    return AmdSmiMeter(amdsmi=module, **kw)  # type: ignore[arg-type]


# -- how each GPU is read --------------------------------------------------------------


def test_energy_counter_is_preferred_and_exact_through_the_tracker() -> None:
    clock = FakeClock()
    meter = meter_for([FakeAmdGpu(power_w=300.0)], clock)
    (channel,) = meter.channels
    assert (channel.id, channel.kind, channel.source) == ("gpu:0", "energy", "counter")
    assert channel.backend == "amdsmi"
    assert channel.max_energy_j == pytest.approx(2**53 * RESOLUTION_UJ / 1e6)
    assert "MI300X" in channel.label
    assert "cap 750 W" in channel.label
    assert "amdsmi energy counter" in channel.label
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10) as tracker:
        clock.advance(3600)
    assert tracker.report.energy_kwh == pytest.approx(0.3, rel=1e-6)
    assert tracker.report.method == "measured"


def test_the_64_bit_counter_wraps_and_is_unwrapped_exactly() -> None:
    clock = FakeClock()
    ticks_per_s = 300.0 * 1e6 / RESOLUTION_UJ
    meter = meter_for([FakeAmdGpu(power_w=300.0, start_ticks=TOP - round(5 * ticks_per_s))], clock)
    before = meter.read()[0]
    with nf.track_energy(meters=[meter], clock=clock, interval_s=1) as tracker:
        clock.advance(60)
    after = meter.read()[0]
    assert after < before  # the accumulator went past 2**64 and started again
    assert tracker.report.energy_j == pytest.approx(300.0 * 60, rel=1e-9)
    assert tracker.report.channels[0].gap_s == 0


def test_bindings_older_than_rocm_6_2_1_read_power_unless_the_counter_is_insisted_on() -> None:
    old = FakeAmdGpu(counter_key="power")  # the counter under its old name
    meter = meter_for([old])
    assert [(g.mode, g.source) for g in meter.gpus] == [("power", "current_socket_power")]
    assert any("predate ROCm 6.2.1" in n for n in meter.notes)
    clock = FakeClock()
    insisted = meter_for([FakeAmdGpu(counter_key="power", power_w=200.0)], clock, mode="counter")
    assert [(g.mode, g.source) for g in insisted.gpus] == [("counter", "power")]
    with nf.track_energy(meters=[insisted], clock=clock) as tracker:
        clock.advance(100)
    assert tracker.report.energy_j == pytest.approx(20_000.0, rel=1e-6)


def test_old_bindings_read_the_counter_rather_than_estimate_when_there_is_no_power() -> None:
    clock = FakeClock()
    old = FakeAmdGpu(counter_key="power", current_power=False, average_power=False, power_w=200.0)
    meter = meter_for([old], clock)
    assert [(g.mode, g.source) for g in meter.gpus] == [("counter", "power")]
    (note,) = meter.notes  # one note, saying what was done: no "read through its power"
    assert "reports no power, so it is read through its energy counter" in note
    assert "ROCm/amdsmi issue 38" in note
    assert meter.channels[0].source == "counter"
    with nf.track_energy(meters=[meter], clock=clock) as tracker:
        clock.advance(100)
    assert tracker.report.energy_j == pytest.approx(20_000.0, rel=1e-6)


def test_gpu_without_counter_falls_back_to_power_and_is_never_zero() -> None:
    clock = FakeClock()
    meter = meter_for([FakeAmdGpu(counter=False, power_w=250.0)], clock)
    (channel,) = meter.channels
    assert (channel.kind, channel.source) == ("power", "sampled")
    assert "current_socket_power" in channel.label
    with nf.track_energy(meters=[meter], clock=clock) as tracker:
        clock.advance(100)
    assert tracker.report.energy_j == pytest.approx(25_000.0)


def test_a_gpu_with_only_an_average_power_is_read_through_it() -> None:
    meter = meter_for([FakeAmdGpu(counter=False, current_power=False, power_w=123.0)])
    assert meter.gpus[0].source == "average_socket_power"
    assert meter.read() == [123.0]


def test_power_that_turns_n_a_is_a_gap_for_that_reading_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeAmdGpu(counter=False, power_w=100.0)
    meter = meter_for([fake, gpu(SERIAL_B, counter=False, power_w=50.0)])
    fake.na_after_reads = fake.reads
    with caplog.at_level(logging.WARNING, logger="nlpfootprint"):
        values = meter.read()
    assert math.isnan(values[0])
    assert values[1] == 50.0
    assert any("N/A" in r.getMessage() for r in caplog.records)
    fake.na_after_reads = None
    assert meter.read() == [100.0, 50.0]


def test_a_gpu_with_neither_energy_nor_power_is_estimated_and_says_so() -> None:
    blind = FakeAmdGpu(
        counter=False, current_power=False, average_power=False, activity=40, cap_w=300.0
    )
    meter = meter_for([blind])
    (channel,) = meter.channels
    assert channel.source == "estimated"
    assert channel.method is Method.ESTIMATED
    assert channel.basis is not None
    assert channel.basis.rated_w == 300.0
    assert meter.read() == [pytest.approx(120.0)]  # 300 W cap x 40 %
    assert any("power cap (300 W) x GFX activity" in n for n in meter.notes)


def test_a_gpu_with_no_reading_at_all_is_left_out_with_a_reason() -> None:
    blind = gpu(SERIAL_B, counter=False, current_power=False, average_power=False, activity=None)
    meter = meter_for([gpu(SERIAL_A), blind])
    assert [g.serial for g in meter.gpus] == [SERIAL_A]
    assert any("not measured" in n for n in meter.notes)
    with pytest.raises(MeterUnavailableError, match="no visible AMD GPU reports"):
        meter_for([blind])


@pytest.mark.parametrize(
    ("cap_w", "max_cap_w", "limit", "most"),
    [
        (300.0, 400.0, 300.0, 400.0),  # the highest cap it can be set to
        (300.0, None, 300.0, 300.0),  # no maximum: the current cap
        (None, None, None, None),  # amdsmi says neither: the ledger's default for a GPU
    ],
)
def test_each_gpu_records_its_power_cap_and_the_most_it_can_draw(
    cap_w: float | None, max_cap_w: float | None, limit: float | None, most: float | None
) -> None:
    meter = meter_for([FakeAmdGpu(cap_w=cap_w, max_cap_w=max_cap_w)])
    assert (meter.gpus[0].power_limit_w, meter.gpus[0].max_power_w) == (limit, most)
    assert meter.channels[0].max_power_w == most


def test_device_name_uuid_and_serial_are_recorded() -> None:
    meter = meter_for([FakeAmdGpu()])
    (info,) = meter.gpus
    assert (info.name, info.serial, info.uuid) == (
        "AMD Instinct MI300X",
        "0x1EE5D54A12C3E5B5",
        "GPU-1ee5d54a12c3e5b5",  # HIP's UUID, where amdsmi gives it
    )
    device = meter.channels[0].device
    assert device is not None
    assert (device.name, device.index, device.uuid) == (info.name, 0, info.uuid)
    older = meter_for([FakeAmdGpu()], enumeration=False)
    assert older.gpus[0].uuid == "5eff74a1-0000-1000-80c9-2d30a1235e5a"  # amdsmi's own


def test_the_backend_survives_a_report_round_trip() -> None:
    clock = FakeClock()
    meter = meter_for([FakeAmdGpu()], clock)
    with nf.track_energy(meters=[meter], clock=clock) as tracker:
        clock.advance(10)
    again = Report.from_dict(json.loads(json.dumps(tracker.report.to_dict())))
    assert again.channels[0].backend == "amdsmi"


# -- two-die modules: MI250, MI250X -------------------------------------------------------

MI250X = "AMD Instinct MI250X"


def module(n: int, *, first_w: float = 400.0, na: bool = False, **kw: object) -> list[FakeAmdGpu]:
    """The two dies of MI250X module ``n``, as amdsmi lists them: the first reads the
    module's power and energy, the second 0 W (or ``"N/A"`` with ``na``) and a counter of 0."""
    first = gpu(
        f"0x{2 * n + 1:016X}", name=MI250X, power_w=first_w, cap_w=500.0, max_cap_w=560.0, **kw
    )
    second = gpu(
        f"0x{2 * n + 2:016X}",
        name=MI250X,
        secondary_die=True,
        na_after_reads=0 if na else None,
        **kw,
    )
    return [first, second]


@pytest.mark.parametrize("counter", [True, False])
@pytest.mark.parametrize("na", [False, True])
def test_both_dies_of_an_mi250x_count_the_module_once_on_its_first_die(
    counter: bool, na: bool
) -> None:
    clock = FakeClock()
    meter = meter_for(module(0, na=na, counter=counter), clock)
    (channel,) = meter.channels
    assert [(g.index, g.die, g.partner) for g in meter.gpus] == [(0, "first", 1)]
    assert channel.id == "gpu:0"
    assert "both dies of its module" in channel.label
    assert any("GPU 1 (AMD Instinct MI250X) is the second die" in n for n in meter.notes)
    assert any("covered by gpu:0, its package's first die" in n for n in meter.notes)
    with nf.track_energy(meters=[meter], clock=clock) as tracker:
        clock.advance(100)
    assert tracker.report.energy_j == pytest.approx(40_000.0, rel=1e-6)  # once, not twice


def test_each_module_is_counted_on_its_first_die_whatever_order_hip_gives() -> None:
    clock = FakeClock()
    fakes = [*module(0, first_w=300.0), *module(1, first_w=350.0)]
    meter = meter_for(fakes, clock, environ={"HIP_VISIBLE_DEVICES": "3,1,2,0"})
    assert [(c.id, g.index) for c, g in zip(meter.channels, meter.gpus, strict=True)] == [
        ("gpu:0", 2),
        ("gpu:1", 0),
    ]
    assert any("GPU 3 " in n and "covered by gpu:0" in n for n in meter.notes)
    assert any("GPU 1 " in n and "covered by gpu:1" in n for n in meter.notes)
    with nf.track_energy(meters=[meter], clock=clock) as tracker:
        clock.advance(10)
    energies = [c.energy_j for c in tracker.report.channels]
    assert energies == [pytest.approx(3500.0, rel=1e-6), pytest.approx(3000.0, rel=1e-6)]


@pytest.mark.parametrize("na", [False, True])
def test_a_second_die_alone_is_estimated_from_half_its_module_cap_and_says_so(
    na: bool, caplog: pytest.LogCaptureFixture
) -> None:
    fakes = module(0, na=na, activity=40)
    with caplog.at_level(logging.WARNING, logger="nlpfootprint"):
        meter = meter_for(fakes, environ={"HIP_VISIBLE_DEVICES": "1"})
    (info,) = meter.gpus
    assert (info.index, info.mode, info.die, info.partner) == (1, "estimated", "second", 0)
    (channel,) = meter.channels
    assert channel.method is Method.ESTIMATED
    assert channel.basis is not None
    assert channel.basis.rated_w == 250.0  # half the module's 500 W cap
    assert channel.max_power_w == 280.0  # half the most the module can be set to draw
    assert "half its module's power cap" in channel.label
    assert meter.read() == [pytest.approx(100.0)]  # 250 W x 40 %, never 0 W
    said = [n for n in meter.notes if "cannot be split" in n]
    assert len(said) == 1
    assert "half the module's power cap (250 W of 500 W)" in said[0]
    assert any("cannot be split" in r.getMessage() for r in caplog.records)


def test_a_second_die_with_no_module_cap_in_sight_is_not_measured_never_zero() -> None:
    alone = module(0)[1]  # amdsmi lists only this die (a job's cgroup, say)
    with pytest.raises(MeterUnavailableError, match="second die of a two-die module"):
        meter_for([alone])
    meter = meter_for([gpu(SERIAL_A), alone])  # beside another GPU: left out, with the note
    assert [g.serial for g in meter.gpus] == [SERIAL_A]
    assert any("cannot be split" in n and "not measured" in n for n in meter.notes)


def test_mode_power_measures_no_second_die_alone_but_still_counts_both_on_the_first() -> None:
    alone = meter_for([*module(0), gpu(SERIAL_A)], mode="power", gpus=[1, 2])
    assert [g.serial for g in alone.gpus] == [SERIAL_A]
    assert any("allows no estimate: not measured" in n for n in alone.notes)
    both = meter_for(module(0), mode="power")
    assert [(g.index, g.mode) for g in both.gpus] == [(0, "power")]


def test_a_first_die_alone_warns_that_it_includes_the_other_die(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="nlpfootprint"):
        meter = meter_for(module(0), environ={"ROCR_VISIBLE_DEVICES": "0"})
    assert [(g.index, g.die) for g in meter.gpus] == [(0, "first")]
    (note,) = [n for n in meter.notes if "first die" in n]
    assert "gpu:0 includes those of GPU 1, which is not measured here" in note
    assert any("gpu:0 includes" in r.getMessage() for r in caplog.records)


def test_a_die_whose_partner_amdsmi_does_not_list_is_noted_as_perhaps_the_module() -> None:
    meter = meter_for(module(0)[:1])
    assert [g.die for g in meter.gpus] == ["unpaired"]
    assert any("lists no other die beside it" in n for n in meter.notes)


def test_two_dies_that_both_read_are_each_measured_on_their_own() -> None:
    fakes = [gpu(SERIAL_A, name=MI250X, power_w=200.0), gpu(SERIAL_B, name=MI250X, power_w=150.0)]
    meter = meter_for(fakes)
    assert [(g.index, g.die) for g in meter.gpus] == [(0, ""), (1, "")]
    assert not any("die" in n for n in meter.notes)


def test_a_gpu_that_reads_zero_watts_is_measured_with_a_note_not_silently() -> None:
    meter = meter_for([FakeAmdGpu(counter=False, power_w=0.0)])
    assert [g.mode for g in meter.gpus] == ["power"]
    assert meter.read() == [0.0]
    assert any("reads 0 W now (current_socket_power)" in n for n in meter.notes)


# -- a GPU that is lost ----------------------------------------------------------------


def test_gpu_lost_mid_run_is_a_gap_for_that_gpu_and_the_other_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    gpus = [gpu(SERIAL_A, power_w=100.0), gpu(SERIAL_B, power_w=200.0)]
    meter = meter_for(gpus, clock)
    gpus[1].lost_after_reads = gpus[1].reads + 5  # 5 more good reads: t = 0..4
    tracker = nf.track_energy(meters=[meter], clock=clock, interval_s=1.0)
    with caplog.at_level(logging.WARNING, logger="nlpfootprint"), tracker:
        clock.advance(10)
    gpu0, gpu1 = tracker.report.channels
    assert gpu0.energy_j == pytest.approx(1000.0, rel=1e-6)
    assert gpu1.energy_j == pytest.approx(800.0, rel=1e-6)
    assert gpu1.gap_s == pytest.approx(6.0)
    lost = [r.getMessage() for r in caplog.records if "not answering" in r.getMessage()]
    assert len(lost) == 1
    assert "GPU-bbbb000000000002" in lost[0]


def test_every_gpu_lost_raises_meter_error_so_the_tracker_records_a_gap() -> None:
    fake = FakeAmdGpu()
    meter = meter_for([fake])
    fake.lost_after_reads = fake.reads
    with pytest.raises(MeterError, match="not answering") as info:
        meter.read()
    assert "\n" not in str(info.value)  # amdsmi's two-line message, made one line


def test_a_gpu_already_lost_when_opened_is_left_out_and_the_others_are_measured() -> None:
    meter = meter_for([gpu(SERIAL_A), gpu(SERIAL_B, lost_after_reads=0)])
    assert [g.index for g in meter.gpus] == [0]
    assert any("GPU 1" in n and "not answering" in n for n in meter.notes)


# -- which GPUs ------------------------------------------------------------------------


def three() -> list[FakeAmdGpu]:
    return [gpu(SERIAL_A), gpu(SERIAL_B), gpu(SERIAL_C)]


def test_hip_visible_devices_by_index_selects_those_gpus_in_its_order() -> None:
    meter = meter_for(three(), environ={"HIP_VISIBLE_DEVICES": "2,0"})
    assert [g.index for g in meter.gpus] == [2, 0]
    assert [c.id for c in meter.channels] == ["gpu:0", "gpu:1"]  # HIP's numbering


def test_rocr_visible_devices_applies_first_and_hip_indices_count_what_it_left() -> None:
    env = {"ROCR_VISIBLE_DEVICES": "0,2", "HIP_VISIBLE_DEVICES": "1"}
    meter = meter_for(three(), environ=env)
    assert [g.index for g in meter.gpus] == [2]
    only_rocr = meter_for(three(), environ={"ROCR_VISIBLE_DEVICES": "1,2"})
    assert [g.index for g in only_rocr.gpus] == [1, 2]


def test_cuda_visible_devices_counts_only_when_hip_visible_devices_is_unset() -> None:
    cuda = meter_for(three(), environ={"CUDA_VISIBLE_DEVICES": "1"})
    assert [g.index for g in cuda.gpus] == [1]
    both = meter_for(three(), environ={"CUDA_VISIBLE_DEVICES": "1", "HIP_VISIBLE_DEVICES": "2"})
    assert [g.index for g in both.gpus] == [2]


def test_a_uuid_selects_the_gpu_it_names_by_hip_uuid_serial_or_amdsmi_uuid() -> None:
    by_hip = meter_for(three(), environ={"HIP_VISIBLE_DEVICES": "GPU-bbbb0000"})
    assert [g.serial for g in by_hip.gpus] == [SERIAL_B]
    older = meter_for(three(), enumeration=False, environ={"ROCR_VISIBLE_DEVICES": "GPU-aaaa"})
    assert [g.serial for g in older.gpus] == [SERIAL_A]
    explicit = meter_for(three(), gpus=["uuid-3", 1])
    assert [g.serial for g in explicit.gpus] == [SERIAL_C, SERIAL_B]


def test_ambiguous_unknown_or_out_of_range_names_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="matches several GPUs"):
        meter_for(three(), environ={"HIP_VISIBLE_DEVICES": "GPU-bbbb"})
    with pytest.raises(ConfigurationError, match="matches no GPU"):
        meter_for(three(), gpus=["GPU-ffff"])
    with pytest.raises(ConfigurationError, match=r"index 2, but only 2 AMD GPU\(s\)"):
        meter_for(three(), environ={"ROCR_VISIBLE_DEVICES": "0,1", "HIP_VISIBLE_DEVICES": "2"})


def test_an_empty_visibility_variable_means_no_gpu_is_measured() -> None:
    with pytest.raises(MeterUnavailableError, match="hides every AMD GPU"):
        meter_for(three(), environ={"ROCR_VISIBLE_DEVICES": ""})
    with pytest.raises(MeterUnavailableError, match="HIP_VISIBLE_DEVICES=''"):
        meter_for(three(), environ={"HIP_VISIBLE_DEVICES": "", "CUDA_VISIBLE_DEVICES": "0"})


def test_indices_follow_hips_order_where_amdsmi_reports_it() -> None:
    fakes = [gpu(SERIAL_A, hip_id=1), gpu(SERIAL_B, hip_id=0)]
    meter = meter_for(fakes, environ={"HIP_VISIBLE_DEVICES": "0"})
    assert [g.serial for g in meter.gpus] == [SERIAL_B]
    everything = meter_for(fakes)
    assert [g.index for g in everything.gpus] == [1, 0]  # channels in HIP's order
    older = meter_for(fakes, enumeration=False, environ={"HIP_VISIBLE_DEVICES": "0"})
    assert [g.serial for g in older.gpus] == [SERIAL_A]  # no hip_id: amdsmi's order


def test_explicit_gpus_argument_wins_over_the_environment() -> None:
    meter = meter_for(three(), gpus=[1], environ={"HIP_VISIBLE_DEVICES": "0"})
    assert [g.index for g in meter.gpus] == [1]
    with pytest.raises(ConfigurationError, match="expected a list"):
        meter_for(three(), gpus=0)


def test_select_gpus_with_no_gpu_says_so() -> None:
    with pytest.raises(MeterUnavailableError, match="found no AMD GPU"):
        select_gpus([], None, {})
    ids = [AmdIdentity(0, serial=SERIAL_A), AmdIdentity(1, serial=SERIAL_B)]
    assert select_gpus(ids, None, {"HIP_VISIBLE_DEVICES": "1,x,0"}) == [ids[1]]  # stops at x


# -- errors, options, lifetime ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        (AMDSMI_STATUS_DRIVER_NOT_LOADED, MeterUnavailableError, "no amdgpu driver loaded"),
        (AMDSMI_STATUS_INIT_ERROR, MeterUnavailableError, "--device=/dev/kfd"),
        (AMDSMI_STATUS_NO_PERM, MeterPermissionError, "render and video groups"),
    ],
)
def test_amdsmi_start_errors_are_translated_once_with_the_way_forward(
    code: int, error: type[Exception], message: str
) -> None:
    module = make_amdsmi([FakeAmdGpu()], init_error=code)
    with pytest.raises(error, match=message) as info:
        AmdSmiMeter(amdsmi=module, environ={})
    assert isinstance(info.value.__cause__, AmdSmiLibraryException)
    assert "\n" not in str(info.value)


def test_a_query_that_fails_is_taken_as_missing_but_a_refusal_stops_the_meter() -> None:
    failing = FakeAmdGpu(fail={"amdsmi_get_energy_count": AMDSMI_STATUS_API_FAILED})
    assert meter_for([failing]).gpus[0].mode == "power"
    refused = FakeAmdGpu(fail={"amdsmi_get_energy_count": AMDSMI_STATUS_NO_PERM})
    with pytest.raises(MeterPermissionError, match=r"opening GPU 0: .*Permission Denied"):
        meter_for([refused])


def test_windows_synchronise_the_gpu_before_their_boundary_readings(
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
    meter = meter_for([FakeAmdGpu()], clock)
    with nf.track_energy(meters=[meter], clock=clock) as tracker, tracker.window("eval"):
        clock.advance(1)
    assert synced == [1, 1, 1]  # window start, window end, stop: the caller's device
    meter.sync_cuda = False
    meter.sync()
    assert len(synced) == 3


def test_no_gpu_at_all_is_unavailable() -> None:
    with pytest.raises(MeterUnavailableError, match="found no AMD GPU"):
        meter_for([])


def test_missing_amdsmi_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # makes `import amdsmi` fail
    with pytest.raises(MeterUnavailableError, match=r"nlpfootprint\[amd\]"):
        AmdSmiMeter(environ={})


def test_a_missing_driver_is_named_before_the_missing_bindings(tmp_path: Path) -> None:
    assert not amd_driver_present(tmp_path)
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "kfd").touch()
    assert amd_driver_present(tmp_path)
    assert missing_bindings_message(driver=False).startswith("no AMD GPU driver")
    assert missing_bindings_message(driver=True).startswith("the amdsmi bindings")


def test_bad_options_are_refused_naming_the_value() -> None:
    with pytest.raises(ConfigurationError, match="mode='fast'"):
        meter_for([FakeAmdGpu()], mode="fast")
    with pytest.raises(ConfigurationError, match="first_channel=-1"):
        meter_for([FakeAmdGpu()], first_channel=-1)


def test_mode_power_insists_on_power_and_leaves_out_what_has_none() -> None:
    fakes = [gpu(SERIAL_A), gpu(SERIAL_B, current_power=False, average_power=False)]
    meter = meter_for(fakes, mode="power")
    assert [(g.index, g.mode) for g in meter.gpus] == [(0, "power")]
    assert any("cannot be read in mode 'power'" in n for n in meter.notes)


def test_first_channel_numbers_the_channels_beside_another_gpu_meter() -> None:
    meter = meter_for(three(), first_channel=8)
    assert [c.id for c in meter.channels] == ["gpu:8", "gpu:9", "gpu:10"]


def test_close_shuts_amdsmi_down_once() -> None:
    module = make_amdsmi([FakeAmdGpu()])
    meter = AmdSmiMeter(amdsmi=module, environ={})
    meter.close()
    meter.close()
    assert (module.calls["init"], module.calls["shutdown"]) == (1, 1)


def test_failed_construction_still_shuts_amdsmi_down() -> None:
    module = make_amdsmi([FakeAmdGpu()])
    with pytest.raises(MeterUnavailableError):
        AmdSmiMeter(amdsmi=module, environ={"HIP_VISIBLE_DEVICES": ""})
    assert module.calls["shutdown"] == 1


# -- detection -------------------------------------------------------------------------


def test_detection_uses_amd_gpus_beside_the_cpu_meters() -> None:
    module = make_amdsmi([FakeAmdGpu()])
    found = detect(
        [
            Backend("amdsmi", ("gpu",), lambda: AmdSmiMeter(amdsmi=module, environ={})),
            Backend("estimated-cpu", ("cpu",), EstimatedCpuMeter, estimated=True),
        ]
    )
    try:
        assert found.used == ("amdsmi", "estimated-cpu")
        assert [c.id for m in found.meters for c in m.channels] == ["gpu:0", "cpu:0"]
    finally:
        found.close()
    assert module.calls["shutdown"] == 1


def test_detection_explains_why_amd_gpus_are_not_measured_here() -> None:
    found = detect()
    try:
        if "amdsmi" in found.used:
            pytest.skip("this machine has an AMD GPU that amdsmi reads")
        reason = found.skipped["amdsmi"]
    finally:
        found.close()
    assert "\n" not in reason
    if not amd_driver_present():  # the driver is what is missing first
        assert "AMD GPU driver" in reason or "no amdgpu driver" in reason
    else:
        assert any(why in reason for why in ("nlpfootprint[amd]", "amdsmi"))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return shared_run_cli(*args, env={"PYTHONWARNINGS": "error"})


def test_nlpfootprint_meters_lists_amdsmi_with_its_reason() -> None:
    table = run_cli("meters")
    assert table.returncode == 0, table.stderr
    (line,) = [x for x in table.stdout.splitlines() if x.strip().startswith("amdsmi ")]
    data = json.loads(run_cli("meters", "--json").stdout)
    (entry,) = [b for b in data["backends"] if b["backend"] == "amdsmi"]
    if entry["status"] == "not used":
        assert entry["reason"]
        assert entry["reason"].split(":")[0] in line
