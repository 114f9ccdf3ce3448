"""The run log's layout: its schema name, header and the error a bad file raises.

The writer and the reader both take the layout from here and from nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.errors import NlpFootprintError, ReportFormatError
from nlpfootprint.legacy import upgrade_header_channel
from nlpfootprint.meters.base import Channel
from nlpfootprint.report_dict import SCHEMA_PATTERN as REPORT_SCHEMA_PATTERN

__all__ = [
    "SCHEMA",
    "VERSION",
    "RunLogError",
    "header_channels",
    "header_channel_dicts",
    "log_settings",
    "parse_header",
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
    assumptions: Assumptions, *, interval_s: float, name: str | None, trace_points: int
) -> dict[str, Any]:
    """The header's ``settings``: what a report of the log needs besides the samples."""
    return {
        "interval_s": interval_s,
        "name": name,
        "trace_points": trace_points,
        **assumptions.to_dict(),
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
