"""The run log: a JSONL file a tracker writes as it runs, readable even after a crash.

Line 1 is a header (``schema`` ``nlpfootprint.runlog/1``, start time, host, pid, command,
channels, settings, library version); then one compact line per reading,
``{"t":12.000001,"m":0,"v":[123.4,5.6]}`` (``t``: seconds since the tracker started, to the
microsecond; ``m``: the meter's index; ``v``: its values, ``null`` for a non-finite one),
``{"t":..,"m":..,"err":"..."}`` per failed reading, ``{"t":..,"steps":n,"tokens":n}`` when the
counts changed, and ``{"summary": {...}}`` (the report's ``to_dict()``) at a clean stop.

:class:`RunLogWriter` buffers lines and hands them to the OS every ``flush_s`` seconds of
real time (``*.gz`` names are gzip with a sync flush each time, so a cut stream still
reads), and fsyncs at close; a failing write is recorded, never raised. :func:`load_run`
reads a log, tolerating a cut-off last line, a missing summary and a gzip stream without
its trailer; :func:`report_from_log` turns it into a :class:`~nlpfootprint.Report` under
the logged or other assumptions, rebuilding the energy from the samples for a run that
never finished.

Size, measured: a week at 1 s with 2 meters x 4 energy counters (1.2 M sample lines of
about 85 bytes; NVML millijoule and RAPL microjoule counters, every digit kept) is 102 MB
plain and 46 MB as ``.gz`` (flushed every 2 s; 20% smaller still with ``log_flush_s=60``);
with 4 power channels (watts to the milliwatt) instead of GPU counters, 90 MB and 41 MB.
Reading such a week back takes about 6 s.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import math
import os
import platform
import re
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import IO, Any

import attrs
import numpy as np
import numpy.typing as npt

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.errors import ReportFormatError
from nlpfootprint.meters.base import Channel

__all__ = [
    "SCHEMA",
    "MeterSamples",
    "RunLog",
    "RunLogError",
    "RunLogWriter",
    "load_run",
    "log_settings",
    "report_from_log",
]

#: Identifies the run-log layout (the first line's ``schema``).
SCHEMA = "nlpfootprint.runlog/1"
_VERSION = 1
_SCHEMA_RE = re.compile(r"nlpfootprint\.runlog/(\d+)")
_CHUNK = 1 << 20
_SEP = (",", ":")
log = logging.getLogger("nlpfootprint")
Floats = npt.NDArray[np.float64]


class RunLogError(ReportFormatError):
    """A file is not a run log this version can read; the message names the file and why."""


def _num(value: float) -> str:
    value = float(value)
    return repr(value) if math.isfinite(value) else "null"


def log_settings(
    assumptions: Assumptions, *, interval_s: float, name: str | None, trace_points: int
) -> dict[str, Any]:
    """The header's ``settings``: what a report of the log needs besides the samples."""
    return {
        "interval_s": interval_s,
        "name": name,
        "trace_points": trace_points,
        **assumptions.to_dict(),
    }


