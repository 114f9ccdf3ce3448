"""Clocks: where the tracker and sampler get time from.

The tracker measures durations on a monotonic clock. Production code uses
:class:`MonotonicClock`; tests inject :class:`nlpfootprint.testing.FakeClock`, a *manual*
clock that only moves when told to and tells its listeners when it does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "MonotonicClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with a monotonic ``now()`` in seconds (the origin is arbitrary)."""

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

    def __repr__(self) -> str:
        return "MonotonicClock()"
