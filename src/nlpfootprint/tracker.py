"""The tracker: measure the energy of a block of code, a function, or a whole run.

:func:`track_energy` is the entry point; it works three ways::

    with track_energy() as tracker:        # a block
        ...
    report = tracker.report

    @track_energy                          # a function, default settings
    def train(): ...

    @track_energy(carbon_intensity=300)    # a function, chosen settings
    def train(): ...
    train(); train.last_report

The tracker owns the run's state: a few numbers per channel (O(1) whatever the run's
length) and a bounded power trace for plots. Readings arrive from the
:class:`~nlpfootprint.sampler.Sampler`; the maths is :mod:`nlpfootprint.accounting`.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import inspect
import logging
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Literal, ParamSpec, Protocol, Self, TypeVar, overload

import attrs

from nlpfootprint._validate import positive
from nlpfootprint.accounting import CounterIntegrator, PowerIntegrator
from nlpfootprint.clock import Clock, MonotonicClock
from nlpfootprint.errors import ConfigurationError, TrackerStateError
from nlpfootprint.intensity import Intensity
from nlpfootprint.meters.base import Channel, PowerMeter
from nlpfootprint.report import Assumptions, ChannelReport, Report
from nlpfootprint.sampler import Sampler
from nlpfootprint.trace import BoundedTrace

__all__ = ["EnergyTracker", "TrackedFunction", "WindowHandle", "current_tracker", "track_energy"]

log = logging.getLogger("nlpfootprint")

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

_CURRENT: contextvars.ContextVar[EnergyTracker | None] = contextvars.ContextVar(
    "nlpfootprint_current_tracker", default=None
)


def current_tracker() -> EnergyTracker | None:
    """The innermost running tracker in this context, or None.

    Handy inside a function decorated with ``@track_energy`` to count steps:
    ``nf.current_tracker().step()``.
    """
    return _CURRENT.get()


class _ChannelState:
    """Running totals of one channel. All updates happen under the tracker's lock."""

    __slots__ = ("channel", "failures", "gap_from", "gap_s", "integrator", "readings")

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.integrator: PowerIntegrator | CounterIntegrator = (
            CounterIntegrator(channel.max_energy_j)
            if channel.kind == "energy"
            else PowerIntegrator()
        )
        self.readings = 0
        self.failures = 0
        self.gap_s = 0.0
        self.gap_from: float | None = None

    def totals(self) -> tuple[float, int, int, float]:
        return (self.integrator.energy_j, self.readings, self.failures, self.gap_s)


@attrs.define
class _OpenWindow:
    name: str
    start_t: float
    start_totals: list[tuple[float, int, int, float]]
    start_steps: int
    start_tokens: int
    children: dict[str, Report] = attrs.field(factory=dict)
    handle: WindowHandle | None = None


