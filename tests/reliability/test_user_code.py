"""The user's code misbehaves: exceptions, Ctrl-C and exit() in the block; generators,
async, nested, re-entered and threaded use.

The promise: the user's exception is theirs (it propagates unchanged), and the energy up to
then is reported and logged; the tracker's state stays consistent whatever the calling
pattern.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import nlpfootprint as nf
from nlpfootprint.errors import TrackerStateError
from nlpfootprint.testing import FakeClock, FakeMeter


def _log_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.scenario(
    "user.raises-in-block",
    "An exception, KeyboardInterrupt or SystemExit in the block propagates unchanged; the "
    "report covers the run up to then, says what was raised, and the run log is complete "
    "(summary written) even with a long flush interval.",
)
@pytest.mark.parametrize(
    "error", [ValueError("bad batch"), KeyboardInterrupt(), SystemExit(4)],
    ids=lambda e: type(e).__name__,
)  # fmt: skip
def test_the_users_exception_propagates_and_the_run_is_reported(
    error: BaseException, tmp_path: Path
) -> None:
    log = tmp_path / "run.jsonl"
    meter = FakeMeter.constant(100.0)
    tracker = nf.track_energy(meters=[meter], interval_s=0.01, log=log, log_flush_s=60)

    def block() -> None:
        with tracker:
            while meter.reads < 5:
                threading.Event().wait(0.005)
            raise error

    with pytest.raises(type(error)) as raised:
        block()
    assert raised.value is error
    report = tracker.report
    assert report.energy_j == pytest.approx(100.0 * report.duration_s, rel=0.05)
    assert any(type(error).__name__ in w for w in report.warnings)
    lines = _log_lines(log)
    assert "schema" in lines[0]
    assert "summary" in lines[-1]
    assert nf.Report.from_log(log).energy_j == pytest.approx(report.energy_j)


@pytest.mark.scenario(
    "user.generator-closed-early",
    "A tracker inside a generator that its consumer abandons (GeneratorExit at close) stops "
    "and reports; a decorated generator function is refused with a clear error.",
)
def test_a_generator_closed_early_stops_its_tracker() -> None:
    clock = FakeClock()
    trackers: list[nf.EnergyTracker] = []

    def batches() -> Iterator[int]:
        with nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock) as tracker:
            trackers.append(tracker)
            for i in range(100):
                clock.advance(1)
                tracker.step()
                yield i

    gen = batches()
    for i in gen:
        if i == 4:
            break
    gen.close()
    (tracker,) = trackers
    assert not tracker.running
    assert (tracker.report.steps, tracker.report.energy_j) == (5, pytest.approx(50.0))
    with pytest.raises(nf.ConfigurationError, match="generator function"):
        nf.track_energy(meters=[FakeMeter.constant(1.0)])(batches)


@pytest.mark.scenario(
    "user.async-concurrent",
    "Concurrent calls of a decorated async function each get their own tracker; "
    "current_tracker() in each task is that task's, and steps land where they were counted.",
)
def test_concurrent_async_calls_are_measured_apart() -> None:
    clock = FakeClock()

    @nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock)
    async def train(steps: int) -> nf.Report:
        for _ in range(steps):
            await asyncio.sleep(0)
            tracker = nf.current_tracker()
            assert tracker is not None
            tracker.step()
        tracker = nf.current_tracker()
        assert tracker is not None
        return tracker.snapshot(read=False)

    async def main() -> list[nf.Report]:
        return list(await asyncio.gather(train(3), train(7), train(11)))

    reports = asyncio.run(main())
    assert [r.steps for r in reports] == [3, 7, 11]
    assert nf.current_tracker() is None


@pytest.mark.scenario(
    "user.nested",
    "Nested trackers each measure their own block; current_tracker() is the innermost "
    "running one and returns to the outer one when the inner stops.",
)
def test_nested_trackers() -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock) as outer:
        clock.advance(5)
        with nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock) as inner:
            assert nf.current_tracker() is inner
            clock.advance(5)
        assert nf.current_tracker() is outer
        clock.advance(5)
    assert outer.report.energy_j == pytest.approx(150.0)
    assert inner.report.energy_j == pytest.approx(50.0)


@pytest.mark.scenario(
    "user.re-entered",
    "A tracker runs once: starting it again, or re-entering its block, is a TrackerStateError "
    "that says to make a new one; its first report is kept. A decorated function called "
    "recursively measures each call with a fresh tracker.",
)
def test_a_tracker_runs_once() -> None:
    clock = FakeClock()
    tracker = nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock)
    with tracker:
        clock.advance(2)
        with pytest.raises(TrackerStateError, match="already started"):
            tracker.start()
    first = tracker.report
    with pytest.raises(TrackerStateError, match="already started"), tracker:
        pass
    assert tracker.report is first
    assert first.energy_j == pytest.approx(20.0)

    @nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock)
    def depth(n: int) -> int:
        clock.advance(1)
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3
    assert depth.last_report is not None
    assert depth.last_report.energy_j == pytest.approx(40.0)  # the outermost call


@pytest.mark.scenario(
    "user.threaded",
    "step() from many threads at once counts every step exactly; stop() from a watchdog "
    "thread while the block is leaving gives one report to both.",
)
def test_steps_from_many_threads_and_a_racing_stop() -> None:
    meter = FakeMeter.constant(10.0)
    with nf.track_energy(meters=[meter], interval_s=0.001) as tracker:

        def work() -> None:
            for _ in range(2000):
                tracker.step(tokens=3)

        threads = [threading.Thread(target=work, name=f"test-steps-{i}") for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        reports: list[nf.Report] = []
        watchdog = threading.Thread(
            target=lambda: reports.append(tracker.stop()), name="test-watchdog"
        )
        watchdog.start()
    watchdog.join(30)
    assert (tracker.report.steps, tracker.report.tokens) == (16000, 48000)
    assert len(reports) == 1
    assert reports[0] is tracker.report
