"""The Trainer callbacks in real two-process jobs on CPU (gloo): each device counted once,
the whole job's report on rank 0 only, the job's figures in the logs.

The jobs are the scripts in ``tests/distributed_scripts/``, run as subprocesses: the
transformers one by ``torchrun``, the Lightning one by Lightning's own launcher. Each rank
measures the same fake node (two GPUs of 300 W and 200 W, a CPU of 50 W) on a fake clock
that the training advances, so every figure below is exact.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nlpfootprint.report import Report
from nlpfootprint.units import J_PER_KWH

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).resolve().parent / "distributed_scripts"
NODE_W = {"gpu:0": 300.0, "gpu:1": 200.0, "cpu:0": 50.0}
JOB_W = sum(NODE_W.values())
RANK_CHANNELS = {0: ("gpu:0", "cpu:0"), 1: ("gpu:1",)}  # GPU i on local rank i
TOKENS_PER_STEP = 2 * 2 * 6  # two ranks, batches of two rows of six real tokens
#: Variables of a launcher around the test run, which would make the jobs below its ranks.
LAUNCHER_PREFIXES = ("SLURM_", "OMPI_", "PMI_", "PMIX_", "MPI_LOCAL")
LAUNCHER_NAMES = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK"}
LAUNCHER_NAMES |= {"NODE_RANK", "MASTER_ADDR", "MASTER_PORT"}


def needs(*modules: str) -> None:
    """Skip unless ``modules`` and torch.distributed's gloo backend are there."""
    for module in ("torch", *modules):
        if importlib.util.find_spec(module.partition(".")[0]) is None:
            pytest.skip(f"needs {module}")
    import torch.distributed

    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("needs torch.distributed with gloo")


def run_job(command: list[str], out: Path) -> dict[int, dict[str, Any]]:
    """Run a job's ``command`` (OUTDIR appended); what each rank saw, by rank."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in LAUNCHER_NAMES and not name.startswith(LAUNCHER_PREFIXES)
    }
    env["OMP_NUM_THREADS"] = "1"
    try:
        done = subprocess.run(
            [*command, str(out)], check=False, env=env, capture_output=True, text=True, timeout=240
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"the job did not end within {err.timeout} s:\n{err.stderr!s:.4000}")
    assert done.returncode == 0, f"the job failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return {r: json.loads((out / f"seen-rank{r}.json").read_text()) for r in (0, 1)}


def written(root: Path) -> list[str]:
    """The files under ``root``, relative to it (none when it does not exist)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_job_report(report: Report, run_s: float) -> None:
    """``report`` is the job's: both ranks, each channel once, at its power for ``run_s``."""
    job = report.job
    assert job is not None
    assert (job.scope, job.engine, job.world_size, job.missing) == ("job", "torch", 2, ())
    assert {p.rank: p.channels for p in job.parts} == RANK_CHANNELS
    assert [p.local_rank for p in job.parts] == [0, 1]
    assert sorted(c.id for c in report.channels) == sorted(NODE_W)  # not twice
    energy = {c.id: c.energy_j for c in report.channels}
    assert energy == pytest.approx({cid: watts * run_s for cid, watts in NODE_W.items()})
    assert report.energy_j == pytest.approx(sum(energy.values()))
    assert not [w for w in report.warnings if "counted once" in w or "did not report" in w]


