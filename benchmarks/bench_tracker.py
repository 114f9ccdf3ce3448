"""Memory and throughput of the tracker on very long runs, with fake meters.

Feeds N sampling rounds (default 10 million) through a real EnergyTracker driven by a
FakeClock -- the same code path as a live run, minus the thread's sleeping -- and reports:

* peak resident memory growth over the run (target: under 20 MB whatever N is), and
* throughput: sampling rounds and channel readings per second of CPU time.

It also times the real sampler thread reading as fast as it can for a couple of seconds.

Run: ``nox -s bench`` or ``python benchmarks/bench_tracker.py [--rounds N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import psutil

import nlpfootprint as nf
from nlpfootprint.testing import FakeClock, FakeMeter

MB = 1024 * 1024


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def long_run(rounds: int, chunks: int = 200) -> dict[str, float]:
    """``rounds`` sampling rounds over 4 channels (2 GPUs, a wrapping CPU counter, DRAM)."""
    clock = FakeClock()
    meters = [
        FakeMeter.constant([300.0, 280.0], domain="gpu"),
        FakeMeter.counter(65.0, max_energy_j=262_143.0, domain="cpu", clock=clock),
        FakeMeter.constant(12.0, domain="dram"),
    ]
    channels = sum(len(m.channels) for m in meters)
    interval_s = 1.0
    with nf.track_energy(meters=meters, clock=clock, interval_s=interval_s) as tracker:
        clock.advance(10_000 * interval_s)  # warm up: trace allocated, caches hot
        baseline = rss()
        peak = baseline
        per_chunk = max(1, rounds // chunks)
        done = 0
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        while done < rounds:
            step = min(per_chunk, rounds - done)
            clock.advance(step * interval_s)
            tracker.step(step, tokens=step * 2048)
            done += step
            peak = max(peak, rss())
        cpu_s = time.process_time() - cpu0
        wall_s = time.perf_counter() - wall0
    report = tracker.report
    expected_j = (300.0 + 280.0 + 65.0 + 12.0) * report.duration_s
    return {
        "rounds": rounds,
        "channels": channels,
        "channel_readings": rounds * channels,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "rounds_per_s": rounds / cpu_s,
        "readings_per_s": rounds * channels / cpu_s,
        "us_per_round": 1e6 * cpu_s / rounds,
        "rss_baseline_mb": baseline / MB,
        "rss_peak_growth_mb": (peak - baseline) / MB,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "simulated_days": report.duration_s / 86400,
        "energy_relative_error": abs(report.energy_j - expected_j) / expected_j,
        "trace_points": len(report.trace.start_s) if report.trace else 0,
    }


def thread_throughput(seconds: float = 2.0) -> dict[str, float]:
    """The real sampler thread with a tiny interval: how many rounds per second it manages."""
    meters = [FakeMeter.constant([300.0, 280.0], domain="gpu")]
    with nf.track_energy(meters=meters, interval_s=1e-4) as tracker:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.05)
    report = tracker.report
    rounds = report.channels[0].readings
    return {
        "thread_seconds": report.duration_s,
        "thread_rounds": rounds,
        "thread_rounds_per_s": rounds / report.duration_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=10_000_000)
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    args = parser.parse_args(argv)
    results = {
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {psutil.cpu_count()} logical CPUs",
        "nlpfootprint": nf.__version__,
        **long_run(args.rounds),
        **thread_throughput(),
    }
    width = max(map(len, results))
    for key, value in results.items():
        shown = (
            f"{value:,.3f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else value
        )
        print(f"{key:<{width}}  {shown}")
    target_ok = results["rss_peak_growth_mb"] < 20.0
    print(f"\nmemory target (< 20 MB growth): {'met' if target_ok else 'MISSED'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if target_ok else 1


if __name__ == "__main__":
    sys.exit(main())