class RunLogWriter:
    """Writes a run log to ``path`` (gzip when it ends in ``.gz``); opening may raise OSError.

    Lines are buffered and written out once ``flush_s`` seconds of real time
    (:func:`time.monotonic`) have passed since the last write-out (0: every line), so a
    crash loses at most that much. Thread-safe. No method raises on a failed write: the
    first error goes to :attr:`errors` and the log, later lines are dropped.
    """

    def __init__(self, path: str | os.PathLike[str], *, flush_s: float = 2.0) -> None:
        self.path = os.fspath(path)
        self.flush_s = flush_s
        #: Write errors (at most one: writing stops at the first).
        self.errors: list[str] = []
        self._raw: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._gz = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw)
            if self.path.endswith(".gz")
            else None
        )
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._last_flush = time.monotonic()
        self._t0 = 0.0
        self._counts = (0, 0)
        self._done = False

    def header(
        self,
        *,
        channels: Sequence[Channel],
        meter_names: Sequence[str],
        settings: Mapping[str, object],
        command: Sequence[str] | None,
        t0: float,
        meter_of: Sequence[int] | None = None,
        started_at: str | None = None,
    ) -> None:
        """Write the header line now; later times are seconds since ``t0`` (clock time).

        ``meter_of`` gives each channel's meter index (default: all of meter 0).
        """
        from nlpfootprint import __version__

        self._t0 = t0
        meter_of = meter_of if meter_of is not None else [0] * len(channels)
        head = {
            "schema": SCHEMA,
            "started_at": started_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "pid": os.getpid(),
            "command": None if command is None else list(command),
            "version": __version__,
            "meters": list(meter_names),
            "channels": [
                {**attrs.asdict(c), "domain": c.domain.value, "meter": m}
                for c, m in zip(channels, meter_of, strict=True)
            ],
            "settings": dict(settings),
        }
        self._write(json.dumps(head, separators=_SEP, default=str), force=True)

    def sample(self, t: float, meter_index: int, values: Sequence[float]) -> None:
        """Log one meter's reading taken at clock time ``t``."""
        vals = ",".join(map(_num, values))
        self._write(f'{{"t":{round(t - self._t0, 6)!r},"m":{meter_index},"v":[{vals}]}}')

    def failure(self, t: float, meter_index: int, error: str) -> None:
        """Log that a meter failed to read at ``t``."""
        rel = round(t - self._t0, 6)
        self._write(json.dumps({"t": rel, "m": meter_index, "err": error[:500]}, separators=_SEP))

    def counts(self, t: float, steps: int, tokens: int) -> None:
        """Log the step and token counts at ``t``, when they changed since the last time."""
        if (steps, tokens) != self._counts:
            self._counts = (steps, tokens)
            self._write(f'{{"t":{round(t - self._t0, 6)!r},"steps":{steps},"tokens":{tokens}}}')

    def summary(self, report_dict: Mapping[str, Any]) -> None:
        """Log the final report (its ``to_dict()``): the mark of a clean stop."""
        try:
            line = json.dumps({"summary": report_dict}, separators=_SEP, allow_nan=False)
        except (TypeError, ValueError) as err:  # a bug, but the log must not raise
            self._fail(err)
        else:
            self._write(line, force=True)

    def close(self) -> None:
        """Write out what is buffered, fsync and close. Safe to call twice."""
        with self._lock:
            if self._done:
                return
            self._flush()
            self._done = True
            try:
                if self._gz is not None:
                    self._gz.close()
                self._raw.flush()
                os.fsync(self._raw.fileno())
            except (OSError, ValueError) as err:
                self._fail(err)
            finally:
                try:
                    self._raw.close()
                except (OSError, ValueError) as err:
                    self._fail(err)

    def _write(self, line: str, *, force: bool = False) -> None:
        with self._lock:
            if self._done or self.errors:
                return
            self._lines.append(line)
            if force or time.monotonic() - self._last_flush >= self.flush_s:
                self._flush()

    def _flush(self) -> None:
        if not self._lines or self.errors:
            return
        data = ("\n".join(self._lines) + "\n").encode()
        self._lines.clear()
        try:
            if self._gz is not None:
                self._gz.write(data)
                self._gz.flush(zlib.Z_SYNC_FLUSH)
            else:
                self._raw.write(data)
                self._raw.flush()
        except (OSError, ValueError) as err:
            self._fail(err)
        self._last_flush = time.monotonic()

    def _fail(self, err: BaseException) -> None:
        if not self.errors:
            self.errors.append(f"writing the run log {self.path} failed: {err}")
            log.warning("nlpfootprint: %s; later lines are dropped", self.errors[0])
        self._lines.clear()


from nlpfootprint._runlog_read import (  # noqa: E402 - the reader imports this module's names
    MeterSamples,
    RunLog,
    load_run,
    report_from_log,
)
