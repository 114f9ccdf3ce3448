"""Clocks: where the tracker and sampler get time from.

The tracker measures durations on a monotonic clock. Production code uses
:class:`MonotonicClock`; tests inject :class:`nlpfootprint.testing.FakeClock`, a *manual*
clock that only moves when told to and tells its listeners when it does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "MonotonicClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with a monotonic ``now()`` in seconds (the origin is arbitrary).

    A clock may also have ``wait(event, timeout_s) -> bool``: wait until ``event`` is set
    or ``timeout_s`` seconds *of this clock* have passed, returning whether it was set.
    The sampler thread waits through it when present (else with ``event.wait``), so a
    simulated clock can run the real thread in simulated time.
    """

    def now(self) -> float:
        """Return the current monotonic time in seconds."""
        ...


@runtime_checkable
class ManualClock(Clock, Protocol):
    """A clock that moves only when told to, and calls back at requested times.

    When the tracker is given a manual clock it starts no thread: the sampler asks the
    clock to call it at each scheduled tick (``call_at``) and the clock does so while it
    is advanced. :class:`nlpfootprint.testing.FakeClock` is the implementation users get.
    """

    def call_at(self, when: float, callback: Callable[[], None]) -> object:
        """Run ``callback`` when the clock passes ``when``; returns a handle for ``cancel``."""
        ...

    def cancel(self, handle: object) -> None:
        """Forget a callback registered with ``call_at`` (no error if it already ran)."""
        ...

    def on_advance(self, callback: Callable[[], None]) -> object:
        """Run ``callback`` at the end of every ``advance``; returns a handle for ``cancel``."""
        ...


class MonotonicClock:
    """The real clock: :func:`time.monotonic`."""

    __slots__ = ()

    def now(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        """Wait for ``event`` at most ``timeout_s`` seconds; True if it was set."""
        return event.wait(timeout_s)

    def __repr__(self) -> str:
        return "MonotonicClock()"
