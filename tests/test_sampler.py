"""The sampler with a real thread and the real clock. Every wait polls with a deadline."""

from __future__ import annotations

import threading
import time

import pytest

import nlpfootprint as nf
from helpers import wait_until
from nlpfootprint.clock import MonotonicClock
from nlpfootprint.errors import MeterError
from nlpfootprint.sampler import THREAD_NAME, Sampler
from nlpfootprint.testing import FakeMeter, sampler_threads


def make_sampler(meters: list[nf.PowerMeter], interval_s: float) -> tuple[Sampler, list]:
    readings: list[tuple[int, float, list[float]]] = []
    failures: list[tuple[int, float, BaseException]] = []
    sampler = Sampler(
        meters,
        clock=MonotonicClock(),
        interval_s=interval_s,
        on_reading=lambda i, t, v: readings.append((i, t, list(v))),
        on_failure=lambda i, t, e: failures.append((i, t, e)),
    )
    return sampler, [readings, failures]


def test_real_thread_is_named_and_daemon_and_reads_on_schedule() -> None:
    meter = FakeMeter.constant(5.0)
    sampler, (readings, _) = make_sampler([meter], interval_s=0.01)
    sampler.start()
    try:
        (thread,) = sampler_threads()
        assert thread.name == THREAD_NAME == "nlpfootprint-sampler"
        assert thread.daemon
        wait_until(lambda: len(readings) >= 5, what="five readings")
    finally:
        sampler.stop()
    times = [t for _, t, _ in readings]
    assert times == sorted(times)
    assert not thread.is_alive()


def test_stop_ends_a_long_wait_at_once() -> None:
    # With an hour between ticks, stop() must not wait for the next tick.
    meter = FakeMeter.constant(5.0)
    sampler, (readings, _) = make_sampler([meter], interval_s=3600.0)
    sampler.start()
    stopper = threading.Thread(target=sampler.stop, name="test-stopper")
    stopper.start()
    wait_until(lambda: not stopper.is_alive(), timeout_s=10.0, what="stop() to return")
    assert len(readings) == 2  # the reading at start and the one at stop


def test_schedule_does_not_drift_over_many_ticks() -> None:
    interval = 0.02
    meter = FakeMeter.constant(1.0)
    sampler, (readings, _) = make_sampler([meter], interval_s=interval)
    sampler.start()
    try:
        wait_until(lambda: len(readings) >= 30, what="thirty readings")
    finally:
        sampler.stop()
    t0 = readings[0][1]
    # tick k happens at (or, on a loaded machine, after) t0 + k*interval; never early
    for k, (_, t, _) in enumerate(readings[1:-1], start=1):
        assert t >= t0 + k * interval - 1e-3 or sampler.skipped_ticks > 0


def test_slow_read_skips_ticks_instead_of_bursting() -> None:
    class SlowMeter:
        channels = (nf.Channel(id="gpu:0", domain="gpu", kind="power"),)

        def __init__(self) -> None:
            self.gaps: list[float] = []
            self.last: float | None = None

        def read(self) -> list[float]:
            now = time.monotonic()
            if self.last is not None:
                self.gaps.append(now - self.last)
            time.sleep(0.03)  # the slow hardware, not a wait in the test
            self.last = time.monotonic()
            return [1.0]

        def close(self) -> None:
            pass

    meter = SlowMeter()
    sampler, (readings, _) = make_sampler([meter], interval_s=0.01)
    sampler.start()
    try:
        wait_until(lambda: sampler.skipped_ticks >= 3 and len(readings) >= 4, what="skips")
    finally:
        sampler.stop()
    # after a slow read the next one waits for the next whole tick: no back-to-back burst
    assert all(gap >= 0.0 for gap in meter.gaps)
    assert sampler.rounds < 1 + (readings[-1][1] - readings[0][1]) / 0.01


def test_failing_meter_in_the_thread_is_reported_and_the_other_meter_goes_on() -> None:
    bad = FakeMeter.failing(after=1, domain="cpu")
    good = FakeMeter.constant(3.0, domain="gpu")
    sampler, (readings, failures) = make_sampler([bad, good], interval_s=0.01)
    sampler.start()
    try:
        wait_until(lambda: len(failures) >= 3, what="failures")
    finally:
        sampler.stop()
    assert all(isinstance(err, MeterError) for _, _, err in failures)
    assert sum(1 for i, _, _ in readings if i == 1) >= 3


def test_real_clock_tracker_measures_a_short_block_between_start_and_stop() -> None:
    with nf.track_energy(meters=[FakeMeter.constant(100.0)], interval_s=30.0) as tracker:
        pass
    report = tracker.report
    assert report.channels[0].readings == 2
    # the span runs from the first reading round to the last; reads take microseconds
    assert report.energy_j == pytest.approx(100.0 * report.duration_s, rel=1e-2)


def test_real_clock_tracker_with_thread_integrates_a_counter() -> None:
    meter = FakeMeter.counter(50.0, domain="cpu")  # counts on the real monotonic clock
    with nf.track_energy(meters=[meter], interval_s=0.005) as tracker:
        wait_until(lambda: meter.reads >= 10, what="ten reads")
    report = tracker.report
    # the counter's own time base starts at its first read, the tracker's just before
    assert report.energy_j == pytest.approx(50.0 * report.duration_s, rel=0.05)
    assert report.channels[0].readings >= 10
    assert sampler_threads() == []


def test_auto_meters_are_created_and_closed_by_the_tracker() -> None:
    with nf.track_energy(interval_s=0.01) as tracker:
        wait_until(lambda: tracker.snapshot().channels[0].readings >= 3, what="readings")
    report = tracker.report
    assert {c.domain for c in report.channels} == {"cpu", "dram"}
    assert report.method == "estimated"
    assert "ESTIMATED" in str(report)
    assert report.assumptions.meters.startswith("auto: used estimated-cpu")


def test_window_open_at_stop_ends_with_a_fresh_reading_on_the_real_clock() -> None:
    tracker = nf.track_energy(meters=[FakeMeter.constant(100.0)], interval_s=3600.0).start()
    window = tracker.window("eval")
    window.__enter__()
    begun = time.monotonic()
    wait_until(lambda: time.monotonic() - begun > 0.01, what="some time to pass")
    report = tracker.stop()
    (evaluation,) = report.windows
    assert evaluation.duration_s > 0.01
    assert evaluation.energy_j == pytest.approx(100.0 * evaluation.duration_s, rel=1e-2)
