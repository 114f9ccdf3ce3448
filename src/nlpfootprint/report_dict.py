"""The dictionary (and so JSON) layout of a report: schema 2, and schema 1 read by upgrading.

:func:`report_to_dict` writes a report's raw quantities and derived figures;
:func:`report_fields` reads such a dict back into the keyword arguments of
:class:`~nlpfootprint.Report`. Kept apart from the class so that the value stays small;
this module works on any object with the report's attributes and never imports it.

It also bounds what a report read from outside may be: :data:`MAX_JSON_BYTES` of JSON,
nested at most :data:`MAX_JSON_DEPTH` deep (checked by :func:`json_too_deep` before the
text is decoded, so a hostile file meets a :class:`~nlpfootprint.errors.ReportFormatError`,
never a ``RecursionError``), and windows at most :data:`MAX_WINDOW_DEPTH` deep.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.errors import ConfigurationError, NlpFootprintError, ReportFormatError
from nlpfootprint.idle import Baseline
from nlpfootprint.legacy import upgrade_report
from nlpfootprint.peaks import Efficiency
from nlpfootprint.report_parts import ChannelReport, JobInfo, Outcome, Projection
from nlpfootprint.totals import StepEnergy
from nlpfootprint.trace import TraceData

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_WINDOW_DEPTH",
    "SCHEMA",
    "SCHEMA_PATTERN",
    "json_too_deep",
    "overflowing_figures",
    "parse_report_json",
    "report_fields",
    "report_to_dict",
]

#: Identifies the dictionary/JSON layout written by :func:`report_to_dict`.
SCHEMA = "nlpfootprint.report/2"
_VERSION = 2
#: Matches every report schema; older ones are upgraded on load.
SCHEMA_PATTERN = re.compile(r"nlpfootprint\.report/(\d+)")

#: The most a report's JSON may nest (objects and arrays). A report nests about 2 levels
#: per level of windows and 6 more; the bound leaves Python's recursion limit far away.
MAX_JSON_DEPTH = 256
#: The most windows may nest inside each other in a report that is read back.
MAX_WINDOW_DEPTH = 100
#: The longest report JSON read (a report of many windows is a few MiB).
MAX_JSON_BYTES = 64 << 20

# A JSON string, or a run of what is neither a bracket nor a quote: what is left after
# removing them is the brackets that nest.
_NOT_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"?|[^\[\]{}"]+', re.DOTALL)
_NOT_BRACKETS_B = re.compile(rb'"(?:[^"\\]|\\.)*"?|[^\[\]{}"]+', re.DOTALL)


def json_too_deep(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON ``text`` nests objects and arrays more than ``limit`` deep.

    Checked before decoding: Python's decoder recurses once per level and fails with a
    ``RecursionError`` near a thousand. Linear in ``len(text)``; a line with fewer brackets
    than ``limit`` is answered at once.

    >>> json_too_deep('{"a": [[1], "[[[["]}', limit=3), json_too_deep("[" * 4, limit=3)
    (False, True)
    """
    if isinstance(text, str):
        if text.count("[") + text.count("{") <= limit:
            return False
        brackets = _NOT_BRACKETS.sub("", text)
    else:
        if text.count(b"[") + text.count(b"{") <= limit:
            return False
        brackets = _NOT_BRACKETS_B.sub(b"", text).decode("ascii")
    depth = 0
    for bracket in brackets:
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


#: The figures written besides the raw quantities, in order.
_FIGURES = (
    "duration_s",
    "interval_s",
    "method",
    "energy_j",
    "energy_kwh",
    "facility_energy_kwh",
    "co2e_kg",
    "co2e_lbs",
    "cost_usd",
    "mean_power_w",
    "steps",
    "tokens",
    "j_per_step",
    "j_per_token",
    "flops",
    "flops_per_j",
    "tokens_per_j",
    "mfu",
    "dynamic_energy_kwh",
    "dynamic_co2e_kg",
)


