"""A bounded power trace for plots: constant memory however long the run.

Energy increments are binned on a regular time grid. When the grid would exceed its
capacity, neighbouring bins are merged in pairs and the bin width doubles, so the trace
always covers the whole run at the finest resolution that fits. Merging adds energies, so
the trace's total energy always equals what was added.

The trace also keeps when each named window (``tracker.window("eval")``) ran, for the plot
to shade: at most :data:`MAX_WINDOW_SPANS` spans per window. Beyond that, neighbouring
spans are merged in pairs and each later span takes as many entries as the merged ones
hold (2, then 4, ...), so the spans stay evenly spread over the run, each covering its
entries and the time between them; :attr:`WindowSpans.entries` keeps the true count.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import attrs

from nlpfootprint.meters.base import Domain

__all__ = ["MAX_WINDOW_SPANS", "BoundedTrace", "TraceData", "WindowSpanLog", "WindowSpans"]

_DOMAINS = tuple(Domain)
_DOMAIN_INDEX: dict[str, int] = {d: i for i, d in enumerate(_DOMAINS)}

#: The most spans kept per window (beyond it, neighbouring spans merge in pairs).
MAX_WINDOW_SPANS = 256


def _seconds(what: str, values: object) -> tuple[float, ...]:
    """``values`` as a tuple of finite floats (TypeError or ValueError naming ``what``)."""
    if not isinstance(values, list | tuple):
        raise TypeError(f"{what}: expected a list of seconds, got {type(values).__name__}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(f"{what}: {v!r} is not a finite number of seconds")
        out.append(float(v))
    return tuple(out)


@attrs.frozen
class WindowSpans:
    """When the entries of one named window ran, in seconds since the run started.

    Attributes:
        name: The window's name.
        start_s: Start of each span.
        end_s: End of each span.
        entries: How many times the window was entered and left. More than there are
            spans when neighbouring spans were merged (past :data:`MAX_WINDOW_SPANS`): a
            span then covers several entries and the time between them.
        parents: The names of the windows it ran inside, outermost first (none: a window
            of the run itself).
    """

    name: str
    start_s: tuple[float, ...]
    end_s: tuple[float, ...]
    entries: int
    parents: tuple[str, ...] = ()

    @property
    def merged(self) -> bool:
        """True when some spans cover several entries."""
        return self.entries > len(self.start_s)

    @property
    def path(self) -> tuple[str, ...]:
        """The parents' names, then its own."""
        return (*self.parents, self.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready lists."""
        return {
            "name": self.name,
            "parents": list(self.parents),
            "start_s": list(self.start_s),
            "end_s": list(self.end_s),
            "entries": self.entries,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowSpans:
        """Read :meth:`to_dict` output back.

        Raises:
            TypeError, ValueError: A field is missing its type, a time is not finite, a
                span ends before it starts, or there are more spans than entries.
        """
        name, parents, entries = data["name"], data.get("parents", []), data["entries"]
        if not isinstance(name, str):
            raise TypeError(f"window span name: expected a string, got {type(name).__name__}")
        if not isinstance(parents, list | tuple) or not all(isinstance(p, str) for p in parents):
            raise TypeError(f"window {name!r}: parents must be a list of names")
        starts = _seconds(f"window {name!r} start_s", data["start_s"])
        ends = _seconds(f"window {name!r} end_s", data["end_s"])
        if len(starts) != len(ends) or any(e < s for s, e in zip(starts, ends, strict=True)):
            raise ValueError(f"window {name!r}: each span needs a start and an end after it")
        if isinstance(entries, bool) or not isinstance(entries, int) or entries < len(starts):
            raise ValueError(
                f"window {name!r}: entries={entries!r} must be a whole number of at least "
                f"its {len(starts)} spans"
            )
        return cls(name, starts, ends, entries, tuple(parents))


class _Spans:
    """The spans of one window as they are recorded (see :class:`WindowSpanLog`)."""

    __slots__ = ("ends", "entries", "group", "in_last", "starts")

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.entries = 0
        self.group = 1  # entries per span (a power of 2)
        self.in_last = 0  # entries in the last span

    def add(self, start_s: float, end_s: float, capacity: int) -> None:
        self.entries += 1
        if self.starts and self.in_last < self.group:
            self.ends[-1] = max(self.ends[-1], end_s)
            self.in_last += 1
            return
        if len(self.starts) >= capacity:  # every span full: merge them in pairs
            self.starts = self.starts[0::2]
            self.ends = self.ends[1::2]
            self.group *= 2
        self.starts.append(start_s)
        self.ends.append(end_s)
        self.in_last = 1


class WindowSpanLog:
    """When each named window ran: at most ``capacity`` spans per window, however many
    entries (see the module's docstring for how they merge).

    >>> log = WindowSpanLog(capacity=2)
    >>> for t in range(5):
    ...     log.record(("eval",), 10.0 * t, 10.0 * t + 1)
    >>> (spans,) = log.spans()
    >>> spans.start_s, spans.end_s, spans.entries
    ((0.0, 40.0), (31.0, 41.0), 5)
    """

    __slots__ = ("_by_path", "_lock", "capacity")

    def __init__(self, capacity: int = MAX_WINDOW_SPANS) -> None:
        _check_capacity(capacity)
        self.capacity = capacity
        self._by_path: dict[tuple[str, ...], _Spans] = {}
        self._lock = threading.Lock()  # recorded in the user's thread, read in any

    def record(self, path: tuple[str, ...], start_s: float, end_s: float) -> None:
        """One entry of the window ``path`` (its parents' names, then its own) ran from
        ``start_s`` to ``end_s``.

        Raises:
            ValueError: ``path`` is empty, a time is not finite, or the entry ends before
                it starts.
        """
        if not path:
            raise ValueError("a window span needs the window's name")
        if not (math.isfinite(start_s) and math.isfinite(end_s)) or end_s < start_s:
            raise ValueError(
                f"window {path[-1]!r}: span ({start_s!r}, {end_s!r}) must be finite and "
                "end after it starts"
            )
        with self._lock:
            spans = self._by_path.get(path)
            if spans is None:
                spans = self._by_path[tuple(path)] = _Spans()
            spans.add(start_s, end_s, self.capacity)

    def spans(self, origin: float = 0.0) -> tuple[WindowSpans, ...]:
        """The windows' spans so far, in seconds since ``origin``, in the order the windows
        first ended."""
        with self._lock:
            return tuple(
                WindowSpans(
                    name=path[-1],
                    start_s=tuple(t - origin for t in s.starts),
                    end_s=tuple(t - origin for t in s.ends),
                    entries=s.entries,
                    parents=path[:-1],
                )
                for path, s in self._by_path.items()
            )


def _check_capacity(capacity: object) -> None:
    """A bound that halves by merging pairs: an even integer >= 2.

    Raises:
        ValueError: Anything else (the message names the value).
    """
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 2 or capacity % 2:
        raise ValueError(f"capacity={capacity!r}: must be an even integer >= 2")


@attrs.frozen
class TraceData:
    """Power over time, per domain, as kept in a :class:`~nlpfootprint.Report`.

    Attributes:
        start_s: Start of each bin, in seconds since the run started.
        width_s: Width of each bin in seconds (the last bin may be shorter).
        power_w: Mean power in each bin, per domain present in the run.
        windows: When each named window ran (none for a run without windows, a replayed
            log and a report written before windows were kept here).
    """

    start_s: tuple[float, ...]
    width_s: tuple[float, ...]
    power_w: dict[str, tuple[float, ...]]
    windows: tuple[WindowSpans, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready lists."""
        return {
            "start_s": list(self.start_s),
            "width_s": list(self.width_s),
            "power_w": {k: list(v) for k, v in self.power_w.items()},
            "windows": [w.to_dict() for w in self.windows],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TraceData:
        """Read :meth:`to_dict` output back (a dict without ``windows`` has none)."""
        windows = data.get("windows", [])
        if not isinstance(windows, list | tuple) or not all(
            isinstance(w, Mapping) for w in windows
        ):
            raise TypeError("trace windows: expected a list of window span dicts")
        return cls(
            start_s=tuple(data["start_s"]),
            width_s=tuple(data["width_s"]),
            power_w={k: tuple(v) for k, v in data["power_w"].items()},
            windows=tuple(WindowSpans.from_dict(w) for w in windows),
        )

    def energy_j(self) -> float:
        """Total energy under the trace, in joules."""
        return float(
            sum(
                w * p
                for series in self.power_w.values()
                for w, p in zip(self.width_s, series, strict=False)
            )
        )


class BoundedTrace:
    """Energy per domain on a time grid of at most ``capacity`` bins.

    Plain Python floats, one list of bins per domain: adding a segment that falls in one
    bin (the usual case: bins are at least one sampling interval wide) is a few float
    operations, with no array indexing and no allocation.

    >>> trace = BoundedTrace(origin=100.0, bin_s=1.0, capacity=4)
    >>> for t in range(100, 110):
    ...     trace.add(float(t), t + 1.0, "gpu", 50.0)
    >>> trace.bin_s, round(trace.total_j(), 6)
    (4.0, 500.0)
    """

    __slots__ = (
        "_energy",
        "_hi",
        "_last",
        "_lo",
        "bin_s",
        "capacity",
        "end",
        "origin",
        "used",
        "windows",
    )

    def __init__(self, origin: float, bin_s: float = 1.0, capacity: int = 2048) -> None:
        _check_capacity(capacity)
        if not (math.isfinite(bin_s) and bin_s > 0):
            raise ValueError(f"bin_s={bin_s}: must be a positive finite number of seconds")
        self.origin = origin
        self.bin_s = bin_s
        self.capacity = capacity
        self.used = 0  # bins in use (index of the last touched bin + 1)
        self.end = origin
        #: Per domain (by name), its energy per bin; made when the domain first adds.
        self._energy: dict[str, list[float]] = {}
        # the bin the latest segment ended in, and its edges: a segment inside it (the
        # usual next one) is added there at once
        self._last, self._lo, self._hi = 0, math.inf, -math.inf
        #: When the named windows ran (recorded by the tracker as each entry ends).
        self.windows = WindowSpanLog()

    @classmethod
    def for_run(cls, interval_s: float, trace_points: int) -> BoundedTrace:
        """The trace a run keeps: from its origin (time 0), bins of ``interval_s`` at first,
        at most ``trace_points`` of them (rounded down to even). A live run and the replay
        of its log both make theirs here, so the two are alike."""
        return cls(0.0, bin_s=interval_s, capacity=max(trace_points // 2 * 2, 2))

    def _fold(self) -> None:
        """Merge neighbouring bins in pairs; the bin width doubles."""
        half = self.capacity // 2
        for bins in self._energy.values():
            bins[:half] = [bins[i] + bins[i + 1] for i in range(0, self.capacity, 2)]
            bins[half:] = [0.0] * half
        self.used = (self.used + 1) // 2
        self.bin_s *= 2.0
        self._lo, self._hi = math.inf, -math.inf  # the latest bin moved

    def add(self, t0: float, t1: float, domain: str, energy_j: float) -> None:
        """Add ``energy_j`` spent in ``domain`` between ``t0`` and ``t1``, spread evenly.

        Time before ``origin`` counts in the first bin; all of ``energy_j`` is always kept.
        """
        bins = self._energy.get(domain)
        # inside the latest bin (edges finite: so are t0 and t1) with a finite energy
        if bins is not None and self._lo <= t0 < t1 <= self._hi and energy_j - energy_j == 0:
            bins[self._last] += energy_j
            self.end = max(self.end, t1)
            return
        if not (math.isfinite(t0) and math.isfinite(t1) and math.isfinite(energy_j)):
            raise ValueError(f"trace segment ({t0!r}, {t1!r}, {energy_j!r}) is not finite")
        if t1 < t0:
            t0, t1 = t1, t0
        if bins is None:
            if domain not in _DOMAIN_INDEX:  # Domain is a StrEnum: plain strings hash the same
                raise KeyError(domain)
            bins = self._energy[str(domain)] = [0.0] * self.capacity
        # bins needed to reach t1: a segment ending on a bin edge does not open the next bin
        while math.ceil((t1 - self.origin) / self.bin_s) > self.capacity:
            self._fold()
        self.end = max(self.end, t1)
        start_bin = max(0, int((t0 - self.origin) // self.bin_s))
        if t1 > t0:  # the bin holding the segment's end; an end on an edge opens no bin
            last = max(0, math.ceil((t1 - self.origin) / self.bin_s) - 1)
        else:  # a point: its bin (a point on the grid's far edge goes in the last bin)
            last = min(start_bin, self.capacity - 1)
        first = min(start_bin, last)
        if first == last:
            bins[last] += energy_j
        else:
            self._spread(bins, first, last, (t0, t1, energy_j))
        self._last = last
        self._lo = self.origin + self.bin_s * last
        self._hi = self.origin + self.bin_s * (last + 1)
        if last >= self.used:
            self.used = last + 1

    def _spread(
        self, bins: list[float], first: int, last: int, segment: tuple[float, float, float]
    ) -> None:
        """Add a segment ``(t0, t1, energy_j)`` over bins ``first..last`` in proportion to
        its time in each."""
        t0, t1, energy_j = segment
        origin, width = self.origin, self.bin_s
        overlap = []
        for index in range(first, last + 1):
            lo = min(origin + width * index, t0) if index == first else origin + width * index
            hi = origin + width * (index + 1)
            overlap.append(max(min(hi, t1) - max(lo, t0), 0.0))
        total = math.fsum(overlap)
        for index, seconds in zip(range(first, last + 1), overlap, strict=True):
            bins[index] += energy_j * seconds / total

    def total_j(self) -> float:
        """Total energy added, in joules."""
        return math.fsum(e for bins in self._energy.values() for e in bins[: self.used])

    def data(self) -> TraceData:
        """Freeze the trace into :class:`TraceData` (mean power per bin, per domain)."""
        n = self.used
        starts = [self.bin_s * i for i in range(n)]
        widths = [self.bin_s] * n
        if n:
            # the last bin ends with the run; keep a floor so a sliver cannot blow up power
            widths[-1] = max(self.end - self.origin - starts[-1], self.bin_s * 1e-9)
        power: dict[str, tuple[float, ...]] = {}
        for domain in _DOMAINS:
            bins = self._energy.get(domain)
            if bins is not None and any(bins[:n]):
                power[str(domain)] = tuple(e / w for e, w in zip(bins, widths, strict=False))
        return TraceData(
            start_s=tuple(starts),
            width_s=tuple(widths),
            power_w=power,
            windows=self.windows.spans(self.origin),
        )
