"""The distributed parts one at a time, in this process: which rank a process is, which
channels it owns, the merge of the ranks' parts, the torch store link, and the tracker
in a job with no engine to gather through. The real multi-process jobs are in
tests/test_distributed_jobs.py."""

from __future__ import annotations

import importlib.util
import json
import sys
import zlib

import attrs
import pytest

import nlpfootprint as nf
from nlpfootprint.distributed import detect, from_environ, host_name
from nlpfootprint.distributed.context import RankContext, engine_at_stop
from nlpfootprint.distributed.merge import Part, job_report
from nlpfootprint.distributed.select import device_key, owned_positions
from nlpfootprint.errors import ConfigurationError, ReportFormatError
from nlpfootprint.meters.base import Channel
from nlpfootprint.meters.meterset import MeterSet
from nlpfootprint.meters.subset import ChannelSubset
from nlpfootprint.provenance import Device
from nlpfootprint.report_parts import JobInfo, MissingRank, RankPart
from nlpfootprint.testing import FakeClock, FakeMeter

LAUNCHER = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK")


@pytest.fixture(autouse=True)
def _no_enclosing_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests here set the launcher's variables themselves."""
    for name in [*LAUNCHER, "NLPFOOTPRINT_HOST"]:
        monkeypatch.delenv(name, raising=False)
    for name in list(__import__("os").environ):
        if name.startswith(("OMPI_COMM_WORLD", "PMI_", "PMIX_", "SLURM_")):
            monkeypatch.delenv(name, raising=False)


# -- which rank: the launcher's variables ----------------------------------------------


def test_torchrun_variables() -> None:
    env = {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4",
           "GROUP_RANK": "1", "NLPFOOTPRINT_HOST": "node-b"}  # fmt: skip
    assert from_environ(env) == RankContext(5, 8, 1, 4, "node-b", "RANK", node=1)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4",
             "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"},
            (3, 4, 1, 2, "OMPI_COMM_WORLD_RANK"),
        ),
        (
            {"PMI_RANK": "2", "PMI_SIZE": "3", "MPI_LOCALRANKID": "0", "MPI_LOCALNRANKS": "1"},
            (2, 3, 0, 1, "PMI_RANK"),
        ),
        (
            {"SLURM_PROCID": "9", "SLURM_STEP_NUM_TASKS": "11", "SLURM_LOCALID": "1",
             "SLURM_NODEID": "2", "SLURM_STEP_TASKS_PER_NODE": "4(x2),3"},
            (9, 11, 1, 3, "SLURM_PROCID"),
        ),
        (  # srun launching torchrun: torchrun's ranks, not SLURM's one task per node
            {"SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2", "SLURM_LOCALID": "0",
             "RANK": "6", "WORLD_SIZE": "8", "LOCAL_RANK": "2", "LOCAL_WORLD_SIZE": "4"},
            (6, 8, 2, 4, "RANK"),
        ),
    ],
)  # fmt: skip
def test_each_launcher_family(env: dict[str, str], expected: tuple[object, ...]) -> None:
    context = from_environ(env)
    assert context is not None
    assert (
        context.rank,
        context.world_size,
        context.local_rank,
        context.local_world_size,
        context.source,
    ) == expected


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"RANK": "0", "WORLD_SIZE": "1"},
        {"RANK": "0"},
        {"LOCAL_RANK": "0"},
        # a batch script's own shell (sbatch -n 4): the allocation's tasks, not a job step
        {"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_LOCALID": "0", "SLURM_NODEID": "0"},
    ],
)
def test_outside_a_job_of_two_or_more_there_is_no_context(env: dict[str, str]) -> None:
    assert from_environ(env) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RANK": "one", "WORLD_SIZE": "4"}, "RANK='one'"),
        ({"RANK": "0", "WORLD_SIZE": "4", "LOCAL_RANK": "-1"}, "LOCAL_RANK='-1'"),
        ({"RANK": "4", "WORLD_SIZE": "4"}, "RANK=4 with WORLD_SIZE=4"),
    ],
)
def test_a_bad_launcher_variable_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        from_environ(env)


