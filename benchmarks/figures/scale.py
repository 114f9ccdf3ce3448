"""Scale: very long runs through the real tracker, the run log's size, the real thread.

* **Sampling rounds**: 1e4 to 1e7 rounds of 8 channels (4 GPUs at constant power, 2 CPU
  packages as wrapping energy counters, 2 DRAM zones) through ``track_energy(...)`` driven
  by a :class:`~nlpfootprint.testing.FakeClock` -- the live code path minus the thread's
  sleeping. Each size runs in a fresh process, so its resident memory starts clean. Per
  size: CPU per round, channel readings per CPU second, peak RSS growth after a warm-up,
  the energy's error against the exact value and the trace points kept. The largest size
  is 1e7 when the 1e6 run says it takes under :data:`BUDGET_S`; otherwise 3e6 is run (and
  said), and nothing is extrapolated.
* **Run-log size**: bytes per sampling round of ``track_energy(log=...)``, plain and gzip,
  with the same 8 channels reading noisy values at the resolution real meters give.
* **The real sampler thread** at ``interval_s=1e-4``: rounds per second and CPU per round.

Run: ``python -m benchmarks.figures.scale [--full]`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil
from benchmarks._stats import summary
from benchmarks.figures._child import run_json

import nlpfootprint as nf
from nlpfootprint.meters.base import Channel
from nlpfootprint.testing import FakeClock, FakeMeter

__all__ = [
    "FIGURES",
    "figure_row",
    "log_bytes_per_round",
    "long_run",
    "planned_rounds",
    "run",
    "run_size",
    "size_rows",
    "thread_rounds",
    "wanted",
]

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
INTERVAL_S = 1.0
#: Rounds fed before the baseline memory is taken (the trace is full and folding by then).
WARMUP_ROUNDS = 10_000
#: Chunks a run is fed in: memory is sampled and CPU timed between them.
CHUNKS = 200
#: The longest the largest size may take; past it, :data:`FALLBACK_ROUNDS` is run instead.
BUDGET_S = 180.0
FALLBACK_ROUNDS = 3_000_000
SIZES = {"quick": (10_000, 100_000), "full": (10_000, 100_000, 1_000_000, 10_000_000)}
GPU_W = (300.0, 280.0, 310.0, 290.0)
CPU_W = (65.0, 70.0)
DRAM_W = (12.0, 10.0)
#: A RAPL package counter's wrap range in joules (2**32 uJ is common; this is another).
RAPL_MAX_J = 262_143.328850
TARGET_US = 4.0
TARGET_READINGS = 200_000.0
TARGET_MB = 20.0


def eight_channels(
    clock: FakeClock,
    *,
    gpu_w: Sequence[float] = GPU_W,
    cpu_w: Sequence[float] = CPU_W,
    dram_w: Sequence[float] = DRAM_W,
    max_energy_j: float = RAPL_MAX_J,
) -> list[FakeMeter]:
    """4 GPUs at constant power, 2 CPU packages as wrapping counters, 2 DRAM zones."""
    return [
        FakeMeter.constant(list(gpu_w), domain="gpu"),
        FakeMeter.counter(list(cpu_w), max_energy_j=max_energy_j, domain="cpu", clock=clock),
        FakeMeter.constant(list(dram_w), domain="dram"),
    ]


def rss() -> int:
    """This process's resident memory in bytes."""
    return int(psutil.Process().memory_info().rss)


