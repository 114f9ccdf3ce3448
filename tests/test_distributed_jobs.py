"""Real multi-process jobs: ``torchrun`` (gloo, CPU torch) and ``mpirun`` (Open MPI, mpi4py).

Each rank runs tests/jobs/worker.py: fake meters that simulate a machine's GPUs and its
CPU, every rank seeing all of them; with a FakeClock every figure is exact. The checks:
each device is counted once, the job's totals are the sum of those devices, the host-wide
channels count once per host, and a rank that leaves or never stops is reported missing
rather than waited for.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nlpfootprint import Report

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch"),
]

WORKER = Path(__file__).parent / "jobs" / "worker.py"
HOUR_S = 10 * 354.0 + 60.0  # ten steps of 354 s, then a one-minute eval window: an hour
CPU_W = 100.0
#: Variables of an enclosing job that must not leak into the test's own launches.
_LAUNCHER_PREFIXES = ("RANK", "LOCAL_", "WORLD_SIZE", "GROUP_", "MASTER_", "OMPI_", "PMI", "SLURM_")


def gpu_w(i: int, host_b: bool = False) -> float:
    return 300.0 + 10 * i + (100.0 if host_b else 0.0)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LAUNCHER_PREFIXES)}
    env.pop("NLPFOOTPRINT_HOST", None)
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(
    out: Path,
    *args: str,
    nproc: int = 4,
    node: tuple[int, int, int] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start ``torchrun`` of the worker (``node``: (node rank, node count, port))."""
    launch = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    if node is None:
        launch += ["--standalone"]
    else:
        rank, count, port = node
        launch += [
            f"--nnodes={count}",
            f"--node-rank={rank}",
            "--master-addr=127.0.0.1",
            f"--master-port={port}",
        ]
    return subprocess.Popen(
        [*launch, str(WORKER), str(out), *args],
        env=env or _env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> str:
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"the job hung:\n{output[-4000:]}")
    assert proc.returncode == 0, output[-4000:]
    return output


def ranks(out: Path) -> dict[int, dict[str, Any]]:
    return {int(p.stem[4:]): json.loads(p.read_text()) for p in out.glob("rank*.json")}


def report_of(entry: dict[str, Any]) -> Report:
    return Report.from_dict(entry["report"])


def energies(report: Report) -> dict[str, float]:
    return {c.id: c.energy_j for c in report.channels}


# -- torchrun ------------------------------------------------------------------------


def test_four_ranks_on_one_host_count_each_device_once(tmp_path: Path) -> None:
    finish(torchrun(tmp_path))
    results = ranks(tmp_path)
    assert sorted(results) == [0, 1, 2, 3]
    job = report_of(results[0])
    expected = {f"gpu:{i}": gpu_w(i) * HOUR_S for i in range(4)} | {"cpu:0": CPU_W * HOUR_S}
    assert energies(job) == pytest.approx(expected, rel=1e-9)  # once each, not once a rank
    assert job.energy_j == pytest.approx(sum(expected.values()), rel=1e-9)
    assert job.job is not None
    assert (job.job.scope, job.job.engine, job.job.world_size) == ("job", "torch", 4)
    assert [p.rank for p in job.job.parts] == [0, 1, 2, 3]
    assert job.job.missing == ()
    assert {p.rank: p.channels for p in job.job.parts} == {
        0: ("gpu:0", "cpu:0"),
        1: ("gpu:1",),
        2: ("gpu:2",),
        3: ("gpu:3",),
    }
    # the job's total is the sum of what the ranks measured, each its own part
    parts = {r: report_of(results[r]) for r in (1, 2, 3)}
    for r, part in parts.items():
        assert part.job is not None
        assert (part.job.scope, part.job.rank) == ("rank", r)
        assert energies(part) == pytest.approx({f"gpu:{r}": gpu_w(r) * HOUR_S}, rel=1e-9)
    rank0_share = expected["gpu:0"] + expected["cpu:0"]
    assert job.energy_j == pytest.approx(
        rank0_share + sum(p.energy_j for p in parts.values()), rel=1e-9
    )
    # steps from rank 0 (the ranks step together), tokens from every rank
    assert (job.steps, job.tokens) == (10, 4 * 10 * 512)
    assert [w.name for w in job.windows] == ["train", "eval"]
    train, evaluation = job.windows
    assert sorted(c.id for c in train.channels) == sorted(expected)
    assert train.tokens == 4 * 10 * 512
    assert evaluation.energy_j == pytest.approx(sum(expected.values()) * 60 / HOUR_S, rel=1e-9)
    assert job.warnings == ()
    assert "4 of 4 ranks on 1 host(s)" in results[0]["text"]


