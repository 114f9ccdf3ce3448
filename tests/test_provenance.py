"""Where each figure came from, as fields: every backend fills them, reports keep them, and
reports and logs written by the previous schema still load with the same figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nlpfootprint as nf
from fake_nvml import FakeGpu, make_pynvml
from fake_pyrapl import fake_pyrapl
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.legacy import upgrade_header_channel
from nlpfootprint.meters.estimated import EstimatedCpuMeter, EstimatedDramMeter
from nlpfootprint.meters.nvml import NvmlMeter
from nlpfootprint.meters.pyrapl import PyRaplMeter
from nlpfootprint.meters.rapl import RaplMeter
from nlpfootprint.provenance import Backend, Basis, Method
from nlpfootprint.render.latex import paper_sentence
from nlpfootprint.report import SCHEMA, ChannelReport, Report
from nlpfootprint.runlog import load_run, report_from_log
from nlpfootprint.testing import FakeClock, FakeMeter
from powercap import server

SCHEMA1 = Path(__file__).parent / "data" / "schema1"


class _Times:
    user = system = nice = irq = softirq = steal = guest = guest_nice = 10.0
    idle = iowait = 0.0


# -- every backend says what it is -----------------------------------------------------


def test_nvml_channels_carry_backend_device_and_method() -> None:
    gpus = [FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b", counter=False)]
    meter = NvmlMeter(nvml=make_pynvml(gpus), environ={})  # type: ignore[arg-type]
    counter, sampled = meter.channels
    assert (counter.backend, counter.method, sampled.method) == ("nvml", "counter", "sampled")
    assert counter.device is not None
    assert (counter.device.name, counter.device.index, counter.device.uuid) == (
        "NVIDIA H100 80GB HBM3",
        0,
        "GPU-a",
    )
    assert counter.device.host
    assert counter.basis is None


def test_an_nvml_gpu_without_power_readings_says_its_estimate_rests_on_the_limit() -> None:
    gpu = FakeGpu(counter=False, power=False, limit_w=400.0)
    (channel,) = NvmlMeter(nvml=make_pynvml([gpu]), environ={}).channels  # type: ignore[arg-type]
    assert channel.method is Method.ESTIMATED
    assert channel.basis is not None
    assert (channel.basis.basis, channel.basis.rated_w) == (Basis.POWER_LIMIT_X_UTILISATION, 400.0)


def test_rapl_and_pyrapl_channels_name_their_package(tmp_path: Path) -> None:
    tree = server(tmp_path)
    rapl = RaplMeter(tree.root)
    assert {c.backend for c in rapl.channels} == {Backend.RAPL}
    assert [(c.id, c.device.index) for c in rapl.channels if c.device] == [
        ("cpu:0", 0),
        ("cpu:1", 1),
        ("dram:0", 0),
        ("dram:1", 1),
    ]
    pyrapl = PyRaplMeter(pyrapl=fake_pyrapl(tree.root, sockets=(0, 1)), powercap_root=tree.root)
    try:
        assert {c.backend for c in pyrapl.channels} == {Backend.PYRAPL}
        assert {c.method for c in pyrapl.channels} == {Method.COUNTER}
    finally:
        pyrapl.close()


def test_estimated_meters_state_their_basis_and_scope() -> None:
    cpu = EstimatedCpuMeter(
        tdp_w=150.0, model="Some CPU", sockets=2, logical_cpus=8, cpu_times=_Times
    )
    dram = EstimatedDramMeter(total_bytes=64 * 2**30)
    (c,), (d,) = cpu.channels, dram.channels
    assert (c.backend, c.method) == ("estimated", "estimated")
    assert c.basis is not None
    assert (c.basis.basis, c.basis.rated_w, c.basis.scope) == (Basis.TDP, 150.0, "machine")
    assert c.device is not None
    assert (c.device.name, c.device.count) == ("Some CPU", 2)
    assert d.basis is not None
    assert (d.basis.basis, d.basis.source) == (Basis.MEMORY, "Crucial: 3 W per 8 GB")


def test_fakes_and_user_meters_are_told_apart() -> None:
    assert FakeMeter.constant(1.0).channels[0].backend == "fake"
    assert nf.Channel("x:0", "other", "power").backend == "user"


def test_a_basis_on_a_measured_channel_is_refused() -> None:
    basis = nf.EstimateBasis(Basis.TDP, rated_w=100.0)
    with pytest.raises(ConfigurationError, match="estimate basis"):
        nf.Channel("cpu:0", "cpu", "energy", basis=basis)
    with pytest.raises(ConfigurationError, match="'gpu-ish' is not one of"):
        nf.Channel("cpu:0", "cpu", "energy", backend="gpu-ish")


@pytest.mark.parametrize("bad", [0.0, -300.0, float("nan"), float("inf"), True, "700", 2e15])
def test_a_channels_max_power_must_be_a_positive_finite_number(bad: object) -> None:
    with pytest.raises(ConfigurationError, match=rf"max_power_w={bad!r}: "):
        nf.Channel("gpu:0", "gpu", "power", max_power_w=bad)  # type: ignore[arg-type]


def test_a_channel_and_a_device_take_numpy_numbers_and_keep_plain_ones() -> None:
    channel = nf.Channel(
        "gpu:0",
        "gpu",
        "energy",
        max_energy_j=np.int64(262_143),  # type: ignore[arg-type]
        max_power_w=np.float32(300),  # type: ignore[arg-type]
        device=nf.Device("A100", index=np.int64(3), count=np.int64(8)),
    )
    assert (channel.max_energy_j, channel.max_power_w) == (262_143.0, 300.0)
    assert type(channel.max_energy_j) is type(channel.max_power_w) is float
    assert channel.device is not None
    assert type(channel.device.index) is type(channel.device.count) is int
    assert nf.Channel.from_dict(json.loads(json.dumps(channel.to_dict()))) == channel


def test_a_channel_keeps_the_most_its_device_draws_through_its_dict() -> None:
    channel = nf.Channel("gpu:0", "gpu", "energy", max_energy_j=1e6, max_power_w=700.0)
    assert channel.to_dict()["max_power_w"] == 700.0
    assert nf.Channel.from_dict(channel.to_dict()) == channel


def test_a_header_channel_without_max_power_reads_as_not_known() -> None:
    old = nf.Channel("cpu:0", "cpu", "energy", backend="rapl").to_dict()
    del old["max_power_w"]
    upgraded = upgrade_header_channel(old)
    assert nf.Channel.from_dict(upgraded).max_power_w is None
    assert upgrade_header_channel(upgraded) == upgraded
    schema1 = {k: v for k, v in old.items() if k not in ("backend", "device", "basis")}
    assert nf.Channel.from_dict(upgrade_header_channel(schema1)).max_power_w is None


def test_an_estimate_by_hardware_counts_its_devices() -> None:
    report = nf.estimate(hardware="V100", count=64, hours=1)
    (channel,) = report.channels
    assert channel.device is not None
    assert (channel.device.name, channel.device.count) == ("Tesla V100 SXM2", 64)
    assert channel.basis is not None
    assert (channel.basis.basis, channel.basis.rated_w) == (Basis.RATED_POWER, 300.0)
    given = nf.estimate(power_w=1000.0, hours=1).channels[0]
    assert given.basis is not None
    assert given.basis.basis is Basis.GIVEN_POWER


# -- reports keep the fields -----------------------------------------------------------


def test_channel_reports_carry_the_channel_provenance_through_a_run_and_its_dict() -> None:
    clock = FakeClock()
    gpu = NvmlMeter(nvml=make_pynvml([FakeGpu()], clock=clock), environ={})  # type: ignore[arg-type]
    with nf.track_energy(meters=[gpu], clock=clock) as tracker:
        clock.advance(60)
    (channel,) = tracker.report.channels
    assert isinstance(channel, ChannelReport)
    assert (channel.backend, channel.method) == (Backend.NVML, Method.COUNTER)
    assert channel.device == gpu.channels[0].device
    data = tracker.report.to_dict()
    assert data["schema"] == SCHEMA == "nlpfootprint.report/2"
    assert data["channels"][0]["backend"] == "nvml"
    assert data["channels"][0]["device"]["uuid"] == FakeGpu().uuid
    assert Report.from_dict(json.loads(json.dumps(data))) == tracker.report


def test_the_paper_sentence_reads_fields_not_labels() -> None:
    # a label that says NVML and names another GPU changes nothing: the fields decide
    misleading = "NVML energy counter on 8 x A100 at 400 W (GPU-0)"
    channel = ChannelReport(
        "gpu:0",
        "gpu",
        "energy",
        "counter",
        misleading,
        3.6e6,
        readings=2,
        backend="rapl",
        device=nf.Device(name="Mystery GPU", count=2),
    )
    sentence = paper_sentence(Report(3600.0, (channel,)))
    assert "on 2 Mystery GPU GPUs (measured with RAPL energy counters)" in sentence
    assert "A100" not in sentence


# -- what the previous schema wrote still loads ------------------------------------------


def test_a_schema_1_report_loads_with_the_same_figures_and_inferred_provenance() -> None:
    data: dict[str, Any] = json.loads((SCHEMA1 / "report.json").read_text())
    assert data["schema"] == "nlpfootprint.report/1"
    report = Report.from_dict(data)
    for figure in ("energy_j", "facility_energy_kwh", "co2e_kg", "cost_usd", "j_per_step"):
        assert getattr(report, figure) == pytest.approx(data[figure], rel=1e-12), figure
    assert report.duration_s == data["duration_s"]
    (channel,) = report.channels
    assert (channel.backend, channel.method) == (Backend.NVML, Method.SAMPLED)
    assert channel.device is not None
    assert channel.device.name == "NVIDIA H100 80GB HBM3"
    assert [w.name for w in report.windows] == ["eval"]
    assert str(report) + "\n" == (SCHEMA1 / "report.txt").read_text()


def test_a_schema_1_estimate_renders_the_paper_table_it_rendered_before() -> None:
    report = Report.from_dict(json.loads((SCHEMA1 / "estimate.json").read_text()))
    (channel,) = report.channels
    assert channel.basis is not None
    assert (channel.basis.basis, channel.basis.rated_w) == (Basis.RATED_POWER, 300.0)
    assert channel.device is not None
    assert channel.device.count == 64
    before = (SCHEMA1 / "estimate.tex").read_text()
    # one wording changed on purpose: the caption now shares the text's "electricity price"
    before = before.replace("electricity 0.12 USD/kWh", "electricity price 0.12 USD/kWh")
    assert report.to_latex() == before


@pytest.mark.parametrize("name", ["run.jsonl", "crashed.jsonl"])
def test_a_log_written_by_the_previous_version_reports_the_same(name: str, tmp_path: Path) -> None:
    path = shutil.copy(SCHEMA1 / name, tmp_path / name)
    run = load_run(path)
    assert run.channels[0].backend == "nvml"
    expected = json.loads((SCHEMA1 / "report.json").read_text())
    rebuilt = report_from_log(path, from_samples=True)
    assert rebuilt.energy_j == pytest.approx(expected["energy_j"], rel=1e-9)
    assert rebuilt.steps == expected["steps"]
    assert rebuilt.channels[0].readings == expected["channels"][0]["readings"]
    if name == "run.jsonl":
        assert report_from_log(path) == Report.from_dict(expected)
    else:
        assert "did not finish cleanly" in report_from_log(path).warnings[0]


def test_a_channel_report_refuses_a_method_its_kind_cannot_have() -> None:
    with pytest.raises(ConfigurationError, match="kind"):
        ChannelReport("gpu:0", "gpu", "banana", "counter", "", 1.0)
    with pytest.raises(ConfigurationError, match="a counter channel is of kind 'energy'"):
        ChannelReport("gpu:0", "gpu", "power", "counter", "", 1.0)
    basis = nf.EstimateBasis(Basis.TDP, rated_w=100.0)
    with pytest.raises(ConfigurationError, match="estimate basis"):
        ChannelReport("cpu:0", "cpu", "energy", "counter", "", 1.0, basis=basis)
    ok = ChannelReport("cpu:0", "cpu", "energy", "estimated", "", 1.0, basis=basis)
    assert ok.method is Method.ESTIMATED
