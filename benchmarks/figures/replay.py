"""Re-accounting a huge run log: ``Report.from_log`` on 1e7 sampling rounds of 8 channels.

The logs are written in bulk, straight to disk, in the tracker's exact line format: the
header (and the summary) come from a short real ``track_energy(log=...)`` run with the
same meters -- 4 GPUs at noisy power (to the milliwatt), 2 CPU packages as energy
counters (to the microjoule) wrapping like RAPL, 2 DRAM zones -- and each round is a
line per meter plus a count line (a step per round), with times to the microsecond.
Writing them so takes seconds, where the tracker would take an hour. The summary line is
the short run's: the bulk lines are read, not checked against it (the unit tests check
that a log's summary is the live report, and that a replay equals it).

Each figure is timed in a fresh Python process. Its peak RSS is the memory figure: the
interpreter and nlpfootprint included (the note says how much of it was there before the
call), read from ``VmHWM`` in ``/proc/self/status`` -- a child's ``ru_maxrss`` on Linux
can keep the peak its parent had when it forked, before the ``exec``.

* ``Report.from_log(path)``: the log ends with a summary, which is the report; the lines
  before it are screened in bulk, not parsed (see ``nlpfootprint.runlog.screen``).
* The same with other assumptions (``pue=``, ``carbon_intensity=``, ``price_per_kwh=``):
  re-accounting.
* ``Report.from_log(path, from_samples=True)``: every reading replayed through the ledger
  the live run used, as for a crashed run. This reads and accounts every number, some 20
  to 40 us per round here, so it is measured on 5e5 rounds (1e5 in quick mode), not 1e7.

Plain and gzip (compressed at level 4, five times faster to write than the tracker's 9 and
some 6% slower to decompress, so the gzip figures err on the slow side). The logs are in a
temporary folder, deleted at the end.

Run: ``python -m benchmarks.figures.replay [--full]`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.figures._child import run_json
from benchmarks.figures.scale import eight_channels, figure_row

import nlpfootprint as nf
from nlpfootprint.testing import FakeClock, FakeMeter

__all__ = ["log_blocks", "real_lines", "run", "time_child", "write_log"]

ROOT = Path(__file__).resolve().parents[2]
#: The figures (row ids begin with one), for ``benchmarks.run --only``.
FIGURES = ("replay",)
#: Rounds per block of bulk lines: a round's time is the block number, then 4 digits.
BLOCK = 10_000
#: The CPU counters wrap here (joules), as RAPL's energy_uj does at 2**32 uJ.
WRAP_J = 4294.967295
#: Each block takes a counter round its range this many times: about 161 W.
TURNS = 375
#: Written 5 times faster than the tracker's level 9, and inflated some 6% slower: the
#: gzip figures err on the slow side.
GZIP_LEVEL = 4
TARGET_S = 10.0
TARGET_MB = 100.0


def _meters(clock: FakeClock) -> list[FakeMeter]:
    return eight_channels(
        clock, gpu_w=[300.0] * 4, cpu_w=[161.0] * 2, dram_w=[12.0] * 2, max_energy_j=WRAP_J
    )


def real_lines(folder: Path) -> tuple[bytes, bytes]:
    """The header and summary lines of a short real run with the benchmark's meters."""
    clock = FakeClock()
    path = folder / "real.jsonl"
    with nf.track_energy(meters=_meters(clock), clock=clock, log=path, name="bulk") as tracker:
        for _ in range(3):
            clock.advance(1.0)
            tracker.step(tokens=100)
    lines = path.read_bytes().splitlines(keepends=True)
    path.unlink()
    return lines[0], lines[-1]


def _round(i: int, t: str, steps: str | None) -> str:
    """Round ``i``'s lines at time ``t``: each meter's reading, then the counts (if any)."""
    gpu = ",".join(repr(round(300.0 + ((i * (k + 3)) % 97) / 7.0, 3)) for k in range(4))
    cpu = ",".join(repr(round((i * TURNS * WRAP_J / BLOCK + c) % WRAP_J, 6)) for c in (0, 7))
    dram = ",".join(repr(round(12.0 + ((i * (k + 5)) % 13) / 11.0, 3)) for k in range(2))
    lines = [
        f'{{"t":{t},"m":0,"v":[{gpu}]}}',
        f'{{"t":{t},"m":1,"v":[{cpu}]}}',
        f'{{"t":{t},"m":2,"v":[{dram}]}}',
    ]
    if steps is not None:
        lines.append(f'{{"t":{t},"steps":{steps},"tokens":{steps}00}}')
    return "\n".join(lines) + "\n"


def _template() -> tuple[bytes, bytes]:
    """The lines of block 0 and those of any later block, ``@`` standing for its number
    (round ``i`` of block ``b`` is at ``b * BLOCK + i`` seconds, plus under a millisecond)."""
    micro = [f"{(i * 7919) % 1000:06d}".rstrip("0") or "0" for i in range(BLOCK)]
    first = "".join(_round(i, f"{i}.{micro[i]}", str(i) if i else None) for i in range(BLOCK))
    later = "".join(_round(i, f"@{i:04d}.{micro[i]}", f"@{i:04d}") for i in range(BLOCK))
    return first.encode(), later.encode()


