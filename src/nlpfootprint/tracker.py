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
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Literal, ParamSpec, Self, TypeVar, overload

import attrs

from nlpfootprint._meterset import MeterSet
from nlpfootprint._runstate import RunState
from nlpfootprint._settings import checked_settings
from nlpfootprint._validate import whole_number
from nlpfootprint.clock import Clock, MonotonicClock
from nlpfootprint.decorate import TrackedFunction, decorate
from nlpfootprint.errors import ConfigurationError, TrackerStateError
from nlpfootprint.intensity import Intensity
from nlpfootprint.meters.base import PowerMeter
from nlpfootprint.report import Assumptions, Report
from nlpfootprint.runlog import RunLogWriter, log_settings
from nlpfootprint.sampler import Sampler
from nlpfootprint.trace import BoundedTrace
from nlpfootprint.windows import OpenWindow, WindowHandle, WindowStack

__all__ = ["EnergyTracker", "TrackedFunction", "WindowHandle", "current_tracker", "track_energy"]

P = ParamSpec("P")
R = TypeVar("R")

#: The trackers started in this context, innermost last (stopped ones are skipped).
_STARTED: contextvars.ContextVar[tuple[EnergyTracker, ...]] = contextvars.ContextVar(
    "nlpfootprint_started_trackers", default=()
)


