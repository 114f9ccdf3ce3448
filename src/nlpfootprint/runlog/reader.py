"""Reading a run log: :func:`load_run` for arrays, :class:`LogReader` for a replay.

Both walk the same parser: the header is checked once, then each line becomes an event --
a reading, a failure, new counts, the summary -- in the order it was written. A cut-off
last line (a crash mid-write: no newline, not JSON) ends the log quietly; any other line
that is not what a tracker writes is an error that names the file and the line.

What a hostile file can do is bounded. :mod:`~nlpfootprint.runlog.source` opens only a
regular file and hands over lines of bounded length, read and decompressed in bounded
steps; here a line may nest :data:`~nlpfootprint.report_dict.MAX_JSON_DEPTH` deep, and
a time must be seconds since the run's start, from 0 to :data:`MAX_TIME_S`, never going
back for its meter.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from nlpfootprint.checks import path_text
from nlpfootprint.meters.base import Channel
from nlpfootprint.report_dict import MAX_JSON_DEPTH, json_too_deep
from nlpfootprint.runlog.schema import RunLogError, parse_header
from nlpfootprint.runlog.source import (
    HEADER_MAX_BYTES,
    LINE_MAX_BYTES,
    SUMMARY_MAX_BYTES,
    Source,
    lines,
    open_log,
)

__all__ = [
    "HEADER_MAX_BYTES",
    "LINE_MAX_BYTES",
    "MAX_TIME_S",
    "SUMMARY_MAX_BYTES",
    "Event",
    "LogReader",
    "MeterSamples",
    "RunLog",
    "load_run",
]

#: The latest time a log may hold, in seconds since the run's start (about 32 years).
MAX_TIME_S = 1e9
Floats = npt.NDArray[np.float64]

#: ``("v", t, meter, values)``, ``("err", t, meter, message)``,
#: ``("counts", t, steps, tokens)`` or ``("summary", dict)``.
Event = tuple[Any, ...]


@attrs.frozen(eq=False)
class MeterSamples:
    """One meter's readings: ``times_s`` since the start, ``values`` (rows, as read: NaN,
    inf and -inf included)."""

    times_s: Floats
    values: Floats


@attrs.frozen(eq=False)
class RunLog:
    """A run log as read by :func:`load_run`.

    Attributes:
        path: The file.
        header: The header line as a dict.
        channels: The channels, in the order of the meters' values.
        channel_meters: Each channel's meter index.
        samples: Per meter, the sample times and values.
        failures: ``(time_s, meter_index, error)`` of each failed reading.
        counts: Rows of ``(time_s, steps, tokens)``, each written when the counts changed.
        summary: The final report dict, or None when the run did not stop cleanly.
        truncated: True when the file ends mid-line or mid-compressed-stream (a crash).
    """

    path: str
    header: dict[str, Any]
    channels: tuple[Channel, ...]
    channel_meters: tuple[int, ...]
    samples: tuple[MeterSamples, ...]
    failures: tuple[tuple[float, int, str], ...]
    counts: Floats
    summary: dict[str, Any] | None
    truncated: bool

    @property
    def complete(self) -> bool:
        """True when the log ends with a summary (the tracker stopped cleanly)."""
        return self.summary is not None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)} characters)"


def _time(obj: dict[str, Any]) -> float:
    """A line's time: seconds since the run's start, from 0 to MAX_TIME_S."""
    t = obj["t"]
    if isinstance(t, bool) or not isinstance(t, int | float):
        raise TypeError(f"its time t={_short(t)} is not a number")
    try:
        seconds = float(t)
    except OverflowError:
        seconds = math.inf
    if not 0.0 <= seconds <= MAX_TIME_S:  # NaN too
        raise ValueError(
            f"its time t={_short(t)} is not seconds since the run's start (from 0 to "
            f"{MAX_TIME_S:g})"
        )
    return seconds


def _count(obj: dict[str, Any], key: str) -> int:
    """A line's step or token count: a whole number from 0 to 2**63 - 1."""
    n = obj[key]
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 2**63:
        raise ValueError(f"{key}={_short(n)} is not a count (a whole number from 0 to 2**63-1)")
    return n


def _value(v: object) -> float:
    """A logged value: a number, ``null`` (NaN) or ``"inf"``/``"-inf"``; else ValueError."""
    if v is None:
        return math.nan
    if isinstance(v, str) and v not in ("inf", "-inf"):
        raise ValueError(f"{_short(v)} is not a number")
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError(f"{_short(v)} is not a number")
    try:
        return float(v)
    except OverflowError:
        return math.inf


