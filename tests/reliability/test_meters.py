"""Meters that fail: raise (even BaseExceptions), hang, or return what is not a reading.

The promise: a failing meter never stops the user's run or the other meters; every wait on
a meter is bounded (by default the user's thread waits at most 2 s in all for a hung meter,
at any boundary); each failure is counted and said in the report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters import discovery
from nlpfootprint.testing import FakeClock, FakeMeter

#: What the issue promises: the user's thread waits at most this long for a hung meter.
HANG_BUDGET_S = 2.0


class FaultyMeter:
    """A one-channel GPU power meter (100 W) that fails where told: ``raise_in`` /
    ``hang_in`` name the calls ("read", "sync", "close") and ``after`` how many calls of
    that kind go well first."""

    def __init__(
        self,
        *,
        raise_in: str | None = None,
        error: BaseException | None = None,
        hang_in: str | None = None,
        after: int = 0,
    ) -> None:
        self.channels = (nf.Channel(id="gpu:7", domain="gpu", kind="power"),)
        self.raise_in, self.error, self.hang_in, self.after = raise_in, error, hang_in, after
        self.calls: dict[str, int] = {"read": 0, "sync": 0, "close": 0}
        self.release = threading.Event()
        self.hanging = threading.Event()

    def _call(self, what: str) -> None:
        self.calls[what] += 1
        if self.calls[what] <= self.after:
            return
        if self.raise_in == what:
            assert self.error is not None
            raise self.error
        if self.hang_in == what:
            self.hanging.set()
            self.release.wait(60)

    def read(self) -> list[float]:
        self._call("read")
        return [100.0]

    def sync(self) -> None:
        self._call("sync")

    def close(self) -> None:
        self._call("close")

    def __repr__(self) -> str:
        return "<FaultyMeter gpu:7>"


def within(limit_s: float, body: Callable[[], Any], release: Callable[[], None]) -> Any:
    """Run ``body`` on a thread; fail (after releasing the meter) if it takes over
    ``limit_s`` -- so a test of a hang fails instead of hanging the suite."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = body()
        except BaseException as err:  # handed back to the test below
            out["error"] = err

    thread = threading.Thread(target=run, name="test-body")
    begun = time.monotonic()
    thread.start()
    thread.join(max(limit_s * 5, 10.0))
    took = time.monotonic() - begun
    if thread.is_alive():
        release()
        thread.join(70)
        pytest.fail(f"still waiting on the hung meter after {took:.1f} s")
    if "error" in out:
        raise out["error"]
    assert took <= limit_s, f"the user's thread waited {took:.2f} s for a hung meter"
    return out["value"]


@pytest.fixture
def good() -> FakeMeter:
    return FakeMeter.constant(50.0, domain="cpu")


def _cpu(report: nf.Report) -> nf.ChannelReport:
    return next(c for c in report.channels if c.domain == "cpu")


# -- raising ----------------------------------------------------------------------------

ERRORS = [RuntimeError("driver error"), SystemExit(3), KeyboardInterrupt(), GeneratorExit()]


@pytest.mark.scenario(
    "meter.raises-at-first-read",
    "A meter that raises at its first read (any exception, SystemExit and KeyboardInterrupt "
    "from its own code included) gives a gap and a warning; the block runs and the other "
    "meters are measured.",
)
@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_a_meter_raising_at_its_first_read(error: BaseException, good: FakeMeter) -> None:
    meter = FaultyMeter(raise_in="read", error=error)
    with nf.track_energy(meters=[meter, good], interval_s=0.01) as tracker:
        # long enough that the good meter's first reading, which a busy machine may delay
        # a few milliseconds behind the failing one's, is a small part of the block
        time.sleep(0.2)
    report = tracker.report
    assert report.channels[0].readings == 0
    assert report.channels[0].failures >= 2
    assert _cpu(report).energy_j == pytest.approx(50.0 * report.duration_s, rel=0.05)
    assert any(type(error).__name__ in w for w in report.warnings)