def test_slurm_tasks_per_node_that_cannot_be_read_leave_the_local_size_unknown() -> None:
    env = {"SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "2", "SLURM_LOCALID": "0",
           "SLURM_NODEID": "5", "SLURM_STEP_TASKS_PER_NODE": "2"}  # fmt: skip
    context = from_environ(env)
    assert context is not None
    assert context.local_world_size is None
    assert from_environ({**env, "SLURM_STEP_TASKS_PER_NODE": "two"}).local_world_size is None  # type: ignore[union-attr]


def test_the_host_name_can_be_set() -> None:
    assert host_name({"NLPFOOTPRINT_HOST": "node-7"}) == "node-7"
    assert host_name({}) != ""


def test_detect_modes() -> None:
    env = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}
    assert detect(None, env) is None
    assert detect("auto", {}) is None
    auto = detect("auto", env)
    assert auto is not None
    assert (auto.rank, auto.engine) == (1, None)
    torch_mode = detect("torch", env)
    assert torch_mode is not None
    assert torch_mode.engine == "torch"
    with pytest.raises(ConfigurationError, match=r"no torch\.distributed process group"):
        detect("torch", {})
    with pytest.raises(ConfigurationError, match="distributed='nccl': expected 'auto'"):
        detect("nccl", env)  # type: ignore[arg-type]


def test_mpi_without_mpi4py_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # an import of it fails
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    with pytest.raises(ConfigurationError, match=r"nlpfootprint\[mpi\]"):
        detect("mpi", {})


def test_the_settings_check_the_options() -> None:
    with pytest.raises(ConfigurationError, match="distributed='yes'"):
        nf.track_energy(distributed="yes")  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match="gather_timeout_s"):
        nf.track_energy(gather_timeout_s=0)
    with pytest.raises(ConfigurationError, match="a day"):
        nf.track_energy(gather_timeout_s=86401)


# -- which channels: exactly once ------------------------------------------------------


def _machine(gpus: int = 4) -> list[tuple[Channel, ...]]:
    return [
        tuple(FakeMeter.constant([300.0] * gpus, domain="gpu").channels),
        tuple(FakeMeter.constant(100.0, domain="cpu").channels)
        + tuple(FakeMeter.constant(10.0, domain="dram").channels),
    ]


def _context(local_rank: int | None, local_size: int | None = 4) -> RankContext:
    return RankContext(local_rank or 0, 8, local_rank, local_size, "h", "RANK")


def _kept(meter_channels: list[tuple[Channel, ...]], context: RankContext) -> list[str]:
    keep = owned_positions(meter_channels, context)
    return [meter_channels[m][p].id for m, positions in enumerate(keep) for p in positions]


@pytest.mark.parametrize(
    ("context", "gpus", "expected"),
    [
        (_context(0), 4, ["gpu:0", "cpu:0", "dram:0"]),  # local rank 0: its GPU and the host
        (_context(2), 4, ["gpu:2"]),
        (_context(1), 1, ["gpu:0"]),  # CUDA_VISIBLE_DEVICES per rank: its one GPU
        (_context(1, 2), 8, ["gpu:1", "gpu:3", "gpu:5", "gpu:7"]),  # more GPUs than ranks
        (_context(0, 2), 8, ["gpu:0", "gpu:2", "gpu:4", "gpu:6", "cpu:0", "dram:0"]),
        (_context(5, 8), 4, []),  # more ranks than GPUs: nothing of its own
        (_context(None), 4, ["gpu:0", "gpu:1", "gpu:2", "gpu:3", "cpu:0", "dram:0"]),
    ],
)
def test_each_rank_keeps_what_it_owns(context: RankContext, gpus: int, expected: list[str]) -> None:
    assert _kept(_machine(gpus), context) == expected


def test_every_device_is_kept_by_exactly_one_rank_of_a_machine() -> None:
    for ranks, gpus in ((4, 4), (2, 8), (3, 8), (8, 4), (1, 2)):
        kept = [_kept(_machine(gpus), _context(r, ranks)) for r in range(ranks)]
        flat = [c for k in kept for c in k]
        assert sorted(flat) == sorted([f"gpu:{i}" for i in range(gpus)] + ["cpu:0", "dram:0"]), (
            ranks,
            gpus,
        )