def _event(obj: object, widths: list[int]) -> Event | None:
    """One decoded line as an event (ValueError/TypeError/KeyError when malformed)."""
    if not isinstance(obj, dict):
        raise TypeError("not a JSON object")
    if "m" in obj or "v" in obj or "err" in obj:
        m = obj["m"]
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < len(widths):
            raise ValueError(f"meter index {_short(m)} is not one of 0..{len(widths) - 1}")
        if "v" in obj:
            vals = obj["v"]
            if not isinstance(vals, list):
                raise TypeError(f"its values {_short(vals)} are not a list")
            if len(vals) != widths[m]:
                raise ValueError(f"{len(vals)} values for meter {m}'s {widths[m]} channels")
            values = [_value(v) for v in vals]
            return ("v", _time(obj), m, values)
        if "err" in obj:
            if not isinstance(obj["err"], str):
                raise TypeError(f"its error text {_short(obj['err'])} is not a string")
            return ("err", _time(obj), m, obj["err"])
    if "steps" in obj:
        return ("counts", _time(obj), _count(obj, "steps"), _count(obj, "tokens"))
    if "summary" in obj:
        if not isinstance(obj["summary"], dict):
            raise TypeError("its summary is not a JSON object")
        return ("summary", dict(obj["summary"]))
    return None


def _check_header(name: str, header: dict[str, Any], channels: tuple[Channel, ...]) -> None:
    """What the schema leaves open in a header: texts are strings (a report shows them)
    and meters are numbered 0, 1, 2, ... (whole numbers, none skipped); else RunLogError."""
    settings = header["settings"]
    problems = [
        f"{key}={_short(value)}"
        for key, value in (
            ("name", settings.get("name")),
            ("started_at", header.get("started_at")),
        )
        if value is not None and not isinstance(value, str)
    ]
    for key in ("meters", "command"):
        value = header.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            problems.append(f"{key}={_short(value)}")
    problems += [f"label={_short(c.label)}" for c in channels if not isinstance(c.label, str)]
    if problems:
        raise RunLogError(
            f"{name}: the run log's header is malformed (not text where text is written: "
            f"{', '.join(problems)})"
        )
    _check_trace_settings(name, settings)
    meters = [c["meter"] for c in header["channels"]]
    whole = all(isinstance(m, int) and not isinstance(m, bool) for m in meters)
    if not whole or meters[-1] != len(set(meters)) - 1:
        raise RunLogError(
            f"{name}: the run log's header is malformed (channels of meters "
            f"{_short(meters)}; expected meters numbered 0, 1, 2, ... in order)"
        )


#: The most points a trace keeps (as ``track_energy(trace_points=)`` allows).
_MAX_TRACE_POINTS = 1_000_000
#: The sampling intervals a log may state: a microsecond to some 11 days, wider than
#: ``track_energy(interval_s=)`` has ever taken.
_INTERVALS_S = (1e-6, 1e6)


def _check_trace_settings(name: str, settings: dict[str, Any]) -> None:
    """The ``interval_s`` and ``trace_points`` a replay sets its trace up with are ones a
    tracker takes (RunLogError if not: 1e-320 s bins, or 10**12 points, are no trace)."""
    interval_s = settings.get("interval_s")
    points = settings.get("trace_points", 2048)
    low, high = _INTERVALS_S
    if (
        isinstance(interval_s, bool)
        or not isinstance(interval_s, int | float)
        or not low <= interval_s <= high
    ):
        raise RunLogError(
            f"{name}: the run log's header is malformed (interval_s={_short(interval_s)}; "
            f"expected seconds from {low:g} to {high:g})"
        )
    if (
        isinstance(points, bool)
        or not isinstance(points, int)
        or not 2 <= points <= _MAX_TRACE_POINTS
    ):
        raise RunLogError(
            f"{name}: the run log's header is malformed (trace_points={_short(points)}; "
            f"expected a whole number from 2 to {_MAX_TRACE_POINTS:,})"
        )


