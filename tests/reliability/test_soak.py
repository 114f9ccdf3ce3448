"""Soak and leaks: a month-long run keeps its energy exact and its memory flat; trackers
started and stopped hundreds of times leave no thread, descriptor or memory behind."""

from __future__ import annotations

import gc
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

import nlpfootprint as nf
from helpers import wait_until
from nlpfootprint.testing import FakeClock, FakeMeter, sampler_threads

DAY_S = 86_400.0


@pytest.mark.slow
@pytest.mark.scenario(
    "soak.thirty-days",
    "A 30-day run sampled every 10 s (259,200 rounds, on a FakeClock) keeps every channel's "
    "energy exact to 1e-9 across counter wraps, counts every step, and its memory stays flat.",
)
def test_a_thirty_day_run_keeps_its_energy_exact_and_its_memory_flat() -> None:
    # interval_s=10, not 1: 2.6 M rounds take minutes under tracemalloc; 259,200 rounds are
    # enough to see any per-round growth (a leak of a few bytes a round is tens of KB here)
    clock = FakeClock()
    gpus = FakeMeter.constant([250.0, 260.0], domain="gpu")
    # a RAPL-like counter: wraps every 262,144 J, i.e. every 109 minutes at 40 W
    cpu = FakeMeter.counter(40.0, max_energy_j=262_144.0, start_j=1234.5, clock=clock, domain="cpu")
    days, traced_days, hour_s = 30, 3, 3600.0
    with nf.track_energy(meters=[gpus, cpu], clock=clock, interval_s=10.0) as t:
        for _ in range((days - traced_days) * 24):
            clock.advance(hour_s)
            t.step(100, tokens=51_200)
        gc.collect()
        tracemalloc.start()
        try:
            start_b, _ = tracemalloc.get_traced_memory()
            for _ in range(traced_days * 24):
                clock.advance(hour_s)
                t.step(100, tokens=51_200)
            gc.collect()
            end_b, peak_b = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    report = t.report
    duration_s = days * DAY_S
    assert report.duration_s == pytest.approx(duration_s, rel=1e-12)
    energy = {c.id: c.energy_j for c in report.channels}
    expected = {"gpu:0": 250.0, "gpu:1": 260.0, "cpu:0": 40.0}
    assert energy.keys() == expected.keys()
    for channel, watts in expected.items():
        assert energy[channel] == pytest.approx(watts * duration_s, rel=1e-9), channel
    assert all(c.readings >= duration_s / 10.0 for c in report.channels), "a round was lost"
    assert all(c.failures == 0 for c in report.channels)
    assert (report.steps, report.tokens) == (days * 24 * 100, days * 24 * 51_200)
    assert report.warnings == ()
    # the last three days (25,920 rounds) grew nothing and never held much
    assert end_b - start_b < 64 * 1024, f"{end_b - start_b} bytes kept over 3 days"
    assert peak_b - start_b < 2 * 1024 * 1024, f"a peak of {peak_b - start_b} bytes"


def _open_descriptors() -> dict[str, str]:
    """This process's open file descriptors and what each points at."""
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listdir itself used, closed since
            continue
    return out


class _BlockError(Exception):
    """What a tracked block raises in some cycles."""


def _cycle(tmp_path: Path, i: int) -> None:
    """One tracker started and stopped on the real clock, logging (gzip every other time);
    every fourth block raises."""
    path = tmp_path / ("run.jsonl.gz" if i % 2 else "run.jsonl")
    meter = FakeMeter.constant(100.0)
    tracker = nf.track_energy(meters=[meter], log=path, interval_s=0.001, log_flush_s=0.0)
    try:
        with tracker as t:
            t.step()
            if i % 4 == 3:
                raise _BlockError
    except _BlockError:
        pass
    assert tracker.report.steps == 1


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="lists /proc/self/fd (Linux)")
@pytest.mark.scenario(
    "soak.start-stop-cycles",
    "200 trackers started and stopped on the real clock, logging plain and gzip, some blocks "
    "raising, leave no thread, no open file descriptor and no growing memory behind.",
)
def test_start_stop_cycles_leave_no_thread_descriptor_or_memory_behind(tmp_path: Path) -> None:
    for i in range(8):  # warm up: imports, caches, the first gzip and logging objects
        _cycle(tmp_path, i)
    gc.collect()
    threads_before = set(threading.enumerate())
    fds_before = _open_descriptors()
    tracemalloc.start()
    try:
        start_b, _ = tracemalloc.get_traced_memory()
        for i in range(200):
            _cycle(tmp_path, i)
        gc.collect()
        end_b, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    wait_until(
        lambda: not set(threading.enumerate()) - threads_before,
        timeout_s=5.0,
        what=f"no thread left beyond {threads_before}: {sampler_threads()}",
    )
    fds_after = _open_descriptors()
    assert {fd: fds_after[fd] for fd in fds_after.keys() - fds_before.keys()} == {}
    # 200 trackers (each with its ledger, trace, writer and report) would be megabytes
    assert end_b - start_b < 100 * 1024, f"{end_b - start_b} bytes kept by 200 cycles"
