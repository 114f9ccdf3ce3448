"""The sampler: reads every meter on a schedule and hands the readings on. No maths here.

With a real clock, a daemon thread named ``nlpfootprint-sampler`` wakes on an absolute
schedule (tick k at start + k x interval, so it never drifts); when a read overruns, the
ticks it missed are skipped, not burst. It waits on a :class:`threading.Event`, so
:meth:`Sampler.stop` ends it at once. A reading is always taken at start and at stop, so a
block shorter than one interval still gets its energy.

With a manual clock (:class:`~nlpfootprint.testing.FakeClock`) no thread runs: the clock
calls the sampler at each scheduled tick it passes and at the end of every advance.

Each reading goes to every *sink* in turn (:class:`Sink`: the ledger, the run-log writer,
later a distributed gatherer), with its time in seconds since the sampler's origin (the
clock's reading at :meth:`Sampler.start`), so every sink sees the very same numbers. A meter
that raises (even ``SystemExit`` or ``KeyboardInterrupt`` from its own code), returns
something that is not one real number per channel, or hangs is reported through
``on_failure``; the other meters are still read. A sink that raises is a bug: it is counted
and logged, and the other sinks still get the reading.

Every wait on a meter is bounded. With a real clock each meter is read on a worker thread
of its own (:mod:`nlpfootprint.meters.worker`); a round hands the reads out together and
waits at most ``read_timeout_s`` for them. A meter whose read has not returned is skipped
(a failure each round, at no wait) until it answers again, so a hung meter costs the
caller one deadline in all and never stops the other meters.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any, Protocol

from nlpfootprint.clock import Clock, ManualClock, MonotonicClock
from nlpfootprint.errors import MeterError, TrackerStateError
from nlpfootprint.meters.base import PowerMeter
from nlpfootprint.meters.worker import MeterWorker, Worker, make_workers, reads_inline

__all__ = ["THREAD_NAME", "Sampler", "Sink", "describe_error", "real_numbers"]

log = logging.getLogger("nlpfootprint")

THREAD_NAME = "nlpfootprint-sampler"
#: The longest error text passed on (a run log keeps it per failed reading).
MAX_ERROR_CHARS = 500


class Sink(Protocol):
    """Where readings go. Times are seconds since the sampler's origin."""

    def on_reading(self, meter: int, t: float, values: Sequence[float]) -> None:
        """Meter number ``meter`` read ``values`` (one per channel) at ``t``."""
        ...

    def on_failure(self, meter: int, t: float, error: str) -> None:
        """Meter number ``meter`` failed to read at ``t``; ``error`` says why."""
        ...

    def on_round(self, t: float) -> None:
        """Every meter has been read once; ``t`` is the round's last reading."""
        ...


#: The samplers started in this process (made inert in a forked child).
_STARTED: weakref.WeakSet[Sampler] = weakref.WeakSet()


def _inert_in_child() -> None:
    for sampler in list(_STARTED):
        sampler._go_inert()
    _STARTED.clear()


os.register_at_fork(after_in_child=_inert_in_child)


def describe_error(err: BaseException) -> str:
    """``Type: message``, at most :data:`MAX_ERROR_CHARS` long: what sinks are told."""
    return f"{type(err).__name__}: {err}"[:MAX_ERROR_CHARS]


def real_numbers(values: object, width: int) -> list[float]:
    """``values`` as ``width`` floats; MeterError unless it is a sequence of exactly that
    many real numbers (``float``, ``int``, numpy scalars -- not ``bool``, not strings)."""
    if type(values) is list and len(values) == width:
        for v in values:
            if type(v) is not float:
                break
        else:  # already what it must be (the common case): no copy
            return values
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise MeterError(f"read() returned {values!r:.80}: expected {width} number(s)")
    out = []
    for v in values:  # type: ignore[attr-defined]
        kind = type(v)
        if kind is not float and (kind is bool or not isinstance(v, Real)):
            raise MeterError(
                f"read() returned {v!r:.40} ({kind.__name__}) among {values!r:.80}: expected "
                "real numbers (float, int or a numpy number)"
            )
        try:
            out.append(float(v))
        except OverflowError:
            raise MeterError(f"read() returned {v!r:.40}, too large for a float") from None
    if len(out) != width:
        raise MeterError(f"read() returned {len(out)} value(s) for {width} channel(s)")
    return out


