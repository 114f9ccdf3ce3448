"""Rebuild the scenario table of docs/reliability.md from the fault-injection suite.

    python scripts/reliability_table.py                   # run the suite, rewrite the table
    python scripts/reliability_table.py --baseline REV    # also run each scenario on REV

Each test in ``tests/reliability/`` marked ``@pytest.mark.scenario(id, promise)`` is one row:
the promise, the test that proves it and its outcome in this run (cases passed of cases
run). The counts above the table come from the same run. With ``--baseline``, every
scenario test is also run, one at a time and with a time limit, against the library as it
was at git revision REV (its ``src/`` on ``PYTHONPATH``), to record which scenarios were
broken before their fix; the result is kept in ``tests/reliability/baseline.json`` for
later runs without ``--baseline``.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "tests" / "reliability"
DOC = ROOT / "docs" / "reliability.md"
BASELINE = SUITE / "baseline.json"
BEGIN, END = "<!-- scenarios:begin -->", "<!-- scenarios:end -->"


def scenarios(suite: Path = SUITE) -> dict[str, dict[str, str]]:
    """Every scenario mark in the suite: ``{id: {"promise", "test"}}`` (read, not run)."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(suite.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and isinstance(deco.func, ast.Attribute)
                    and deco.func.attr == "scenario"
                ):
                    sid, promise = (ast.literal_eval(arg) for arg in deco.args)
                    if sid in found:
                        raise SystemExit(f"scenario {sid!r} is marked twice")
                    found[sid] = {"promise": promise, "test": f"{path.name}::{node.name}"}
    return found


def run_suite() -> dict[str, Any]:
    """Run the suite once; each scenario's outcome as the suite's conftest records it."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "outcomes.json"
        env = {**os.environ, "NLPFOOTPRINT_SCENARIOS_OUT": str(out)}
        cmd = [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider"]
        done = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
        if not out.exists():
            raise SystemExit(f"the suite recorded nothing (pytest exit {done.returncode})")
        outcomes: dict[str, Any] = json.loads(out.read_text())
        return outcomes


def run_baseline(rev: str, found: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Each scenario's test, run alone against the library at ``rev`` (time-limited)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), rev], cwd=ROOT,
                       check=True)  # fmt: skip
        try:
            env = {**os.environ, "PYTHONPATH": str(tree / "src")}
            before: dict[str, str] = {}
            for sid, info in found.items():
                test = str(SUITE / info["test"])
                cmd = [sys.executable, "-m", "pytest", test, "-q", "-x", "-p", "no:cacheprovider"]
                try:
                    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                                          timeout=60, check=False)  # fmt: skip
                    before[sid] = _verdict(done.returncode, done.stdout + done.stderr)
                except subprocess.TimeoutExpired:
                    before[sid] = "broken (hung)"
                print(f"{sid}: {before[sid]}", file=sys.stderr)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=False)  # fmt: skip
    return {"rev": rev, "scenarios": before}


def _verdict(returncode: int, output: bytes) -> str:
    """What one scenario's run against the old library says: ``held`` (it passed),
    ``broken`` (it failed), or ``new API`` (its test could not even be collected there: it
    uses names this suite's fixes added, so the old code's behaviour is not known)."""
    if returncode == 0:
        return "held"
    if b"ERROR collecting" in output or b"ImportError while importing" in output:
        return "new API"
    return "broken"


def table(found: dict[str, dict[str, str]], outcomes: dict[str, Any], base: dict[str, Any]) -> str:
    """The markdown between the markers: counts, then one row per scenario."""
    cases = sum(o["cases"] for o in outcomes.values())
    passed = sum(o["passed"] for o in outcomes.values())
    skipped = sum(o["skipped"] for o in outcomes.values())
    failed = sum(o["failed"] for o in outcomes.values())
    ok = sum(1 for sid in found if sid in outcomes and outcomes[sid]["failed"] == 0
             and outcomes[sid]["passed"])  # fmt: skip
    before = base.get("scenarios", {})
    broken = sum(1 for v in before.values() if v.startswith("broken"))
    unknown = sum(1 for v in before.values() if v == "new API")
    lines = [
        f"**{len(found)} scenarios tried ({cases} cases): {ok} scenarios passed; {passed} cases "
        f"passed, {skipped} skipped, {failed} failed.** Run on "
        f"{dt.date.today().isoformat()} with Python {platform.python_version()} on "
        f"{platform.system()} by `python scripts/reliability_table.py`.",
        "",
    ]
    if before:
        lines += [
            f"Against the library before this suite (git `{base['rev'][:10]}`), {broken} of "
            f"{len(before)} scenarios failed (`broken`: the bugs the suite was written to fix) "
            f"and {len(before) - broken - unknown} passed (`held`: kept as regression tests); "
            f"{unknown} could not run there at all (`new API`: their tests use names added by "
            "the fixes).",
            "",
        ]
    lines += [
        "| Scenario | What the library promises and does | Test | Cases passed | Before |",
        "|---|---|---|---|---|",
    ]
    for sid, info in sorted(found.items()):
        o = outcomes.get(sid)
        result = "not run" if o is None else f"{o['passed']}/{o['cases']}"
        if o is not None and o["skipped"]:
            result += f" ({o['skipped']} skipped)"
        lines.append(
            f"| `{sid}` | {info['promise']} | `{info['test']}` | {result} | "
            f"{before.get(sid, '-')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="REV", help="also run each scenario on REV")
    args = parser.parse_args()
    found = scenarios()
    if args.baseline:
        base = run_baseline(args.baseline, found)
        BASELINE.write_text(json.dumps(base, indent=1, sort_keys=True) + "\n")
    else:
        base = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    outcomes = run_suite()
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{table(found, outcomes, base)}\n{END}{tail}")
    print(f"wrote {DOC.relative_to(ROOT)}: {len(found)} scenarios", file=sys.stderr)


if __name__ == "__main__":
    main()
