"""A run log's report: the summary of a clean stop, or its readings replayed.

A run that crashed or was killed left no summary. Its readings are replayed, in the order
they were written, through a fresh :class:`~nlpfootprint.ledger.Ledger` and
:class:`~nlpfootprint.trace.BoundedTrace` set up as the live run set up its own, and the
report is built by :meth:`~nlpfootprint.Report.from_ledger`, as the tracker builds it. The
same code on the same numbers: a rebuilt report is what the run would have reported.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.checks import path_text
from nlpfootprint.errors import NlpFootprintError, ReportFormatError
from nlpfootprint.idle import Baseline
from nlpfootprint.ledger import Ledger
from nlpfootprint.peaks import Efficiency
from nlpfootprint.report import Report
from nlpfootprint.runlog.reader import LogReader, RunLog
from nlpfootprint.runlog.schema import RunLogError
from nlpfootprint.runlog.screen import logged_summary
from nlpfootprint.runlog.writer import writing_here
from nlpfootprint.series import IntensityArg
from nlpfootprint.trace import BoundedTrace

__all__ = ["replay", "report_from_log"]


def report_from_log(
    source: str | os.PathLike[str] | RunLog,
    *,
    pue: float | None = None,
    carbon_intensity: IntensityArg = None,
    price_per_kwh: float | None = None,
    from_samples: bool = False,
) -> Report:
    """The report of a run log, re-accounted under any assumption given (None: as logged).

    A log with a summary gives back the tracker's report. Without one (the run crashed or
    was killed), or with ``from_samples=True``, the readings are replayed through the
    ledger the tracker uses, up to the last one logged; a crashed run's report says so in
    its warnings (and has no windows).

    Raises:
        RunLogError: The file is not a readable run log (see :func:`load_run`).
    """
    if isinstance(source, RunLog):
        if source.summary is not None and not from_samples:
            report = _summary_report(source.path, source.summary)
        else:
            report = replay(source.path, keep_summary=not from_samples)
    elif from_samples:
        report = replay(path_text("path", source))
    else:
        report = _logged_report(LogReader(path_text("path", source)))
    if pue is None and carbon_intensity is None and price_per_kwh is None:
        return report
    return report.with_assumptions(
        pue=pue, carbon_intensity=carbon_intensity, price_per_kwh=price_per_kwh
    )


def _logged_report(reader: LogReader) -> Report:
    """The summary's report when the log holds one (found without a replay, see
    :mod:`~nlpfootprint.runlog.screen`); else the replay, which reads every line."""
    summary = logged_summary(reader)
    if summary is not None:
        return _summary_report(reader.path, summary)
    return _replay(reader if reader.unread else LogReader(reader.path), keep_summary=True)


def _summary_report(path: str, summary: dict[str, object]) -> Report:
    try:
        return Report.from_dict(summary)
    except ReportFormatError as err:
        raise RunLogError(f"{path}: the summary line is malformed ({err})") from err


def replay(path: str | os.PathLike[str], *, keep_summary: bool = False) -> Report:
    """The report rebuilt from a log's readings alone.

    With ``keep_summary``, a log that turns out to end with a summary gives that instead
    (a log read once, whatever it holds).
    """
    return _replay(LogReader(path), keep_summary=keep_summary)


def _replay(reader: LogReader, *, keep_summary: bool) -> Report:
    settings = reader.header["settings"]
    interval_s = float(settings["interval_s"])  # both checked by the reader
    points = int(settings.get("trace_points", 2048))
    meters = [
        [c for c, m in zip(reader.channels, reader.meter_of, strict=True) if m == index]
        for index in range(len(reader.widths))
    ]
    warnings: list[str] = []
    try:
        ledger = Ledger(
            meters,
            meter_names=reader.header.get("meters"),
            trace=BoundedTrace.for_run(interval_s, points),
            warn=warnings.append,
        )
    except (NlpFootprintError, TypeError, ValueError, ArithmeticError) as err:
        reader.close()
        raise RunLogError(f"{reader.path}: the run log's header is malformed ({err})") from err
    summary = _feed(reader, ledger)
    if keep_summary and summary is not None:
        return _summary_report(reader.path, summary)
    end = ledger.last_t if ledger.last_t is not None else 0.0
    if summary is None and _still_running(reader.path, reader.header):
        head = (
            f"the run is still in progress (process {reader.header.get('pid')} on this "
            f"host): this is the energy up to its latest logged sample, t={end:.3f} s"
        )
    elif summary is None:
        cut = " (its last line was cut off)" if reader.truncated else ""
        head = (
            f"the run did not finish cleanly: the log has no summary and ends at t={end:.3f} s"
            f"{cut}; the energy is rebuilt from the samples logged up to there"
        )
    else:
        head = (
            "rebuilt from the log's samples (from_samples=True): the log holds no windows "
            "and none of the tracker's own warnings"
        )
        job = summary.get("job")
        if isinstance(job, dict) and job.get("scope") == "job":
            head += (
                f"; and the samples are rank {job.get('rank', 0)}'s own devices only, of a "
                f"job of {job.get('world_size')} ranks whose report is the summary (read it "
                "without from_samples)"
            )
    try:
        report = Report.from_ledger(
            ledger,
            end,
            assumptions=Assumptions.from_dict(settings),
            warnings=(head, *warnings),
            name=settings.get("name"),
            started_at=reader.header.get("started_at"),
            interval_s=interval_s,
            efficiency=Efficiency.from_dict(settings.get("efficiency")),
        )
        baseline = Baseline.from_dict(settings.get("baseline"))  # None: a run without one
        return report if baseline is None else report.with_baseline(baseline)
    except (NlpFootprintError, TypeError, ValueError, ArithmeticError) as err:
        raise RunLogError(f"{reader.path}: its readings do not make a report: {err}") from err


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:110]}...)"


def _feed(reader: LogReader, ledger: Ledger) -> dict[str, Any] | None:
    """Hand each event to the ledger as the sampler handed it live; return the last
    summary met."""
    summary = None
    on_reading = ledger.on_reading
    for event in reader:
        kind = event[0]
        try:
            if kind == "v":
                on_reading(event[2], event[1], event[3])
            elif kind == "err":
                ledger.on_failure(event[2], event[1], event[3])
            elif kind == "counts":
                ledger.count_to(event[2], event[3], event[4])
                ledger.on_round(event[1])
            else:
                summary = dict(event[1]) or summary
        except (NlpFootprintError, ValueError, ArithmeticError) as err:  # counts going down
            raise RunLogError(
                f"{reader.path}: cannot replay the event {_short(event)}: {err}"
            ) from err
    return summary


def _still_running(path: str, header: dict[str, object]) -> bool:
    """True when the log's run goes on: this process has it open for writing, or its
    writer is another process alive on this host (not a log left by a crash)."""
    pid = header.get("pid")
    if header.get("host") != platform.node() or isinstance(pid, bool) or not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return writing_here(path)
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists, under another user
    return True
