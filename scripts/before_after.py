"""The figures issue 10 started from, measured for an older commit and this tree side by side.

Makes a worktree of ``REV`` in a temporary folder and runs each measurement in fresh
interpreters, alternating old and new (A, B, A, B, ...), so that both see the machine in
the same state: import time (of the package, and of the tracker), the first start and
stop, FakeClock sampling rounds of 8 channels, sampler CPU at 0.1 s, peak memory while
tracking, and ``Report.from_log`` of a 200,000-round log with its summary. Writes medians
and every value to a JSON file.

Run: ``python scripts/before_after.py REV [--json benchmarks/results/before-after.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

IMPORT = (
    "import time; t = time.perf_counter(); import nlpfootprint; import json; "
    "print(json.dumps(1e3 * (time.perf_counter() - t)))"
)
TRACKER = (
    "import time; t = time.perf_counter(); from nlpfootprint import track_energy; "
    "import json; print(json.dumps(1e3 * (time.perf_counter() - t)))"
)
FIRST = """import json, time, nlpfootprint as nf
nf.track_energy
c = time.process_time()
with nf.track_energy():
    pass
print(json.dumps(1e3 * (time.process_time() - c)))"""
ROUNDS = """import json, time, nlpfootprint as nf
from nlpfootprint.testing import FakeClock, FakeMeter
n, clock = 100_000, FakeClock()
meters = [FakeMeter.constant([300.0] * 4, domain="gpu"),
          FakeMeter.counter([65.0, 60.0], max_energy_j=262143.0, domain="cpu", clock=clock),
          FakeMeter.constant([12.0, 11.0], domain="dram")]
with nf.track_energy(meters=meters, clock=clock, interval_s=1.0) as t:
    clock.advance(1000.0)
    c = time.process_time()
    for _ in range(n // 1000):
        clock.advance(1000.0)
        t.step(1000)
    d = time.process_time() - c
print(json.dumps(1e6 * d / n))"""
HWM = "[int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] / 1024"
LIVE = """import json, time, nlpfootprint as nf
with nf.track_energy(interval_s=0.1):
    c = time.process_time(); time.sleep(5); d = time.process_time() - c
print(json.dumps(1e3 * d / 5))"""
RSS = f"""import json, time, nlpfootprint as nf
with nf.track_energy():
    time.sleep(1.5)
    peak = {HWM}
print(json.dumps(peak))"""
BARE = f"import json, time; time.sleep(0.2); print(json.dumps({HWM}))"
LOG = """import json, sys, nlpfootprint as nf
from nlpfootprint.testing import FakeClock, FakeMeter
clock = FakeClock()
meters = [FakeMeter.constant([300.0] * 4, domain="gpu"),
          FakeMeter.counter([65.0, 60.0], max_energy_j=262143.0, domain="cpu", clock=clock),
          FakeMeter.constant([12.0, 11.0], domain="dram")]
with nf.track_energy(meters=meters, clock=clock, interval_s=1.0, log=sys.argv[1]) as t:
    for _ in range(200):
        clock.advance(1000.0)
        t.step(1000)
print("null")"""
FROM_LOG = f"""import json, sys, time, nlpfootprint as nf
c = time.perf_counter(); nf.Report.from_log(sys.argv[1]); d = time.perf_counter() - c
print(json.dumps([d, {HWM}]))"""
MEASURES = (
    ("import nlpfootprint (ms, wall, in process)", IMPORT, 7),
    ("from nlpfootprint import track_energy (ms, wall, in process)", TRACKER, 7),
    ("first start+stop, automatic meters (ms CPU)", FIRST, 5),
    ("FakeClock round, 8 channels in 3 meters (us CPU)", ROUNDS, 3),
    ("sampler CPU at interval 0.1 s (ms per s)", LIVE, 3),
    ("peak RSS tracking a sleep (MB, VmHWM)", RSS, 3),
    ("Report.from_log, 200,000 rounds with summary (s wall, MB peak)", FROM_LOG, 2),
)


def run(env: dict[str, str], code: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(values: list[Any]) -> Any:
    if isinstance(values[0], list):
        return [statistics.median(column) for column in zip(*values, strict=True)]
    return statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("rev", help="the older commit")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    with tempfile.TemporaryDirectory(prefix="nlpfootprint-before-") as folder:
        old_tree = Path(folder) / "old"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(old_tree), args.rev],
            check=True,
        )
        try:
            envs = {
                "old": {**env, "PYTHONPATH": str(old_tree / "src")},
                "new": {**env, "PYTHONPATH": str(ROOT / "src")},
            }
            log = str(Path(folder) / "run.jsonl")
            run(envs["new"], LOG, log)
            results: dict[str, Any] = {"rev": args.rev, "bare_rss_mb": run(envs["new"], BARE)}
            for side in envs.values():
                run(side, IMPORT)  # bytecode written, as an installed package has it
            for name, code, repeats in MEASURES:
                extra = (log,) if code is FROM_LOG else ()
                values: dict[str, list[Any]] = {"old": [], "new": []}
                for _ in range(repeats):
                    for side, side_env in envs.items():
                        values[side].append(run(side_env, code, *extra))
                results[name] = {s: {"median": median(v), "values": v} for s, v in values.items()}
                print(
                    f"{name}: before {median(values['old'])}, now {median(values['new'])}",
                    flush=True,
                )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)],
                check=False,
            )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