def test_a_device_is_its_host_and_uuid_else_its_host_and_id() -> None:
    plain = Channel("gpu:0", "gpu", "power")
    with_uuid = attrs.evolve(plain, device=Device(name="H100", uuid="GPU-1"))
    assert device_key("a", plain, 0) == device_key("a", plain, 1) == ("a", "id:gpu:0")
    assert device_key("a", plain, 0) != device_key("b", plain, 0)
    assert device_key("a", with_uuid, 3) == ("a", "uuid:GPU-1")


def test_a_process_share_is_each_ranks_own() -> None:
    from nlpfootprint.meters.estimated import EstimatedCpuMeter

    share = EstimatedCpuMeter(scope="process").channels[0]
    assert device_key("a", share, 0) != device_key("a", share, 1)
    machine = _machine(2)
    meter_channels = [*machine, (share,)]
    assert _kept(meter_channels, _context(1, 2)) == ["gpu:1", share.id]
    parts = [_part(r, "a", [EstimatedCpuMeter(scope="process")]) for r in (0, 1)]
    job = _merge(parts)
    assert [c.id for c in job.channels] == [share.id, f"{share.id}@rank1"]


def test_a_meterset_reads_only_the_channels_kept() -> None:
    gpus = FakeMeter.constant([300.0, 310.0, 320.0], domain="gpu")
    cpu = FakeMeter.constant(100.0, domain="cpu")
    meterset = MeterSet([gpus, cpu])
    warnings: list[str] = []
    meterset.restrict([[1], []], warnings.append)
    assert len(meterset.meters) == 1
    subset = meterset.meters[0]
    assert isinstance(subset, ChannelSubset)
    assert [c.id for c in meterset.channels] == ["gpu:1"]
    assert subset.read() == [310.0]
    assert not cpu.closed  # a meter the user passed stays open
    assert warnings == []
    with pytest.raises(ConfigurationError, match=r"keep=\[2, 1\]"):
        ChannelSubset(gpus, [2, 1])


# -- the merge -------------------------------------------------------------------------


def _part(rank: int, host: str, meters: list[object], *, hours: float = 1.0, tokens: int = 100,
          origin: float = 1_000_000.0, windows: bool = True) -> Part:  # fmt: skip
    """A rank's part from a real (single-process) tracker on a FakeClock."""
    clock = FakeClock()
    with nf.track_energy(meters=meters, clock=clock, distributed=None) as tracker:  # type: ignore[arg-type]
        if windows:
            with tracker.window("train"), tracker.window("epoch"):
                clock.advance(3600 * hours)
                tracker.step(10, tokens=tokens)
        else:
            clock.advance(3600 * hours)
            tracker.step(10, tokens=tokens)
    report = tracker.report
    assert tracker._ledger is not None
    state = tracker._ledger.state(report.duration_s)
    return Part(rank, host, rank % 2, origin, report.duration_s, state, report)


def _gpu(watts: float, index: int, uuid: str | None = None) -> FakeMeter:
    """A GPU's power meter (the device it stands for named)."""
    channel = Channel(
        f"gpu:{index}", "gpu", "power", device=Device(name="GPU", index=index, uuid=uuid)
    )
    return FakeMeter([channel], lambda: [watts])


def _merge(parts: list[Part], missing: dict[int, str] | None = None) -> nf.Report:
    return job_report(
        parts, missing or {}, engine="torch", world_size=4, assumptions=parts[0].report.assumptions
    )


def test_the_same_device_seen_by_two_ranks_of_a_host_counts_once() -> None:
    cpu = FakeMeter.constant(100.0, domain="cpu")
    parts = [_part(0, "a", [_gpu(300.0, 0), cpu]), _part(1, "a", [_gpu(300.0, 0), _gpu(310.0, 1)])]
    job = _merge(parts)
    assert {c.id: c.energy_j for c in job.channels} == pytest.approx(
        {"gpu:0": 300.0 * 3600, "cpu:0": 100.0 * 3600, "gpu:1": 310.0 * 3600}
    )
    assert "counted once, from rank 0" in " ".join(job.warnings)
    assert job.job is not None
    assert {p.rank: p.channels for p in job.job.parts} == {0: ("gpu:0", "cpu:0"), 1: ("gpu:1",)}


