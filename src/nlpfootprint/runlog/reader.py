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

Most lines are readings, ``{"t":T,"m":M,"v":[...]}``, or counts,
``{"t":T,"steps":S,"tokens":N}`` (``,"flops":F`` before the brace once FLOPs are
counted), and a long log holds millions. Such a line, written
exactly as the tracker writes it (its numbers in JSON's grammar, no spaces, no ``null``
or ``"inf"``) and within the rules above (one value per channel, counts below 2**63), is
read with one regular expression, ``float`` and ``int`` -- the very numbers ``json.loads``
would give. Every other line, and one that breaks a rule, goes the JSON way, which
accepts it or raises the error that names it.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from nlpfootprint.checks import path_text

if TYPE_CHECKING:
    from nlpfootprint.report import Report
    from nlpfootprint.series import IntensityArg
from nlpfootprint.meters.base import Channel
from nlpfootprint.report_dict import MAX_JSON_DEPTH, json_too_deep
from nlpfootprint.runlog.schema import RunLogError, check_header, decode_header, parse_header
from nlpfootprint.runlog.schema import short as _short
from nlpfootprint.runlog.source import (
    HEADER_MAX_BYTES,
    LINE_MAX_BYTES,
    SUMMARY_MAX_BYTES,
    Block,
    Source,
    blocks,
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
#: ``("counts", t, steps, tokens, flops)`` (``flops`` None where the line has none) or
#: ``("summary", dict)``.
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
        flops: For each row of ``counts``, the FLOPs counted by then (NaN where the line
            has none: before any were counted, or a log of an earlier version).
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
    flops: Floats = attrs.field(factory=lambda: np.empty(0, dtype=np.float64))

    @property
    def complete(self) -> bool:
        """True when the log ends with a summary (the tracker stopped cleanly)."""
        return self.summary is not None

    def report(
        self,
        *,
        pue: float | None = None,
        carbon_intensity: IntensityArg = None,
        price_per_kwh: float | None = None,
        from_samples: bool = False,
    ) -> Report:
        """This log's report, re-accounted where given: ``nf.load_run(path).report()`` is
        ``nf.Report.from_log(path)`` (see :func:`~nlpfootprint.runlog.report_from_log`)."""
        from nlpfootprint.report import Report

        return Report.from_log(
            self.path,
            pue=pue,
            carbon_intensity=carbon_intensity,
            price_per_kwh=price_per_kwh,
            from_samples=from_samples,
        )


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


def _flops(obj: dict[str, Any]) -> float | None:
    """A count line's FLOPs: None where it has none, else a finite number >= 0."""
    if "flops" not in obj:
        return None
    n = obj["flops"]
    if isinstance(n, bool) or not isinstance(n, int | float) or not 0 <= n < math.inf:
        raise ValueError(f"flops={_short(n)} is not a count of FLOPs (a finite number >= 0)")
    return float(n)


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
        return ("counts", _time(obj), _count(obj, "steps"), _count(obj, "tokens"), _flops(obj))
    if "summary" in obj:
        if not isinstance(obj["summary"], dict):
            raise TypeError("its summary is not a JSON object")
        return ("summary", dict(obj["summary"]))
    return None


# A JSON number, its integer part of at most 31 digits: what ``float`` reads exactly as
# ``json.loads`` does (which reads a longer integer with ``int``, whose digits are limited).
# Possessive (``*+``, ``?+``): nothing is tried twice, so a line is matched in one pass.
_NUMBER = rb"-?+(?:0|[1-9][0-9]{0,30}+)(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"
_VALUES = _NUMBER + rb"(?:," + _NUMBER + rb")*+"
#: A reading line exactly as the tracker writes it (as :data:`_READING_LINE` rebuilds it).
_READING = re.compile(
    rb'\{"t":(' + _NUMBER + rb'),"m":(0|[1-9][0-9]{0,8}+),"v":\[(' + _VALUES + rb")\]\}"
)
#: A count line as the tracker writes it: time, steps, tokens (whole numbers < 2**63),
#: and FLOPs once counted.
_COUNTS = re.compile(
    rb'\{"t":(' + _NUMBER + rb'),"steps":(0|[1-9][0-9]{0,18}+),"tokens":(0|[1-9][0-9]{0,18}+)'
    rb'(?:,"flops":(' + _NUMBER + rb"))?+\}"
)
#: Each line of a block: a reading's time, meter and values, a count line's time, steps,
#: tokens and FLOPs, or else the whole line.
_LINES = re.compile(
    rb"^(?:" + _READING.pattern + rb"|" + _COUNTS.pattern + rb"|(.*))$", re.MULTILINE
)
_READING_LINE = b'{"t":%s,"m":%s,"v":[%s]}'
_COUNTS_LINE = b'{"t":%s,"steps":%s,"tokens":%s%s}'
_MAX_COUNT = 2**63
Blocks = Generator[Block, None, None]


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
        self._blocks = blocks(name, self._source)
        #: The lines read with the header's block but not yet handed out.
        self._pending: Block | None = None
        #: True until the lines after the header are asked for.
        self.unread = True
        try:
            number, line, cut = self._header_line(name)
            self.header, self.channels, self.meter_of = parse_header(
                name, decode_header(name, number, line, cut)
            )
            check_header(name, self.header, self.channels)
        except BaseException:
            self._blocks.close()  # closes the file
            raise
        self.widths = [self.meter_of.count(m) for m in range(max(self.meter_of) + 1)]
        #: True once iteration met a cut-off last line or gzip stream.
        self.truncated = False

    def _header_line(self, name: str) -> tuple[int, bytes, bool]:
        """The first line that is not blank; what follows it in its block is kept."""
        for number, count, data, cut in self._blocks:
            start = 0
            for offset, line in enumerate(data.split(b"\n")):
                start += len(line) + 1
                if line.strip():
                    if start < len(data):
                        rest = (number + offset + 1, count - offset - 1, data[start:], cut)
                        self._pending = rest
                    return number + offset, line, cut
        raise RunLogError(f"{name} is empty (the run wrote nothing, or it is not a run log)")

    def blocks(self) -> Blocks:
        """The lines after the header, many at a time (see :func:`~.source.blocks`);
        the file is closed at their end. Once only: the reader is then spent."""
        self.unread = False
        try:
            if self._pending is not None:
                yield self._pending
                self._pending = None
            yield from self._blocks
        finally:
            self._blocks.close()
        self.truncated = self.truncated or self._source.cut

    def close(self) -> None:
        """Close the file (iterating or :meth:`blocks` to the end does it too)."""
        self._blocks.close()

    def tail(self, size: int) -> bytes | None:
        """The last ``size`` bytes of a plain log, None for a gzip one."""
        return self._source.tail(size)

    def __iter__(self) -> Iterator[Event]:
        last_t = [0.0] * len(self.widths)  # each meter's latest time
        widths, meters, each_line = self.widths, len(self.widths), _LINES.findall
        for first, _, data, cut in self.blocks():
            for number, groups in enumerate(each_line(data), first):
                t_text, m_text, v_text, c_text, steps, tokens, flops, line = groups
                if t_text:  # the usual line, read the short way
                    t, m = float(t_text), int(m_text)
                    if m < meters and last_t[m] <= t <= MAX_TIME_S:
                        values = [*map(float, v_text.split(b","))]
                        if len(values) == widths[m]:
                            last_t[m] = t
                            yield ("v", t, m, values)
                            continue
                    line = _READING_LINE % (t_text, m_text, v_text)
                elif c_text:  # the other usual line
                    t, n_steps, n_tokens = float(c_text), int(steps), int(tokens)
                    n_flops = float(flops) if flops else None
                    if (
                        0.0 <= t <= MAX_TIME_S
                        and max(n_steps, n_tokens) < _MAX_COUNT
                        and (n_flops is None or 0.0 <= n_flops < math.inf)
                    ):
                        yield ("counts", t, n_steps, n_tokens, n_flops)
                        continue
                    more = b',"flops":' + flops if flops else b""
                    line = _COUNTS_LINE % (c_text, steps, tokens, more)
                event = self.event(number, line, cut, last_t)
                if event is not None:
                    yield event

    def event(self, number: int, line: bytes, cut: bool, last_t: list[float]) -> Event | None:
        """Line ``number`` read as JSON: its event, or None for a blank line, a kind of
        line this version does not know, or a cut-off last line (then ``truncated``).
        ``last_t`` holds each meter's latest time, and is updated.

        Raises:
            RunLogError: The line is not one a tracker writes.
        """
        if not line.strip():
            return None
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
                return None
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
                    f"{self.path}: cannot replay line {number}: meter {m}'s time went "
                    f"backwards ({t!r} after {last_t[m]!r}); a tracker writes each meter's "
                    "readings in order"
                )
            last_t[m] = t
        return event


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
    flops: list[float] = []
    summary: dict[str, Any] | None = None
    for event in reader:
        if event[0] == "v":
            times[event[2]].append(event[1])
            values[event[2]].append(event[3])
        elif event[0] == "err":
            failures.append((event[1], event[2], event[3]))
        elif event[0] == "counts":
            counts.append(event[1:4])
            flops.append(math.nan if event[4] is None else event[4])
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
        flops=np.array(flops, dtype=np.float64),
    )