class LogReader:
    """A run log opened for reading: its header now, its events on iteration.

    Raises:
        RunLogError: ``path`` is not a regular file, cannot be read, is empty, is not a run
            log, is one of a newer schema, or (while iterating) has a line that a tracker
            does not write (corrupt, too long, too deeply nested, a time out of place)
            before a cut-off last line.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        name = self.path = path_text("path", path)
        self._source = Source(open_log(name))
        self._lines = lines(name, self._source)
        try:
            first = next(self._lines, None)
            if first is None:
                raise RunLogError(
                    f"{name} is empty (the run wrote nothing, or it is not a run log)"
                )
            self.header, self.channels, self.meter_of = parse_header(name, _decode(name, *first))
            _check_header(name, self.header, self.channels)
        except BaseException:
            self._lines.close()  # closes the file
            raise
        self.widths = [self.meter_of.count(m) for m in range(max(self.meter_of) + 1)]
        #: True once iteration met a cut-off last line or gzip stream.
        self.truncated = False

    def __iter__(self) -> Iterator[Event]:
        last_t = [0.0] * len(self.widths)  # each meter's latest time
        try:
            for number, line, cut in self._lines:
                if len(line) > MAX_JSON_DEPTH and json_too_deep(line):  # shorter: shallow
                    raise RunLogError(
                        f"{self.path}: line {number} is nested deeper than {MAX_JSON_DEPTH} "
                        f"levels, as no run log is: {line[:80]!r}"
                    )
                try:
                    obj = json.loads(line)
                except ValueError as err:
                    if cut:  # the file ends in the middle of this line: a crash
                        self.truncated = True
                        break
                    raise RunLogError(
                        f"{self.path}: line {number} is corrupt ({err}): {line[:80]!r}"
                    ) from err
                try:
                    event = _event(obj, self.widths)
                except (ValueError, TypeError, KeyError) as err:
                    raise RunLogError(
                        f"{self.path}: line {number} is corrupt ({err}): {line[:80]!r}"
                    ) from err
                if event is not None and event[0] in ("v", "err"):
                    t, m = event[1], event[2]
                    if t < last_t[m]:
                        raise RunLogError(
                            f"{self.path}: cannot replay line {number}: meter {m}'s time "
                            f"went backwards ({t!r} after {last_t[m]!r}); a tracker writes "
                            "each meter's readings in order"
                        )
                    last_t[m] = t
                if event is not None:
                    yield event
        finally:
            self._lines.close()
        self.truncated = self.truncated or self._source.cut


def _decode(name: str, number: int, line: bytes, cut: bool) -> object:
    if not line.lstrip().startswith(b"{"):
        raise RunLogError(
            f"{name} is not an nlpfootprint run log: it does not start with a JSON object"
        )
    if json_too_deep(line):
        raise RunLogError(
            f"{name}: line {number} is nested deeper than {MAX_JSON_DEPTH} levels, as no "
            "run log's header is"
        )
    try:
        return json.loads(line)
    except ValueError as err:
        if cut:
            raise RunLogError(
                f"{name} has one incomplete line: cut off while writing its header, or not "
                "a run log"
            ) from err
        raise RunLogError(
            f"{name} is not an nlpfootprint run log: its first line is not a JSON object (a "
            "run log has one per line; a report saved with to_json() is read with "
            "Report.from_json)"
        ) from err


def load_run(path: str | os.PathLike[str]) -> RunLog:
    """Read a run log (plain or gzip), as complete as it is.

    Raises:
        RunLogError: ``path`` is not a regular file, cannot be read, is empty, is not a run
            log, is one of a newer schema, or has a line a tracker does not write before a
            cut-off last line (see :class:`LogReader`).
    """
    reader = LogReader(path)
    times: list[list[float]] = [[] for _ in reader.widths]
    values: list[list[list[float]]] = [[] for _ in reader.widths]
    failures: list[tuple[float, int, str]] = []
    counts: list[tuple[float, float, float]] = []
    summary: dict[str, Any] | None = None
    for event in reader:
        if event[0] == "v":
            times[event[2]].append(event[1])
            values[event[2]].append(event[3])
        elif event[0] == "err":
            failures.append((event[1], event[2], event[3]))
        elif event[0] == "counts":
            counts.append(event[1:])
        else:
            summary = event[1]
    samples = tuple(
        MeterSamples(np.array(t, dtype=np.float64), np.array(v, dtype=np.float64).reshape(-1, w))
        for t, v, w in zip(times, values, reader.widths, strict=True)
    )
    return RunLog(
        path=reader.path,
        header=reader.header,
        channels=reader.channels,
        channel_meters=tuple(reader.meter_of),
        samples=samples,
        failures=tuple(failures),
        counts=np.array(counts, dtype=np.float64).reshape(-1, 3),
        summary=summary,
        truncated=reader.truncated,
    )