class WindowHandle:
    """What ``with tracker.window(name) as w`` gives: ``w.report`` once the block ends."""

    __slots__ = ("_report", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._report: Report | None = None

    @property
    def report(self) -> Report:
        """This entry of the window (not summed with other entries of the same name)."""
        if self._report is None:
            raise TrackerStateError(f"window {self.name!r} is still open; read it after the block")
        return self._report


def _merge(a: Report, b: Report) -> Report:
    """Two entries of the same window, summed."""
    by_id = {c.id: c for c in a.channels}
    channels = []
    for c in b.channels:
        old = by_id.get(c.id)
        channels.append(
            c
            if old is None
            else attrs.evolve(
                c,
                energy_j=old.energy_j + c.energy_j,
                readings=old.readings + c.readings,
                failures=old.failures + c.failures,
                gap_s=old.gap_s + c.gap_s,
            )
        )
    children = {w.name: w for w in a.windows}
    for w in b.windows:
        key = w.name or ""
        children[key] = _merge(children[key], w) if key in children else w
    return attrs.evolve(
        a,
        duration_s=a.duration_s + b.duration_s,
        channels=tuple(channels),
        steps=a.steps + b.steps,
        tokens=a.tokens + b.tokens,
        count=a.count + b.count,
        windows=tuple(children.values()),
    )


def _check_meter(meter: object) -> PowerMeter:
    missing = [name for name in ("channels", "read", "close") if not hasattr(meter, name)]
    if missing:
        raise ConfigurationError(
            f"{meter!r} is not a meter: it lacks {', '.join(missing)} (a meter needs "
            "channels, read() and close(); see nlpfootprint.meters.base)"
        )
    channels = meter.channels  # type: ignore[attr-defined]
    if not channels or not all(isinstance(c, Channel) for c in channels):
        raise ConfigurationError(f"{meter!r}.channels must be a non-empty sequence of Channel")
    return meter  # type: ignore[return-value]


class EnergyTracker:
    """Measures energy between :meth:`start` and :meth:`stop` and makes a :class:`Report`.

    Usually made by :func:`track_energy`. A tracker runs once; as a decorator it makes a
    fresh tracker with the same settings for every call.

    Args:
        meters: ``"auto"`` (detect the best meters here; estimated ones only where
            nothing can be measured) or a list of meters. Meters you pass are not closed.
        interval_s: Seconds between readings (counters are exact however far apart;
            sampled power needs short intervals to follow the load).
        pue: Power usage effectiveness of the data centre (default 1.58, the paper's).
        carbon_intensity: Grid intensity in g CO2e/kWh, an
            :class:`~nlpfootprint.Intensity`, or a preset key (``"world"``,
            ``"strubell2019"``). Default: the world average, said in the report.
        price_per_kwh: Electricity price per kWh; without it the report has no cost.
        clock: Time source; pass a :class:`~nlpfootprint.testing.FakeClock` in tests (no
            thread is started then).
        name: A name for the report (a decorated function's name by default).
        trace_points: How many points the power trace keeps at most.

    Example:
        >>> import nlpfootprint as nf
        >>> from nlpfootprint.testing import FakeClock, FakeMeter
        >>> clock = FakeClock()
        >>> gpu = FakeMeter.constant(300.0, domain="gpu")
        >>> with nf.track_energy(meters=[gpu], clock=clock, pue=1.5) as tracker:
        ...     for _ in range(10):
        ...         clock.advance(60)          # one "step" takes a minute
        ...         tracker.step(tokens=2048)
        >>> report = tracker.report
        >>> report.energy_kwh                  # 300 W for 10 minutes
        0.05
        >>> round(report.facility_energy_kwh, 6), report.j_per_step
        (0.075, 18000.0)
    """

    def __init__(
        self,
        meters: Literal["auto"] | Sequence[PowerMeter] = "auto",
        *,
        interval_s: float = 1.0,
        pue: float = 1.58,
        carbon_intensity: Intensity | float | str | None = None,
        price_per_kwh: float | None = None,
        clock: Clock | None = None,
        name: str | None = None,
        trace_points: int = 2048,
    ) -> None:
        if isinstance(meters, str):
            if meters != "auto":
                raise ConfigurationError(f"meters={meters!r}: expected 'auto' or a list of meters")
        elif not isinstance(meters, Sequence):
            raise ConfigurationError(
                f"meters={meters!r}: expected 'auto' or a list of meters (wrap one meter in a list)"
            )
        if clock is not None and not callable(getattr(clock, "now", None)):
            raise ConfigurationError(f"clock={clock!r}: a clock needs a now() method")
        if isinstance(trace_points, bool) or not isinstance(trace_points, int) or trace_points < 2:
            raise ConfigurationError(f"trace_points={trace_points!r}: expected an integer >= 2")
        self._settings: dict[str, Any] = {
            "meters": meters,
            "interval_s": positive("interval_s", interval_s),
            "pue": pue,
            "carbon_intensity": carbon_intensity,
            "price_per_kwh": price_per_kwh,
            "clock": clock,
            "name": name,
            "trace_points": trace_points,
        }
        self._assumptions = Assumptions.build(
            pue=pue,
            carbon_intensity=carbon_intensity,
            price_per_kwh=price_per_kwh,
            meters="auto" if meters == "auto" else "given",
        )
        self.interval_s: float = self._settings["interval_s"]
        self.name = name
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._lock = threading.Lock()
        self._meters: tuple[PowerMeter, ...] = ()
        self._owned_meters = False
        self._states: list[list[_ChannelState]] = []
        self._failed_meters: dict[int, int] = {}
        self._warnings: list[str] = []
        self._steps = 0
        self._tokens = 0
        self._windows: dict[str, Report] = {}
        self._stack: list[_OpenWindow] = []
        self._sampler: Sampler | None = None
        self._trace: BoundedTrace | None = None
        self._t0 = 0.0
        self._t_end: float | None = None
        self._started_at: str | None = None
        self._report: Report | None = None
        self._context_token: contextvars.Token[EnergyTracker | None] | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._sampler is not None and self._report is None

    def start(self) -> Self:
        """Resolve the meters, take the first reading and start sampling."""
        if self._sampler is not None:
            raise TrackerStateError(
                "this tracker was already started; a tracker runs once (make a new one with "
                "track_energy(...))"
            )
        self._meters = self._resolve_meters()
        seen: dict[str, PowerMeter] = {}
        for meter in self._meters:
            for channel in meter.channels:
                if channel.id in seen:
                    raise ConfigurationError(
                        f"two channels are both called {channel.id!r} (from {seen[channel.id]!r} "
                        f"and {meter!r}); give the meters distinct channel ids"
                    )
                seen[channel.id] = meter
        self._states = [[_ChannelState(c) for c in m.channels] for m in self._meters]
        self._started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._t0 = self._clock.now()
        self._trace = BoundedTrace(
            origin=self._t0, bin_s=self.interval_s, capacity=self._settings["trace_points"] // 2 * 2
        )
        self._sampler = Sampler(
            self._meters,
            clock=self._clock,
            interval_s=self.interval_s,
            on_reading=self._on_reading,
            on_failure=self._on_failure,
        )
        self._context_token = _CURRENT.set(self)
        self._sampler.start()
        # The measured span runs from the first reading round to the last one.
        self._t0 = self._sampler.first_t if self._sampler.first_t is not None else self._t0
        return self

    def _resolve_meters(self) -> tuple[PowerMeter, ...]:
        spec = self._settings["meters"]
        if spec == "auto":
            from nlpfootprint.meters.discovery import detect

            detection = detect()
            self._owned_meters = True
            self._assumptions = attrs.evolve(self._assumptions, meters=detection.summary())
            if not detection.meters:
                raise ConfigurationError(
                    "meters='auto' found no meter at all on this machine: " + detection.summary()
                )
            return detection.meters
        if not spec:
            raise ConfigurationError("meters=[]: give at least one meter, or meters='auto'")
        return tuple(_check_meter(m) for m in spec)

    def stop(self) -> Report:
        """Stop sampling, take the last reading and return the report. Idempotent."""
        if self._report is not None:
            return self._report
        if self._sampler is None:
            raise TrackerStateError("stop() before start(): use `with track_energy() as t:`")
        if self._stack:
            self._sampler.sample()  # the open windows end now, not at the last tick
        while self._stack:
            window = self._stack[-1]
            self._warnings.append(f"window {window.name!r} was still open at stop; closed it")
            self._close_window()
        self._sampler.stop()
        self._t_end = (
            self._sampler.last_t if self._sampler.last_t is not None else self._clock.now()
        )
        if self._owned_meters:
            for meter in self._meters:
                try:
                    meter.close()
                except Exception as err:  # closing must not fail the run
                    self._warnings.append(f"closing {meter!r} failed: {err!r}")
        if self._context_token is not None:
            try:
                _CURRENT.reset(self._context_token)
            except ValueError:  # stopped from another context than it started in
                _CURRENT.set(None)
            self._context_token = None
        self._report = self._build_report(final=True)
        return self._report

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self._warnings.append(
                f"the tracked block raised {type(exc).__name__}: {exc}; energy up to then is "
                "reported"
            )
        self.stop()

    @property
    def report(self) -> Report:
        """The final :class:`Report`, once the tracker has stopped."""
        if self._report is None:
            raise TrackerStateError(
                "the report is ready when tracking stops (after the `with` block); for a "
                "live figure use tracker.snapshot()"
            )
        return self._report

    # -- inside the block ------------------------------------------------------------

    def step(self, n: int = 1, tokens: int | None = None) -> None:
        """Count ``n`` training steps (and ``tokens`` processed) for per-step figures."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigurationError(f"step(n={n!r}): expected a whole number >= 0")
        if tokens is not None and (
            isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0
        ):
            raise ConfigurationError(f"step(tokens={tokens!r}): expected a whole number >= 0")
        with self._lock:
            self._steps += n
            if tokens:
                self._tokens += tokens

    def sample(self) -> None:
        """Take a reading now (with a FakeClock, the way to sample between advances)."""
        if not self.running or self._sampler is None:
            raise TrackerStateError("sample() needs a running tracker")
        self._sampler.sample()

    @contextmanager
    def window(self, name: str) -> Iterator[WindowHandle]:
        """Measure a named part of the block (``"eval"``, ``"epoch-3"``); windows nest.

        Entries of the same name under the same parent are summed in the report
        (``count`` says how many); ``with tracker.window("eval") as w`` gives this entry
        as ``w.report``.
        """
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"window name {name!r}: expected a non-empty string")
        if not self.running or self._sampler is None:
            raise TrackerStateError("window() needs a running tracker")
        self._sampler.sample()
        handle = WindowHandle(name)
        with self._lock:
            self._stack.append(
                _OpenWindow(
                    name=name,
                    start_t=self._clock.now(),
                    start_totals=[s.totals() for states in self._states for s in states],
                    start_steps=self._steps,
                    start_tokens=self._tokens,
                    handle=handle,
                )
            )
        depth = len(self._stack)
        try:
            yield handle
        finally:
            if len(self._stack) == depth and self.running:
                self._sampler.sample()
                self._close_window()

    def _close_window(self) -> None:
        with self._lock:
            window = self._stack.pop()
            now = self._clock.now()
            channels = []
            flat = [s for states in self._states for s in states]
            for state, (e0, r0, f0, g0) in zip(flat, window.start_totals, strict=True):
                energy, readings, failures, gap = state.totals()
                channels.append(
                    self._channel_report(state, energy - e0, readings - r0, failures - f0, gap - g0)
                )
            entry = Report(
                duration_s=now - window.start_t,
                channels=tuple(channels),
                assumptions=self._assumptions,
                steps=self._steps - window.start_steps,
                tokens=self._tokens - window.start_tokens,
                windows=tuple(window.children.values()),
                name=window.name,
                interval_s=self.interval_s,
            )
            if window.handle is not None:
                window.handle._report = entry
            siblings = self._stack[-1].children if self._stack else self._windows
            old = siblings.get(window.name)
            siblings[window.name] = entry if old is None else _merge(old, entry)

    def snapshot(self) -> Report:
        """A report of the run so far, without stopping (takes a reading first)."""
        if self._report is not None:
            return self._report
        if self._sampler is None:
            raise TrackerStateError("snapshot() needs a started tracker")
        self._sampler.sample()
        return self._build_report(final=False)

    # -- sampler callbacks (sampler thread, or the FakeClock's caller) --------------

    def _on_reading(self, meter_index: int, t: float, values: Sequence[float]) -> None:
        trace = self._trace
        with self._lock:
            for state, raw in zip(self._states[meter_index], values, strict=True):
                value = float(raw)
                if not math.isfinite(value) or value < 0:
                    self._channel_failed(
                        state, t, f"{state.channel.id} read {value!r}, not a finite value >= 0"
                    )
                    continue
                integrator = state.integrator
                last_t = integrator.last_t
                delta = integrator.add(t, value)
                state.readings += 1
                if state.gap_from is not None:
                    state.gap_s += t - state.gap_from
                    state.gap_from = None
                if last_t is not None and trace is not None and delta:
                    trace.add(last_t, t, state.channel.domain, delta)

    def _on_failure(self, meter_index: int, t: float, err: BaseException) -> None:
        meter = self._meters[meter_index]
        with self._lock:
            first = meter_index not in self._failed_meters
            self._failed_meters[meter_index] = self._failed_meters.get(meter_index, 0) + 1
            for state in self._states[meter_index]:
                self._channel_failed(state, t, None)
            if first:
                ids = ", ".join(s.channel.id for s in self._states[meter_index])
                message = (
                    f"meter {meter!r} failed at t={t - self._t0:.3f} s: {type(err).__name__}: "
                    f"{err}; channels {ids} have a gap until it reads again (the others go on)"
                )
                self._warnings.append(message)
                log.warning("nlpfootprint: %s", message)

    def _channel_failed(self, state: _ChannelState, t: float, reason: str | None) -> None:
        state.failures += 1
        if state.gap_from is None:
            last = state.integrator.last_t
            state.gap_from = last if last is not None else self._t0
        if reason is not None and state.failures == 1:
            self._warnings.append(reason)
            log.warning("nlpfootprint: %s", reason)

    # -- report ----------------------------------------------------------------------

    def _channel_report(
        self, state: _ChannelState, energy: float, readings: int, failures: int, gap: float
    ) -> ChannelReport:
        c = state.channel
        return ChannelReport(
            id=c.id,
            domain=c.domain.value,
            kind=c.kind,
            source=c.source,
            label=c.label,
            energy_j=energy,
            readings=readings,
            failures=failures,
            gap_s=gap,
        )

    def _build_report(self, *, final: bool) -> Report:
        with self._lock:
            now = self._t_end if final and self._t_end is not None else self._clock.now()
            duration = now - self._t0
            channels = []
            warnings = list(self._warnings)
            for state in (s for states in self._states for s in states):
                energy, readings, failures, gap = state.totals()
                if state.gap_from is not None:
                    gap += now - state.gap_from
                if isinstance(state.integrator, CounterIntegrator) and state.integrator.resets:
                    warnings.append(
                        f"{state.channel.id}: the counter went backwards "
                        f"{state.integrator.resets} time(s) with no known wrap range; "
                        "counted as resets (a lower bound)"
                    )
                if gap > 0 and duration > 0:
                    warnings.append(
                        f"{state.channel.id}: {failures} failed reading(s); {gap:.3f} s "
                        f"({100 * gap / duration:.1f}% of the run) not covered by readings "
                        "on both sides"
                    )
                channels.append(self._channel_report(state, energy, readings, failures, gap))
            sampler = self._sampler
            if sampler is not None and sampler.skipped_ticks:
                warnings.append(
                    f"the sampler skipped {sampler.skipped_ticks} tick(s) because reading the "
                    f"meters took longer than interval_s={self.interval_s:g}"
                )
            if sampler is not None and sampler.internal_errors:
                warnings.append(
                    f"{len(sampler.internal_errors)} internal error(s) while recording readings; "
                    f"first: {sampler.internal_errors[0]!r}"
                )
            return Report(
                duration_s=duration,
                channels=tuple(channels),
                assumptions=self._assumptions,
                steps=self._steps,
                tokens=self._tokens,
                windows=tuple(self._windows.values()),
                warnings=tuple(warnings),
                name=self.name,
                started_at=self._started_at,
                interval_s=self.interval_s,
                trace=None if self._trace is None else self._trace.data(),
            )

    # -- decorator -------------------------------------------------------------------

    def __call__(self, func: Callable[P, R]) -> TrackedFunction[P, R]:
        """Decorate ``func``: each call is measured by a fresh tracker with these settings."""
        if self._sampler is not None:
            raise TrackerStateError("a tracker that has started cannot decorate a function")
        if not callable(func):
            raise ConfigurationError(f"track_energy(...) decorates functions; got {func!r}")
        return _decorate(func, self._settings)

    def __repr__(self) -> str:
        state = "stopped" if self._report else "running" if self._sampler else "new"
        return f"<EnergyTracker {self.name or ''} {state} interval_s={self.interval_s:g}>"


class TrackedFunction(Protocol[P, R_co]):
    """A function decorated with ``@track_energy``.

    Attributes:
        last_report: The report of the latest call (also when it raised), or None.
        last_tracker: The tracker of the latest call (running during the call).
    """

    last_report: Report | None
    last_tracker: EnergyTracker | None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        """Call the function under a fresh tracker."""
        ...


def _decorate(func: Callable[P, R], settings: dict[str, Any]) -> TrackedFunction[P, R]:
    settings = dict(settings)
    if settings.get("name") is None:
        settings["name"] = getattr(func, "__qualname__", None)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            tracker = EnergyTracker(**settings)
            wrapper.last_tracker = tracker
            try:
                with tracker:
                    return await func(*args, **kwargs)
            finally:
                wrapper.last_report = tracker._report

        wrapper: Any = async_wrapper
    else:

        @functools.wraps(func)
        def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            tracker = EnergyTracker(**settings)
            wrapper.last_tracker = tracker
            try:
                with tracker:
                    return func(*args, **kwargs)
            finally:
                wrapper.last_report = tracker._report

        wrapper = sync_wrapper
    wrapper.last_report = None
    wrapper.last_tracker = None
    return wrapper  # type: ignore[no-any-return]


@overload
def track_energy(func: Callable[P, R], /) -> TrackedFunction[P, R]: ...


@overload
def track_energy(
    func: None = None,
    /,
    *,
    meters: Literal["auto"] | Sequence[PowerMeter] = "auto",
    interval_s: float = 1.0,
    pue: float = 1.58,
    carbon_intensity: Intensity | float | str | None = None,
    price_per_kwh: float | None = None,
    clock: Clock | None = None,
    name: str | None = None,
    trace_points: int = 2048,
) -> EnergyTracker: ...


def track_energy(
    func: Callable[P, R] | None = None,
    /,
    *,
    meters: Literal["auto"] | Sequence[PowerMeter] = "auto",
    interval_s: float = 1.0,
    pue: float = 1.58,
    carbon_intensity: Intensity | float | str | None = None,
    price_per_kwh: float | None = None,
    clock: Clock | None = None,
    name: str | None = None,
    trace_points: int = 2048,
) -> EnergyTracker | TrackedFunction[P, R]:
    """Measure energy, CO2e and cost: ``with track_energy() as t``, ``@track_energy``, or
    ``@track_energy(...)``. See :class:`EnergyTracker` for the arguments.

    >>> import nlpfootprint as nf
    >>> from nlpfootprint.testing import FakeClock, FakeMeter
    >>> clock = FakeClock()
    >>> @nf.track_energy(meters=[FakeMeter.constant(100.0, domain="cpu")], clock=clock)
    ... def train(minutes):
    ...     clock.advance(60 * minutes)
    ...     return "done"
    >>> train(6)
    'done'
    >>> train.last_report.energy_kwh
    0.01
    """
    if func is not None:
        if not callable(func):
            raise ConfigurationError(
                f"track_energy() takes keyword arguments only, got {func!r} as a positional "
                "argument (did you mean track_energy(meters=[...])?)"
            )
        return EnergyTracker()(func)
    return EnergyTracker(
        meters,
        interval_s=interval_s,
        pue=pue,
        carbon_intensity=carbon_intensity,
        price_per_kwh=price_per_kwh,
        clock=clock,
        name=name,
        trace_points=trace_points,
    )
