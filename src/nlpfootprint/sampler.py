"""The sampler: reads every meter on a schedule and hands the readings on. No maths here.

With a real clock, a daemon thread named ``nlpfootprint-sampler`` wakes on an absolute
schedule (start + k x interval, so it never drifts); when a read overruns, the ticks it
missed are skipped, not burst. It waits on an :class:`threading.Event`, so
:meth:`Sampler.stop` ends it at once. A reading is always taken at start and at stop, so a
block shorter than one interval still gets its energy.

With a manual clock (:class:`~nlpfootprint.testing.FakeClock`) no thread runs: the clock
calls the sampler at each scheduled tick it passes and at the end of every advance.

A meter that raises is reported through ``on_failure``; the other meters are still read.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence

from nlpfootprint.clock import Clock, ManualClock
from nlpfootprint.errors import MeterError, TrackerStateError
from nlpfootprint.meters.base import PowerMeter

__all__ = ["Sampler"]

log = logging.getLogger("nlpfootprint")

#: on_reading(meter_index, time_s, values)
ReadingCallback = Callable[[int, float, Sequence[float]], None]
#: on_failure(meter_index, time_s, error)
FailureCallback = Callable[[int, float, BaseException], None]

THREAD_NAME = "nlpfootprint-sampler"


class Sampler:
    """Reads ``meters`` every ``interval_s`` seconds of ``clock`` between start and stop.

    Args:
        meters: The meters to read, in a fixed order (callbacks get their index).
        clock: Where time comes from; a :class:`~nlpfootprint.clock.ManualClock` means
            no thread.
        interval_s: Seconds between scheduled readings.
        on_reading: Called with each successful reading.
        on_failure: Called when a meter raises, or returns the wrong number of values.
        join_timeout_s: How long :meth:`stop` waits for the thread (a hung meter read).
    """

    def __init__(
        self,
        meters: Sequence[PowerMeter],
        *,
        clock: Clock,
        interval_s: float,
        on_reading: ReadingCallback,
        on_failure: FailureCallback,
        join_timeout_s: float = 10.0,
    ) -> None:
        self._meters = tuple(meters)
        self._widths = tuple(len(m.channels) for m in self._meters)
        self._clock = clock
        self._manual_clock = clock if isinstance(clock, ManualClock) else None
        self.interval_s = interval_s
        self._on_reading = on_reading
        self._on_failure = on_failure
        self._join_timeout_s = join_timeout_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_handle: object = None
        self._advance_handle: object = None
        self._started = False
        self._stopped = False
        self._last_t: float | None = None
        #: Time of the earliest reading of the first round (None before start).
        self.first_t: float | None = None
        self._next_t = 0.0
        #: Scheduled ticks skipped because a read overran (real clock only).
        self.skipped_ticks = 0
        #: Number of sampling rounds taken (each reads every meter once).
        self.rounds = 0
        #: Errors raised by the callbacks themselves (bugs), kept rather than lost.
        self.internal_errors: list[BaseException] = []

    @property
    def last_t(self) -> float | None:
        """Time of the latest reading of the latest round (None before start)."""
        return self._last_t

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._started and not self._stopped

    @property
    def manual(self) -> bool:
        """True when driven by a manual clock (no thread)."""
        return self._manual_clock is not None

    def start(self) -> None:
        """Take the first reading and start the schedule."""
        if self._started:
            raise TrackerStateError("this sampler was already started; make a new one")
        self._started = True
        self.sample()
        self._next_t = self._clock.now() + self.interval_s
        if self._manual_clock is not None:
            self._tick_handle = self._manual_clock.call_at(self._next_t, self._manual_tick)
            self._advance_handle = self._manual_clock.on_advance(self._manual_after_advance)
        else:
            self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the schedule at once and take the last reading. Safe to call twice."""
        if not self._started or self._stopped:
            return
        self._stop.set()
        if self._manual_clock is not None:
            self._manual_clock.cancel(self._tick_handle)
            self._manual_clock.cancel(self._advance_handle)
        elif self._thread is not None:
            self._thread.join(self._join_timeout_s)
            if self._thread.is_alive():
                log.warning(
                    "nlpfootprint: the sampler thread did not stop within %.0f s (a meter read "
                    "is hanging); leaving it behind as a daemon thread",
                    self._join_timeout_s,
                )
        self.sample()
        self._stopped = True

    def sample(self) -> None:
        """Read every meter now (from any thread); readings go to the callbacks."""
        with self._lock:
            self.rounds += 1
            stamps: list[float] = []
            for index, meter in enumerate(self._meters):
                before = self._clock.now()
                try:
                    values = meter.read()
                except Exception as err:  # a failing meter must not stop the others
                    stamps.append(self._clock.now())
                    self._deliver_failure(index, stamps[-1], err)
                    continue
                after = self._clock.now()
                when = before + (after - before) * 0.5
                stamps.append(when)
                if len(values) != self._widths[index]:
                    self._deliver_failure(
                        index,
                        when,
                        MeterError(
                            f"{meter!r} returned {len(values)} values for "
                            f"{self._widths[index]} channels"
                        ),
                    )
                    continue
                try:
                    self._on_reading(index, when, values)
                except Exception as err:  # pragma: no cover - a bug in the consumer
                    self._keep_internal_error(err)
            if stamps:
                if self.first_t is None:
                    self.first_t = min(stamps)
                self._last_t = max(stamps)

    def _deliver_failure(self, index: int, when: float, err: BaseException) -> None:
        try:
            self._on_failure(index, when, err)
        except Exception as inner:  # pragma: no cover - a bug in the consumer
            self._keep_internal_error(inner)

    def _keep_internal_error(self, err: BaseException) -> None:
        if not self.internal_errors:
            log.error("nlpfootprint: internal error while recording a reading", exc_info=err)
        self.internal_errors.append(err)
        del self.internal_errors[100:]

    # -- real clock: the thread ------------------------------------------------------

    def _run(self) -> None:
        clock = self._clock
        while True:
            timeout = self._next_t - clock.now()
            if self._stop.wait(timeout if timeout > 0 else 0.0):
                return
            try:
                self.sample()
            except Exception as err:  # pragma: no cover - keep sampling whatever happens
                self._keep_internal_error(err)
            self._advance_schedule(clock.now())

    def _advance_schedule(self, now: float) -> None:
        """Move the next tick forward by one interval, skipping ticks a slow read missed."""
        self._next_t += self.interval_s
        if self._next_t <= now:
            missed = math.floor((now - self._next_t) / self.interval_s) + 1
            self.skipped_ticks += missed
            self._next_t += missed * self.interval_s

    # -- manual clock: callbacks -----------------------------------------------------

    def _manual_tick(self) -> None:
        if self._stop.is_set():
            return
        self.sample()
        self._advance_schedule(self._clock.now())
        assert self._manual_clock is not None
        self._tick_handle = self._manual_clock.call_at(self._next_t, self._manual_tick)

    def _manual_after_advance(self) -> None:
        if not self._stop.is_set() and self._last_t != self._clock.now():
            self.sample()
