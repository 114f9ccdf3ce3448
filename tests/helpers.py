"""Test helpers shared by several test modules."""

from __future__ import annotations

import time
from collections.abc import Callable
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
