"""The fault-injection suite: each test is a scenario, marked
``@pytest.mark.scenario("area.what", "what the library promises and does")``.

``scripts/reliability_table.py`` runs this suite with ``NLPFOOTPRINT_SCENARIOS_OUT`` set: the
hook below then writes each scenario's outcome there, and the script rebuilds the table of
``docs/reliability.md`` from it (``test_table.py`` checks the table lists every scenario).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

# the shared helpers of tests/ (fake NVML, powercap trees, wait_until)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_OUTCOMES: dict[str, dict[str, Any]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    mark = item.get_closest_marker("scenario")
    if mark is None:
        return
    sid, promise = mark.args
    entry = _OUTCOMES.setdefault(
        sid,
        {
            "promise": promise,
            "test": f"{Path(str(item.path)).name}::{getattr(item, 'originalname', item.name)}",
            "cases": 0,
            "passed": 0,
            "failed": 0,
            "skipped": 0,
        },
    )
    if report.when == "call" or (report.when == "setup" and not report.passed):
        entry["cases"] += 1
        key = "passed" if report.passed else "skipped" if report.skipped else "failed"
        entry[key] += 1
    elif report.when == "teardown" and report.failed:
        entry["failed"] += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = os.environ.get("NLPFOOTPRINT_SCENARIOS_OUT")
    if out and _OUTCOMES:
        Path(out).write_text(json.dumps(_OUTCOMES, indent=1, sort_keys=True) + "\n")
