"""The dictionary (and so JSON) layout of a report: schema 2, and schema 1 read by upgrading.

:func:`report_to_dict` writes a report's raw quantities and derived figures;
:func:`report_fields` reads such a dict back into the keyword arguments of
:class:`~nlpfootprint.Report`. Kept apart from the class so that the value stays small;
this module works on any object with the report's attributes and never imports it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.errors import NlpFootprintError, ReportFormatError
from nlpfootprint.legacy import upgrade_report
from nlpfootprint.report_parts import ChannelReport, Projection
from nlpfootprint.totals import StepEnergy
from nlpfootprint.trace import TraceData

__all__ = ["SCHEMA", "SCHEMA_PATTERN", "report_fields", "report_to_dict"]

#: Identifies the dictionary/JSON layout written by :func:`report_to_dict`.
SCHEMA = "nlpfootprint.report/2"
_VERSION = 2
#: Matches every report schema; older ones are upgraded on load.
SCHEMA_PATTERN = re.compile(r"nlpfootprint\.report/(\d+)")

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
        }
    except (KeyError, TypeError, ValueError, NlpFootprintError) as err:
        raise ReportFormatError(f"malformed report dict: {err!r}") from err