@pytest.mark.scenario(
    "meter.raises-mid-run",
    "A meter that starts raising mid-run (any exception, KeyboardInterrupt from a read on the "
    "sampling thread included) keeps the sampling going: the other meters are read to the end "
    "and the failure is reported.",
)
@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_a_meter_raising_mid_run(error: BaseException, good: FakeMeter) -> None:
    meter = FaultyMeter(raise_in="read", error=error, after=3)
    with nf.track_energy(meters=[meter, good], interval_s=0.01) as tracker:
        deadline = time.monotonic() + 10
        while good.reads < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
    report = tracker.report
    gpu, cpu = report.channels
    assert gpu.readings == 3
    assert gpu.failures >= 20
    assert cpu.readings >= 30  # the sampling thread lived on after the meter's error
    assert any(type(error).__name__ in w for w in report.warnings)


@pytest.mark.scenario(
    "meter.raises-at-close",
    "A detected meter whose close() raises (SystemExit included) is reported in a warning; "
    "stop() returns the report.",
)
@pytest.mark.parametrize(
    "error", [OSError("handle"), SystemExit(2)], ids=lambda e: type(e).__name__
)
def test_a_meter_raising_at_close(
    error: BaseException, monkeypatch: pytest.MonkeyPatch, good: FakeMeter
) -> None:
    meter = FaultyMeter(raise_in="close", error=error)
    monkeypatch.setattr(
        discovery,
        "detect",
        lambda: discovery.Detection(meters=(meter, good), used=("test",), skipped={}),
    )
    clock = FakeClock()
    with nf.track_energy(clock=clock) as tracker:
        clock.advance(10)
    assert tracker.report.energy_j == pytest.approx(1500.0)
    assert any("close()" in w and type(error).__name__ in w for w in tracker.report.warnings)


@pytest.mark.scenario(
    "meter.channels-raises",
    "A meter whose channels property raises is refused at start with a ConfigurationError "
    "naming the meter and the rule, not a raw error from inside the library.",
)
def test_a_meter_whose_channels_raise() -> None:
    class Broken:
        @property
        def channels(self) -> list[nf.Channel]:
            raise RuntimeError("no device")

        def read(self) -> list[float]:
            return [1.0]

        def close(self) -> None:
            pass

    with pytest.raises(ConfigurationError, match=r"Broken meter: reading its channels raised"):
        nf.track_energy(meters=[Broken()], clock=FakeClock()).start()


# -- what a read returns ----------------------------------------------------------------


@pytest.mark.scenario(
    "reading.not-a-number",
    "A reading that is not a real number (a string, a bool, None, bytes, an object, a string "
    "iterated as digits) is a failed reading, never coerced; numpy numbers are readings.",
)
@pytest.mark.parametrize(
    ("returned", "width"),
    [
        (["7"], 1),
        ("42", 2),
        ([True], 1),
        ([None], 1),
        (b"\x01", 1),
        ([object()], 1),
        ("7", 1),
        ([10**400], 1),
        ([1.0, "2"], 2),
    ],
    ids=[
        "str",
        "str-as-digits",
        "bool",
        "none",
        "bytes",
        "object",
        "bare-str",
        "huge-int",
        "mixed",
    ],
)
def test_readings_that_are_not_numbers_are_refused(returned: object, width: int) -> None:
    class Raw:  # returns exactly what it is given (a FakeMeter would make it a list)
        def __init__(self) -> None:
            self.channels = [
                nf.Channel(id=f"gpu:{i}", domain="gpu", kind="power") for i in range(width)
            ]

        def read(self) -> object:
            return returned

        def close(self) -> None:
            pass

    meter = Raw()
    clock = FakeClock()
    with nf.track_energy(meters=[meter, FakeMeter.constant(1.0, domain="cpu")], clock=clock) as t:
        clock.advance(5)
    report = t.report
    assert all(c.readings == 0 for c in report.channels[:width])
    assert report.energy_j == pytest.approx(5.0)  # only the good meter's
    assert any("read() returned" in w for w in report.warnings)


