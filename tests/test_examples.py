"""The examples in examples/ run as a user would run them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_runs_and_prints_a_report_and_a_projection() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "nlpfootprint report" in result.stdout
    assert "84" in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_train_ddp_gives_rank_0_the_whole_jobs_report() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         str(EXAMPLES / "train_ddp.py")],
        capture_output=True, text=True, timeout=300, env={**env, "OMP_NUM_THREADS": "1"},
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("nlpfootprint report: ddp") == 1  # rank 0 prints
    assert "2 of 2 ranks on 1 host(s), gathered through torch" in result.stdout
    assert "tokens        12,800" in result.stdout  # both ranks' samples: 2 x 200 x 32
    assert "counted once" not in result.stdout  # each rank kept only what it owns
    assert "did not report" not in result.stdout