def test_hosts_keep_their_devices_apart() -> None:
    parts = [_part(0, "a", [_gpu(300.0, 0)]), _part(1, "b", [_gpu(400.0, 0)])]
    job = _merge(parts)
    assert [c.id for c in job.channels] == ["a/gpu:0", "b/gpu:0"]
    assert job.energy_j_by_host == pytest.approx({"a": 300.0 * 3600, "b": 400.0 * 3600})
    assert job.job is not None
    assert job.job.hosts == ("a", "b")


def test_two_devices_with_one_id_on_a_host_are_told_apart_by_uuid() -> None:
    parts = [_part(0, "a", [_gpu(300.0, 0, "GPU-x")]), _part(1, "a", [_gpu(310.0, 0, "GPU-y")])]
    job = _merge(parts)
    assert [c.id for c in job.channels] == ["gpu:0", "gpu:0@rank1"]
    assert job.energy_j == pytest.approx(610.0 * 3600)


def test_steps_are_rank_0s_tokens_every_ranks_and_windows_merge_by_name() -> None:
    parts = [
        _part(0, "a", [_gpu(300.0, 0)], tokens=100),
        _part(1, "a", [_gpu(310.0, 1)], tokens=250),
    ]
    job = _merge(parts)
    assert (job.steps, job.tokens) == (10, 350)
    (train,) = job.windows
    (epoch,) = train.windows
    assert [c.id for c in epoch.channels] == ["gpu:0", "gpu:1"]
    assert epoch.energy_j == pytest.approx(610.0 * 3600)
    assert (train.tokens, train.steps) == (350, 10)


def test_parts_on_different_clocks_are_put_on_rank_0s() -> None:
    parts = [_part(0, "a", [_gpu(300.0, 0)]), _part(1, "a", [_gpu(310.0, 1)], origin=1_000_600.0)]
    job = _merge(parts)
    assert job.duration_s == pytest.approx(3600 + 600)  # from rank 0's start to rank 1's stop
    assert {c.id: c.duration_s for c in job.channels} == pytest.approx(
        {"gpu:0": 3600.0, "gpu:1": 3600.0}  # each channel's mean power over its own span
    )
    assert {c.id: c.mean_power_w for c in job.channels} == pytest.approx(
        {"gpu:0": 300.0, "gpu:1": 310.0}
    )


def test_the_job_trace_holds_every_ranks_energy() -> None:
    parts = [
        _part(0, "a", [_gpu(300.0, 0)], windows=False),
        _part(1, "a", [_gpu(310.0, 1)], windows=False),
    ]
    job = _merge(parts)
    assert job.trace is not None
    assert job.trace.energy_j() == pytest.approx(job.energy_j, rel=1e-6)


def test_the_job_trace_counts_a_device_two_ranks_measured_once() -> None:
    both = [_gpu(300.0, 0), _gpu(310.0, 1)]
    parts = [_part(0, "a", both, windows=False), _part(1, "a", both, windows=False)]
    job = _merge(parts)
    assert job.energy_j == pytest.approx(610.0 * 3600)
    assert job.trace is not None
    assert job.trace.energy_j() == pytest.approx(job.energy_j, rel=1e-6)


def test_the_job_trace_puts_a_later_rank_on_rank_0s_bins() -> None:
    parts = [
        _part(0, "a", [_gpu(300.0, 0)], windows=False),
        _part(1, "a", [_gpu(310.0, 1)], windows=False, origin=1_001_800.0),
    ]
    job = _merge(parts)
    assert job.trace is not None
    # rank 1 ran from half-way through rank 0's hour: its first half hour is on rank 0's
    # bins, the rest is past them (the trace spans rank 0's run)
    assert job.trace.energy_j() == pytest.approx(300.0 * 3600 + 310.0 * 1800, rel=1e-6)
    assert job.trace.power_w["gpu"][0] == pytest.approx(300.0)
    assert job.trace.power_w["gpu"][-1] == pytest.approx(610.0)