@pytest.mark.scenario(
    "reading.numpy-numbers",
    "Readings given as numpy scalars or a numpy array are taken as the numbers they are.",
)
def test_numpy_readings_are_numbers() -> None:
    channels = [nf.Channel(id=f"gpu:{i}", domain="gpu", kind="power") for i in range(3)]
    meter = FakeMeter(channels, lambda: [np.float32(100.0), np.int64(100), np.float64(100.0)])
    array = FakeMeter([nf.Channel(id="cpu:0", domain="cpu", kind="power")],
                      lambda: np.array([100.0]))  # fmt: skip
    clock = FakeClock()
    with nf.track_energy(meters=[meter, array], clock=clock) as t:
        clock.advance(10)
    assert t.report.energy_j == pytest.approx(4000.0)
    assert not t.report.warnings


@pytest.mark.scenario(
    "reading.wrong-width",
    "A read with more or fewer values than the meter has channels is a failed reading.",
)
@pytest.mark.parametrize("values", [[], [1.0, 2.0, 3.0]], ids=["none", "three"])
def test_a_reading_of_the_wrong_width_is_a_failure(values: list[float]) -> None:
    channels = [nf.Channel(id=f"gpu:{i}", domain="gpu", kind="power") for i in range(2)]
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter(channels, lambda: values)], clock=clock) as t:
        clock.advance(3)
    assert [c.readings for c in t.report.channels] == [0, 0]
    assert any(
        f"returned {len(values)} value" in w and "for 2 channel" in w for w in t.report.warnings
    )


# -- hanging ----------------------------------------------------------------------------


@pytest.fixture
def hung() -> Iterator[list[FaultyMeter]]:
    """The test's hanging meters, released at the end (so no thread is left behind)."""
    meters: list[FaultyMeter] = []
    yield meters
    for meter in meters:
        meter.release.set()


def _hanging(hung: list[FaultyMeter], **kw: Any) -> FaultyMeter:
    meter = FaultyMeter(**kw)
    hung.append(meter)
    return meter


@pytest.mark.scenario(
    "meter.hangs-at-first-read",
    "A meter that hangs in the first read (at start) costs the user's thread at most 2 s by "
    "default; the run is measured by the other meters.",
)
def test_a_meter_hanging_at_start(hung: list[FaultyMeter], good: FakeMeter) -> None:
    meter = _hanging(hung, hang_in="read")
    tracker = nf.track_energy(meters=[meter, good], interval_s=0.02)
    within(HANG_BUDGET_S, tracker.start, meter.release.set)
    time.sleep(0.2)
    report = within(HANG_BUDGET_S, tracker.stop, meter.release.set)
    assert report.channels[0].readings == 0
    assert _cpu(report).energy_j == pytest.approx(50.0 * report.duration_s, rel=0.1)
    assert any("hung" in w for w in report.warnings)


@pytest.mark.scenario(
    "meter.hangs-mid-run",
    "One hung meter does not stop the others: they are read to the end, and the report covers "
    "the whole run.",
)
def test_one_hung_meter_does_not_stop_the_others(hung: list[FaultyMeter], good: FakeMeter) -> None:
    meter = _hanging(hung, hang_in="read", after=3)
    tracker = nf.track_energy(meters=[meter, good], interval_s=0.02).start()
    assert meter.hanging.wait(10)
    reads_at_hang = good.reads
    time.sleep(1.5)
    report = within(HANG_BUDGET_S, tracker.stop, meter.release.set)
    assert good.reads > reads_at_hang + 20  # read on schedule all along
    assert report.duration_s >= 1.5
    assert _cpu(report).energy_j == pytest.approx(50.0 * report.duration_s, rel=0.1)
    assert report.channels[0].readings == 3