class Sampler:
    """Reads ``meters`` every ``interval_s`` seconds of ``clock`` between start and stop.

    Args:
        meters: The meters to read, in a fixed order (sinks get their index).
        clock: Where time comes from; a :class:`~nlpfootprint.clock.ManualClock` means
            no thread.
        interval_s: Seconds between scheduled readings.
        sinks: Where each reading, failure and end of round goes, in this order.
        read_timeout_s: The longest a round waits for the meters' reads, and a reading
            from another thread for a round in progress (see the module docstring).
        workers: One worker per meter to read it on (default: made here, threaded unless
            the clock is manual, and shut down at :meth:`stop`); given ones are the
            caller's to shut down.
        widths: How many channels each meter has (default: ``len(meter.channels)``).
    """

    def __init__(
        self,
        meters: Sequence[PowerMeter],
        *,
        clock: Clock,
        interval_s: float,
        sinks: Sequence[Sink],
        read_timeout_s: float = 1.0,
        workers: Sequence[Worker] | None = None,
        widths: Sequence[int] | None = None,
    ) -> None:
        self._meters = tuple(meters)
        # each event's handlers, bound once: this is the hot path of a long run
        self._handlers = {
            event: tuple(getattr(sink, event) for sink in sinks)
            for event in ("on_reading", "on_failure", "on_round")
        }
        self._clock = clock
        self._manual_clock = clock if isinstance(clock, ManualClock) else None
        self._owns_workers = workers is None
        self._workers = tuple(
            workers
            if workers is not None
            else make_workers(
                len(self._meters),
                threaded=self._manual_clock is None,
                inline=reads_inline(self._meters),
            )
        )
        #: The meters read on threads of their own (the others are read in the round).
        self._threaded = tuple(
            index for index, worker in enumerate(self._workers) if isinstance(worker, MeterWorker)
        )
        if widths is None:
            widths = [len(meter.channels) for meter in self._meters]
        self._jobs = tuple(
            self._read_job(meter, width) for meter, width in zip(self._meters, widths, strict=True)
        )
        self.interval_s = interval_s
        self.read_timeout_s = read_timeout_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # held until stop: the thread's wait between ticks is one timed acquire of it (a
        # third of the CPU of Event.wait, whose Condition allocates and bookkeeps per wait)
        self._wake = threading.Lock()
        self._wake.acquire()
        self._thread: threading.Thread | None = None
        self._tick_handle: object = None
        self._advance_handle: object = None
        self._started = False
        self._stopped = False
        self._last_t: float | None = None
        self._schedule_origin = 0.0
        self._tick = 0
        #: The clock's reading when sampling started: time 0 for the sinks.
        self.origin = 0.0
        #: Time of the earliest reading of the first round (None before start).
        self.first_t: float | None = None
        #: Scheduled ticks skipped because a read overran (real clock only).
        self.skipped_ticks = 0
        #: Number of sampling rounds taken (each reads every meter once).
        self.rounds = 0
        #: Readings given up: a round in progress, or a meter's read, did not end in time.
        self.abandoned = 0
        #: Per meter, how many reads were given up because the meter hung.
        self.hung_reads = [0] * len(self._meters)
        #: How many errors the callbacks themselves raised (bugs); the first few are kept.
        self.internal_error_count = 0
        self.internal_errors: list[BaseException] = []
        #: Why the sampling thread ended early, if it did (a bug: it is reported).
        self.thread_error: str | None = None

    def warnings(self) -> list[str]:
        """What went wrong in the sampler itself: skipped ticks, hung meters, errors in
        sinks, a sampling thread that died."""
        out = []
        if self.skipped_ticks:
            out.append(
                f"the sampler skipped {self.skipped_ticks} tick(s) because reading the "
                f"meters took longer than interval_s={self.interval_s:g}"
            )
        for index, count in enumerate(self.hung_reads):
            if count:
                out.append(
                    f"meter {index} ({self._meters[index]!r:.120}) hung: {count} read(s) gave "
                    f"no answer within read_timeout_s={self.read_timeout_s:g} and were "
                    "skipped (its channels have a gap there)"
                )
        if self.internal_errors:
            out.append(
                f"{self.internal_error_count} internal error(s) while recording readings; "
                f"first: {self.internal_errors[0]!r}"
            )
        if self.thread_error is not None:
            out.append(
                f"the sampling thread stopped early ({self.thread_error}); the readings "
                "after it are the ones taken at boundaries and at stop"
            )
        return out

    @property
    def last_t(self) -> float | None:
        """Time of the latest reading of the latest round, since :attr:`origin` (None before
        start)."""
        return self._last_t

    @property
    def _next_t(self) -> float:
        return self._schedule_origin + self._tick * self.interval_s

    def start(self) -> None:
        """Take the first reading and start the schedule."""
        if self._started:
            raise TrackerStateError("this sampler was already started; make a new one")
        self._started = True
        _STARTED.add(self)
        self.origin = self._clock.now()
        self.sample()
        self._schedule_origin = self._clock.now()
        self._tick = 1
        if self._manual_clock is not None:
            self._tick_handle = self._manual_clock.call_at(self._next_t, self._manual_tick)
            self._advance_handle = self._manual_clock.on_advance(self._manual_after_advance)
        else:
            self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
            self._thread.start()

    def stop(self, *, last_reading: bool = True) -> bool:
        """Stop the schedule at once and take the last reading. Safe to call twice.

        Returns False when no last reading could be completed (a round in progress did
        not end within ``read_timeout_s``). Without ``last_reading``, only stops.
        """
        if not self._started or self._stopped:
            return True
        self._stopped = True
        self._stop.set()
        self._wake.release()
        try:
            if self._manual_clock is not None:
                self._manual_clock.cancel(self._tick_handle)
                self._manual_clock.cancel(self._advance_handle)
            elif self._thread is not None:
                # a round is bounded by read_timeout_s, so this join is too
                self._thread.join(self.read_timeout_s + 0.1)
            return self.sample(timeout_s=self.read_timeout_s) if last_reading else True
        finally:
            if self._owns_workers:
                self.shutdown_workers()

    def end_round(self) -> None:
        """Close the books without reading: deliver ``on_round`` at the latest reading's time
        (after an interrupted stop, so the sinks account the counts made since the last
        round)."""
        if not self._lock.acquire(timeout=self.read_timeout_s):
            return
        try:
            if self._last_t is not None:
                self._deliver("on_round", self._last_t)
        finally:
            self._lock.release()

    def _go_inert(self) -> None:
        """In a forked child: read nothing more (no thread, no lock waits, no clock ticks)."""
        self._stopped = True
        self._stop.set()
        self._lock = threading.Lock()  # the parent's sampling thread may have held it
        self._workers = self._jobs = ()
        self._threaded = ()

    def shutdown_workers(self) -> None:
        """End the meters' worker threads (a hung one ends when its call returns)."""
        for worker in self._workers:
            worker.shutdown()

    def sample(self, timeout_s: float | None = None) -> bool:
        """Read every meter now; readings go to the sinks.

        From a thread other than the sampler's, pass ``timeout_s``: when a round is in
        progress and does not end within it, give up and return False.
        """
        if not self._lock.acquire(timeout=-1 if timeout_s is None else timeout_s):
            self.abandoned += 1
            return False
        try:
            self.rounds += 1
            stamps = self._round()
            if stamps:
                if self.first_t is None:
                    self.first_t = min(stamps)
                self._last_t = max(stamps)
                self._deliver("on_round", self._last_t)
        finally:
            self._lock.release()
        return True

    def _read_job(self, meter: PowerMeter, width: int) -> Callable[[], Any]:
        """What a worker runs to read ``meter``: (before, after, values) on the clock."""
        now = self._clock.now

        def job() -> tuple[float, float, list[float]]:
            before = now()
            values = real_numbers(meter.read(), width)
            return before, now(), values

        return job

    def _round(self) -> list[float]:
        """Hand the threaded meters' reads out, read the inline ones meanwhile, wait for the
        threaded ones (bounded); deliver in meter order."""
        workers, jobs = self._workers, self._jobs
        asked = self._clock.now()
        begun: dict[int, bool] = {}
        deadline = 0.0
        if self._threaded:
            begun = {index: workers[index].begin(jobs[index]) for index in self._threaded}
            deadline = time.monotonic() + self.read_timeout_s
        stamps = []
        for index, worker in enumerate(workers):
            if index in begun:
                result = worker.wait(deadline - time.monotonic()) if begun[index] else None
            else:  # inline: read now, while the threaded meters read on their workers
                worker.begin(jobs[index])
                result = worker.wait(0.0)
            if result is None:
                stamps.append(self._hung(index, worker, asked))
                continue
            ok, value = result
            if ok:
                before, after, values = value
                when = self._since_origin(before + (after - before) * 0.5)
                self._deliver("on_reading", index, when, values)
            else:
                when = self._since_origin(self._clock.now())
                self._deliver("on_failure", index, when, describe_error(value))
            stamps.append(when)
        return stamps

    def _hung(self, index: int, worker: Worker, asked: float) -> float:
        """Record a read of meter ``index`` asked for at ``asked`` and given up (a failure
        for the sinks: the ledger warns of the first); return its time (when it was due)."""
        self.abandoned += 1
        self.hung_reads[index] += 1
        waited = time.monotonic() - worker.since
        when = self._since_origin(asked)
        self._deliver(
            "on_failure",
            index,
            when,
            f"MeterError: no reading: a call has been hanging for {waited:.1f} s",
        )
        return when

    def _since_origin(self, t: float) -> float:
        """Clock time ``t`` as sinks get it: seconds since the origin, to the microsecond
        (so a run log, which keeps that much, replays to the very same numbers)."""
        return round(t - self.origin, 6)

    def _deliver(self, event: str, *args: object) -> None:
        for handler in self._handlers[event]:
            try:
                handler(*args)
            except Exception as err:  # a bug in a sink: keep it, keep sampling
                self._internal_error(err)

    def _internal_error(self, err: Exception) -> None:
        self.internal_error_count += 1
        if not self.internal_errors:
            log.error("nlpfootprint: internal error while recording a reading", exc_info=err)
        if len(self.internal_errors) < 10:
            self.internal_errors.append(err)

    # -- real clock: the thread ------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as err:  # a bug; the user's run goes on, the report says so
            self.thread_error = describe_error(err)
            log.error("nlpfootprint: the sampling thread stopped", exc_info=err)

    def _loop(self) -> None:
        clock = self._clock
        wait = getattr(clock, "wait", None)
        plain = type(clock) is MonotonicClock
        while True:
            timeout = max(self._next_t - clock.now(), 0.0)
            if plain:
                stopped = self._wake.acquire(timeout=timeout)
            else:
                stopped = wait(self._stop, timeout) if callable(wait) else self._stop.wait(timeout)
            if stopped or self._stop.is_set():
                return
            self.sample()
            self._advance_schedule(clock.now())

    def _advance_schedule(self, now: float) -> None:
        """Move to the next tick, skipping the ticks a slow read overran."""
        self._tick += 1
        if self._next_t <= now:
            missed = math.floor((now - self._next_t) / self.interval_s) + 1
            self.skipped_ticks += missed
            self._tick += missed

    # -- manual clock: callbacks -----------------------------------------------------

    def _manual_tick(self) -> None:
        if self._stop.is_set():
            return
        self.sample()
        self._advance_schedule(self._clock.now())
        assert self._manual_clock is not None
        self._tick_handle = self._manual_clock.call_at(self._next_t, self._manual_tick)

    def _manual_after_advance(self) -> None:
        if not self._stop.is_set() and self._last_t != self._since_origin(self._clock.now()):
            self.sample()