def current_tracker() -> EnergyTracker | None:
    """The innermost *running* tracker started in this context, or None.

    Handy inside a function decorated with ``@track_energy`` to count steps:
    ``nf.current_tracker().step()``.
    """
    for tracker in reversed(_STARTED.get()):
        if tracker.running:
            return tracker
    return None


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
        trace_points: How many points the power trace keeps at most (2 to 1,000,000).
        read_timeout_s: How long a window boundary, a snapshot or stop waits for a meter
            read in progress before giving up on it (a hung device).
        log: A file to write the run log to as the run goes (JSON lines, gzip when the name
            ends in ``.gz``; see :mod:`nlpfootprint.runlog`): every reading, so a crashed
            run can still be reported (``Report.from_log(path)``). A decorated function
            rewrites it on every call. A failed write warns in the report, never raises.
        log_flush_s: Seconds of real time between write-outs of the log (0: every line);
            a crash loses at most this much of it.
        log_command: The command line that was measured, for the log's header.

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
        >>> round(report.energy_kwh, 9)        # 300 W for 10 minutes
        0.05
        >>> round(report.facility_energy_kwh, 9), round(report.j_per_step, 6)
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
        read_timeout_s: float = 10.0,
        log: str | os.PathLike[str] | None = None,
        log_flush_s: float = 2.0,
        log_command: Sequence[str] | None = None,
    ) -> None:
        self._settings = checked_settings(
            meters=meters,
            interval_s=interval_s,
            pue=pue,
            carbon_intensity=carbon_intensity,
            price_per_kwh=price_per_kwh,
            clock=clock,
            name=name,
            trace_points=trace_points,
            read_timeout_s=read_timeout_s,
            log=log,
            log_flush_s=log_flush_s,
            log_command=log_command,
        )
        self._assumptions = Assumptions.build(
            pue=pue,
            carbon_intensity=carbon_intensity,
            price_per_kwh=price_per_kwh,
            meters="auto" if meters == "auto" else "given",
        )
        self.interval_s: float = self._settings["interval_s"]
        self.name = name
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._meters: tuple[PowerMeter, ...] = ()
        self._state: RunState | None = None
        self._windows = WindowStack()
        self._sampler: Sampler | None = None
        self._log: RunLogWriter | None = None
        self._t_end: float | None = None
        self._started_at: str | None = None
        self._report: Report | None = None
        self._stop_lock = threading.Lock()
        self._warned_abandoned = False

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
        self._meterset = MeterSet(self._settings["meters"])
        self._meters = self._meterset.meters
        if self._meterset.summary is not None:
            self._assumptions = attrs.evolve(self._assumptions, meters=self._meterset.summary)
        self._started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        origin = self._clock.now()
        trace = BoundedTrace(
            origin=origin,
            bin_s=self.interval_s,
            capacity=self._settings["trace_points"] // 2 * 2,
        )
        if self._settings["log"] is not None:
            self._log = self._open_log(origin)
        state = self._state = RunState(self._meters, trace, self._log)
        self._sampler = Sampler(
            self._meters,
            clock=self._clock,
            interval_s=self.interval_s,
            on_reading=state.on_reading,
            on_failure=state.on_failure,
            read_timeout_s=self._settings["read_timeout_s"],
            on_round=state.on_round,
        )
        try:
            self._sampler.start()
        except BaseException:
            self._meterset.close(state.warn)
            if self._log is not None:
                self._log.close()
            raise
        # Forget trackers of this context that have stopped, then add this one.
        _STARTED.set((*(t for t in _STARTED.get() if t.running), self))
        # The measured span runs from the first reading to the last one.
        if self._sampler.first_t is not None:
            state.t0 = self._sampler.first_t
        notes, warnings = self._meterset.startup_warnings(self.interval_s)
        state.warnings += notes
        for warning in warnings:
            state.warn(warning)
        return self

    def _open_log(self, t0: float) -> RunLogWriter:
        """Open the run log and write its header (the channels, the settings)."""
        path = self._settings["log"]
        try:
            writer = RunLogWriter(path, flush_s=self._settings["log_flush_s"])
        except OSError as err:
            self._meterset.close(lambda _: None)
            raise ConfigurationError(
                f"log={path!r}: cannot write the run log there: {err}"
            ) from err
        writer.header(
            channels=self._meterset.channels,
            meter_of=self._meterset.meter_of_channel,
            meter_names=self._meterset.names(),
            settings=log_settings(
                self._assumptions,
                interval_s=self.interval_s,
                name=self.name,
                trace_points=self._settings["trace_points"],
            ),
            command=self._settings["log_command"],
            t0=t0,
            started_at=self._started_at,
        )
        return writer

    def stop(self) -> Report:
        """Stop sampling, take the last reading and return the report.

        Idempotent and safe to call from another thread (a watchdog, a signal handler's
        helper): the first call stops, the others get the same report.
        """
        with self._stop_lock:
            if self._report is not None:
                return self._report
            if self._sampler is None or self._state is None:
                raise TrackerStateError("stop() before start(): use `with track_energy() as t:`")
            self._meterset.sync(self._warn)
            if self._windows:
                self._boundary_reading()  # the open windows end now, not at the last tick
            while self._windows:
                name = self._windows.innermost.name
                self._state.warn(f"window {name!r} was still open at stop; closed it")
                self._windows.pop(self._window_entry)
            if not self._sampler.stop():
                self._state.warn(
                    "a meter read was still hanging at stop; the report ends at the last "
                    "reading that completed"
                )
            last_t = self._sampler.last_t
            self._t_end = last_t if last_t is not None else self._clock.now()
            self._meterset.close(self._state.warn)
            try:
                self._report = self._build_report(self._t_end)
                if self._log is not None:
                    self._log.summary(self._report.to_dict())
            finally:
                if self._log is not None:
                    self._log.close()  # flushed and synced whatever happened above
            return self._report

    def _warn(self, message: str) -> None:
        if self._state is not None:
            self._state.warn(message)

    def _boundary_reading(self) -> None:
        """A reading now from the user's thread; gives up (once warned) on a hung meter."""
        assert self._sampler is not None
        completed = self._sampler.sample(timeout_s=self._sampler.read_timeout_s)
        if not completed and self._state is not None and not self._warned_abandoned:
            self._warned_abandoned = True
            self._state.warn(
                "a meter read is hanging: window boundaries and snapshots use the last "
                "reading that completed"
            )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and self._state is not None:
            self._state.warnings.append(
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

    def _running_state(self, what: str) -> tuple[Sampler, RunState]:
        if not self.running or self._sampler is None or self._state is None:
            raise TrackerStateError(f"{what} needs a running tracker")
        return self._sampler, self._state

    def step(self, n: int = 1, tokens: int | None = None) -> None:
        """Count ``n`` training steps (and ``tokens`` processed) for per-step figures."""
        whole_number("n", n)
        if tokens is not None:
            whole_number("tokens", tokens)
        self._running_state("step()")[1].count(n, tokens)

    def sample(self) -> None:
        """Take a reading now (with a FakeClock, the way to sample between advances)."""
        self._running_state("sample()")
        self._boundary_reading()

    @contextmanager
    def window(self, name: str) -> Iterator[WindowHandle]:
        """Measure a named part of the block (``"eval"``, ``"epoch-3"``); windows nest.

        Entries of the same name under the same parent are summed in the report
        (``count`` says how many); ``with tracker.window("eval") as w`` gives this entry
        as ``w.report``. Open and close a window from the thread that runs the block.
        """
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"window name {name!r}: expected a non-empty string")
        _, state = self._running_state("window()")
        self._meterset.sync(self._warn)
        self._boundary_reading()
        handle = self._windows.push(name, self._reading_time(), state.totals())
        depth = len(self._windows)
        try:
            yield handle
        finally:
            if len(self._windows) == depth and self.running:
                self._meterset.sync(self._warn)
                self._boundary_reading()
                self._windows.pop(self._window_entry)

    def _reading_time(self) -> float:
        """When the latest reading was taken: windows begin and end on readings."""
        last_t = self._sampler.last_t if self._sampler is not None else None
        return last_t if last_t is not None else self._clock.now()

    def _window_entry(self, window: OpenWindow) -> Report:
        assert self._state is not None
        end = self._state.totals()
        duration = self._reading_time() - window.start_t
        return Report(
            duration_s=duration,
            channels=self._state.channel_reports(duration, since=window.start),
            assumptions=self._assumptions,
            steps=end.steps - window.start.steps,
            tokens=end.tokens - window.start.tokens,
            windows=tuple(window.children.values()),
            name=window.name,
            interval_s=self.interval_s,
        )

    def snapshot(self, *, read: bool = True) -> Report:
        """A report of the run so far, without stopping.

        Args:
            read: Take a reading first (default). ``read=False`` reports up to the last
                reading and reads no meter: for a display that must not change how often
                the meters are read (or what the run log holds).
        """
        if self._report is not None:
            return self._report
        self._running_state("snapshot()")
        if read:
            self._boundary_reading()
            return self._build_report(self._clock.now())
        return self._build_report(self._reading_time())

    # -- report ----------------------------------------------------------------------

    def _build_report(self, end_t: float) -> Report:
        state, sampler = self._state, self._sampler
        assert state is not None
        assert sampler is not None
        channels, warnings = state.final_channel_reports(end_t)
        if sampler.skipped_ticks:
            warnings.append(
                f"the sampler skipped {sampler.skipped_ticks} tick(s) because reading the "
                f"meters took longer than interval_s={self.interval_s:g}"
            )
        if sampler.internal_errors:
            warnings.append(
                f"{sampler.internal_error_count} internal error(s) while recording readings; "
                f"first: {sampler.internal_errors[0]!r}"
            )
        if self._log is not None and self._log.errors:
            warnings += self._log.errors
        totals = state.totals()
        return Report(
            duration_s=end_t - state.t0,
            channels=channels,
            assumptions=self._assumptions,
            steps=totals.steps,
            tokens=totals.tokens,
            windows=self._windows.finished(),
            warnings=tuple(warnings),
            name=self.name,
            started_at=self._started_at,
            interval_s=self.interval_s,
            trace=state.trace_data(),
            step_energy=state.step_energy(),
        )

    # -- decorator -------------------------------------------------------------------

    def __call__(self, func: Callable[P, R]) -> TrackedFunction[P, R]:
        """Decorate ``func``: each call is measured by a fresh tracker with these settings."""
        if self._sampler is not None:
            raise TrackerStateError("a tracker that has started cannot decorate a function")
        if not callable(func):
            raise ConfigurationError(f"track_energy(...) decorates functions; got {func!r}")
        settings = dict(self._settings)
        if settings.get("name") is None:
            settings["name"] = getattr(func, "__qualname__", None)
        return decorate(func, lambda: EnergyTracker(**settings))

    def __repr__(self) -> str:
        state = "stopped" if self._report else "running" if self._sampler else "new"
        return f"<EnergyTracker {self.name or ''} {state} interval_s={self.interval_s:g}>"


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
    read_timeout_s: float = 10.0,
    log: str | os.PathLike[str] | None = None,
    log_flush_s: float = 2.0,
    log_command: Sequence[str] | None = None,
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
    read_timeout_s: float = 10.0,
    log: str | os.PathLike[str] | None = None,
    log_flush_s: float = 2.0,
    log_command: Sequence[str] | None = None,
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
    >>> round(train.last_report.energy_kwh, 9)
    0.01
    """
    if func is not None and not callable(func):
        raise ConfigurationError(
            f"track_energy() takes keyword arguments only, got {func!r} as a positional "
            "argument (did you mean track_energy(meters=[...])?)"
        )
    tracker = EnergyTracker(
        meters,
        interval_s=interval_s,
        pue=pue,
        carbon_intensity=carbon_intensity,
        price_per_kwh=price_per_kwh,
        clock=clock,
        name=name,
        trace_points=trace_points,
        read_timeout_s=read_timeout_s,
        log=log,
        log_flush_s=log_flush_s,
        log_command=log_command,
    )
    return tracker if func is None else tracker(func)
