"""Idle baselines: measure one, read one from a file, write one.

A :class:`~nlpfootprint.idle.Baseline` is the power each channel draws when nothing runs
on it; a report given one counts its dynamic energy above it
(``track_energy(baseline=...)``, :meth:`Report.with_baseline
<nlpfootprint.Report.with_baseline>`).

* :func:`measure_baseline` reads the meters (``"auto"``, or yours) for some seconds and
  takes each channel's mean power. It measures the way a tracker does -- the same
  :class:`~nlpfootprint.sampler.Sampler` and :class:`~nlpfootprint.ledger.Ledger`, the
  report built from the ledger -- so an idle figure and a run's figures come from one
  implementation. With a :class:`~nlpfootprint.testing.FakeClock` nothing waits: the
  clock is advanced by the seconds asked for.
* :func:`load_baseline` reads a baseline file (written by ``nlpfootprint baseline --out``
  or :func:`baseline_json`), or takes a run log's (or a report JSON's) mean power per
  channel as the idle power: the log of a run that did nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.checks import MIN_INTERVAL_S, at_most, interval_value, path_text, positive
from nlpfootprint.clock import Clock, ManualClock, MonotonicClock
from nlpfootprint.errors import ConfigurationError, NlpFootprintError
from nlpfootprint.idle import Baseline
from nlpfootprint.ledger import Ledger
from nlpfootprint.meters.base import PowerMeter
from nlpfootprint.meters.meterset import MeterSet
from nlpfootprint.report import Report
from nlpfootprint.report_dict import SCHEMA_PATTERN, json_too_deep
from nlpfootprint.report_parts import PARTIAL_COVERAGE
from nlpfootprint.sampler import Sampler

__all__ = [
    "BASELINE_SCHEMA",
    "MAX_BASELINE_S",
    "Baseline",
    "baseline_json",
    "baseline_seconds",
    "load_baseline",
    "measure_baseline",
    "measure_idle",
]

log = logging.getLogger("nlpfootprint")

#: Identifies a baseline file (``nlpfootprint baseline --out``).
BASELINE_SCHEMA = "nlpfootprint.baseline/1"
#: The longest a baseline may be measured for: an hour.
MAX_BASELINE_S = 3600.0
#: The largest baseline file read (a baseline of a thousand channels is some 50 KiB).
_MAX_FILE_BYTES = 1 << 20


def baseline_seconds(value: object, name: str = "baseline_s") -> float:
    """How long to measure the idle power: more than 0 s, at most :data:`MAX_BASELINE_S`."""
    number = positive(name, value)
    return at_most(name, value, number, MAX_BASELINE_S, "an hour; idle power is steady sooner")


def _wait_on(clock: Clock) -> Callable[[float], None]:
    """How to let ``seconds`` of ``clock`` pass: advance a manual clock (a FakeClock: no
    waiting), wait on a clock that can (``wait(event, timeout_s)``), else sleep."""
    if isinstance(clock, ManualClock):
        advance: Callable[[float], None] | None = getattr(clock, "advance", None)
        if not callable(advance):
            raise ConfigurationError(
                f"clock={clock!r}: a manual clock without advance() cannot let the baseline's "
                "seconds pass"
            )
        return advance
    wait = getattr(clock, "wait", None)
    if not callable(wait):
        return time.sleep

    def wait_for(seconds: float) -> None:
        event = threading.Event()  # never set: a wait of the clock's own seconds
        deadline = clock.now() + seconds
        while (left := deadline - clock.now()) > 0:
            wait(event, left)

    return wait_for


def measure_idle(
    meters: Sequence[PowerMeter],
    seconds: float,
    *,
    clock: Clock,
    interval_s: float | None = None,
    read_timeout_s: float = 1.0,
) -> Baseline:
    """Read ``meters`` (open, and left open) for ``seconds`` of ``clock``: each channel's
    mean power is its idle power.

    ``interval_s`` defaults to a tenth of ``seconds``, at most 1 s. A channel with fewer
    than two readings, or gaps over 5% of the time, is left out (said in the baseline's
    ``warnings``). What the tracker calls for ``baseline="measure"``.
    """
    seconds = baseline_seconds(seconds, "seconds")
    interval = (
        min(max(seconds / 10, MIN_INTERVAL_S), 1.0)
        if interval_s is None
        else interval_value(interval_s)
    )
    wait = _wait_on(clock)
    warnings: list[str] = []
    channels = [tuple(m.channels) for m in meters]
    ledger = Ledger(channels, meter_names=[repr(m)[:200] for m in meters], warn=warnings.append)
    sampler = Sampler(
        meters, clock=clock, interval_s=interval, sinks=[ledger], read_timeout_s=read_timeout_s
    )
    measured_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    sampler.start()
    try:
        wait(seconds)
    finally:
        sampler.stop()
    end_t = sampler.last_t if sampler.last_t is not None else 0.0
    report = Report.from_ledger(
        ledger, end_t, assumptions=Assumptions(), warnings=[*warnings, *sampler.warnings()]
    )
    return _from_report(report, "measured", warnings=report.warnings, measured_at=measured_at)


def _from_report(
    report: Report,
    source: Literal["measured", "log"],
    *,
    warnings: Sequence[str] = (),
    measured_at: str | None = None,
    path: str | None = None,
) -> Baseline:
    """Each channel's mean power in ``report``, the channels read too little left out."""
    power: dict[str, float] = {}
    notes = list(warnings)
    for c in report.channels:
        if c.readings < 2 or c.coverage < PARTIAL_COVERAGE:
            notes.append(
                f"{c.id} has no idle power: {c.readings} reading(s), covering "
                f"{100 * c.coverage:.0f}% of the {report.duration_s:.3g} s measured"
            )
        else:
            power[c.id] = c.mean_power_w
    return Baseline(
        power,
        source,
        seconds=report.duration_s,
        measured_at=measured_at,
        path=path,
        warnings=tuple(notes),
    )


