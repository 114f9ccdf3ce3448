"""How much a running nlpfootprint tracker slows a workload; prints one JSON line.

    python slowdown.py WORKLOADS INTERVALS BLOCKS CHUNKS CHUNK_S

WORKLOADS: comma-separated, of ``matmul`` (single-threaded numpy matrix products) and
``loop`` (a pure-Python loop that holds the GIL). INTERVALS: comma-separated, ``default`` or
seconds. For each workload and interval: BLOCKS pairs of blocks, one with a tracker running
(automatic meters) and one without, their order alternating; each block times CHUNKS chunks
of about CHUNK_S seconds of work. Chunk j of a tracked block is paired with chunk j of the
untracked block beside it. A tracked block keeps one tracker running across its chunks (its
start and stop are not timed), and its first chunk starts at a random point of the sampling
interval (an untimed sleep after the start), so the sampler's wake-ups fall in the chunks as
often as in a long run, however long a block is. An untracked block sleeps alike before its
chunks, since the first chunks after a sleep run slower (caches and CPU frequency cool).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import numpy as np  # noqa: E402 (after the thread settings, which numpy reads at import)

import nlpfootprint  # noqa: E402

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Work = Callable[[int], None]


def matmul(reps: int) -> None:
    a = np.full((160, 160), 1.0001)
    for _ in range(reps):
        a = a @ a
        a /= a[0, 0]


def loop(reps: int) -> None:
    total = 0
    for _ in range(reps):
        for i in range(1000):
            total += i * i % 7


WORKLOADS: dict[str, Work] = {"matmul": matmul, "loop": loop}


def calibrate(work: Work, chunk_s: float) -> int:
    """How many repetitions of ``work`` take about ``chunk_s`` seconds."""
    reps = 1
    while True:
        start = time.perf_counter()
        work(reps)
        took_s = time.perf_counter() - start
        if took_s > 0.05:
            return max(1, round(reps * chunk_s / took_s))
        reps *= 4


def timed_block(work: Work, reps: int, chunks: int) -> list[float]:
    times = []
    for _ in range(chunks):
        start = time.perf_counter()
        work(reps)
        times.append(time.perf_counter() - start)
    return times


def pairs(work: Work, interval: str, blocks: int, chunks: int, chunk_s: float) -> dict:
    options = {} if interval == "default" else {"interval_s": float(interval)}
    interval_s = nlpfootprint.TrackerSettings.of(**options).interval_s
    reps = calibrate(work, chunk_s)
    timed_block(work, reps, 1)  # warm
    phase = random.Random(0)
    on: list[float] = []
    off: list[float] = []
    for block in range(blocks):
        for tracked in (True, False) if block % 2 == 0 else (False, True):
            if tracked:
                with nlpfootprint.track_energy(**options):
                    time.sleep(phase.uniform(0.0, interval_s))
                    on.extend(timed_block(work, reps, chunks))
            else:  # the same sleep: a chunk just after a sleep runs slower (cold caches)
                time.sleep(phase.uniform(0.0, interval_s))
                off.extend(timed_block(work, reps, chunks))
    return {"interval": interval, "interval_s": interval_s, "reps": reps, "on_s": on, "off_s": off}


def main(argv: list[str]) -> None:
    workloads, intervals = argv[0].split(","), argv[1].split(",")
    blocks, chunks, chunk_s = int(argv[2]), int(argv[3]), float(argv[4])
    results = [
        {"workload": name, **pairs(WORKLOADS[name], interval, blocks, chunks, chunk_s)}
        for name in workloads
        for interval in intervals
    ]
    print("\n" + json.dumps({"tool": "nlpfootprint", "results": results}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
