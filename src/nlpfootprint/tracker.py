"""The tracker: measure the energy of a block (``with track_energy() as t``), a function
(``@track_energy`` or ``@track_energy(...)``, then ``train.last_report``) or a whole run.

The tracker wires the layers below it together -- settings, meters, the sampler, its sinks
(the ledger, the run-log writer) -- and asks the ledger for the report at the end.

A tracker belongs to the process that started it. A child made by ``os.fork()`` (a
fork-started ``multiprocessing`` pool, DataLoader workers) inherits an inert copy: it reads
no meter, writes nothing to the parent's run log, waits on no lock, and is not
:func:`current_tracker` there; ``step()`` on it counts nothing and warns once. A tracker
started in the child is the child's own.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import ParamSpec, Self, SupportsFloat, SupportsIndex, TypeVar, Unpack, overload

import attrs

from nlpfootprint.baseline import measure_idle
from nlpfootprint.checks import flag, flops_value, step_counts
from nlpfootprint.clock import Clock, ManualClock, MonotonicClock
from nlpfootprint.decorate import TrackedFunction, current_tracker, decorate, started
from nlpfootprint.distributed.context import RankContext
from nlpfootprint.distributed.session import JobSession
from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError, TrackerStateError
from nlpfootprint.idle import Baseline
from nlpfootprint.ledger import Ledger
from nlpfootprint.meters.attribution import RunAttribution
from nlpfootprint.meters.gpushare import GpuAttribution
from nlpfootprint.meters.meterset import MeterSet
from nlpfootprint.report import Report
from nlpfootprint.report_parts import Outcome
from nlpfootprint.runlog import RunLogWriter, log_settings
from nlpfootprint.sampler import Sampler, Sink
from nlpfootprint.series import IntensitySeries
from nlpfootprint.settings import Meters, TrackerOptions, TrackerSettings, spell_out_options
from nlpfootprint.trace import BoundedTrace, WindowSpanLog
from nlpfootprint.windows import OpenWindow, WindowHandle, WindowStack

__all__ = [
    "EnergyTracker",
    "TrackedFunction",
    "TrackerOptions",
    "TrackerSettings",
    "WindowHandle",
    "current_tracker",
    "track_energy",
]

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("nlpfootprint")


class EnergyTracker:
    """Measures energy between :meth:`start` and :meth:`stop` and makes a :class:`Report`.

    Usually made by :func:`track_energy`. A tracker runs once; as a decorator it makes a
    fresh tracker with the same settings for every call. It wires the parts together:
    settings -> meters -> sampler -> sinks (the :class:`~nlpfootprint.ledger.Ledger`, the
    run-log writer) -> :meth:`Report.from_ledger <nlpfootprint.Report.from_ledger>`.

    Args:
        settings: :class:`~nlpfootprint.settings.TrackerSettings` to start from (a list
            of meters or ``"auto"`` is taken as ``meters=``, as in earlier versions).
        **options: Fields of :class:`~nlpfootprint.settings.TrackerSettings` to override.

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
        settings: TrackerSettings | Meters | None = None,
        /,
        **options: Unpack[TrackerOptions],
    ) -> None:
        if isinstance(settings, TrackerSettings):
            self.settings = attrs.evolve(settings, **options) if options else settings
        else:
            if settings is not None:
                options = {**options, "meters": settings}
            self.settings = TrackerSettings.of(**options)
        self._assumptions = self.settings.assumptions()
        self._efficiency = self.settings.efficiency()
        self.interval_s: float = self.settings.interval_s
        self.name = self.settings.name
        self._clock: Clock = self.settings.clock or MonotonicClock()
        self._meterset: MeterSet | None = None
        self._ledger: Ledger | None = None
        self._windows = WindowStack()
        self._window_spans: WindowSpanLog | None = None  # when each window ran, for plots
        self._sampler: Sampler | None = None
        self._log: RunLogWriter | None = None
        self._started_at: str | None = None
        self._report: Report | None = None
        self._warnings: list[str] = []
        self._outcome: Outcome | None = None  # how the block or command ended
        self._stop_lock = threading.Lock()
        self._warned_abandoned = False
        self._pid: int | None = None  # the process that started it
        self._job: JobSession | None = None  # its rank in a distributed job
        self._warned_in_child: int | None = None
        #: The idle power the report's dynamic energy is counted above (measured at start
        #: for baseline="measure").
        self._baseline: Baseline | None = (
            None if self.settings.baseline == "measure" else self.settings.baseline
        )
        #: Process-scope GPUs' attribution over the run (from its first reading, so not
        #: the baseline's readings); None when no meter attributes.
        self._shares: RunAttribution | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`, in the process that started it."""
        return self._sampler is not None and self._report is None and self._pid == os.getpid()

    def _forked(self) -> bool:
        """True in a child forked from the process that started this tracker."""
        return self._pid is not None and self._pid != os.getpid()

    def _refuse_in_child(self, what: str) -> None:
        """Raise TrackerStateError when called in a forked child: ``what`` is the parent's."""
        if self._forked():
            raise TrackerStateError(
                f"{what} in process {os.getpid()}: this tracker was started in process "
                f"{self._pid}, which measures and reports; a forked child does not"
            )

    def _ignored_in_child(self, what: str) -> None:
        """Say (once per child process) that ``what`` does nothing in a forked child."""
        pid = os.getpid()
        if self._warned_in_child == pid:
            return
        self._warned_in_child = pid
        message = (
            f"nlpfootprint: {what} in process {pid} is ignored: tracker {self.name or ''!r} was "
            f"started in process {self._pid}, and a forked child does not measure (count steps "
            "in the parent, or start a tracker in the child)"
        )
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)

    @property
    def job(self) -> RankContext | None:
        """This process's rank in a distributed job, once started (None: not in one)."""
        return None if self._job is None else self._job.context

    @property
    def result(self) -> Report | None:
        """The report once the tracker has stopped, else None (never raises)."""
        return self._report

    def _warn(self, message: str) -> None:
        """Keep ``message`` for the report and log it now (from whichever thread)."""
        self._warnings.append(message)
        log.warning("nlpfootprint: %s", message)

    def start(self) -> Self:
        """Resolve the meters, take the first reading and start sampling."""
        if self._sampler is not None:
            raise TrackerStateError(
                "this tracker was already started; a tracker runs once (make a new one with "
                "track_energy(...))"
            )
        settings = self.settings
        meterset = self._meterset = MeterSet(
            settings.meters,
            cpu_scope=settings.cpu_scope,
            cpu_tdp_w=settings.cpu_tdp_w,
            gpu_scope=settings.gpu_scope,
        )
        self._pid = os.getpid()
        try:
            job = self._job = JobSession.detect(
                self.settings.distributed, self.settings.gather_timeout_s, self.name
            )
        except BaseException:
            meterset.close(lambda _: None, self.settings.read_timeout_s)
            raise
        if job is not None:
            job.restrict(meterset, self._warn)
        if meterset.summary is not None:
            self._assumptions = attrs.evolve(self._assumptions, meters=meterset.summary)
        if settings.baseline == "measure":
            self._measure_baseline(meterset)
        self._started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        trace = BoundedTrace.for_run(self.interval_s, self.settings.trace_points)
        self._window_spans = trace.windows
        ledger = self._ledger = Ledger(
            meterset.meter_channels,
            meter_names=meterset.names(),
            trace=trace,
            warn=self._warn,
        )
        sinks: list[Sink] = [ledger]
        shares = RunAttribution(meterset.meters)
        if shares.active:  # marks the run's start at its first reading
            self._shares = shares
            sinks.append(shares)
        log_path = self.settings.log if job is None else job.log_path(self.settings.log)
        if log_path is not None:
            self._log = self._open_log(ledger, log_path)
            sinks.append(self._log)
        self._sampler = Sampler(
            meterset.meters,
            clock=self._clock,
            interval_s=self.interval_s,
            sinks=sinks,
            read_timeout_s=self.settings.read_timeout_s,
            workers=meterset.start_workers(threaded=not isinstance(self._clock, ManualClock)),
            widths=[len(c) for c in meterset.meter_channels],
        )
        try:
            self._sampler.start()
        except BaseException:
            self._sampler.stop(last_reading=False)
            meterset.close(self._warn, self.settings.read_timeout_s)
            if self._log is not None:
                self._log.close()
            raise
        if job is not None:
            job.mark_origin(self._now())
        started(self)
        notes, warnings = meterset.startup_warnings(self.interval_s)
        self._warnings += notes
        for warning in warnings:
            self._warn(warning)
        return self

    def _measure_baseline(self, meterset: MeterSet) -> None:
        """Read the meters idle for ``baseline_s`` before the run starts (a FakeClock is
        advanced by it); the meters are closed if that fails or is interrupted."""
        try:
            self._baseline = measure_idle(
                meterset.meters,
                self.settings.baseline_s,
                clock=self._clock,
                read_timeout_s=self.settings.read_timeout_s,
            )
        except BaseException:
            meterset.close(lambda _: None, self.settings.read_timeout_s)
            raise

    def _open_log(self, ledger: Ledger, path: str | os.PathLike[str]) -> RunLogWriter:
        """Open the run log (creating the folders missing above it) and write its header
        (the channels, the settings); an unusable path is a ConfigurationError saying why."""
        settings, meterset = self.settings, self._meterset
        assert meterset is not None
        try:
            return RunLogWriter.start(
                path,
                flush_s=settings.log_flush_s,
                clock=self._clock,
                counts=ledger.round_totals,
                meter_channels=meterset.meter_channels,
                meter_names=meterset.names(),
                settings=log_settings(
                    self._assumptions,
                    interval_s=self.interval_s,
                    name=self.name,
                    trace_points=settings.trace_points,
                    efficiency=settings.efficiency(),
                    baseline=self._baseline,
                ),
                command=settings.log_command,
                started_at=self._started_at,
            )
        except OSError as err:  # the writer says why; missing folders were created
            meterset.close(lambda _: None, settings.read_timeout_s)
            why = err.strerror or str(err)
            if err.filename is not None and os.fspath(err.filename) != os.fspath(path):
                why = f"{why}: {os.fspath(err.filename)}"
            raise ConfigurationError(
                f"log={path!r}: cannot write the run log there: {why}"
            ) from err

    def stop(self) -> Report:
        """Stop sampling, take the last reading and return the report.

        Idempotent and safe to call from another thread (a watchdog, a signal handler's
        helper): the first call stops, the others get the same report. When stop is
        interrupted (Ctrl-C in a CUDA sync or the last reading), the report is still made
        from the readings taken, the run log still gets its summary and is closed, and then
        the interruption goes on to the caller.
        """
        self._refuse_in_child("stop()")
        with self._stop_lock:
            if self._report is not None:
                return self._report
            if self._sampler is None or self._meterset is None:
                raise TrackerStateError("stop() before start(): use `with track_energy() as t:`")
            timeout_s = self.settings.read_timeout_s
            interrupted: BaseException | None = None
            try:
                self._end_sampling()
            except BaseException as err:  # Ctrl-C or exit in a sync or the last read
                interrupted = err
                self._sampler.stop(last_reading=False)
                self._sampler.end_round()  # steps counted since the last round count
                self._warn(
                    f"stop() was interrupted ({type(err).__name__}); the report ends at the "
                    "last reading taken"
                )
            end_t = self._reading_time()
            self._meterset.final_warnings(self._warn)
            shares = () if self._shares is None else self._shares.result()
            for share in shares:
                self._warn(share.describe())
            try:
                self._meterset.close(self._warn, timeout_s)
            except BaseException as err:  # Ctrl-C while closing the meters
                self._warn(
                    f"stop() was interrupted ({type(err).__name__}) while closing the meters"
                )
                interrupted = interrupted or err
            try:
                own = self._report = _with_shares(self._build_report(end_t), shares)
                job = self._job
                if job is not None and self._ledger is not None and interrupted is None:
                    self._report = job.finish(
                        own, self._ledger.state(end_t), end_t, self._assumptions
                    )
                self._report = self._weighted(self._report)
                if self._log is not None:
                    logged = self._report if job is None else job.log_summary(self._report)
                    self._log.summary(logged.to_dict())
            finally:
                if self._log is not None:
                    self._log.close()  # flushed and synced whatever happened above
            if interrupted is not None:
                raise interrupted
            return self._report

    def _weighted(self, report: Report) -> Report:
        """``report`` with its energy weighted by the intensity series, when one was given
        (a report that cannot be placed in time keeps the series' yearly fallback, said)."""
        series = self.settings.carbon_intensity
        if not isinstance(series, IntensitySeries):
            return report
        try:
            return report.with_assumptions(carbon_intensity=series)
        except ConfigurationError as err:
            return attrs.evolve(
                report,
                warnings=(
                    *report.warnings,
                    f"the intensity series was not applied ({err}); CO2e is at its yearly "
                    f"fallback {series.fallback.describe()}",
                ),
            )

    def _end_sampling(self) -> None:
        """Sync, close the open windows on a reading, stop the sampler after a last one."""
        assert self._sampler is not None
        assert self._meterset is not None
        # queued device work counts before the end
        self._meterset.sync(self._warn, self.settings.read_timeout_s)
        if self._windows:
            self._boundary_reading()  # the open windows end now, not at the last tick
        while self._windows:
            self._warn(f"window {self._windows.innermost.name!r} was still open at stop; closed it")
            self._windows.pop(self._window_entry)
        if not self._sampler.stop():
            self._warn(
                "a meter read was still hanging at stop; the report ends at the last "
                "reading that completed"
            )

    def _boundary_reading(self, *, sync: bool = False) -> None:
        """A reading now from the user's thread (after letting the meters ``sync()`` their
        queued work); gives up (once warned) on a hung meter."""
        assert self._sampler is not None
        assert self._meterset is not None
        if sync:
            self._meterset.sync(self._warn, self.settings.read_timeout_s)
        completed = self._sampler.sample(timeout_s=self._sampler.read_timeout_s)
        if not completed and not self._warned_abandoned:
            self._warned_abandoned = True
            self._warn(
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
        if self._forked():
            return  # a forked child leaves the block: the parent's tracker is not its own
        if self._sampler is not None and self._report is None:
            if exc is not None:
                self._set_outcome(Outcome.of_exception(exc), block=True)
            elif self._outcome is None:
                self._outcome = Outcome.completed()
        self.stop()

    def record_exit(self, returncode: int) -> None:
        """Record how the measured command ended, before the tracker stops: its exit status
        (0 is a clean end), or minus the number of the signal that ended it, as
        :attr:`subprocess.Popen.returncode` gives. The report's ``outcome`` and heading
        say so (``nlpfootprint run`` calls this with its child's return code).

        Raises:
            ConfigurationTypeError: ``returncode`` is not an integer.
            TrackerStateError: The tracker has not started, or has stopped (its report,
                and its log's summary, are final).
        """
        if self._sampler is None or self._report is not None:
            raise TrackerStateError(
                "record_exit() records how the measured command ended: call it while the "
                "tracker runs, before it stops"
            )
        if isinstance(returncode, bool) or not isinstance(returncode, int):
            raise ConfigurationTypeError(
                f"record_exit(returncode={returncode!r}): expected an integer (an exit status, "
                "or minus a signal number)"
            )
        self._set_outcome(Outcome.of_returncode(returncode), block=False)

    def _set_outcome(self, outcome: Outcome, *, block: bool) -> None:
        """Keep the first failure: a command's status stays when the block then raises."""
        if self._outcome is not None and not self._outcome.ok:
            return
        self._outcome = outcome
        if not outcome.ok:
            what = f"the tracked block {outcome.detail}" if block else outcome.detail
            self._warnings.append(f"{what}; energy up to then is reported")

    @property
    def report(self) -> Report:
        """The final :class:`Report`, once the tracker has stopped."""
        if self._report is None:
            self._refuse_in_child("report")
            raise TrackerStateError(
                "the report is ready when tracking stops (after the `with` block); for a "
                "live figure use tracker.snapshot()"
            )
        return self._report

    # -- inside the block ------------------------------------------------------------

    def _running_ledger(self, what: str) -> Ledger:
        self._refuse_in_child(what)
        if not self.running or self._ledger is None:
            raise TrackerStateError(f"{what} needs a running tracker")
        return self._ledger

    def step(
        self,
        n: SupportsIndex = 1,
        tokens: SupportsIndex | None = None,
        flops: SupportsFloat | None = None,
    ) -> None:
        """Count ``n`` training steps (and ``tokens`` processed) for per-step figures: any
        whole number, numpy integers and 0-d integer tensors included; and ``flops``, the
        floating-point operations they took (a number >= 0, an int or float of any size,
        a 0-d tensor too: :func:`~nlpfootprint.training_flops` estimates them,
        :func:`~nlpfootprint.flops.count_step_flops` counts one step's), for the report's
        FLOPs, FLOP/J and MFU."""
        n, tokens = step_counts(n, tokens)  # whole numbers to 10**18
        counted = None if flops is None else flops_value("flops", flops)  # finite, >= 0
        if self._forked():
            self._ignored_in_child("step()")
            return
        self._running_ledger("step()").count(n, tokens, counted)

    def sample(self) -> None:
        """Take a reading now (with a FakeClock, the way to sample between advances)."""
        if self._forked():
            self._ignored_in_child("sample()")
            return
        self._running_ledger("sample()")
        self._boundary_reading()

    @contextmanager
    def window(self, name: str) -> Iterator[WindowHandle]:
        """Measure a named part of the block (``"eval"``, ``"epoch-3"``); windows nest.

        Entries of the same name under the same parent are summed in the report
        (``count`` says how many); ``with tracker.window("eval") as w`` gives this entry
        as ``w.report``. Open and close a window from the thread that runs the block.
        """
        if not isinstance(name, str) or not name:
            wrong = ConfigurationError if isinstance(name, str) else ConfigurationTypeError
            raise wrong(f"window name={name!r}: expected a non-empty string")
        if self._forked():
            self._ignored_in_child("window()")
            yield WindowHandle(name)
            return
        ledger = self._running_ledger("window()")
        self._boundary_reading(sync=True)
        handle = self._windows.push(name, self._reading_time(), ledger.totals())
        depth = len(self._windows)
        try:
            yield handle
        finally:
            if len(self._windows) == depth and self.running:
                self._boundary_reading(sync=True)
                self._windows.pop(self._window_entry)

    def _reading_time(self) -> float:
        """When the latest reading was taken (seconds since the origin): windows begin
        and end on readings."""
        assert self._sampler is not None
        last_t = self._sampler.last_t
        return last_t if last_t is not None else self._now()

    def _now(self) -> float:
        assert self._sampler is not None
        return self._clock.now() - self._sampler.origin

    def _window_entry(self, window: OpenWindow) -> Report:
        assert self._ledger is not None
        end_t = self._reading_time()
        if self._window_spans is not None:
            self._window_spans.record(window.path, window.start_t, end_t)
        return window.report(
            self._ledger,
            end_t,
            self._assumptions,
            interval_s=self.interval_s,
            efficiency=self._efficiency,
            baseline=self._baseline,
        )

    def snapshot(self, *, read: bool = True) -> Report:
        """A report of the run so far, without stopping.

        Args:
            read: Take a reading first (default). ``read=False`` reports up to the last
                reading and reads no meter: for a display that must not change how often
                the meters are read (or what the run log holds).
        """
        flag("read", read)
        if self._report is not None:
            return self._report
        self._running_ledger("snapshot()")
        if read:
            self._boundary_reading()
            return self._build_report(self._now())
        return self._build_report(self._reading_time())

    # -- report ----------------------------------------------------------------------

    def _build_report(self, end_t: float) -> Report:
        ledger, sampler = self._ledger, self._sampler
        assert ledger is not None
        assert sampler is not None
        warnings = [*self._warnings, *sampler.warnings()]
        if self._log is not None:
            warnings += self._log.errors
        report = Report.from_ledger(
            ledger,
            end_t,
            assumptions=self._assumptions,
            warnings=warnings,
            windows=self._windows.finished(),
            name=self.name,
            started_at=self._started_at,
            interval_s=self.interval_s,
            outcome=self._outcome,
            efficiency=self._efficiency,
        )
        return report if self._baseline is None else report.with_baseline(self._baseline)

    # -- decorator -------------------------------------------------------------------

    def __call__(self, func: Callable[P, R]) -> TrackedFunction[P, R]:
        """Decorate ``func``: each call is measured by a fresh tracker with these settings."""
        if self._sampler is not None:
            raise TrackerStateError("a tracker that has started cannot decorate a function")
        if not callable(func):
            raise ConfigurationTypeError(f"track_energy(...) decorates functions; got {func!r}")
        settings = self.settings
        if settings.name is None:
            settings = attrs.evolve(settings, name=getattr(func, "__qualname__", None))
        return decorate(func, lambda: EnergyTracker(settings))

    def __repr__(self) -> str:
        state = "stopped" if self._report else "running" if self._sampler else "new"
        return f"<EnergyTracker {self.name or ''} {state} interval_s={self.interval_s:g}>"


def _with_shares(report: Report, shares: tuple[GpuAttribution, ...]) -> Report:
    """``report`` with each process-scope channel's whole-device energy over the run, and
    the device's joules by the rule that split them."""
    by_id = {share.channel_id: share for share in shares}
    if not by_id:
        return report
    channels = tuple(
        attrs.evolve(c, device_energy_j=by_id[c.id].device_j, share_rules=by_id[c.id].rule_j)
        if c.id in by_id
        else c
        for c in report.channels
    )
    return attrs.evolve(report, channels=channels)


@overload
def track_energy(func: Callable[P, R], /) -> TrackedFunction[P, R]: ...


@overload
def track_energy(func: None = None, /, **options: Unpack[TrackerOptions]) -> EnergyTracker: ...


@spell_out_options
def track_energy(
    func: Callable[P, R] | None = None, /, **options: Unpack[TrackerOptions]
) -> EnergyTracker | TrackedFunction[P, R]:
    """Measure energy, CO2e and cost: ``with track_energy() as t``, ``@track_energy``, or
    ``@track_energy(...)``. The options are :class:`~nlpfootprint.settings.TrackerSettings`'
    fields; see :class:`EnergyTracker`.

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
        raise ConfigurationTypeError(
            f"track_energy() takes keyword arguments only, got {func!r} as a positional "
            "argument (did you mean track_energy(meters=[...])?)"
        )
    tracker = EnergyTracker(TrackerSettings.of(**options))
    return tracker if func is None else tracker(func)