def measure_baseline(
    meters: Literal["auto"] | Sequence[PowerMeter] = "auto",
    seconds: float = 5.0,
    *,
    clock: Clock | None = None,
    interval_s: float | None = None,
    read_timeout_s: float = 1.0,
) -> Baseline:
    """Measure the idle power of each channel of ``meters``: their mean power over
    ``seconds`` (the caller waits that long; leave the machine idle meanwhile).

    Args:
        meters: ``"auto"`` (the meters this machine offers, as ``track_energy`` finds
            them; ``NLPFOOTPRINT_DISABLE`` applies) or a list of meters (left open).
        seconds: How long to measure, more than 0 and at most an hour (default 5).
        clock: Where time comes from; with a :class:`~nlpfootprint.testing.FakeClock`
            the clock is advanced by ``seconds`` and nothing waits.
        interval_s: Seconds between readings (default: a tenth of ``seconds``, at most 1).
        read_timeout_s: The longest a reading waits for a meter (as ``track_energy``'s).

    >>> from nlpfootprint.testing import FakeClock, FakeMeter
    >>> idle = measure_baseline([FakeMeter.constant(62.0)], 5.0, clock=FakeClock())
    >>> idle.power_w, idle.source, idle.seconds
    ({'gpu:0': 62.0}, 'measured', 5.0)

    Raises:
        ConfigurationError: A bad ``seconds`` or ``interval_s``, or no meter found.
    """
    seconds = baseline_seconds(seconds, "seconds")
    spec: object = meters  # a string other than "auto" is a mistake, said here
    if isinstance(spec, str) and spec != "auto":
        raise ConfigurationError(f"meters={meters!r}: expected 'auto' or a list of meters")
    meterset = MeterSet(meters)
    try:
        return measure_idle(
            meterset.meters,
            seconds,
            clock=clock or MonotonicClock(),
            interval_s=interval_s,
            read_timeout_s=read_timeout_s,
        )
    finally:
        meterset.close(lambda message: log.warning("nlpfootprint: %s", message), read_timeout_s)


def baseline_json(baseline: Baseline) -> str:
    """A baseline as the text of a baseline file (``nlpfootprint baseline --out``), which
    :func:`load_baseline` reads back."""
    data = {"schema": BASELINE_SCHEMA, **baseline.to_dict()}
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def _read_head(path: str, name: str) -> bytes:
    """Up to a baseline file's size and one byte more of ``path``, a regular file."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block open()
            raise ConfigurationError(f"{name}={path!r}: not a regular file")
        with open(path, "rb") as file:
            return file.read(_MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ConfigurationError(f"{name}={path!r}: cannot read it: {err.strerror or err}") from err


def _json_object(head: bytes) -> Mapping[str, Any] | None:
    """``head`` as a JSON object, when it is one whole (a baseline file, a report)."""
    if len(head) > _MAX_FILE_BYTES or not head.lstrip().startswith(b"{"):
        return None
    if json_too_deep(head):
        return None
    try:
        data = json.loads(head)
    except (ValueError, RecursionError):  # JSON lines: a run log
        return None
    return data if isinstance(data, dict) else None


def load_baseline(path: str | os.PathLike[str], *, name: str = "path") -> Baseline:
    """The baseline in ``path``: a baseline file (``nlpfootprint baseline --out``,
    :func:`baseline_json`), or a run log or report JSON whose channels' mean power is
    taken as their idle power (a run of nothing: ``nlpfootprint run -- sleep 60``).

    Args:
        path: The file.
        name: What to call it in errors (``"baseline"`` for ``track_energy``'s).

    Raises:
        ConfigurationError: It cannot be read, or is none of these.
    """
    text = path_text(name, path)
    data = _json_object(_read_head(text, name))
    schema = data.get("schema") if data is not None else None
    newer = isinstance(schema, str) and schema.startswith("nlpfootprint.baseline/")
    if newer and schema != BASELINE_SCHEMA:
        raise ConfigurationError(
            f"{name}={text!r}: a baseline file of schema {schema!r}, which this version does "
            f"not read (it reads {BASELINE_SCHEMA!r})"
        )
    try:
        if data is not None and schema == BASELINE_SCHEMA:
            stored = Baseline.from_dict(data)
            assert stored is not None  # data is a dict
            return Baseline(
                stored.power_w,
                "file",
                seconds=stored.seconds,
                measured_at=stored.measured_at,
                path=text,
                warnings=stored.warnings,
            )
        if data is not None and isinstance(schema, str) and SCHEMA_PATTERN.fullmatch(schema):
            report = Report.from_dict(data)
        else:
            report = Report.from_log(text)
    except NlpFootprintError as err:
        raise ConfigurationError(
            f"{name}={text!r}: expected a baseline file (nlpfootprint baseline --out), a run "
            f"log or a report's JSON: {err}"
        ) from err
    return _from_report(report, "log", measured_at=report.started_at, path=text)