def test_the_real_sampler_thread_on_every_rank(tmp_path: Path) -> None:
    """Rank 0 first runs a tracker of its own (the others never report to it), then the
    job's: the first misses the others, the job's still has them all."""
    finish(torchrun(tmp_path, "--clock=real", "--solo-first"))
    results = ranks(tmp_path)
    assert results[0]["solo_missing"] == [1, 2, 3]
    job = report_of(results[0])
    assert job.job is not None
    assert job.job.complete
    assert job.warnings == ()
    # each channel's mean power over its rank's span: its meter's, once (a meter's
    # first reading may come a moment after its rank's first, hence the tolerance)
    powers = {c.id: c.mean_power_w for c in job.channels}
    assert powers == pytest.approx(
        {f"gpu:{i}": gpu_w(i) for i in range(4)} | {"cpu:0": CPU_W}, rel=1e-2
    )
    assert all(c.readings >= 2 for c in job.channels)


def test_a_process_group_with_only_a_local_rank_still_shares_the_devices_out(
    tmp_path: Path,
) -> None:
    """A launcher that sets LOCAL_RANK and no RANK (Lightning's own): each rank still
    keeps only what it owns, so no device is read twice (no "counted once" note)."""
    finish(torchrun(tmp_path, "--hide-rank"))
    job = report_of(ranks(tmp_path)[0])
    assert job.job is not None
    assert {p.rank: p.channels for p in job.job.parts} == {
        0: ("gpu:0", "cpu:0"),
        1: ("gpu:1",),
        2: ("gpu:2",),
        3: ("gpu:3",),
    }
    assert job.warnings == ()


def test_two_hosts_count_their_host_wide_channels_once_each(tmp_path: Path) -> None:
    port = _free_port()
    launches = [
        torchrun(
            tmp_path,
            "--gpus=2",
            nproc=2,
            node=(node, 2, port),
            env=_env(NLPFOOTPRINT_HOST=f"node-{name}"),
        )
        for node, name in ((0, "a"), (1, "b"))
    ]
    for launch in launches:
        finish(launch)
    results = ranks(tmp_path)
    assert sorted(results) == [0, 1, 2, 3]
    job = report_of(results[0])
    expected = {
        f"node-{name}/{device}": watts * HOUR_S
        for name in "ab"
        for device, watts in (
            ("gpu:0", gpu_w(0, name == "b")),
            ("gpu:1", gpu_w(1, name == "b")),
            ("cpu:0", CPU_W),
        )
    }
    assert energies(job) == pytest.approx(expected, rel=1e-9)
    assert job.job is not None
    assert job.job.hosts == ("node-a", "node-b")
    assert {c.device.host for c in job.channels if c.device} == {"node-a", "node-b"}
    by_host = job.energy_j_by_host
    assert by_host["node-b"] - by_host["node-a"] == pytest.approx(2 * 100.0 * HOUR_S, rel=1e-9)
    assert job.job.missing == ()
    assert job.warnings == ()
    assert {p.rank: (p.host, p.local_rank, p.channels) for p in job.job.parts} == {
        0: ("node-a", 0, ("node-a/gpu:0", "node-a/cpu:0")),
        1: ("node-a", 1, ("node-a/gpu:1",)),
        2: ("node-b", 0, ("node-b/gpu:0", "node-b/cpu:0")),
        3: ("node-b", 1, ("node-b/gpu:1",)),
    }


def test_a_rank_that_leaves_early_is_reported_missing_not_waited_for(tmp_path: Path) -> None:
    finish(torchrun(tmp_path, "--exit-early=3", "--gather-timeout=10"))
    results = ranks(tmp_path)
    assert sorted(results) == [0, 1, 2]
    job = report_of(results[0])
    assert job.job is not None
    assert [(m.rank, m.reason) for m in job.job.missing] == [
        (3, "no part within 10 s (gather_timeout_s)")
    ]
    assert sorted(energies(job)) == ["cpu:0", "gpu:0", "gpu:1", "gpu:2"]
    assert job.energy_j == pytest.approx((gpu_w(0) + gpu_w(1) + gpu_w(2) + CPU_W) * HOUR_S)
    assert any(w.startswith("rank 3 did not report") for w in job.warnings)
    assert "missing: rank 3" in results[0]["text"]
    assert results[0]["stop_s"] < 10 + 30  # the timeout, then no more waiting


def test_a_rank_that_never_stops_is_reported_missing_after_the_timeout(tmp_path: Path) -> None:
    # long enough for the live ranks, which start seconds apart on a busy machine
    finish(torchrun(tmp_path, "--idle=2", "--gather-timeout=15"))
    job = report_of(ranks(tmp_path)[0])
    assert job.job is not None
    assert [(m.rank, m.reason) for m in job.job.missing] == [
        (2, "no part within 15 s (gather_timeout_s)")
    ]
    assert sorted(energies(job)) == ["cpu:0", "gpu:0", "gpu:1", "gpu:3"]
    assert not job.job.complete