def test_missing_ranks_are_listed_and_warned_about() -> None:
    job = _merge([_part(0, "a", [_gpu(300.0, 0)])], {2: "no part within 5 s", 3: "gone"})
    assert job.job is not None
    assert job.job.missing == (MissingRank(2, "no part within 5 s"), MissingRank(3, "gone"))
    assert not job.job.complete
    assert job.warnings[:2] == (
        "rank 2 did not report (no part within 5 s): its devices are not in this job report",
        "rank 3 did not report (gone): its devices are not in this job report",
    )
    assert "missing: rank 3: gone" in str(job)


def test_a_part_travels_as_compressed_json_and_bad_bytes_are_refused() -> None:
    part = _part(1, "b", [_gpu(300.0, 0)])
    again = Part.from_bytes(part.to_bytes())
    assert again == part
    with pytest.raises(ReportFormatError, match="malformed part"):
        Part.from_bytes(b"not zlib")
    with pytest.raises(ReportFormatError, match="malformed part"):
        Part.from_bytes(zlib.compress(json.dumps({"rank": 1}).encode()))
    bomb = zlib.compress(b" " * ((256 << 20) + 1))
    with pytest.raises(ReportFormatError, match="more than"):
        Part.from_bytes(bomb)


# -- the job in a report ---------------------------------------------------------------


def test_job_info_checks_its_ranks_and_round_trips() -> None:
    parts = (RankPart(0, "a", 0, ("gpu:0",), 3, 10, 1.0), RankPart(1, "a", 1))
    job = JobInfo("mpi", "job", 0, 3, parts, (MissingRank(2, "gone"),))
    report = nf.Report(1.0, (), job=job)
    assert nf.Report.from_json(report.to_json()) == report
    assert job.hosts == ("a",)
    with pytest.raises(ConfigurationError, match="distinct"):
        JobInfo("mpi", "job", 0, 3, parts, (MissingRank(1, "gone"),))
    with pytest.raises(ConfigurationError, match="below the world size"):
        JobInfo("mpi", "job", 0, 1, parts)
    with pytest.raises(ValueError, match="engine"):
        JobInfo("nccl", "job", 0, 3)


def test_a_rank_part_is_rendered_as_such() -> None:
    job = JobInfo("torch", "rank", 2, 4, (RankPart(2, "a", 2, ("gpu:2",)),))
    report = nf.Report(1.0, (), job=job)
    assert "rank 2 of 4 (torch): this rank's own part; the job report is on rank 0" in str(report)
    assert "**Job**" in report.to_markdown()
    assert "<b>job</b>" in report._repr_html_()


# -- the store link --------------------------------------------------------------------

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")


@pytest.fixture
def store() -> object:
    import torch.distributed as dist

    return dist.HashStore()


def _link(store: object, rank: int) -> object:
    from nlpfootprint.distributed.links import TorchLink

    link = object.__new__(TorchLink)
    link.rank, link.world_size, link._store = rank, 4, store  # type: ignore[attr-defined]
    return link


@needs_torch
def test_the_torch_link_takes_the_parts_that_came_and_names_the_rest(store: object) -> None:
    stop = ("site", 1)
    for rank in (3, 1):
        assert _link(store, rank).send(f"part {rank}".encode(), stop, 5.0) is None  # type: ignore[attr-defined]
    parts, missing = _link(store, 0).receive(stop, 0.05)  # type: ignore[attr-defined]
    assert parts == {1: b"part 1", 3: b"part 3"}
    assert missing == {2: "no part within 0.05 s (gather_timeout_s)"}
    assert store.num_keys() <= 1  # type: ignore[attr-defined]  # the parts taken are deleted


@needs_torch
def test_a_late_part_is_never_taken_for_the_next_stop(store: object) -> None:
    assert _link(store, 2).send(b"late for stop 1", ("site", 1), 5.0) is None  # type: ignore[attr-defined]
    for rank in (1, 2, 3):
        assert _link(store, rank).send(f"stop 2 of {rank}".encode(), ("site", 2), 5.0) is None  # type: ignore[attr-defined]
    parts, missing = _link(store, 0).receive(("site", 2), 1.0)  # type: ignore[attr-defined]
    assert parts == {r: f"stop 2 of {r}".encode() for r in (1, 2, 3)}
    assert missing == {}


