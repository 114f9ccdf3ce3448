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
that raises, returns something that is not one number per channel, or hangs is reported
through ``on_failure``; the other meters are still read. A sink that raises is a bug: it is
counted and logged, and the other sinks still get the reading. A read that hangs in the
thread does not hang the caller: readings from other threads give up after
``read_timeout_s`` and :meth:`Sampler.stop` leaves the stuck thread behind.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from typing import Protocol

from nlpfootprint.clock import Clock, ManualClock
from nlpfootprint.errors import MeterError, TrackerStateError
from nlpfootprint.meters.base import PowerMeter

__all__ = ["THREAD_NAME", "Sampler", "Sink", "describe_error"]

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


def describe_error(err: BaseException) -> str:
    """``Type: message``, at most :data:`MAX_ERROR_CHARS` long: what sinks are told."""
    return f"{type(err).__name__}: {err}"[:MAX_ERROR_CHARS]


class Sampler:
    """Reads ``meters`` every ``interval_s`` seconds of ``clock`` between start and stop.

    Args:
        meters: The meters to read, in a fixed order (sinks get their index).
        clock: Where time comes from; a :class:`~nlpfootprint.clock.ManualClock` means
            no thread.
        interval_s: Seconds between scheduled readings.
        sinks: Where each reading, failure and end of round goes, in this order.
        read_timeout_s: How long a reading from another thread, and :meth:`stop`, wait for
            a reading in progress (a hung meter) before giving up.
    """

    def __init__(
        self,
        meters: Sequence[PowerMeter],
        *,
        clock: Clock,
        interval_s: float,
        sinks: Sequence[Sink],
        read_timeout_s: float = 10.0,
    ) -> None:
        self._meters = tuple(meters)
        # each event's handlers, bound once: this is the hot path of a long run
        self._handlers = {
            event: tuple(getattr(sink, event) for sink in sinks)
            for event in ("on_reading", "on_failure", "on_round")
        }
        self._widths = tuple(len(m.channels) for m in self._meters)
        self._clock = clock
        self._manual_clock = clock if isinstance(clock, ManualClock) else None
        self.interval_s = interval_s
        self.read_timeout_s = read_timeout_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
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
        #: Readings given up because a read in progress did not finish in time.
        self.abandoned = 0
        #: How many errors the callbacks themselves raised (bugs); the first few are kept.
        self.internal_error_count = 0
        self.internal_errors: list[BaseException] = []

    def warnings(self) -> list[str]:
        """What went wrong in the sampler itself: skipped ticks, errors in sinks."""
        out = []
        if self.skipped_ticks:
            out.append(
                f"the sampler skipped {self.skipped_ticks} tick(s) because reading the "
                f"meters took longer than interval_s={self.interval_s:g}"
            )
        if self.internal_errors:
            out.append(
                f"{self.internal_error_count} internal error(s) while recording readings; "
                f"first: {self.internal_errors[0]!r}"
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

    def stop(self) -> bool:
        """Stop the schedule at once and take the last reading. Safe to call twice.

        Returns False when the thread was stuck in a meter read and was left behind (no
        last reading was taken then).
        """
        if not self._started or self._stopped:
            return True
        self._stopped = True
        self._stop.set()
        if self._manual_clock is not None:
            self._manual_clock.cancel(self._tick_handle)
            self._manual_clock.cancel(self._advance_handle)
        elif self._thread is not None:
            self._thread.join(self.read_timeout_s)
            if self._thread.is_alive():
                log.warning(
                    "nlpfootprint: a meter read has been hanging for over %g s; leaving the "
                    "sampler thread behind (a daemon) without a last reading",
                    self.read_timeout_s,
                )
                return False
        return self.sample(timeout_s=self.read_timeout_s)

    def sample(self, timeout_s: float | None = None) -> bool:
        """Read every meter now; readings go to the callbacks.

        From a thread other than the sampler's, pass ``timeout_s``: if a reading is in
        progress and does not end within it (a hung meter), give up and return False.
        """
        if not self._lock.acquire(timeout=-1 if timeout_s is None else timeout_s):
            self.abandoned += 1
            return False
        try:
            self.rounds += 1
            stamps = [self._read_one(index, meter) for index, meter in enumerate(self._meters)]
            if stamps:
                if self.first_t is None:
                    self.first_t = min(stamps)
                self._last_t = max(stamps)
                self._deliver("on_round", self._last_t)
        finally:
            self._lock.release()
        return True

    def _read_one(self, index: int, meter: PowerMeter) -> float:
        """Read one meter and deliver the result; return the reading's time."""
        before = self._clock.now()
        try:
            values = [float(v) for v in meter.read()]
        except KeyboardInterrupt:
            raise  # Ctrl-C belongs to the user, even when it lands during a read
        except BaseException as err:  # a failing meter (even one calling exit()) stops nothing
            when = self._since_origin(self._clock.now())
            self._deliver("on_failure", index, when, describe_error(err))
            return when
        after = self._clock.now()
        when = self._since_origin(before + (after - before) * 0.5)
        if len(values) != self._widths[index]:
            problem = MeterError(
                f"{meter!r} returned {len(values)} values for {self._widths[index]} channels"
            )
            self._deliver("on_failure", index, when, describe_error(problem))
        else:
            self._deliver("on_reading", index, when, values)
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
                self.internal_error_count += 1
                if not self.internal_errors:
                    log.error(
                        "nlpfootprint: internal error while recording a reading", exc_info=err
                    )
                if len(self.internal_errors) < 10:
                    self.internal_errors.append(err)

    # -- real clock: the thread ------------------------------------------------------

    def _run(self) -> None:
        clock = self._clock
        wait = getattr(clock, "wait", None)
        while True:
            timeout = max(self._next_t - clock.now(), 0.0)
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
