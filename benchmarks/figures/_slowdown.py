"""The workload-slowdown figure (nlpfootprint only): see ``_children/slowdown.py``."""

from __future__ import annotations

import math
import shutil
import sys
from typing import Any

from benchmarks.figures._child import CHILDREN, PEERS, Tools, peer_row, run_child
from benchmarks.render import error_row

__all__ = ["judged", "slowdown_rows"]

SLOWDOWN = str(CHILDREN / "slowdown.py")
#: interval argument -> the target (slowdown under this many %)
SLOWDOWN_INTERVALS = {"default": 0.5, "0.01": 2.0}
WORKLOADS = {"matmul": "numpy matmuls, 1 thread", "loop": "pure-Python loop (GIL-bound)"}


def _slowdown_row(result: dict[str, Any], pinned: bool) -> dict[str, Any]:
    """Slowdown in %: the median over pairs of (tracked / untracked - 1)."""
    limit = SLOWDOWN_INTERVALS[result["interval"]]
    interval = f"interval {1e3 * result['interval_s']:g} ms"
    if result["interval"] == "default":
        interval = f"default interval ({result['interval_s']:g} s)"
    name = result["workload"] + ("_pinned" if pinned else "")
    pairs = zip(result["on_s"], result["off_s"], strict=True)
    percent = [100.0 * (on / off - 1.0) for on, off in pairs]
    mean = sum(percent) / len(percent)
    where = ", pinned to CPU 0 (taskset)" if pinned else ""
    peers = Tools({})
    peers.errors.update(dict.fromkeys(PEERS, "not measured (nlpfootprint only)"))
    row = peer_row(
        f"slowdown_{name}_{result['interval']}",
        f"workload slowdown: {WORKLOADS[result['workload']]}{where}, {interval}",
        "%",
        {"nlpfootprint": percent},
        peers,
        target=f"< {limit:g} %",
        mean_percent=mean,
        note=f"{len(percent)} pairs of ~{result['chunk_s']:g} s chunks ({result['reps']} "
        "repetitions), tracked vs untracked in alternating blocks of one process, each block after "
        "a sleep of a random part of the interval; median of the paired ratios - 1 (their mean: "
        f"{mean:+.2f} %); met when the median's 95% interval (median +- 1.57 IQR/sqrt(n)) lies "
        "below the target, ? when it holds the target",
    )
    return {**row, "met": judged(row["tools"]["nlpfootprint"], limit)}


def judged(stats: dict[str, Any], limit: float) -> bool | None:
    """Whether the median is below ``limit``, judged on its 95% interval (median +-
    1.57 IQR / sqrt(n), the notch of a box plot): None when the interval holds the limit
    (too noisy to tell)."""
    half = 1.57 * (stats["high"] - stats["low"]) / math.sqrt(stats["n"])
    if stats["median"] + half < limit:
        return True
    if stats["median"] - half > limit:
        return False
    return None


def slowdown_rows(plan: Any) -> list[dict[str, Any]]:
    """Each workload at each interval, unpinned then pinned to CPU 0."""
    rows = []
    taskset = shutil.which("taskset")
    for pinned in (False, True):
        if pinned and taskset is None:
            rows.append(
                error_row(
                    "slowdown_pinned", "workload slowdown, pinned", "skipped: taskset not found"
                )
            )
            continue
        args = [
            SLOWDOWN,
            ",".join(WORKLOADS),
            ",".join(SLOWDOWN_INTERVALS),
            str(plan.slowdown_blocks),
            str(plan.slowdown_chunks),
            str(plan.slowdown_chunk_s),
        ]
        work_s = 2 * plan.slowdown_blocks * plan.slowdown_chunks * plan.slowdown_chunk_s
        budget_s = 4 * (work_s + 2 * plan.slowdown_blocks)  # 4 runs; a sleep under 1 s a block
        prefix = (taskset, "-c", "0") if pinned and taskset else ()
        done = run_child("nlpfootprint", sys.executable, args, 120.0 + 3 * budget_s, prefix)
        for result in done["results"]:
            rows.append(_slowdown_row({**result, "chunk_s": plan.slowdown_chunk_s}, pinned))
    return rows
