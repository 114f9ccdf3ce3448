"""Fakes for testing code that uses nlpfootprint, without hardware and without waiting.

:class:`FakeClock` is a manual monotonic clock. Given to a tracker (``clock=``), it makes the
tracker start no thread: readings are taken at start, at stop, at every sampling tick the
clock passes while it is advanced, at the end of every :meth:`FakeClock.advance`, and on
:meth:`~nlpfootprint.EnergyTracker.sample`. Results are then exact and tests never sleep.

:class:`FakeMeter` builds meters with known readings: constant power, power as a function
of time, a replayed trace, an energy counter (optionally wrapping) and a meter that fails.
Fakes whose readings depend on time take ``clock=``: pass the same :class:`FakeClock` you
give the tracker.

>>> import nlpfootprint as nf
>>> clock = FakeClock()
>>> with nf.track_energy(meters=[FakeMeter.constant(250.0, domain="gpu")], clock=clock) as t:
...     clock.advance(3600)
>>> round(t.report.energy_kwh, 9)  # the clock starts at a random offset: round
0.25

The module is also a pytest plugin (registered as ``nlpfootprint``, active once the package
is installed) with three fixtures: ``fake_clock``, ``fake_meter`` (a 100 W GPU on that
clock) and ``energy_tracker`` (a tracker started on both, stopped after the test).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np

from nlpfootprint._fakes import Elapsed, fake_channels, per_channel
from nlpfootprint.checks import finite_number, nonnegative, positive, whole_number
from nlpfootprint.clock import Clock
from nlpfootprint.errors import ConfigurationError, MeterError
from nlpfootprint.meters.base import Channel, Domain

if TYPE_CHECKING:
    from nlpfootprint.tracker import EnergyTracker

__all__ = ["FakeClock", "FakeMeter", "sampler_threads"]


class FakeClock:
    """A monotonic clock that moves only when :meth:`advance` is called.

    It starts at a random offset (unless ``start`` is given), so code that assumes time
    starts at zero fails in tests rather than in production.

    Args:
        start: The initial reading, in seconds. Default: random in [1e4, 1e7).
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = random.uniform(1e4, 1e7) if start is None else finite_number("start", start)
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._listeners: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()
        self._lock = threading.RLock()
        self._advancing = False

    def now(self) -> float:
        """Return the current fake time in seconds."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running every callback that falls due on the way.

        Callbacks registered with :meth:`call_at` run with the clock set to their due time,
        in order; then the clock is set to the target and :meth:`on_advance` listeners run.
        """
        seconds = nonnegative("seconds", seconds)
        with self._lock:
            if self._advancing:
                raise RuntimeError(
                    "FakeClock.advance() was called from inside a callback of advance() (a "
                    "meter's read, say); move time from the test's own code instead"
                )
            self._advancing = True
            try:
                target = self._now + seconds
                while self._timers and self._timers[0][0] <= target:
                    when, handle, callback = heapq.heappop(self._timers)
                    if handle in self._cancelled:
                        self._cancelled.discard(handle)
                        continue
                    self._now = max(self._now, when)
                    callback()
                self._now = max(self._now, target)
                for listener in list(self._listeners.values()):
                    listener()
            finally:
                self._advancing = False

    def call_at(self, when: float, callback: Callable[[], None]) -> object:
        """Run ``callback`` once the clock reaches ``when``; return a handle for :meth:`cancel`."""
        handle = next(self._ids)
        heapq.heappush(self._timers, (when, handle, callback))
        return handle

    def on_advance(self, callback: Callable[[], None]) -> object:
        """Run ``callback`` at the end of every :meth:`advance`; return a handle."""
        handle = next(self._ids)
        self._listeners[handle] = callback
        return handle

    def cancel(self, handle: object) -> None:
        """Forget a callback from :meth:`call_at` or :meth:`on_advance`."""
        if not isinstance(handle, int):
            return
        if self._listeners.pop(handle, None) is None and any(
            entry[1] == handle for entry in self._timers
        ):
            self._cancelled.add(handle)

    @property
    def pending(self) -> int:
        """Number of callbacks still waiting (timers and listeners); 0 after a clean stop."""
        return len(self._timers) - len(self._cancelled) + len(self._listeners)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r})"