@needs_torch
def test_trackers_of_other_sites_never_meet(store: object) -> None:
    """Rank 0 ran a tracker of its own (site "eval", rank 0 only): the job's tracker
    (site "train") still finds every part, its stops counted apart."""
    for rank in (1, 2, 3):
        assert _link(store, rank).send(b"train", ("train", 1), 5.0) is None  # type: ignore[attr-defined]
    parts, missing = _link(store, 0).receive(("eval", 1), 0.05)  # type: ignore[attr-defined]
    assert (parts, sorted(missing)) == ({}, [1, 2, 3])
    parts, missing = _link(store, 0).receive(("train", 1), 1.0)  # type: ignore[attr-defined]
    assert sorted(parts) == [1, 2, 3]


@needs_torch
def test_a_rank_whose_stops_are_numbered_ahead_is_named_as_such(store: object) -> None:
    for number in (2, 3):  # rank 1 stopped this tracker once more than rank 0 had
        assert _link(store, 1).send(b"rank 1", ("site", number), 5.0) is None  # type: ignore[attr-defined]
    for rank in (2, 3):
        assert _link(store, rank).send(b"on time", ("site", 1), 5.0) is None  # type: ignore[attr-defined]
    parts, missing = _link(store, 0).receive(("site", 1), 0.05)  # type: ignore[attr-defined]
    assert sorted(parts) == [2, 3]
    assert missing[1].startswith("its part is filed as its stop #2 of this tracker")


# -- a tracker in a job ------------------------------------------------------------------


def test_a_rank_measures_its_own_devices_and_says_when_nothing_can_gather(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for name, value in zip(LAUNCHER, ("1", "4", "1", "4", "0"), strict=True):
        monkeypatch.setenv(name, value)
    clock = FakeClock()
    meters = [
        FakeMeter.constant([300.0, 310.0], domain="gpu"),
        FakeMeter.constant(100.0, domain="cpu"),
    ]
    log = tmp_path / "run.jsonl"  # type: ignore[operator]
    with nf.track_energy(meters=meters, clock=clock, log=log) as tracker:
        clock.advance(3600)
    report = tracker.report
    assert [c.id for c in report.channels] == ["gpu:1"]
    assert report.energy_j == pytest.approx(310.0 * 3600)
    assert report.job is not None
    assert (report.job.engine, report.job.scope, report.job.rank) == ("launcher", "rank", 1)
    assert "no torch.distributed process group or MPI ran at stop" in report.warnings[0]
    assert not log.exists()  # rank 0 writes the run log; this is rank 1
    assert tracker.job is not None
    assert tracker.job.rank == 1
    with nf.track_energy(meters=meters, clock=clock, log=tmp_path / "run-{rank}.jsonl") as t:  # type: ignore[operator]
        clock.advance(60)
    assert (tmp_path / "run-1.jsonl").exists()  # type: ignore[operator]
    assert nf.Report.from_log(tmp_path / "run-1.jsonl").channels[0].id == "gpu:1"  # type: ignore[operator]
    assert t.report.job is not None
    with nf.track_energy(meters=meters, clock=clock, distributed=None) as alone:
        clock.advance(60)
    assert alone.report.job is None
    assert len(alone.report.channels) == 3  # None measures this process alone, as before


def test_a_singleton_mpi_does_not_hide_the_launchers_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lightning imports mpi4py: MPI then runs as a singleton (size 1) in a torchrun rank,
    whose launcher variables must still say which rank of which job it is."""

    class World:
        @staticmethod
        def Get_rank() -> int:  # noqa: N802 - mpi4py's spelling
            return 0

        @staticmethod
        def Get_size() -> int:  # noqa: N802 - mpi4py's spelling
            return 1

    class SingletonMpi:
        COMM_WORLD = World()

        @staticmethod
        def Is_initialized() -> bool:  # noqa: N802 - mpi4py's spelling
            return True

        @staticmethod
        def Is_finalized() -> bool:  # noqa: N802 - mpi4py's spelling
            return False

    monkeypatch.setitem(sys.modules, "mpi4py.MPI", SingletonMpi)
    env = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}
    auto = detect("auto", env)
    assert auto is not None
    assert (auto.rank, auto.world_size, auto.engine) == (1, 2, None)
    assert detect("auto", {}) is None  # no launcher, a singleton: no job
    assert engine_at_stop(auto) is None  # nor does it gather the job's parts at stop
