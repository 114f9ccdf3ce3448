"""Test helpers shared by several test modules."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import nlpfootprint as nf
from nlpfootprint.report import Report
from nlpfootprint.testing import FakeClock, FakeMeter


def wait_until(
    predicate: Callable[[], object], timeout_s: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``predicate()`` until true, failing after ``timeout_s`` (never a fixed sleep)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)


def measured_report(**kw: Any) -> Report:
    """A four-epoch run of 2 GPUs, a CPU counter and an estimated DRAM channel, with
    'train' and 'eval' windows, steps and tokens, on a FakeClock (a shared test fixture)."""
    clock = FakeClock()
    meters = [
        FakeMeter.constant([300.0, 300.0], domain="gpu"),
        FakeMeter.counter(60.0, domain="cpu", clock=clock),
        FakeMeter.constant(8.0, domain="dram", estimated=True),
    ]
    kw.setdefault("name", "run")
    with nf.track_energy(meters=meters, clock=clock, **kw) as t:
        for _ in range(4):
            with t.window("train"):
                clock.advance(900)
                t.step(100, tokens=51_200)
            with t.window("eval"):
                clock.advance(60)
    return t.report


def run_cli(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m nlpfootprint ARGS`` as a real subprocess (text output, 120 s at most),
    in ``cwd``, with ``env`` added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "nlpfootprint", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )
