"""docs/reliability.md lists every scenario of this suite, with its promise and its test."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "reliability_table", ROOT / "scripts" / "reliability_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_table_lists_every_scenario_with_its_promise_and_test() -> None:
    script = _script()
    found = script.scenarios()
    assert len(found) >= 40, f"the issue asks for at least 40 scenarios; the suite has {len(found)}"
    doc = (ROOT / "docs" / "reliability.md").read_text()
    body = doc.split(script.BEGIN, 1)[1].split(script.END, 1)[0]
    rows = {
        m["id"]: (m["promise"], m["test"])
        for m in re.finditer(
            r"^\| `(?P<id>[^`]+)` \| (?P<promise>.*?) \| `(?P<test>[^`]+)` \|", body, re.M
        )
    }
    assert set(rows) == set(found), (
        "docs/reliability.md is out of date: run `python scripts/reliability_table.py` "
        f"(missing: {sorted(set(found) - set(rows))}, gone: {sorted(set(rows) - set(found))})"
    )
    for sid, info in found.items():
        assert rows[sid] == (info["promise"], info["test"]), sid
    counted = re.search(r"\*\*(\d+) scenarios tried", body)
    assert counted is not None
    assert int(counted.group(1)) == len(found)