def long_run(rounds: int, chunks: int = CHUNKS, warmup: int = WARMUP_ROUNDS) -> dict[str, Any]:
    """Feed ``rounds`` sampling rounds of 8 channels through a tracker, in this process,
    after ``warmup`` rounds (then the baseline memory is taken)."""
    clock = FakeClock()
    meters = eight_channels(clock)
    channels = sum(len(m.channels) for m in meters)
    per_chunk = max(1, rounds // chunks)
    chunk_us: list[float] = []
    with nf.track_energy(meters=meters, clock=clock, interval_s=INTERVAL_S) as tracker:
        clock.advance(warmup * INTERVAL_S)
        baseline = peak = rss()
        done = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while done < rounds:
            n = min(per_chunk, rounds - done)
            start = time.process_time()
            clock.advance(n * INTERVAL_S)
            tracker.step(n, tokens=n * 2048)
            chunk_us.append(1e6 * (time.process_time() - start) / n)
            done += n
            peak = max(peak, rss())
        cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    report = tracker.report
    exact_j = (sum(GPU_W) + sum(CPU_W) + sum(DRAM_W)) * report.duration_s
    return {
        "rounds": rounds,
        "channels": channels,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "chunk_us_per_round": chunk_us,
        "rss_baseline_mb": baseline / MB,
        "rss_growth_mb": (peak - baseline) / MB,
        "energy_relative_error": abs(report.energy_j - exact_j) / exact_j,
        "trace_points": len(report.trace.start_s) if report.trace else 0,
        "warmup": warmup,
    }


def run_size(rounds: int, timeout_s: float = 1800.0) -> dict[str, Any]:
    """:func:`long_run` in a fresh Python process (so its memory starts clean)."""
    return run_json(
        ["-m", "benchmarks.figures.scale", "--child", str(rounds)],
        what=f"the {rounds:,}-round run",
        cwd=ROOT,
        timeout_s=timeout_s,
    )


def _label(rounds: int) -> str:
    """1e4, 3e6, ... (the size in an id)."""
    exponent = math.floor(math.log10(rounds))
    return f"{rounds / 10**exponent:g}e{exponent}"


def size_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of one size: CPU per round, readings per second, memory, error, trace."""
    rounds, channels, label = result["rounds"], result["channels"], _label(result["rounds"])
    us = result["chunk_us_per_round"]
    per_s = [channels * 1e6 / u for u in us if u > 0]
    what = f"{rounds:,} rounds x {channels} channels (FakeClock, interval 1 s)"
    how = (
        f"one fresh process; {len(us)} chunks timed with process_time after "
        f"{result['warmup']:,} warm-up rounds; whole run {result['cpu_s']:.1f} s CPU, "
        f"{result['wall_s']:.1f} s wall"
    )
    growth, error = result["rss_growth_mb"], result["energy_relative_error"]
    points = result["trace_points"]
    return [
        figure_row(
            f"scale_round_cpu_{label}", f"CPU per sampling round, {what}", "µs", us,
            target=f"< {TARGET_US:g} µs", met=lambda m: m < TARGET_US, note=how,
        ),
        figure_row(
            f"scale_readings_{label}", f"channel readings per CPU second, {what}", "/s", per_s,
            target=f"> {TARGET_READINGS:,.0f}/s", met=lambda m: m > TARGET_READINGS, note=how,
        ),
        figure_row(
            f"scale_rss_{label}", f"peak RSS growth, {what}", "MB", [growth],
            target=f"< {TARGET_MB:g} MB", met=lambda m: m < TARGET_MB,
            note="psutil RSS after each chunk minus RSS after the warm-up "
            f"({result['rss_baseline_mb']:.1f} MB)",
        ),
        figure_row(
            f"scale_energy_error_{label}", f"energy error vs the exact value, {what}",
            "relative", [error], target="< 1e-9", met=lambda m: m < 1e-9,
            note="|report.energy_j - sum of powers x duration| / exact",
        ),
        figure_row(
            f"scale_trace_points_{label}", f"power-trace points kept, {what}", "points",
            [points], target="<= 2048 (trace_points)", met=lambda m: m <= 2048,
            note="the trace merges neighbouring bins to stay within trace_points",
        ),
    ]  # fmt: skip


def figure_row(
    row_id: str,
    figure: str,
    unit: str,
    values: Sequence[float],
    *,
    target: str | None = None,
    met: Callable[[float], bool] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """A row (see ``benchmarks/_stats.py``) for a figure only nlpfootprint has: its values
    summarised; ``met`` judges the median against the target."""
    stats = summary(values)
    return {
        "id": row_id,
        "figure": figure,
        "unit": unit,
        "target": target,
        "met": None if met is None else bool(met(stats["median"])),
        "tools": {"nlpfootprint": stats},
        "ratio": None,
        "note": note,
    }


def _noisy_meters(clock: FakeClock, seed: int = 0) -> list[FakeMeter]:
    """The 8 channels reading noisy values at real resolutions: GPU and DRAM power in mW
    (as NVML reports), CPU counters in uJ (as RAPL's energy_uj), wrapping."""
    rng = random.Random(seed)
    cpu = [Channel(f"cpu:{i}", "cpu", "energy", max_energy_j=RAPL_MAX_J) for i in range(2)]
    totals = [rng.uniform(0, RAPL_MAX_J) for _ in cpu]
    last = [clock.now()]

    def read_cpu() -> list[float]:
        now = clock.now()
        for i, rate in enumerate(CPU_W):
            totals[i] += (now - last[0]) * rate * rng.uniform(0.8, 1.2)
        last[0] = now
        return [round(math.fmod(total, RAPL_MAX_J), 6) for total in totals]

    def noisy(watts: Sequence[float]) -> Callable[[float], list[float]]:
        return lambda _t: [round(w * rng.uniform(0.9, 1.1), 3) for w in watts]

    return [
        FakeMeter.trace(noisy(GPU_W), channels=4, domain="gpu", clock=clock),
        FakeMeter(cpu, read_cpu, name="noisy RAPL"),
        FakeMeter.trace(noisy(DRAM_W), channels=2, domain="dram", clock=clock),
    ]


def _log_size(path: Path, rounds: int) -> int:
    """Bytes of the run log of ``rounds`` rounds, one step counted per round."""
    clock = FakeClock()
    with nf.track_energy(
        meters=_noisy_meters(clock), clock=clock, interval_s=INTERVAL_S, log=path
    ) as tracker:
        for _ in range(rounds):
            clock.advance(INTERVAL_S)
            tracker.step(1, tokens=2048)
    return path.stat().st_size


def log_bytes_per_round(rounds: int) -> dict[str, float]:
    """Bytes per sampling round of the run log, plain and gzip: the size difference of a
    run of ``2 x rounds`` and one of ``rounds``, so the header and summary cancel."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".jsonl", ".jsonl.gz"):
            short = _log_size(Path(tmp, "short" + suffix), rounds)
            long = _log_size(Path(tmp, "long" + suffix), 2 * rounds)
            out[suffix] = (long - short) / rounds
    return out


def thread_rounds(seconds: float) -> tuple[float, float]:
    """The real sampler thread at ``interval_s=1e-4`` with the 8 (constant) channels for
    ``seconds``: (rounds per second, process CPU in µs per round)."""
    meters = [
        FakeMeter.constant(list(GPU_W), domain="gpu"),
        FakeMeter.counter(list(CPU_W), max_energy_j=RAPL_MAX_J, domain="cpu"),
        FakeMeter.constant(list(DRAM_W), domain="dram"),
    ]
    cpu0 = time.process_time()
    with nf.track_energy(meters=meters, interval_s=1e-4) as tracker:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.02)
    cpu_s = time.process_time() - cpu0
    report = tracker.report
    rounds = report.channels[0].readings
    return rounds / report.duration_s, 1e6 * cpu_s / rounds


def planned_rounds(rounds: int, before: dict[str, Any] | None) -> int:
    """``rounds``, or :data:`FALLBACK_ROUNDS` when the run ``before`` (a smaller size, at
    least 3 times smaller) says it would take more than :data:`BUDGET_S`."""
    if before is None or rounds <= 3 * before["rounds"]:
        return rounds
    expected_s = before["wall_s"] * rounds / before["rounds"]
    return rounds if expected_s <= BUDGET_S else FALLBACK_ROUNDS


def _sizes(quick: bool) -> list[dict[str, Any]]:
    """Run each size in its own process; the largest only if the one before says it fits."""
    results: list[dict[str, Any]] = []
    for rounds in SIZES["quick" if quick else "full"]:
        results.append(run_size(planned_rounds(rounds, results[-1] if results else None)))
    return results


def log_rows(quick: bool) -> list[dict[str, Any]]:
    """Run-log bytes per round, plain and gzip."""
    log_rounds = 2_000 if quick else 20_000
    per_round = log_bytes_per_round(log_rounds)
    note = (
        f"size of a {2 * log_rounds:,}-round log minus a {log_rounds:,}-round one, per round; "
        "values at NVML/RAPL resolution; default log_flush_s (2 s)"
    )
    return [
        figure_row(
            f"log_bytes_per_round_{name}",
            f"run-log bytes per sampling round ({suffix}, 8 channels, a step per round)",
            "B",
            [per_round[suffix]],
            note=note,
        )
        for suffix, name in ((".jsonl", "plain"), (".jsonl.gz", "gzip"))
    ]


def thread_rows(quick: bool) -> list[dict[str, Any]]:
    """The real sampler thread at interval_s=1e-4."""
    repeats, seconds = (3, 0.5) if quick else (5, 2.0)
    thread = [thread_rounds(seconds) for _ in range(repeats)]
    how = f"{repeats} runs of {seconds:g} s; 8 fake channels, each meter on its worker thread"
    what = "real sampler thread, interval_s=1e-4"
    return [
        figure_row(
            "thread_rounds_per_s",
            f"{what}: rounds per second",
            "rounds/s",
            [r for r, _ in thread],
            note=how,
        ),
        figure_row(
            "thread_cpu_per_round",
            f"{what}: CPU per round (all threads)",
            "µs",
            [c for _, c in thread],
            note=how,
        ),
    ]


#: The parts of this module, by the prefix of their rows' ids (``--only`` takes them).
def bare_loop_us(rounds: int) -> float:
    """CPU microseconds per round of the least a sampler must do, in plain Python: read the
    same three fake meters and integrate each of the 8 values (no tracker, sampler, clock,
    ledger checks or trace) -- the floor the tracker's own per-round cost stands on."""
    from nlpfootprint.accounting import CounterIntegrator, PowerIntegrator

    clock = FakeClock()
    meters = eight_channels(clock)
    integrators = [
        [
            CounterIntegrator(RAPL_MAX_J) if c.kind == "energy" else PowerIntegrator()
            for c in m.channels
        ]
        for m in meters
    ]
    pairs = list(zip(meters, integrators, strict=True))
    start = time.process_time()
    t = clock.now()
    for _ in range(rounds):
        t += INTERVAL_S
        clock._now = t  # the fake counter reads the clock; no callbacks to run
        for meter, integs in pairs:
            for integ, value in zip(integs, meter.read(), strict=True):
                integ.add(t, value)
    return 1e6 * (time.process_time() - start) / rounds


def floor_rows(quick: bool) -> list[dict[str, Any]]:
    rounds = 20_000 if quick else 200_000
    values = [bare_loop_us(rounds) for _ in range(3 if quick else 7)]
    return [
        figure_row(
            "floor_bare_loop",
            "floor: read 3 fake meters and integrate 8 channels in a bare loop (CPU per round)",
            "µs",
            values,
            note=(
                "no tracker: what any pure-Python sampler of these meters must spend per round "
                f"on this machine ({rounds:,} rounds per repeat); compare the tracker's figure"
            ),
        )
    ]


FIGURES = ("scale", "log", "thread", "floor")


def run(quick: bool, only: set[str] | None = None) -> list[dict[str, Any]]:
    """Every scale figure (quick: 1e4 and 1e5 rounds, shorter log and thread runs), or
    those ``only`` names (a part, or a row id in it)."""
    parts = {
        "scale": lambda: [row for result in _sizes(quick) for row in size_rows(result)],
        "log": lambda: log_rows(quick),
        "thread": lambda: thread_rows(quick),
        "floor": lambda: floor_rows(quick),
    }
    return [row for name, part in parts.items() if wanted(name, only) for row in part()]


def wanted(part: str, only: set[str] | None) -> bool:
    """Whether ``only`` (None: everything) names ``part`` or a row of it."""
    return only is None or any(t == part or t.startswith(part + "_") for t in only)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every size (default: quick)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(long_run(args.child)))
        return 0
    start = time.perf_counter()
    rows = run(quick=not args.full)
    print(json.dumps(rows, indent=2, ensure_ascii=False))
    print(f"{len(rows)} rows in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
