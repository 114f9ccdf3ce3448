"""Reading a run log: :func:`load_run` for arrays, :class:`LogReader` for a replay.

Both walk the same parser: the header is checked once, then each line becomes an event --
a reading, a failure, new counts, the summary -- in the order it was written. A cut-off
last line (a crash mid-write) ends the log quietly; a corrupt line before it is an error
that names the line.
"""

from __future__ import annotations

import json
import math
import os
import zlib
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from nlpfootprint.meters.base import Channel
from nlpfootprint.runlog.schema import RunLogError, parse_header

__all__ = ["Event", "LogReader", "MeterSamples", "RunLog", "load_run"]

_CHUNK = 1 << 20
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


class _Source:
    """The bytes of a plain or gzip file, in chunks; ``cut`` when a gzip stream is cut."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.cut = False

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            chunk = f.read(_CHUNK)
            if not chunk.startswith(b"\x1f\x8b"):
                while chunk:
                    yield chunk
                    chunk = f.read(_CHUNK)
                return
            stream, fed = zlib.decompressobj(wbits=31), False
            while chunk:
                try:
                    data = stream.decompress(chunk)
                except zlib.error:  # garbage after the last flush, as a crash may leave
                    self.cut = True
                    return
                yield data
                fed = True
                chunk = stream.unused_data if stream.eof else b""
                if stream.eof:  # another gzip member may follow
                    stream, fed = zlib.decompressobj(wbits=31), False
                chunk = chunk or f.read(_CHUNK)
            self.cut = fed and not stream.eof


def _lines(chunks: _Source) -> Iterator[tuple[int, bytes, bool]]:
    """``(line_number, line, is_last)`` of non-blank lines; the last may lack its newline."""
    pending, held, number = b"", None, 0
    for chunk in chunks:
        start = (pending + chunk).lstrip() if held is None else b"{"
        if start and not start.startswith(b"{"):  # not JSON lines: stop at once
            yield (1, start[:200], True)
            return
        *complete, pending = (pending + chunk).split(b"\n")
        for line in complete:
            number += 1
            if line.strip():
                if held is not None:
                    yield (*held, False)
                held = (number, line)
    if pending.strip():
        if held is not None:
            yield (*held, False)
        held = (number + 1, pending)
    if held is not None:
        yield (*held, True)


def _value(v: object) -> float:
    """A logged value: a number, ``null`` (NaN) or ``"inf"``/``"-inf"``; else ValueError."""
    if v is None:
        return math.nan
    if isinstance(v, str) and v not in ("inf", "-inf"):
        raise ValueError(f"{v!r} is not a number")
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError(f"{v!r} is not a number")
    return float(v)


def _event(obj: object, widths: list[int]) -> Event | None:
    """One decoded line as an event (ValueError/TypeError/KeyError when malformed)."""
    if not isinstance(obj, dict):
        raise TypeError("not a JSON object")
    if "m" in obj or "v" in obj or "err" in obj:
        m = obj["m"]
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < len(widths):
            raise ValueError(f"meter index {m!r} is not one of 0..{len(widths) - 1}")
        if "v" in obj:
            vals = obj["v"]
            if len(vals) != widths[m]:
                raise ValueError(f"{len(vals)} values for meter {m}'s {widths[m]} channels")
            values = [_value(v) for v in vals]
            return ("v", float(obj["t"]), m, values)
        if "err" in obj:
            return ("err", float(obj["t"]), m, str(obj["err"]))
    if "steps" in obj:
        return ("counts", float(obj["t"]), int(obj["steps"]), int(obj["tokens"]))
    if "summary" in obj:
        return ("summary", dict(obj["summary"]))
    return None


class LogReader:
    """A run log opened for reading: its header now, its events on iteration.

    Raises:
        RunLogError: ``path`` is not a file, is empty, is not a run log, is one of a newer
            schema, or (while iterating) is corrupt before its last line.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        name = self.path = os.fspath(path)
        if not os.path.isfile(name):
            why = "is not a file" if os.path.exists(name) else "does not exist"
            raise RunLogError(f"{name} {why}: expected a run log (a .jsonl file from log=)")
        self._source = _Source(name)
        self._lines = _lines(self._source)
        first = next(self._lines, None)
        if first is None:
            raise RunLogError(f"{name} is empty (the run wrote nothing, or it is not a run log)")
        self.header, self.channels, self.meter_of = parse_header(name, _decode(name, *first))
        self.widths = [self.meter_of.count(m) for m in range(max(self.meter_of) + 1)]
        #: True once iteration met a cut-off last line or gzip stream.
        self.truncated = False

    def __iter__(self) -> Iterator[Event]:
        for number, line, last in self._lines:
            try:
                event = _event(json.loads(line), self.widths)
            except (ValueError, TypeError, KeyError, IndexError) as err:
                if last:
                    self.truncated = True
                    break
                raise RunLogError(
                    f"{self.path}: line {number} is corrupt ({err}): {line[:80]!r}"
                ) from err
            if event is not None:
                yield event
        self.truncated = self.truncated or self._source.cut


def _decode(name: str, _number: int, line: bytes, cut: bool) -> object:
    if not line.lstrip().startswith(b"{"):
        raise RunLogError(
            f"{name} is not an nlpfootprint run log: it does not start with a JSON object"
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
        RunLogError: ``path`` is not a file, is empty, is not a run log, is one of a newer
            schema, or is corrupt before its last line.
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
