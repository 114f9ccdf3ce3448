"""NvmlMeter(scope="process"): a shared GPU's energy attributed to this process tree,
driven through the fake pynvml module (per-PID SM utilisation and memory)."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import nlpfootprint as nf
from fake_nvml import FakeGpu, make_pynvml
from nlpfootprint.distributed.merge import Part, job_report
from nlpfootprint.distributed.select import per_process
from nlpfootprint.errors import ConfigurationError, MeterError
from nlpfootprint.meters.discovery import Backend, detect
from nlpfootprint.meters.gpushare import GpuAttribution, process_tree_pids, tree_pids
from nlpfootprint.meters.nvml import NvmlMeter
from nlpfootprint.provenance import Basis, Method
from nlpfootprint.render.caption import how_sentence
from nlpfootprint.report import ChannelReport
from nlpfootprint.testing import FakeClock, FakeMeter

ME = os.getpid()
#: A PID above Linux's largest pid_max (2**22): never a process here, like another
#: container's or user's process that this one cannot see.
OTHER = 4_194_305
THIRD = 4_194_306
GIB = 1 << 30
HOUR = 3600.0


def process_meter(
    gpus: list[FakeGpu], clock: FakeClock, *, pid: int | None = None, nvml: object = None
) -> NvmlMeter:
    return NvmlMeter(
        nvml=make_pynvml(gpus, clock=clock) if nvml is None else nvml,
        environ={},
        scope="process",
        pid=pid,
        clock=clock,
    )


def attributed_j(gpu: FakeGpu, seconds: float, *, pid: int | None = None) -> float:
    """What a tracker reports for ``gpu:0`` over ``seconds`` in process scope."""
    clock = FakeClock()
    meter = process_meter([gpu], clock, pid=pid)
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10) as tracker:
        clock.advance(seconds)
    (channel,) = tracker.report.channels
    return channel.energy_j


@pytest.mark.parametrize("counter", [True, False], ids=["energy-counter", "power"])
def test_two_processes_at_30_and_70_sm_util_this_one_is_charged_30_percent(
    counter: bool,
) -> None:
    clock = FakeClock()
    gpu = FakeGpu(
        power_w=300.0, counter=counter, sm_util={ME: 30, OTHER: 70}, processes={ME: GIB, OTHER: GIB}
    )
    meter = process_meter([gpu], clock)
    (channel,) = meter.channels
    assert (channel.kind, channel.source, channel.method) == ("energy", "attributed", "attributed")
    assert channel.basis is not None
    assert channel.basis.basis is Basis.PROCESS_SHARE
    assert channel.basis.scope == "process"
    assert f"process tree {ME}" in channel.label
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10) as tracker:
        clock.advance(HOUR)
    report = tracker.report
    assert report.energy_j == pytest.approx(0.3 * 300.0 * HOUR, rel=1e-9)
    assert report.method == "mixed"  # measured energy, estimated share
    assert report.channels[0].source is Method.ATTRIBUTED
    (attribution,) = meter.attribution
    assert attribution.device_j == pytest.approx(300.0 * HOUR, rel=1e-9)
    assert attribution.share == pytest.approx(0.3)
    assert dict(attribution.rule_j) == pytest.approx({"sm": 300.0 * HOUR})
    (attributed,) = report.channels  # the same figures, as fields a script can read
    assert attributed.device_energy_j == pytest.approx(300.0 * HOUR, rel=1e-9)
    assert attributed.share_rules == pytest.approx({"sm": 300.0 * HOUR})
    (line,) = [w for w in report.warnings if w.startswith("gpu:0 (process scope)")]
    assert "attributed 324.000 kJ (30%) of the whole GPU's 1.080 MJ" in line
    assert "100% of it by SM utilisation" in line
    assert "partly estimated" in str(report)


@pytest.mark.parametrize("counter", [True, False], ids=["energy-counter", "power"])
def test_one_meter_per_process_adds_up_to_the_whole_device(counter: bool) -> None:
    clock = FakeClock()
    gpu = FakeGpu(power_w=250.0, counter=counter, processes={ME: GIB, OTHER: 3 * GIB})
    nvml = make_pynvml([gpu], clock=clock)
    mine = process_meter([gpu], clock, nvml=nvml)
    theirs = process_meter([gpu], clock, pid=OTHER, nvml=nvml)
    both = (mine, theirs)
    readings = [[m.read()[0] for m in both]]
    pair = {ME: GIB, OTHER: 3 * GIB}
    intervals: list[tuple[dict[int, int] | None, dict[int, int | None]]] = [
        ({ME: 30, OTHER: 70}, pair),
        (None, pair),  # no samples (not supported): the last SM share, same processes
        ({ME: 90, OTHER: 10}, pair),
        ({}, pair),  # no new samples: the last SM share again
        ({}, {ME: GIB}),  # the other process left: by memory, all of it mine
        ({OTHER: 100}, pair),
    ]
    for sm_util, processes in intervals:
        gpu.sm_util, gpu.processes = sm_util, processes
        clock.advance(37.0)
        readings.append([m.read()[0] for m in both])
    device = [m.attribution[0].device_j for m in both]
    assert device[0] == device[1] == pytest.approx(250.0 * 6 * 37.0, rel=1e-12)
    assert math.fsum(readings[-1]) == pytest.approx(device[0], rel=0, abs=1e-9)
    for before, after in itertools.pairwise(readings):
        assert math.fsum(after) - math.fsum(before) == pytest.approx(250.0 * 37.0, abs=1e-9)
    # per interval: 30%, 30% (kept), 90%, 90% (kept), 100% (memory: the set changed), 0%.
    # Before, an interval without new samples fell back to memory (25%), mixing a share of
    # time with a share of memory in one run; the same processes keep their SM share now.
    expected = 250.0 * 37.0 * (0.3 + 0.3 + 0.9 + 0.9 + 1.0 + 0.0)
    assert readings[-1][0] == pytest.approx(expected, rel=1e-9)
    assert dict(mine.attribution[0].rule_j) == pytest.approx(
        {"sm": 250.0 * 37.0 * 5, "memory": 250.0 * 37.0}
    )


def test_readings_faster_than_nvml_samples_keep_the_sm_share_not_the_memory_share() -> None:
    clock = FakeClock()
    gpu = FakeGpu(power_w=200.0, sm_util={ME: 40, OTHER: 60}, processes={ME: GIB, OTHER: GIB})
    meter = process_meter([gpu], clock)
    meter.read()
    for tick in range(6):  # NVML samples every third reading only (a slower period)
        gpu.sm_util = {ME: 40, OTHER: 60} if tick % 3 == 0 else {}
        clock.advance(0.5)
        meter.read()
    (attribution,) = meter.attribution
    assert dict(attribution.rule_j) == pytest.approx({"sm": 200.0 * 3.0})
    assert attribution.attributed_j == pytest.approx(0.4 * 200.0 * 3.0)  # not 0.5 by memory
    gpu.processes = {ME: GIB, OTHER: GIB, THIRD: 2 * GIB}  # a newcomer, not yet sampled
    gpu.sm_util = {}
    clock.advance(0.5)
    meter.read()
    assert meter.attribution[0].rule_j["memory"] == pytest.approx(200.0 * 0.5)
    assert meter.attribution[0].attributed_j == pytest.approx(0.4 * 600.0 + 0.25 * 100.0)


@pytest.mark.parametrize(
    "sm_util",
    [None, {}, {ME: 0, OTHER: 0}],
    ids=["not-supported", "no-samples", "all-zero"],
)
def test_without_utilisation_samples_the_share_is_this_trees_gpu_memory(
    sm_util: dict[int, int] | None,
) -> None:
    gpu = FakeGpu(power_w=400.0, sm_util=sm_util, processes={ME: GIB, OTHER: 3 * GIB})
    assert attributed_j(gpu, HOUR) == pytest.approx(0.25 * 400.0 * HOUR, rel=1e-9)


def test_memory_not_available_splits_equally_among_the_gpus_processes() -> None:
    gpu = FakeGpu(power_w=300.0, processes={ME: None, OTHER: 5 * GIB, THIRD: None})
    assert attributed_j(gpu, HOUR) == pytest.approx(300.0 * HOUR / 3, rel=1e-9)


def test_nvml_reports_memory_not_available_as_all_ones_too() -> None:
    gpu = FakeGpu(power_w=300.0, processes={ME: 2**64 - 1, OTHER: GIB})
    assert attributed_j(gpu, HOUR) == pytest.approx(300.0 * HOUR / 2, rel=1e-9)


def test_a_gpu_with_no_process_on_it_charges_this_tree_nothing_and_says_so() -> None:
    clock = FakeClock()
    meter = process_meter([FakeGpu(power_w=80.0, sm_util={}, processes={})], clock)
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10) as tracker:
        clock.advance(HOUR)
    assert tracker.report.energy_j == 0.0
    (attribution,) = meter.attribution
    assert attribution.device_j == pytest.approx(80.0 * HOUR)
    assert dict(attribution.rule_j) == pytest.approx({"idle": 80.0 * HOUR})
    assert "while no process used the GPU (nobody's)" in attribution.describe()


def test_with_no_process_figures_at_all_the_last_share_is_kept_and_all_before_one() -> None:
    clock = FakeClock()
    gpu = FakeGpu(power_w=100.0)  # neither per-process utilisation nor a process list
    meter = process_meter([gpu], clock)
    meter.read()
    clock.advance(10.0)
    assert meter.read() == [pytest.approx(1000.0)]  # the whole device, as machine scope
    gpu.processes = {ME: GIB, OTHER: GIB}
    clock.advance(10.0)
    assert meter.read() == [pytest.approx(1500.0)]  # half, by memory
    gpu.processes = None
    clock.advance(10.0)
    assert meter.read() == [pytest.approx(2000.0)]  # half still: the last share known
    (attribution,) = meter.attribution
    assert dict(attribution.rule_j) == pytest.approx({"assumed": 2000.0, "memory": 1000.0})
    assert "with no process figures from NVML" in attribution.describe()


def test_a_child_process_counts_as_part_of_this_tree() -> None:
    code = "import sys; sys.stdin.read()"  # lives until its stdin closes
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    try:
        assert {ME, child.pid} <= tree_pids(ME)() == process_tree_pids(ME)
        gpu = FakeGpu(power_w=200.0, sm_util={child.pid: 40, OTHER: 60})
        assert attributed_j(gpu, HOUR) == pytest.approx(0.4 * 200.0 * HOUR, rel=1e-9)
        # the same GPU seen from the child's own tree: its 40% too, not the parent's share
        assert attributed_j(gpu, HOUR, pid=child.pid) == pytest.approx(0.4 * 200.0 * HOUR)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=60)


def test_a_tree_never_seen_on_the_gpu_gets_nothing_and_the_pid_namespace_is_named() -> None:
    clock = FakeClock()
    gpu = FakeGpu(power_w=300.0, sm_util={OTHER: 100}, processes={OTHER: GIB})
    meter = process_meter([gpu], clock, pid=THIRD)
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10) as tracker:
        clock.advance(HOUR)
    assert tracker.report.energy_j == 0.0
    (line,) = [w for w in tracker.report.warnings if w.startswith("gpu:0")]
    assert "never among the GPU's processes" in line
    assert "PID namespace" in line


def test_a_lost_gpu_is_a_gap_for_it_and_the_other_gpu_goes_on() -> None:
    clock = FakeClock()
    shared = {"sm_util": {ME: 50, OTHER: 50}, "processes": {ME: GIB, OTHER: GIB}}
    lost = FakeGpu(uuid="GPU-lost", lost_after_reads=4, **shared)  # type: ignore[arg-type]
    fine = FakeGpu(uuid="GPU-fine", power_w=200.0, **shared)  # type: ignore[arg-type]
    meter = process_meter([lost, fine], clock)
    for _ in range(3):
        values = meter.read()
        assert all(math.isfinite(v) for v in values)
        clock.advance(10.0)
    values = meter.read()
    assert math.isnan(values[0])
    assert values[1] == pytest.approx(0.5 * 200.0 * 30.0)
    fine.lost_after_reads = 0
    with pytest.raises(MeterError, match="lost"):
        meter.read()


def test_an_estimated_gpu_is_attributed_too_and_stays_estimated() -> None:
    gpu = FakeGpu(
        counter=False, power=False, limit_w=400.0, utilization=50, sm_util={ME: 25, OTHER: 75}
    )
    clock = FakeClock()
    meter = process_meter([gpu], clock)
    (channel,) = meter.channels
    assert channel.source == "estimated"
    assert channel.basis is not None
    assert (channel.basis.basis, channel.basis.scope) == (
        Basis.POWER_LIMIT_X_UTILISATION,
        "process",
    )
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10) as tracker:
        clock.advance(HOUR)
    assert tracker.report.energy_j == pytest.approx(0.25 * 400.0 * 0.5 * HOUR, rel=1e-9)
    assert tracker.report.method == "estimated"


def test_a_mig_instance_is_attributed_among_the_whole_gpus_processes() -> None:
    mig = "MIG-11111111-2222-3333-4444-555555555555"
    gpu = FakeGpu(mig=[mig], processes={ME: GIB, OTHER: GIB})
    meter = NvmlMeter(
        nvml=make_pynvml([gpu], clock=FakeClock()), gpus=[mig], environ={}, scope="process"
    )
    (channel,) = meter.channels
    assert "the whole GPU's (all its MIG instances') use" in channel.label
    assert "MIG instance: whole-GPU readings" in channel.label


def test_machine_scope_is_unchanged_and_attributes_nothing() -> None:
    clock = FakeClock()
    gpu = FakeGpu(power_w=300.0, sm_util={ME: 30, OTHER: 70}, processes={ME: GIB})
    meter = NvmlMeter(nvml=make_pynvml([gpu], clock=clock), environ={})
    (channel,) = meter.channels
    assert (channel.source, channel.basis, meter.scope, meter.pid) == (
        "counter",
        None,
        "machine",
        None,
    )
    assert meter.attribution == ()
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10) as tracker:
        clock.advance(HOUR)
    (channel_report,) = tracker.report.channels
    assert (channel_report.device_energy_j, channel_report.share_rules) == (None, None)
    assert not [w for w in tracker.report.warnings if "process scope" in w]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "job"}, "scope='job': expected 'machine' or 'process'"),
        ({"pid": ME}, "pid=.* is for scope='process'"),
        ({"scope": "process", "pid": 0}, "pid=0: expected a whole number >= 1"),
    ],
)
def test_bad_scope_or_pid_is_a_clear_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        NvmlMeter(nvml=make_pynvml([FakeGpu()]), environ={}, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def attributed_report() -> nf.Report:
    clock = FakeClock()
    gpu = FakeGpu(sm_util={ME: 1, OTHER: 3})
    meters = [process_meter([gpu], clock)]
    with nf.track_energy(meters=meters, clock=clock, interval_s=60) as tracker:
        clock.advance(HOUR)
    return tracker.report


def test_an_attributed_channel_survives_the_reports_dict_and_every_rendering(
    attributed_report: nf.Report,
) -> None:
    again = nf.Report.from_dict(attributed_report.to_dict())
    assert again == attributed_report
    assert again.channels[0].source is Method.ATTRIBUTED
    assert "attributed to this process" in how_sentence(attributed_report)
    assert "attributed to this process" in attributed_report.to_latex()
    assert "| attributed |" in attributed_report.to_markdown()


def test_the_whole_gpus_energy_is_a_field_of_the_channel_in_dicts_json_and_logs(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    gpu = FakeGpu(power_w=300.0, sm_util={ME: 1, OTHER: 3}, processes={ME: GIB, OTHER: GIB})
    log = tmp_path / "run.jsonl"
    meters = [process_meter([gpu], clock)]
    with nf.track_energy(meters=meters, clock=clock, interval_s=60, log=log) as tracker:
        clock.advance(HOUR)
    report = tracker.report
    (channel,) = report.channels
    assert channel.energy_j == pytest.approx(0.25 * 300.0 * HOUR)
    assert channel.device_energy_j == pytest.approx(300.0 * HOUR)
    assert channel.share_rules == pytest.approx({"sm": 300.0 * HOUR})
    data = json.loads(report.to_json())["channels"][0]
    assert data["device_energy_j"] == pytest.approx(300.0 * HOUR)
    assert data["share_rules"] == pytest.approx({"sm": 300.0 * HOUR})
    assert nf.Report.from_log(log).channels[0] == channel  # the run log's summary keeps it
    older = {k: v for k, v in data.items() if k not in ("device_energy_j", "share_rules")}
    assert ChannelReport.from_dict(older).device_energy_j is None  # an earlier version's dict
    for text in (str(report), report.to_markdown(), report._repr_html_()):
        assert "of the whole device" in text
        assert "1.080 MJ" in text
        assert "25%" in text
    twice = report.project(hours=2).channels[0]
    assert twice.device_energy_j == pytest.approx(2 * 300.0 * HOUR)
    assert twice.share_rules == pytest.approx({"sm": 2 * 300.0 * HOUR})
    assert channel.plus(channel).device_energy_j == pytest.approx(2 * 300.0 * HOUR)
    assert channel.plus(attrs.evolve(channel, device_energy_j=None)).device_energy_j is None
    with pytest.raises(ConfigurationError, match="share_rules\\['sm'\\]=-1"):
        attrs.evolve(channel, share_rules={"sm": -1.0})
    with pytest.raises(ConfigurationError, match="device_energy_j=nan"):
        attrs.evolve(channel, device_energy_j=math.nan)


def test_a_job_report_keeps_each_ranks_whole_gpu_figures() -> None:
    parts = []
    for rank in (0, 1):
        clock = FakeClock()
        gpu = FakeGpu(uuid=f"GPU-{rank}", sm_util={ME: 1, OTHER: 1}, processes={ME: GIB})
        with nf.track_energy(
            meters=[process_meter([gpu], clock)], clock=clock, distributed=None
        ) as tracker:
            clock.advance(100.0)
        report = tracker.report
        assert tracker._ledger is not None
        state = tracker._ledger.state(report.duration_s)
        parts.append(Part(rank, f"node-{rank}", 0, 1e6, report.duration_s, state, report))
    job = job_report(
        parts, {}, engine="torch", world_size=2, assumptions=parts[0].report.assumptions
    )
    assert [c.id for c in job.channels] == ["node-0/gpu:0", "node-1/gpu:0"]
    for channel in job.channels:
        assert channel.device_energy_j == pytest.approx(300.0 * 100.0)
        assert channel.energy_j == pytest.approx(0.5 * 300.0 * 100.0)
        assert channel.share_rules == pytest.approx({"sm": 300.0 * 100.0})


def test_each_rank_keeps_its_own_attributed_gpu_channel_in_a_distributed_job() -> None:
    meter = process_meter([FakeGpu(processes={ME: GIB})], FakeClock())
    assert per_process(meter.channels[0])


def test_an_attribution_with_no_energy_yet_says_so() -> None:
    empty = GpuAttribution("gpu:3", 0.0, 0.0, {}, tree_seen=True)
    assert empty.share is None
    assert empty.describe() == "gpu:3 (process scope): the GPU used no energy yet"


def test_track_energy_gpu_scope_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="gpu_scope='job': expected 'machine'"):
        nf.track_energy(gpu_scope="job")  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match=r"NvmlMeter\(scope=...\)"):
        nf.track_energy(meters=[process_meter([FakeGpu()], FakeClock())], gpu_scope="process")


def test_track_energy_gpu_scope_process_attributes_the_auto_detected_gpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    gpu = FakeGpu(power_w=300.0, processes={ME: GIB, OTHER: 2 * GIB})
    monkeypatch.setitem(sys.modules, "pynvml", make_pynvml([gpu], clock=clock))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with nf.track_energy(gpu_scope="process", clock=clock, distributed=None) as tracker:
        clock.advance(HOUR)
    (channel,) = [c for c in tracker.report.channels if c.domain == "gpu"]
    assert channel.source is Method.ATTRIBUTED
    assert channel.energy_j == pytest.approx(300.0 * HOUR / 3, rel=1e-9)


SHIM = """\
import sys
from pathlib import Path
from fake_nvml import FakeGpu, make_pynvml
sys.modules[__name__] = make_pynvml([FakeGpu(processes={})])
"""


def test_nlpfootprint_run_takes_gpu_scope(tmp_path: Path) -> None:
    (tmp_path / "pynvml.py").write_text(SHIM)  # the command's `import pynvml` finds the fake
    tests = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(tmp_path), str(tests)))}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    log = tmp_path / "run.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "run", "--gpu-scope", "process", "--log",
         str(log), "--", sys.executable, "-c", "pass"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (channel,) = [c for c in nf.Report.from_log(log).channels if c.domain == "gpu"]
    assert channel.source is Method.ATTRIBUTED
    assert channel.basis is not None
    assert channel.basis.scope == "process"
    assert "gpu:0 (process scope)" in result.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "run", "--gpu-scope", "node", "--", "true"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "--gpu-scope" in bad.stderr


def test_detection_says_gpu_scope_leaves_amd_gpus_whole() -> None:
    amd = Backend("amdsmi", ("gpu",), lambda: FakeMeter.constant(100.0, domain="gpu"))
    found = detect([amd], gpu_scope="process")
    assert found.used == ("amdsmi",)
    assert any("applies to NVIDIA GPUs only" in note for note in found.notes)
    assert not any("NVIDIA" in note for note in detect([amd]).notes)