def log_blocks(rounds: int) -> Iterator[bytes]:
    """The lines of ``rounds`` rounds (a multiple of :data:`BLOCK`), a block at a time."""
    first, later = _template()
    yield first
    for block in range(1, rounds // BLOCK):
        yield later.replace(b"@", str(block).encode())


def write_log(path: Path, rounds: int, header: bytes, summary: bytes) -> int:
    """Write a log of ``rounds`` rounds (gzip when ``path`` ends in .gz); its size in bytes."""
    gz = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if path.suffix == ".gz" else None
    with path.open("wb") as out:
        for data in (header, *log_blocks(rounds), summary):
            out.write(data if gz is None else gz.compress(data))
        if gz is not None:
            out.write(gz.flush())
    return path.stat().st_size


#: One ``from_log`` call in a fresh interpreter that imports nothing else (so that its
#: peak RSS is the call's): prints wall and CPU seconds, the RSS before and after.
_CHILD = """
import json, resource, sys, time
import nlpfootprint as nf


def peak_mb():
    # VmHWM: this process's own peak; ru_maxrss may keep the parent's from before exec
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


mode, path = sys.argv[1:]
kw = {"summary": {}, "samples": {"from_samples": True},
      "reaccount": {"pue": 1.4, "carbon_intensity": 120.0, "price_per_kwh": 0.2}}[mode]
nf.Report  # resolved before the baseline
base = peak_mb()
start, cpu = time.perf_counter(), time.process_time()
report = nf.Report.from_log(path, **kw)
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "rss_mb": peak_mb(), "base_mb": base,
                  "energy_j": report.energy_j}))
"""


def time_child(mode: str, path: Path, timeout_s: float = 1200.0) -> dict[str, Any]:
    """One ``from_log`` call (``mode``: summary, reaccount or samples) in a fresh process."""
    return run_json(
        ["-c", _CHILD, mode, str(path)],
        what=f"from_log ({mode}) on {path.name}",
        cwd=ROOT,
        timeout_s=timeout_s,
    )


_WHAT = {
    "summary": "Report.from_log(path), the log ending with its summary",
    "reaccount": "Report.from_log(path, pue=, carbon_intensity=, price_per_kwh=)",
    "samples": "Report.from_log(path, from_samples=True): every reading replayed",
}


def _rows(
    mode: str, kind: str, rounds: int, size: int, runs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    label = f"{rounds:.0e}".replace("+0", "").replace("+", "")
    where = f"{rounds:,}-round log of 8 channels, {kind} ({size / 1e6:,.0f} MB on disk)"
    cpu = ", ".join(f"{r['cpu_s']:.2f}" for r in runs)
    note = f"{where}; {len(runs)} fresh process(es), CPU s: {cpu}"
    target = f"< {TARGET_S:g} s for 1e7 rounds" if mode != "samples" else None
    if mode == "samples":
        per_round = sorted(r["wall_s"] for r in runs)[len(runs) // 2] / rounds * 1e6
        note += (
            f"; {per_round:.1f} us per round, so 1e7 rounds would take about "
            f"{per_round * 10:.0f} s (not run: it reads and accounts every number)"
        )
    return [
        figure_row(
            f"replay_{mode}_{kind}_s",
            f"{_WHAT[mode]}, {label} rounds, {kind}: wall time",
            "s",
            [r["wall_s"] for r in runs],
            target=target,
            met=None if target is None else (lambda s: s < TARGET_S),
            note=note,
        ),
        figure_row(
            f"replay_{mode}_{kind}_rss",
            f"{_WHAT[mode]}, {label} rounds, {kind}: peak RSS of the process",
            "MB",
            [r["rss_mb"] for r in runs],
            target=f"< {TARGET_MB:g} MB, whatever the length",
            met=lambda mb: mb < TARGET_MB,
            note=(
                f"{where}; peak RSS (VmHWM) of the process, of which "
                f"{min(r['base_mb'] for r in runs):.0f} MB before the call (the interpreter "
                "and nlpfootprint)"
            ),
        ),
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    """Every figure (quick: 1e5 rounds, one process each; full: 1e7, and 5e5 replayed,
    which at some 25 us a round is what fits the suite's ten minutes)."""
    big, small = (100_000, 100_000) if quick else (10_000_000, 500_000)
    repeats = 1 if quick else 2
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="nlpfootprint-replay-") as folder:
        header, summary = real_lines(Path(folder))
        for kind, suffix in (("plain", ".jsonl"), ("gzip", ".jsonl.gz")):
            path = Path(folder) / f"big{suffix}"
            size = write_log(path, big, header, summary)
            for mode in ("summary", "reaccount"):
                runs = [time_child(mode, path) for _ in range(repeats)]
                rows += _rows(mode, kind, big, size, runs)
            if small != big:
                path.unlink()
                path = Path(folder) / f"small{suffix}"
                size = write_log(path, small, header, summary)
            runs = [time_child("samples", path) for _ in range(1 if not quick else repeats)]
            rows += _rows("samples", kind, small, size, runs)
            path.unlink()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1e7 rounds (default: 1e5)")
    args = parser.parse_args()
    start = time.perf_counter()
    for row in run(quick=not args.full):
        print(json.dumps(row))
    print(f"# {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