def _part(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else attrs.asdict(value)


def report_to_dict(report: Any) -> dict[str, Any]:
    """The raw quantities and the derived figures of ``report``, JSON-ready."""
    return {
        "schema": SCHEMA,
        "name": report.name,
        "count": report.count,
        "started_at": report.started_at,
        **{k: getattr(report, k) for k in _FIGURES},
        "channels": [c.to_dict() for c in report.channels],
        "assumptions": report.assumptions.to_dict(),
        "warnings": list(report.warnings),
        "windows": [report_to_dict(w) for w in report.windows],
        "trace": _part(report.trace),
        "projection": _part(report.projection),
        "step_energy": _part(report.step_energy),
        "job": _part(getattr(report, "job", None)),
        "outcome": _part(getattr(report, "outcome", None)),
        "efficiency": report.efficiency.to_dict(),
        "peak": _part(report.peak),  # derived: what MFU is measured against
        "baseline": _part(getattr(report, "baseline", None)),
        # derived, at the top level (an older reader ignores unknown keys there)
        "coverage": {
            "run": report.coverage,
            "channels": {c.id: c.coverage for c in report.channels},
        },
    }


def report_fields(data: object) -> dict[str, Any]:
    """The keyword arguments of the report ``data`` describes (``windows`` left as dicts).

    Raises:
        ReportFormatError: Not a report dict of a schema this version reads, or one with
            missing or impossible values.
    """
    if not isinstance(data, Mapping):
        raise ReportFormatError(f"expected a report dict, got {type(data).__name__}")
    schema = data.get("schema")
    match = SCHEMA_PATTERN.fullmatch(schema) if isinstance(schema, str) else None
    if match is None or not 1 <= int(match[1]) <= _VERSION:
        raise ReportFormatError(
            f"not an nlpfootprint report: schema is {schema!r}, expected {SCHEMA!r} (or "
            "an earlier one)"
        )
    try:
        d = upgrade_report(data) if int(match[1]) == 1 else data
        trace, projection, steps = d.get("trace"), d.get("projection"), d.get("step_energy")
        job, outcome = d.get("job"), d.get("outcome")
        _check_types(d)
        return {
            "duration_s": d["duration_s"],
            "channels": tuple(ChannelReport.from_dict(c) for c in d["channels"]),
            "assumptions": Assumptions.from_dict(d["assumptions"]),
            "steps": d["steps"],
            "tokens": d["tokens"],
            "windows": list(d["windows"]),
            "warnings": tuple(d["warnings"]),
            "name": d["name"],
            "count": d["count"],
            "started_at": d["started_at"],
            "interval_s": d["interval_s"],
            "trace": None if trace is None else TraceData.from_dict(trace),
            "projection": None if projection is None else Projection(**projection),
            "step_energy": None if steps is None else StepEnergy(**steps),
            "job": None if job is None else JobInfo.from_dict(job),
            "outcome": None if outcome is None else Outcome.from_dict(outcome),
            "flops": d.get("flops"),  # reports before FLOPs have neither key
            "efficiency": Efficiency.from_dict(d.get("efficiency")),
            "baseline": Baseline.from_dict(d.get("baseline")),  # None before baselines
        }
    except (  # what a hostile dict can make the parts' from_dict raise
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        ArithmeticError,
        NlpFootprintError,
    ) as err:
        raise ReportFormatError(f"malformed report dict: {err!r}") from err


def _check_types(d: Mapping[str, Any]) -> None:
    """The text and list fields have their types (TypeError naming the field otherwise), so
    that what renders a report meets strings where it prints strings."""
    for key in ("name", "started_at"):
        if d[key] is not None and not isinstance(d[key], str):
            raise TypeError(f"{key}: expected a string or null, got {type(d[key]).__name__}")
    for key, kind in (("warnings", str), ("windows", Mapping), ("channels", Mapping)):
        items = d[key]
        if not isinstance(items, list | tuple) or not all(isinstance(i, kind) for i in items):
            what = "strings" if kind is str else "objects"
            raise TypeError(f"{key}: expected a list of {what}, got {_show(items)}")
    interval = d["interval_s"]
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not math.isfinite(interval)
        or interval < 0
    ):
        raise ValueError(f"interval_s: expected a number >= 0 or null, got {interval!r}")


def _show(value: object) -> str:
    """A short description of a value of the wrong type (never its whole repr)."""
    if isinstance(value, list | tuple):
        kinds = sorted({type(v).__name__ for v in value})
        return f"a list of {', '.join(kinds) or 'nothing'}"
    return type(value).__name__


def parse_report_json(text: str | bytes | bytearray) -> Any:
    """``text`` decoded as the JSON of a report, within the bounds a report keeps to
    (ReportFormatError: not text, over ``MAX_JSON_BYTES``, nested over ``MAX_JSON_DEPTH``,
    not JSON)."""
    if not isinstance(text, str | bytes | bytearray):
        raise ReportFormatError(f"not JSON: expected a str, got {type(text).__name__}")
    if len(text) > MAX_JSON_BYTES:
        raise ReportFormatError(
            f"not a report: {len(text):,} characters of JSON, more than a report has "
            f"(at most {MAX_JSON_BYTES >> 20} MiB)"
        )
    if json_too_deep(bytes(text) if isinstance(text, bytearray) else text):
        raise ReportFormatError(
            f"not a report: its JSON is nested deeper than {MAX_JSON_DEPTH} levels"
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:  # ValueError: JSONDecodeError, 5000 digits
        raise ReportFormatError(f"not JSON: {err}") from err
    return data


#: The figures a report derives, which must all fit in a float.
_DERIVED = (
    "duration_s",
    "energy_j",
    "energy_kwh",
    "facility_energy_kwh",
    "co2e_kg",
    "co2e_lbs",
    "cost_usd",
    "j_per_step",
    "j_per_token",
    "flops_per_j",
    "mfu",
)


def overflowing_figures(report: Any) -> list[str]:
    """The names of ``report``'s figures that a float cannot hold (empty when all fit).

    What makes a report (an estimate, a projection) calls this before handing it out, so
    that a figure never reads as inf or fails when it is read.
    """
    out = []
    for name in _DERIVED:
        try:
            value = getattr(report, name)
        except (ConfigurationError, OverflowError):  # an inf met on the way
            out.append(name)
            continue
        if value is not None and not math.isfinite(value):
            out.append(name)
    return out
