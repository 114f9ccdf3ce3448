"""The run log's layout: its schema name, header and the error a bad file raises.

The writer and the reader both take the layout from here and from nowhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.errors import NlpFootprintError, ReportFormatError
from nlpfootprint.idle import Baseline
from nlpfootprint.legacy import upgrade_header_channel
from nlpfootprint.meters.base import Channel
from nlpfootprint.peaks import Efficiency
from nlpfootprint.report_dict import MAX_JSON_DEPTH, json_too_deep
from nlpfootprint.report_dict import SCHEMA_PATTERN as REPORT_SCHEMA_PATTERN

__all__ = [
    "SCHEMA",
    "VERSION",
    "RunLogError",
    "check_header",
    "decode_header",
    "header_channels",
    "header_channel_dicts",
    "log_settings",
    "parse_header",
    "short",
]

#: Identifies the run-log layout (the first line's ``schema``). Channels gained their
#: provenance fields (backend, device, basis) and the most their device can draw
#: (``max_power_w``) within version 1: a header without them is upgraded on reading.
SCHEMA = "nlpfootprint.runlog/1"
VERSION = 1
_SCHEMA_RE = re.compile(r"nlpfootprint\.runlog/(\d+)")


class RunLogError(ReportFormatError):
    """A file is not a run log this version can read; the message names the file and why."""


def log_settings(
    assumptions: Assumptions,
    *,
    interval_s: float,
    name: str | None,
    trace_points: int,
    efficiency: Efficiency | None = None,
    baseline: Baseline | None = None,
) -> dict[str, Any]:
    """The header's ``settings``: what a report of the log needs besides the samples
    (``efficiency``: how its FLOPs are to be read, when the run says; ``baseline``: the
    idle power its dynamic energy is counted above, when it has one)."""
    more = {} if efficiency is None else {"efficiency": efficiency.to_dict()}
    if baseline is not None:
        more["baseline"] = baseline.to_dict()
    return {
        "interval_s": interval_s,
        "name": name,
        "trace_points": trace_points,
        **assumptions.to_dict(),
        **more,
    }


def header_channel_dicts(
    channels: Sequence[Channel], meter_of: Sequence[int]
) -> list[dict[str, Any]]:
    """The header's ``channels``: each channel's fields and its meter's index."""
    return [{**c.to_dict(), "meter": m} for c, m in zip(channels, meter_of, strict=True)]


def header_channels(header: Mapping[str, Any]) -> tuple[tuple[Channel, ...], list[int]]:
    """The channels of a header and each one's meter index (KeyError/TypeError/ValueError)."""
    entries = header["channels"]
    channels = tuple(Channel.from_dict(upgrade_header_channel(c)) for c in entries)
    meter_of = [int(c["meter"]) for c in entries]
    if not channels or meter_of != sorted(meter_of) or min(meter_of) < 0:
        raise ValueError("expected channels grouped by meter, meters numbered from 0")
    return channels, meter_of


def parse_header(
    name: str, header: object
) -> tuple[dict[str, Any], tuple[Channel, ...], list[int]]:
    """Check a decoded first line; return it with its channels and their meters."""
    what = f"{name} is not an nlpfootprint run log"
    schema = header.get("schema") if isinstance(header, dict) else None
    if isinstance(schema, str) and REPORT_SCHEMA_PATTERN.fullmatch(schema):
        raise RunLogError(f"{name} is a saved report, not a run log: use Report.from_json")
    match = _SCHEMA_RE.fullmatch(schema) if isinstance(schema, str) else None
    if match is None:
        raise RunLogError(f"{what}: the first line has schema {schema!r}, expected {SCHEMA!r}")
    if int(match[1]) > VERSION:
        raise RunLogError(
            f"{name} is a run log of a newer format ({schema}); this version of nlpfootprint "
            f"reads {SCHEMA}: upgrade nlpfootprint to read it"
        )
    assert isinstance(header, dict)
    try:
        channels, meter_of = header_channels(header)
        Assumptions.from_dict(header["settings"])
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,  # a channel that is not an object
        OverflowError,  # an integer too large for a float
        NlpFootprintError,
    ) as err:
        raise RunLogError(f"{name}: the run log's header is malformed ({err!r})") from err
    return header, channels, meter_of


def short(value: object) -> str:
    """``repr(value)``, cut to some 40 characters (a hostile value may be huge)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)} characters)"


def check_header(name: str, header: dict[str, Any], channels: tuple[Channel, ...]) -> None:
    """What the schema leaves open in a header: texts are strings (a report shows them)
    and meters are numbered 0, 1, 2, ... (whole numbers, none skipped); else RunLogError."""
    settings = header["settings"]
    problems = [
        f"{key}={short(value)}"
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
            problems.append(f"{key}={short(value)}")
    problems += [f"label={short(c.label)}" for c in channels if not isinstance(c.label, str)]
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
            f"{short(meters)}; expected meters numbered 0, 1, 2, ... in order)"
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
            f"{name}: the run log's header is malformed (interval_s={short(interval_s)}; "
            f"expected seconds from {low:g} to {high:g})"
        )
    if (
        isinstance(points, bool)
        or not isinstance(points, int)
        or not 2 <= points <= _MAX_TRACE_POINTS
    ):
        raise RunLogError(
            f"{name}: the run log's header is malformed (trace_points={short(points)}; "
            f"expected a whole number from 2 to {_MAX_TRACE_POINTS:,})"
        )


def decode_header(name: str, number: int, line: bytes, cut: bool) -> object:
    """The first line (line ``number``), decoded as JSON; RunLogError if it is not."""
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