def test_a_torchrun_trainer_job_reports_the_whole_job_on_rank_0(tmp_path: Path) -> None:
    needs("transformers", "accelerate")
    script = str(SCRIPTS / "hf_job.py")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    seen = run_job([*launcher, "--nproc-per-node", "2", script], tmp_path)

    # 4 training steps of 1 s, two evaluations of one 0.5 s batch (after steps 2 and 4)
    run_s, eval_s = 4 * 1.0 + 2 * 0.5, 0.5
    files = tmp_path / "rank0" / "job"
    report = Report.from_json((files / "nlpfootprint-train-report.json").read_text())
    assert_job_report(report, run_s)
    assert (report.steps, report.tokens) == (4, 4 * TOKENS_PER_STEP)
    (window,) = report.windows
    assert (window.name, window.count) == ("eval", 2)
    assert window.energy_j == pytest.approx(2 * eval_s * JOB_W)
    assert Report.from_log(files / "nlpfootprint-train.jsonl").energy_j == report.energy_j
    assert Report.from_dict(seen[0]["job"]["reports"][0]) == report
    evaluated = Report.from_json((files / "nlpfootprint-eval-report.json").read_text())
    assert_job_report(evaluated, eval_s)  # evaluate() after training: measured by both
    assert written(tmp_path / "rank1") == []

    own = Report.from_dict(seen[1]["job"]["reports"][0])
    assert own.job is not None
    assert (own.job.scope, [p.rank for p in own.job.parts]) == ("rank", [1])
    assert [(c.id, c.energy_j) for c in own.channels] == [("gpu:1", NODE_W["gpu:1"] * run_s)]

    # each log carries the job's figures, on both ranks: fake seconds at each training log
    log_s = [1.0, 2.0, 2.0 + eval_s + 1.0, 2.0 + eval_s + 2.0]
    for rank in (0, 1):
        history = seen[rank]["job"]["log_history"]
        train_logs = [entry for entry in history if "loss" in entry]
        assert len(train_logs) == 4
        for step, (entry, seconds) in enumerate(zip(train_logs, log_s, strict=True), start=1):
            assert entry["energy_kwh"] == pytest.approx(JOB_W * seconds / J_PER_KWH)
            assert entry["power_w"] == pytest.approx(JOB_W)
            assert entry["j_per_token"] == pytest.approx(JOB_W * seconds / (step * TOKENS_PER_STEP))
        summary = next(entry for entry in history if "train_runtime" in entry)
        assert summary["energy_kwh"] == pytest.approx(report.energy_kwh)
        assert "power_w" not in summary  # no time passed since the last log, on any rank

    # tokens the trainer counts for all processes are counted once, by rank 0
    counted = Report.from_dict(seen[0]["state_tokens"]["reports"][0])
    assert counted.tokens == seen[0]["state_tokens"]["tokens_seen"] == 4 * TOKENS_PER_STEP
    assert counted.job is not None
    assert [p.tokens for p in counted.job.parts] == [4 * TOKENS_PER_STEP, 0]

    # distributed=None: local rank 0 measures its whole node alone, as before
    (node,) = [Report.from_dict(r) for r in seen[0]["per_node"]["reports"]]
    assert node.job is None
    assert {c.id: c.energy_j for c in node.channels} == pytest.approx(
        {cid: watts * 4.0 for cid, watts in NODE_W.items()}
    )
    assert node.tokens == 4 * TOKENS_PER_STEP // 2  # its own batches
    assert (tmp_path / "rank0" / "per_node" / "nlpfootprint-train-report.json").is_file()
    assert seen[1]["per_node"]["reports"] == []
    assert not any("energy_kwh" in entry for entry in seen[1]["per_node"]["log_history"])


def test_a_lightning_ddp_fit_reports_the_whole_job_on_rank_0(tmp_path: Path) -> None:
    needs("lightning.pytorch")
    seen = run_job([sys.executable, str(SCRIPTS / "lightning_job.py")], tmp_path)

    # each rank: two epochs of two 1 s batches, each followed by one 0.5 s validation batch
    run_s, val_s = 4 * 1.0 + 2 * 0.5, 0.5
    files = tmp_path / "rank0" / "job"
    assert written(files) == [
        "nlpfootprint-report.json",
        "nlpfootprint-report.md",
        "nlpfootprint-run.jsonl",
    ]
    report = Report.from_json((files / "nlpfootprint-report.json").read_text())
    assert_job_report(report, run_s)
    assert (report.steps, report.tokens, report.name) == (4, 4 * TOKENS_PER_STEP, "Tiny")
    (window,) = report.windows
    assert (window.name, window.count) == ("validation", 2)
    assert window.energy_j == pytest.approx(2 * val_s * JOB_W)
    assert Report.from_dict(seen[0]["job"]["report"]) == report
    assert written(tmp_path / "rank1") == []
    own = Report.from_dict(seen[1]["job"]["report"])
    assert own.job is not None
    assert own.job.scope == "rank"
    assert [c.id for c in own.channels] == ["gpu:1"]

    # the logger's rows (log_every_n_steps=2): the job's figures at global steps 2 and 4
    lines = (tmp_path / "logs" / "job" / "version_0" / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    logged = [{k: float(v) for k, v in row.items() if v} for row in rows if row["energy_kwh"]]
    log_s = [2.0, 2.0 + val_s + 2.0]
    assert len(logged) == len(log_s)
    for steps, (row, seconds) in enumerate(zip(logged, log_s, strict=True), start=1):
        assert row["energy_kwh"] == pytest.approx(JOB_W * seconds / J_PER_KWH, rel=1e-6)
        assert row["power_w"] == pytest.approx(JOB_W, rel=1e-6)
        tokens = 2 * steps * TOKENS_PER_STEP
        assert row["j_per_token"] == pytest.approx(JOB_W * seconds / tokens, rel=1e-6)
    assert seen[1]["job"]["logged"] == seen[0]["job"]["logged"]  # every rank got the sums
    assert seen[0]["job"]["logged"]["power_w"] == pytest.approx(JOB_W)

    # distributed=None: local rank 0 measures its whole node alone, as before
    node = Report.from_dict(seen[0]["per_node"]["report"])
    assert node.job is None
    assert {c.id: c.energy_j for c in node.channels} == pytest.approx(
        {cid: watts * run_s for cid, watts in NODE_W.items()}
    )
    assert node.tokens == 4 * TOKENS_PER_STEP // 2  # its own batches
    assert (tmp_path / "rank0" / "per_node" / "nlpfootprint-report.json").is_file()
    assert seen[1]["per_node"]["report"] is None
    assert "energy_kwh" not in seen[1]["per_node"]["logged"]