class FakeMeter:
    """A meter with readings you choose. Build one with the class methods.

    Any object with ``channels``, ``read()`` and ``close()`` is a meter; this one also counts
    its reads (:attr:`reads`) and remembers whether it was closed (:attr:`closed`).

    Every builder takes ``max_power_w=``: the most the faked device draws, in watts (one
    number, or one per channel), as a real backend states it. The tracker refuses readings
    beyond :attr:`Channel.power_bound_w <nlpfootprint.meters.base.Channel.power_bound_w>`
    (twice that; without it, a generous default for the domain).

    Args:
        channels: The channels it reports.
        read: Called on each read; returns one value per channel.
        name: Shown in ``repr`` and in failure messages.
    """

    def __init__(
        self,
        channels: Sequence[Channel],
        read: Callable[[], Sequence[float]],
        *,
        name: str = "FakeMeter",
    ) -> None:
        if not channels:
            raise ConfigurationError("a meter needs at least one channel")
        self._channels = tuple(channels)
        self._read = read
        self.name = name
        self.reads = 0
        self.closed = False

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The channels, in the order :meth:`read` returns their values."""
        return self._channels

    def read(self) -> list[float]:
        """Return one value per channel."""
        if self.closed:
            raise MeterError(f"{self.name} was read after close()")
        self.reads += 1
        return list(self._read())

    def close(self) -> None:
        """Mark the meter closed; later reads raise :class:`~nlpfootprint.errors.MeterError`."""
        self.closed = True

    def __repr__(self) -> str:
        ids = ", ".join(c.id for c in self._channels)
        return f"<{self.name} [{ids}] reads={self.reads}>"

    @classmethod
    def constant(
        cls,
        watts: float | Sequence[float],
        *,
        domain: Domain | str | Sequence[Domain | str] = "gpu",
        ids: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        estimated: bool = False,
        max_power_w: float | Sequence[float] | None = None,
    ) -> FakeMeter:
        """A power meter that always reads ``watts`` (one channel per value given).

        >>> FakeMeter.constant([250.0, 300.0], domain="gpu").read()
        [250.0, 300.0]
        """
        values = per_channel("watts", watts)
        channels = fake_channels(
            len(values), domain=domain, kind="power", ids=ids, labels=labels, estimated=estimated
        )
        return cls(_bounded(channels, max_power_w), lambda: values, name="FakeMeter.constant")

    @classmethod
    def trace(
        cls,
        fn: Callable[[float], float | Sequence[float]],
        *,
        channels: int = 1,
        domain: Domain | str | Sequence[Domain | str] = "gpu",
        clock: Clock | None = None,
        ids: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        max_power_w: float | Sequence[float] | None = None,
    ) -> FakeMeter:
        """A power meter reading ``fn(t)`` watts, ``t`` = seconds since its first read.

        ``fn`` returns a number (one channel) or a sequence of ``channels`` numbers.
        """
        elapsed = Elapsed(clock)

        def read() -> list[float]:
            value = fn(elapsed())
            out = [float(value)] if isinstance(value, int | float) else [float(v) for v in value]
            if len(out) != channels:
                raise MeterError(f"trace function returned {len(out)} values for {channels}")
            return out

        chans = fake_channels(
            channels, domain=domain, kind="power", ids=ids, labels=labels, estimated=False
        )
        return cls(_bounded(chans, max_power_w), read, name="FakeMeter.trace")

    @classmethod
    def replay(
        cls,
        times: Sequence[float],
        values: Sequence[float] | Sequence[Sequence[float]],
        *,
        domain: Domain | str | Sequence[Domain | str] = "gpu",
        clock: Clock | None = None,
        ids: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        max_power_w: float | Sequence[float] | None = None,
    ) -> FakeMeter:
        """A power meter replaying a recorded trace, linearly interpolated.

        ``times`` are seconds since the meter's first read (increasing); ``values`` are
        watts, one per time (one channel) or one row of per-channel watts per time. Before
        the first time and after the last, the end values hold.
        """
        t = np.asarray(times, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None]
        if t.ndim != 1 or t.size == 0 or v.ndim != 2 or v.shape[0] != t.size:
            raise ConfigurationError(
                f"replay needs one value (or one row of values) per time: got {t.size} "
                f"times and values of shape {np.shape(values)}"
            )
        if np.any(np.diff(t) <= 0) or not np.all(np.isfinite(t)):
            raise ConfigurationError("replay times must be finite and strictly increasing")
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ConfigurationError("replay values must be finite watts >= 0")
        elapsed = Elapsed(clock)
        columns = [v[:, j].copy() for j in range(v.shape[1])]

        def read() -> list[float]:
            now = elapsed()
            return [float(np.interp(now, t, column)) for column in columns]

        chans = fake_channels(
            v.shape[1], domain=domain, kind="power", ids=ids, labels=labels, estimated=False
        )
        return cls(_bounded(chans, max_power_w), read, name="FakeMeter.replay")

    @classmethod
    def counter(
        cls,
        watts: float | Sequence[float],
        *,
        max_energy_j: float | None = None,
        start_j: float = 0.0,
        domain: Domain | str | Sequence[Domain | str] = "gpu",
        clock: Clock | None = None,
        ids: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        max_power_w: float | Sequence[float] | None = None,
    ) -> FakeMeter:
        """An energy counter (joules) that grows at ``watts`` from ``start_j``.

        With ``max_energy_j`` it wraps back to 0 there, like RAPL's ``energy_uj``.

        >>> clock = FakeClock(start=0.0)
        >>> meter = FakeMeter.counter(100.0, max_energy_j=250.0, clock=clock)
        >>> meter.read(); clock.advance(3); meter.read()
        [0.0]
        [50.0]
        """
        rates = per_channel("watts", watts)
        start = nonnegative("start_j", start_j)
        if max_energy_j is not None:
            max_energy_j = positive("max_energy_j", max_energy_j)
            if start >= max_energy_j:
                raise ConfigurationError(
                    f"start_j={start_j!r} must be below max_energy_j={max_energy_j!r}"
                )
        elapsed = Elapsed(clock)

        def read() -> list[float]:
            seconds = elapsed()
            totals = [start + rate * seconds for rate in rates]
            if max_energy_j is None:
                return totals
            return [math.fmod(total, max_energy_j) for total in totals]

        chans = fake_channels(
            len(rates),
            domain=domain,
            kind="energy",
            ids=ids,
            labels=labels,
            estimated=False,
            max_energy_j=max_energy_j,
        )
        return cls(_bounded(chans, max_power_w), read, name="FakeMeter.counter")

    @classmethod
    def failing(
        cls,
        after: int,
        *,
        watts: float | Sequence[float] = 100.0,
        domain: Domain | str | Sequence[Domain | str] = "gpu",
        ids: Sequence[str] | None = None,
        error: Callable[[], BaseException] | None = None,
        max_power_w: float | Sequence[float] | None = None,
    ) -> FakeMeter:
        """A constant power meter whose first ``after`` reads succeed and every later one raises.

        ``error`` builds the exception to raise (default: a
        :class:`~nlpfootprint.errors.MeterError` saying the fake failed).
        """
        whole_number("after", after, what="a whole number of reads")
        values = per_channel("watts", watts)
        chans = fake_channels(
            len(values), domain=domain, kind="power", ids=ids, labels=None, estimated=False
        )
        calls = itertools.count(1)

        def read() -> list[float]:
            n = next(calls)
            if n > after:
                raise (
                    error()
                    if error is not None
                    else MeterError(
                        f"fake meter failure on read {n} (set to fail after {after} reads)"
                    )
                )
            return values

        return cls(_bounded(chans, max_power_w), read, name="FakeMeter.failing")


def _bounded(
    channels: tuple[Channel, ...], max_power_w: float | Sequence[float] | None
) -> tuple[Channel, ...]:
    """``channels`` stating ``max_power_w`` (one for all, or one per channel; None: none)."""
    if max_power_w is None:
        return channels
    limits = per_channel("max_power_w", max_power_w)
    if len(limits) == 1:
        limits *= len(channels)
    if len(limits) != len(channels):
        raise ConfigurationError(
            f"got {len(limits)} max_power_w values for {len(channels)} channels"
        )
    return tuple(attrs.evolve(c, max_power_w=w) for c, w in zip(channels, limits, strict=True))


def sampler_threads() -> list[threading.Thread]:
    """Live threads started by nlpfootprint (their names begin with ``nlpfootprint``)."""
    return [t for t in threading.enumerate() if t.name.startswith("nlpfootprint")]


try:  # the pytest plugin part: only when pytest is importable
    import pytest
except ImportError:  # pragma: no cover - pytest is optional at runtime
    pass
else:

    @pytest.fixture
    def fake_clock() -> FakeClock:
        """A :class:`FakeClock` for one test."""
        return FakeClock()

    @pytest.fixture
    def fake_meter(fake_clock: FakeClock) -> FakeMeter:
        """A 100 W GPU (channel ``gpu:0``): an energy counter on ``fake_clock``."""
        return FakeMeter.counter(100.0, domain="gpu", clock=fake_clock)

    @pytest.fixture
    def energy_tracker(fake_clock: FakeClock, fake_meter: FakeMeter) -> Iterator[EnergyTracker]:
        """A started tracker on ``fake_meter`` and ``fake_clock``, stopped after the test.

        It is :func:`nlpfootprint.current_tracker` during the test, so code under test that
        counts steps counts them on it; ``energy_tracker.stop()`` gives the report early.
        """
        from nlpfootprint.tracker import EnergyTracker

        tracker = EnergyTracker(meters=[fake_meter], clock=fake_clock).start()
        yield tracker
        tracker.stop()  # idempotent: a test that stopped it gets the same report
