"""The sampler with a real thread and the real clock. Every wait polls with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

import nlpfootprint as nf
from helpers import wait_until
from nlpfootprint.clock import MonotonicClock
from nlpfootprint.sampler import THREAD_NAME, Sampler
from nlpfootprint.testing import FakeClock, FakeMeter, sampler_threads


class Collect:
    """A sink that keeps every reading and failure it is handed."""

    def __init__(self) -> None:
        self.readings: list[tuple[int, float, list[float]]] = []
        self.failures: list[tuple[int, float, str]] = []

    def on_reading(self, meter: int, t: float, values: Sequence[float]) -> None:
        self.readings.append((meter, t, list(values)))

    def on_failure(self, meter: int, t: float, error: str) -> None:
        self.failures.append((meter, t, error))

    def on_round(self, t: float) -> None:
        pass


def make_sampler(meters: list[nf.PowerMeter], interval_s: float) -> tuple[Sampler, list]:
    sink = Collect()
    sampler = Sampler(meters, clock=MonotonicClock(), interval_s=interval_s, sinks=[sink])
    return sampler, [sink.readings, sink.failures]


def test_real_thread_is_named_and_daemon_and_reads_on_schedule() -> None:
    meter = FakeMeter.constant(5.0)
    sampler, (readings, _) = make_sampler([meter], interval_s=0.01)
    sampler.start()
    try:
        (thread,) = [t for t in sampler_threads() if t.name == THREAD_NAME]
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


class SimulatedClock:
    """A clock for the real sampler thread that runs in simulated time.

    ``wait`` moves simulated time forward by the timeout at once, and each meter read
    below moves it by the read's latency, so the thread's schedule can be checked
    exactly, on any machine, without sleeping.
    """

    def __init__(self) -> None:
        self.t = 1000.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def spend(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        if event.is_set():
            return True
        self.spend(timeout_s)
        return event.wait(0.0005)  # let a stop() from the test thread get in


class LatencyMeter:
    """A meter whose every read takes ``latency_s`` of the simulated clock."""

    channels = (nf.Channel(id="gpu:0", domain="gpu", kind="power"),)

    def __init__(self, clock: SimulatedClock, latency_s: float) -> None:
        self.clock = clock
        self.latency_s = latency_s
        self.starts: list[float] = []

    def read(self) -> list[float]:
        self.starts.append(self.clock.now())
        self.clock.spend(self.latency_s)
        return [1.0]

    def close(self) -> None:
        pass


def run_simulated(latency_s: float, reads: int) -> tuple[Sampler, LatencyMeter, float]:
    clock = SimulatedClock()
    meter = LatencyMeter(clock, latency_s)
    sampler = Sampler([meter], clock=clock, interval_s=1.0, sinks=[Collect()])
    sampler.start()
    try:
        wait_until(lambda: len(meter.starts) >= reads, what=f"{reads} reads")
    finally:
        sampler.stop()
    origin = meter.starts[0] + latency_s  # the schedule starts when the first read ends
    return sampler, meter, origin


def test_schedule_is_absolute_so_read_latency_never_accumulates() -> None:
    sampler, meter, origin = run_simulated(latency_s=0.1, reads=40)
    ticks = meter.starts[1:-1]  # the thread's reads, between the first and the last
    # read k starts exactly at tick k: 100 reads of 0.1 s latency add no drift
    assert ticks == pytest.approx([origin + k for k in range(1, len(ticks) + 1)], abs=1e-9)
    assert sampler.skipped_ticks == 0


def test_slow_read_skips_ticks_instead_of_bursting() -> None:
    sampler, meter, origin = run_simulated(latency_s=2.5, reads=8)
    ticks = meter.starts[1:-1]
    # a read takes 2.5 intervals: the next read waits for the next whole tick (no burst
    # of catch-up reads), so reads start every 3 ticks, on the grid
    assert ticks == pytest.approx([origin + 1 + 3 * k for k in range(len(ticks))], abs=1e-9)
    assert sampler.skipped_ticks >= 2 * (len(ticks) - 1)


def test_failing_meter_in_the_thread_is_reported_and_the_other_meter_goes_on() -> None:
    bad = FakeMeter.failing(after=1, domain="cpu")
    good = FakeMeter.constant(3.0, domain="gpu")
    sampler, (readings, failures) = make_sampler([bad, good], interval_s=0.01)
    sampler.start()
    try:
        wait_until(lambda: len(failures) >= 3, what="failures")
    finally:
        sampler.stop()
    assert all(err.startswith("MeterError: ") for _, _, err in failures)
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


def test_auto_meters_estimate_cpu_and_dram_on_a_machine_without_sensors() -> None:
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


class HangingMeter:
    """A meter whose reads block until released (a wedged device or driver)."""

    channels = (nf.Channel(id="gpu:9", domain="gpu", kind="power"),)

    def __init__(self) -> None:
        self.release = threading.Event()
        self.hang = False
        self.entered = threading.Event()

    def read(self) -> list[float]:
        if self.hang:
            self.entered.set()
            self.release.wait(30)
        return [1.0]

    def close(self) -> None:
        self.release.set()


def test_a_hung_meter_does_not_hang_windows_snapshots_or_stop() -> None:
    meter = HangingMeter()
    other = FakeMeter.constant(100.0, domain="cpu")
    tracker = nf.track_energy(meters=[meter, other], interval_s=0.01, read_timeout_s=0.2)
    try:
        with tracker:
            meter.hang = True
            wait_until(meter.entered.is_set, what="the sampler thread to get stuck")
            begun = time.monotonic()
            with tracker.window("eval"):
                pass
            tracker.snapshot()
            assert time.monotonic() - begun < 5  # three waits of 0.2 s, not forever
        report = tracker.report
        assert any("hanging" in w for w in report.warnings)
    finally:
        meter.release.set()  # let the abandoned thread finish for the leak check


def test_a_read_that_is_not_one_number_per_channel_is_a_failure_not_a_crash() -> None:
    class Odd:
        channels = (nf.Channel(id="gpu:0", domain="gpu", kind="power"),)

        def __init__(self, value: object) -> None:
            self.value = value

        def read(self) -> object:
            return self.value

        def close(self) -> None:
            pass

    for value in (5.0, None, ["x"], [object()]):
        clock = FakeClock()
        with nf.track_energy(meters=[Odd(value), FakeMeter.constant(1.0, domain="cpu")],
                             clock=clock) as tracker:  # fmt: skip
            clock.advance(2)
        gpu, cpu = tracker.report.channels
        assert (gpu.readings, gpu.failures) == (0, 4), value
        assert cpu.energy_j == pytest.approx(2.0)
        assert not any("internal error" in w for w in tracker.report.warnings)


def test_base_exception_from_a_meter_in_the_thread_is_a_failure_and_sampling_goes_on() -> None:
    class Exiting:
        channels = (nf.Channel(id="gpu:0", domain="gpu", kind="power"),)
        calls = 0

        def read(self) -> list[float]:
            self.calls += 1
            if self.calls > 1:
                raise SystemExit("a library called exit()")
            return [1.0]

        def close(self) -> None:
            pass

    good = FakeMeter.constant(1.0, domain="cpu")
    sampler, (readings, failures) = make_sampler([Exiting(), good], interval_s=0.005)
    sampler.start()
    try:
        wait_until(lambda: len(failures) >= 5, what="five failures")
    finally:
        sampler.stop()
    assert all(err.startswith("SystemExit: ") for _, _, err in failures[:5])
    assert sum(1 for i, _, _ in readings if i == 1) >= 5


class _ThreadRecordingMeter:
    """A one-channel meter that notes the thread of each read."""

    def __init__(self, inline: bool) -> None:
        self._meter = FakeMeter.constant(5.0)
        self.reads_inline = inline
        self.threads: list[str] = []

    @property
    def channels(self) -> tuple[nf.Channel, ...]:
        return self._meter.channels

    def read(self) -> list[float]:
        self.threads.append(threading.current_thread().name)
        return [5.0]

    def close(self) -> None:
        pass


def test_a_meter_that_reads_inline_is_read_in_the_sampling_thread_the_others_on_workers() -> None:
    inline, threaded = _ThreadRecordingMeter(True), _ThreadRecordingMeter(False)
    sampler, (readings, failures) = make_sampler([inline, threaded], interval_s=0.01)
    sampler.start()
    try:
        wait_until(lambda: len(readings) >= 10, what="ten readings")
    finally:
        sampler.stop()
    assert not failures
    me = threading.current_thread().name
    # start and stop read from the caller's thread, the ticks from the sampling thread
    assert set(inline.threads) == {me, THREAD_NAME}
    assert set(threaded.threads) == {"nlpfootprint-meter1"}
    assert sorted(m for m, _, _ in readings)[::-1][: len(threaded.threads)] == [1] * len(
        threaded.threads
    )


def test_a_reads_inline_attribute_that_is_not_true_keeps_the_worker() -> None:
    meter = _ThreadRecordingMeter(True)
    meter.reads_inline = "yes"  # type: ignore[assignment]
    tracker = nf.track_energy(meters=[meter], interval_s=0.01)
    with tracker:
        wait_until(lambda: len(meter.threads) >= 4, what="four reads")
    assert set(meter.threads) == {"nlpfootprint-meter0"}