def test_launcher_variables_alone_keep_each_rank_to_its_own_devices(tmp_path: Path) -> None:
    finish(torchrun(tmp_path, "--engine=none"))
    results = ranks(tmp_path)
    for rank, entry in results.items():
        part = report_of(entry)
        assert part.job is not None
        assert (part.job.engine, part.job.scope, part.job.rank) == ("launcher", "rank", rank)
        assert sorted(energies(part)) == (["cpu:0", "gpu:0"] if rank == 0 else [f"gpu:{rank}"])
        assert any("no torch.distributed process group or MPI" in w for w in part.warnings)


def test_rank_0_alone_writes_the_run_log_unless_the_path_names_the_rank(
    tmp_path: Path,
) -> None:
    one, each = tmp_path / "one", tmp_path / "each"
    one.mkdir()
    each.mkdir()
    finish(torchrun(one, f"--run-log={one / 'run.jsonl'}"))
    assert sorted(p.name for p in one.glob("*.jsonl")) == ["run.jsonl"]
    logged = Report.from_log(one / "run.jsonl")
    assert logged.job is not None
    assert logged.job.complete
    assert logged.energy_j == pytest.approx(report_of(ranks(one)[0]).energy_j)
    rank0_only = Report.from_log(one / "run.jsonl", from_samples=True)
    assert rank0_only.energy_j == pytest.approx((gpu_w(0) + CPU_W) * HOUR_S, rel=1e-9)
    assert "rank 0's own devices only, of a job of 4 ranks" in rank0_only.warnings[0]
    finish(torchrun(each, "--run-log=" + str(each / "run-{rank}.jsonl")))
    assert sorted(p.name for p in each.glob("*.jsonl")) == [f"run-{r}.jsonl" for r in range(4)]
    assert Report.from_log(each / "run-2.jsonl").energy_j == pytest.approx(
        gpu_w(2) * HOUR_S, rel=1e-9
    )
    # each rank's log ends with its own part, so the logs add up to the job, once each
    zero = Report.from_log(each / "run-0.jsonl")
    assert zero.job is not None
    assert zero.job.scope == "rank"
    job = report_of(ranks(each)[0])
    assert job.job is not None
    assert job.job.scope == "job"
    summed = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "report", "--format", "json",
         *(str(each / f"run-{r}.jsonl") for r in range(4))],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(summed.stdout)["total"]["energy_j"] == pytest.approx(job.energy_j, rel=1e-9)


# -- mpirun --------------------------------------------------------------------------

#: CI sets NLPFOOTPRINT_REQUIRE_MPI: there a missing MPI fails these tests, never skips them.
needs_mpi = pytest.mark.skipif(
    not os.environ.get("NLPFOOTPRINT_REQUIRE_MPI")
    and (shutil.which("mpirun") is None or importlib.util.find_spec("mpi4py") is None),
    reason="needs Open MPI (mpirun) and mpi4py",
)


def mpirun(out: Path, *args: str, n: int = 4) -> str:
    root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    proc = subprocess.Popen(
        ["mpirun", *root, "--oversubscribe", "-n", str(n), sys.executable, str(WORKER),
         str(out), "--engine=mpi", "--gpus=4", *args],
        env=_env(OMPI_MCA_rmaps_base_oversubscribe="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    return finish(proc)


@needs_mpi
def test_mpirun_four_ranks_count_each_device_once(tmp_path: Path) -> None:
    """Rank 0 first runs a tracker of its own: the parts the others send meanwhile, for
    the job's tracker, are kept for it."""
    mpirun(tmp_path, "--solo-first")
    results = ranks(tmp_path)
    assert sorted(results) == [0, 1, 2, 3]
    assert results[0]["solo_missing"] == [1, 2, 3]
    job = report_of(results[0])
    expected = {f"gpu:{i}": gpu_w(i) * HOUR_S for i in range(4)} | {"cpu:0": CPU_W * HOUR_S}
    assert energies(job) == pytest.approx(expected, rel=1e-9)
    assert job.job is not None
    assert (job.job.engine, job.job.scope) == ("mpi", "job")
    assert job.job.complete
    assert job.warnings == ()
    assert (job.steps, job.tokens) == (10, 4 * 10 * 512)
    for r in (1, 2, 3):
        part = report_of(results[r])
        assert part.job is not None
        assert part.job.scope == "rank"
        assert sorted(energies(part)) == [f"gpu:{r}"]


@needs_mpi
def test_mpirun_rank_that_leaves_early_is_reported_missing(tmp_path: Path) -> None:
    mpirun(tmp_path, "--exit-early=1", "--gather-timeout=15")
    job = report_of(ranks(tmp_path)[0])
    assert job.job is not None
    assert [(m.rank, m.reason) for m in job.job.missing] == [
        (1, "no part within 15 s (gather_timeout_s)")
    ]
    assert sorted(energies(job)) == ["cpu:0", "gpu:0", "gpu:2", "gpu:3"]
