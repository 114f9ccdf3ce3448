"""Reports to and from plain dicts (and so JSON): the layout named by ``SCHEMA``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.errors import NlpFootprintError, ReportFormatError
from nlpfootprint.report import SCHEMA, ChannelReport, Projection, Report, StepEnergy
from nlpfootprint.trace import TraceData

__all__ = ["report_from_dict", "report_to_dict"]


def report_to_dict(report: Report) -> dict[str, Any]:
    """The raw quantities and the derived figures of ``report``, JSON-ready."""
    a = report.assumptions
    return {
        "schema": SCHEMA,
        "name": report.name,
        "count": report.count,
        "started_at": report.started_at,
        "duration_s": report.duration_s,
        "interval_s": report.interval_s,
        "method": report.method,
        "energy_j": report.energy_j,
        "energy_kwh": report.energy_kwh,
        "facility_energy_kwh": report.facility_energy_kwh,
        "co2e_kg": report.co2e_kg,
        "co2e_lbs": report.co2e_lbs,
        "cost_usd": report.cost_usd,
        "mean_power_w": report.mean_power_w,
        "steps": report.steps,
        "tokens": report.tokens,
        "j_per_step": report.j_per_step,
        "j_per_token": report.j_per_token,
        "channels": [{**attrs.asdict(c), "mean_power_w": c.mean_power_w} for c in report.channels],
        "assumptions": a.to_dict(),
        "warnings": list(report.warnings),
        "windows": [report_to_dict(w) for w in report.windows],
        "trace": None
        if report.trace is None
        else {
            "start_s": list(report.trace.start_s),
            "width_s": list(report.trace.width_s),
            "power_w": {k: list(v) for k, v in report.trace.power_w.items()},
        },
        "projection": None if report.projection is None else attrs.asdict(report.projection),
        "step_energy": None if report.step_energy is None else attrs.asdict(report.step_energy),
    }


def report_from_dict(data: Mapping[str, Any]) -> Report:
    """Rebuild a report from :func:`report_to_dict` output; derived figures are recomputed.

    Raises:
        ReportFormatError: Not a report dict of a schema this version reads, or one with
            missing or impossible values.
    """
    if not isinstance(data, Mapping):
        raise ReportFormatError(f"expected a report dict, got {type(data).__name__}")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise ReportFormatError(
            f"not an nlpfootprint report: schema is {schema!r}, expected {SCHEMA!r}"
        )
    try:
        a = data["assumptions"]
        trace = data.get("trace")
        projection = data.get("projection")
        step_energy = data.get("step_energy")
        return Report(
            duration_s=data["duration_s"],
            channels=tuple(
                ChannelReport(**{k: v for k, v in c.items() if k != "mean_power_w"})
                for c in data["channels"]
            ),
            assumptions=Assumptions.from_dict(a),
            steps=data["steps"],
            tokens=data["tokens"],
            windows=tuple(report_from_dict(w) for w in data["windows"]),
            warnings=tuple(data["warnings"]),
            name=data["name"],
            count=data["count"],
            started_at=data["started_at"],
            interval_s=data["interval_s"],
            trace=None
            if trace is None
            else TraceData(
                start_s=tuple(trace["start_s"]),
                width_s=tuple(trace["width_s"]),
                power_w={k: tuple(v) for k, v in trace["power_w"].items()},
            ),
            projection=None if projection is None else Projection(**projection),
            step_energy=None if step_energy is None else StepEnergy(**step_energy),
        )
    except ReportFormatError:
        raise
    except (KeyError, TypeError, ValueError, NlpFootprintError) as err:
        raise ReportFormatError(f"malformed report dict: {err!r}") from err
