"""Reading run logs back: load_run() and report_from_log(), re-exported by runlog."""

from __future__ import annotations

import json
import math
import os
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import numpy as np

from nlpfootprint.accounting import counter_deltas_j
from nlpfootprint.assumptions import Assumptions
from nlpfootprint.errors import NlpFootprintError, ReportFormatError
from nlpfootprint.intensity import Intensity
from nlpfootprint.meters.base import Channel
from nlpfootprint.report import SCHEMA as REPORT_SCHEMA
from nlpfootprint.report import ChannelReport, Report
from nlpfootprint.runlog import _CHUNK, _SCHEMA_RE, _VERSION, SCHEMA, Floats, RunLogError
from nlpfootprint.trace import TraceData

__all__ = ["MeterSamples", "RunLog", "load_run", "report_from_log"]


@attrs.frozen(eq=False)
class MeterSamples:
    """One meter's readings: ``times_s`` since the start, ``values`` (rows; NaN: non-finite)."""

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


def load_run(path: str | os.PathLike[str]) -> RunLog:
    """Read a run log (plain or gzip), as complete as it is.

    Raises:
        RunLogError: ``path`` is not a file, is empty, is not a run log, is one of a newer
            schema, or is corrupt before its last line.
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        why = "is not a file" if os.path.exists(name) else "does not exist"
        raise RunLogError(f"{name} {why}: expected a run log (a .jsonl file from log=)")
    source = _Source(name)
    lines = _lines(source)
    first = next(lines, None)
    if first is None:
        raise RunLogError(f"{name} is empty (the run wrote nothing, or it is not a run log)")
    header, channels, meter_of = _parse_header(name, first[1], cut=first[2])
    widths = [meter_of.count(m) for m in range(max(meter_of) + 1)]
    times: list[list[float]] = [[] for _ in widths]
    values: list[list[list[float | None]]] = [[] for _ in widths]
    failures: list[tuple[float, int, str]] = []
    counts: list[tuple[float, float, float]] = []
    summary: dict[str, Any] | None = None
    truncated = False
    for number, line, last in lines:
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise TypeError("not a JSON object")
            if "m" in obj and not (
                isinstance(obj["m"], int)
                and not isinstance(obj["m"], bool)
                and 0 <= obj["m"] < len(widths)
            ):
                raise ValueError(f"meter index {obj['m']!r} is not one of 0..{len(widths) - 1}")
            if "v" in obj:
                m, vals = obj["m"], obj["v"]
                if len(vals) != widths[m]:
                    raise ValueError(f"{len(vals)} values for meter {m}'s {widths[m]} channels")
                times[m].append(float(obj["t"]))
                values[m].append(vals)
            elif "err" in obj:
                failures.append((float(obj["t"]), int(obj["m"]), str(obj["err"])))
            elif "steps" in obj:
                counts.append((float(obj["t"]), int(obj["steps"]), int(obj["tokens"])))
            elif "summary" in obj:
                summary = dict(obj["summary"])
        except (ValueError, TypeError, KeyError, IndexError) as err:
            if last:
                truncated = True
                break
            raise RunLogError(f"{name}: line {number} is corrupt ({err}): {line[:80]!r}") from err
    try:
        samples = tuple(
            MeterSamples(
                np.array(t, dtype=np.float64), np.array(v, dtype=np.float64).reshape(-1, width)
            )
            for t, v, width in zip(times, values, widths, strict=True)
        )
    except (TypeError, ValueError) as err:
        raise RunLogError(f"{name}: a sample holds a value that is not a number ({err})") from err
    return RunLog(
        path=name,
        header=header,
        channels=channels,
        channel_meters=tuple(meter_of),
        samples=samples,
        failures=tuple(failures),
        counts=np.array(counts, dtype=np.float64).reshape(-1, 3),
        summary=summary,
        truncated=truncated or source.cut,
    )


def _parse_header(
    name: str, line: bytes, *, cut: bool
) -> tuple[dict[str, Any], tuple[Channel, ...], list[int]]:
    what = f"{name} is not an nlpfootprint run log"
    if not line.lstrip().startswith(b"{"):
        raise RunLogError(f"{what}: it does not start with a JSON object")
    try:
        header = json.loads(line)
    except ValueError as err:
        if cut:
            raise RunLogError(
                f"{name} has one incomplete line: cut off while writing its header, or not "
                "a run log"
            ) from err
        raise RunLogError(
            f"{what}: its first line is not a JSON object (a run log has one per line; a "
            "report saved with to_json() is read with Report.from_json)"
        ) from err
    schema = header.get("schema") if isinstance(header, dict) else None
    if schema == REPORT_SCHEMA:
        raise RunLogError(f"{name} is a saved report, not a run log: use Report.from_json")
    match = _SCHEMA_RE.fullmatch(schema) if isinstance(schema, str) else None
    if match is None:
        raise RunLogError(f"{what}: the first line has schema {schema!r}, expected {SCHEMA!r}")
    if int(match[1]) > _VERSION:
        raise RunLogError(
            f"{name} is a run log of a newer format ({schema}); this version of nlpfootprint "
            f"reads {SCHEMA}: upgrade nlpfootprint to read it"
        )
    try:
        entries = header["channels"]
        fields = ("id", "domain", "kind", "label", "estimated", "max_energy_j")
        channels = tuple(Channel(**{k: c[k] for k in fields}) for c in entries)
        meter_of = [int(c["meter"]) for c in entries]
        if not channels or meter_of != sorted(meter_of) or min(meter_of) < 0:
            raise ValueError("expected channels grouped by meter, meters numbered from 0")
        _assumptions(header)
    except (KeyError, TypeError, ValueError, NlpFootprintError) as err:
        raise RunLogError(f"{name}: the run log's header is malformed ({err!r})") from err
    return header, channels, meter_of


def _assumptions(header: Mapping[str, Any]) -> Assumptions:
    return Assumptions.from_dict(header["settings"])


# -- accounting a log ------------------------------------------------------------------


def report_from_log(
    source: str | os.PathLike[str] | RunLog,
    *,
    pue: float | None = None,
    carbon_intensity: Intensity | float | str | None = None,
    price_per_kwh: float | None = None,
) -> Report:
    """The report of a run log, re-accounted under any assumption given (None: as logged).

    A log with a summary gives back the tracker's report. Without one (the run crashed or
    was killed), the energy is rebuilt from the samples, up to the last one logged; the
    report then says so in its warnings (and has no windows or step spread).

    Raises:
        RunLogError: The file is not a readable run log (see :func:`load_run`).
    """
    run = source if isinstance(source, RunLog) else load_run(source)
    if run.summary is not None:
        try:
            report = Report.from_dict(run.summary)
        except ReportFormatError as err:
            raise RunLogError(f"{run.path}: the summary line is malformed ({err})") from err
    else:
        report = _rebuild(run)
    if pue is None and carbon_intensity is None and price_per_kwh is None:
        return report
    return report.with_assumptions(
        pue=pue, carbon_intensity=carbon_intensity, price_per_kwh=price_per_kwh
    )


def _rebuild(run: RunLog) -> Report:
    """A report from the samples alone, accounted the way the tracker does it live."""
    settings = run.header["settings"]
    stamps = [s.times_s for s in run.samples] + [np.array([f[0] for f in run.failures])]
    every = np.concatenate(stamps)
    start, end = (float(every.min()), float(every.max())) if every.size else (0.0, 0.0)
    duration = end - start
    cut = " (its last line was cut off)" if run.truncated else ""
    warnings = [
        f"the run did not finish cleanly: the log has no summary and ends at t={end:.3f} s"
        f"{cut}; the energy is rebuilt from the samples logged up to there"
    ]
    reports, curves = [], []
    for column, channel in enumerate(run.channels):
        m = run.channel_meters[column]
        meter = run.samples[m]
        index = column - run.channel_meters.index(m)
        t, v = meter.times_s, meter.values[:, index]
        top = channel.max_energy_j
        ok = np.isfinite(v) & (v >= 0) & (v <= (np.inf if top is None else top))
        t_ok, v_ok = t[ok], v[ok]
        if channel.kind == "energy":
            deltas = counter_deltas_j(v_ok, top)
            if top is None and (resets := int(np.count_nonzero(np.diff(v_ok) < 0))):
                warnings.append(
                    f"{channel.id}: the counter went backwards {resets} time(s) with no known "
                    "wrap range; counted as resets (a lower bound)"
                )
        else:
            deltas = np.diff(t_ok) * (v_ok[1:] + v_ok[:-1]) * 0.5
        cumulative = np.concatenate(([0.0], np.cumsum(deltas)))
        curves.append((channel.domain.value, t_ok, cumulative))
        bad = np.sort(np.concatenate(([f[0] for f in run.failures if f[1] == m], t[~ok])))
        gap = _gap_s(t_ok, bad, start, end)
        if gap > 0 and duration > 0:
            warnings.append(
                f"{channel.id}: {bad.size} failed reading(s); {gap:.3f} s "
                f"({100 * gap / duration:.1f}% of the run) not covered by readings on both sides"
            )
        energy, c = max(math.fsum(deltas.tolist()), 0.0), channel
        n_ok, n_bad = int(t_ok.size), int(bad.size)
        reports.append(
            ChannelReport(
                c.id, c.domain.value, c.kind, c.source, c.label, energy, n_ok, n_bad, gap, duration
            )
        )
    steps, tokens = (int(x) for x in run.counts[-1, 1:]) if run.counts.size else (0, 0)
    return Report(
        duration_s=duration,
        channels=tuple(reports),
        assumptions=_assumptions(run.header),
        steps=steps,
        tokens=tokens,
        warnings=tuple(warnings),
        name=settings.get("name"),
        started_at=run.header.get("started_at"),
        interval_s=settings["interval_s"],
        trace=_trace(curves, end, settings["interval_s"], int(settings.get("trace_points", 2048))),
    )


def _gap_s(good: Floats, bad: Floats, start: float, end: float) -> float:
    """Seconds between the valid readings around each run of failed ones (as the tracker)."""
    if not bad.size:
        return 0.0
    if not good.size:
        return end - start
    after = np.unique(np.searchsorted(good, bad, side="right"))  # valid readings before
    begin = np.where(after > 0, good[np.maximum(after - 1, 0)], start)
    stop = np.where(after < good.size, good[np.minimum(after, good.size - 1)], end)
    return float(np.sum(stop - begin))


def _trace(
    curves: list[tuple[str, Floats, Floats]], end: float, bin_s: float, points: int
) -> TraceData | None:
    """The bounded power trace the tracker would have kept (energy spread evenly in time)."""
    if end <= 0:
        return None
    capacity = max(points // 2 * 2, 2)
    while math.ceil(end / bin_s) > capacity:
        bin_s *= 2.0
    n = max(math.ceil(end / bin_s), 1)
    edges = np.minimum(bin_s * np.arange(n + 1, dtype=np.float64), end)
    widths = np.diff(edges)
    widths[-1] = max(widths[-1], bin_s * 1e-9)
    energy: dict[str, Floats] = {}
    for domain, t, cumulative in curves:
        if t.size > 1:
            binned = np.diff(np.interp(edges, t, cumulative))
            energy[domain] = energy.get(domain, np.zeros(n)) + binned
    return TraceData(
        start_s=tuple(edges[:-1].tolist()),
        width_s=tuple(widths.tolist()),
        power_w={d: tuple((e / widths).tolist()) for d, e in energy.items() if np.any(e)},
    )