@pytest.mark.scenario(
    "meter.hangs-at-boundaries",
    "A meter that hangs in snapshot(), a window boundary, sample() or the final read of stop() "
    "costs the user's thread at most 2 s in all, not a timeout per call.",
)
@pytest.mark.parametrize("where", ["snapshot", "window", "sample", "stop"])
def test_a_meter_hanging_at_a_boundary(
    where: str, hung: list[FaultyMeter], good: FakeMeter
) -> None:
    meter = _hanging(hung, hang_in="read", after=2)
    # a slow schedule: the hang lands in a read from the user's thread
    tracker = nf.track_energy(meters=[meter, good], interval_s=3600).start()
    tracker.sample()  # the second read, fine

    def boundaries() -> nf.Report:
        for _ in range(5):  # the first meets the hang; the others must not wait again
            if where == "snapshot":
                tracker.snapshot()
            elif where == "window":
                with tracker.window("eval"):
                    pass
            elif where == "sample":
                tracker.sample()
        return tracker.stop()

    report = within(HANG_BUDGET_S, boundaries, meter.release.set)
    assert report.channels[0].readings == 2
    assert _cpu(report).readings >= 3
    assert any("hung" in w for w in report.warnings)


@pytest.mark.scenario(
    "meter.hangs-in-sync",
    "A meter whose sync() (a CUDA synchronise) hangs at a window boundary or at stop costs the "
    "user's thread at most 2 s in all, and the meter is still read meanwhile; the warning "
    "names it.",
)
def test_a_meter_hanging_in_sync(hung: list[FaultyMeter], good: FakeMeter) -> None:
    meter = _hanging(hung, hang_in="sync")
    tracker = nf.track_energy(meters=[meter, good], interval_s=0.05).start()

    def body() -> nf.Report:
        for _ in range(3):
            with tracker.window("eval"):
                pass
        return tracker.stop()

    report = within(HANG_BUDGET_S, body, meter.release.set)
    assert any("sync() did not finish within 1 s" in w for w in report.warnings)
    # a sync in progress (queued GPU work, or a hang) does not stop the meter being read
    assert report.channels[0].failures == 0
    assert report.channels[0].readings >= 3


@pytest.mark.scenario(
    "meter.hangs-in-close",
    "A detected meter whose close() hangs costs stop() at most 2 s; the report is made and "
    "the warning names the meter.",
)
def test_a_meter_hanging_in_close(
    hung: list[FaultyMeter], good: FakeMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter = _hanging(hung, hang_in="close")
    monkeypatch.setattr(
        discovery,
        "detect",
        lambda: discovery.Detection(meters=(meter, good), used=("test",), skipped={}),
    )
    tracker = nf.track_energy(interval_s=0.05).start()
    report = within(HANG_BUDGET_S, tracker.stop, meter.release.set)
    assert any("close() gave no answer" in w for w in report.warnings)


@pytest.mark.scenario(
    "meter.hang-recovers",
    "A meter that hangs once and then answers again is read again: the gap covers only the hang.",
)
def test_a_meter_that_recovers_is_read_again(hung: list[FaultyMeter], good: FakeMeter) -> None:
    meter = _hanging(hung, hang_in="read", after=3)
    tracker = nf.track_energy(meters=[meter, good], interval_s=0.02, read_timeout_s=0.1)
    tracker.start()
    assert meter.hanging.wait(10)
    time.sleep(0.3)
    meter.hang_in = None
    meter.release.set()
    deadline = time.monotonic() + 10
    while meter.calls["read"] < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    report = tracker.stop()
    assert report.channels[0].readings >= 10
    assert 0.2 < report.channels[0].gap_s < report.duration_s


@pytest.mark.scenario(
    "sampler.thread-dies",
    "If the sampling thread itself dies (a bug, or a clock that fails), the user's run goes on "
    "and the report says so; readings at boundaries and stop still count.",
)
def test_a_dying_sampling_thread_is_reported(good: FakeMeter) -> None:
    class FailingWaitClock:
        def now(self) -> float:
            return time.monotonic()

        def wait(self, event: threading.Event, timeout_s: float) -> bool:
            raise OverflowError("timeout value is too large")

    with nf.track_energy(meters=[good], clock=FailingWaitClock(), interval_s=0.01) as tracker:
        time.sleep(0.05)
    report = tracker.report
    assert any("sampling thread stopped early" in w and "OverflowError" in w
               for w in report.warnings)  # fmt: skip
    assert report.energy_j == pytest.approx(50.0 * report.duration_s, rel=0.2)
