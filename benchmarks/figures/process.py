"""Process-level figures: nlpfootprint beside CodeCarbon and carbontracker, in fresh processes.

* ``import``: wall time of a fresh ``python -c "<import>"``, start to exit (interpreter start
  included); ``import_bare`` is ``python -c pass`` in each tool's interpreter, for reference.
* ``first_track``: process CPU of the first start and stop of a tracker with automatic meters,
  after the import; ``first_track_total``: the import and that first start and stop together;
  ``first_track_wall``: the first start and stop's wall time (waits included).
* ``sampler``: process CPU per second while a started tracker samples during a sleep, minus a
  bare interpreter's over the same sleep; the tools and the bare interpreter run concurrently
  (they mostly sleep), their start order rotating between repeats.
* ``rss``: peak resident memory of those tracked sleeps at the default intervals, minus the
  bare interpreter's (VmHWM: ``ru_maxrss`` without what a process inherits across exec).
* ``slowdown``: a workload timed in chunks with a tracker running and without, paired
  (nlpfootprint only; see ``_children/slowdown.py``).

The tools alternate (``_stats.alternate``) so that drift in the machine's speed falls on each
alike; ratios are peer / nlpfootprint over the pairs of one repeat.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from benchmarks._stats import alternate, summary
from benchmarks.figures._child import (
    CHILDREN,
    TOOLS,
    ChildError,
    Tools,
    finish,
    launch,
    peer_row,
    run_child,
    wall_ms,
)
from benchmarks.figures._slowdown import slowdown_rows
from benchmarks.render import error_row

__all__ = ["FIGURES", "run"]

FIGURES = ("import", "first_track", "sampler", "rss", "slowdown")
#: Importing each package (nlpfootprint's imports its names on first use).
PACKAGES = {
    "nlpfootprint": "import nlpfootprint",
    "codecarbon": "import codecarbon",
    "carbontracker": "import carbontracker",
}
#: What a user writes to get each tracker: like for like, every name's cost paid.
IMPORTS = {
    "nlpfootprint": "from nlpfootprint import track_energy",
    "codecarbon": "from codecarbon import OfflineEmissionsTracker",
    "carbontracker": "from carbontracker.tracker import CarbonTracker",
}
TRACK = str(CHILDREN / "track.py")


@dataclass(frozen=True)
class Plan:
    """How much of each figure to measure."""

    import_repeats: int
    first_repeats: int
    sampler_default_s: float  # tracked sleep at the default intervals (CodeCarbon's: 15 s)
    sampler_default_repeats: int
    sampler_fast_s: float  # tracked sleep at 0.1 s
    sampler_fast_repeats: int
    slowdown_blocks: int  # pairs of blocks (tracked, untracked) per workload and interval
    slowdown_chunks: int  # timed chunks per block
    slowdown_chunk_s: float  # seconds of work per chunk


QUICK = Plan(2, 1, 1.5, 1, 1.5, 1, 1, 2, 0.05)
FULL = Plan(10, 5, 31.0, 2, 10.0, 3, 8, 4, 0.15)


def _measure(tools: Tools, tool: str, how: Callable[[str], Any]) -> Callable[[], Any]:
    """One measurement of ``tool`` (None once it has failed: the failure is kept)."""

    def once() -> Any:
        python = tools.python.get(tool)
        if python is None:
            return None
        try:
            return how(python)
        except ChildError as err:
            tools.fail(tool, f"failed: {err}")
            return None

    return once


def _alternate(
    measures: dict[str, Callable[[], Any]],
    repeats: int,
    warm: Mapping[str, Callable[[], Any]] | None = None,
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """``repeats`` of each measure, alternating, after an untimed warm-up run of each (byte
    code compiled, files in the page cache); ``warm`` replaces a measure's warm-up run.
    Returns the measurements and the warm-up runs' results."""
    warmed = {name: (warm or {}).get(name, once)() for name, once in measures.items()}
    return alternate(measures, repeats), warmed


def import_rows(plan: Plan, base: Tools) -> list[dict[str, Any]]:
    tools = base.fork()
    measures: dict[str, Callable[[], Any]] = {}
    for name in tools.names:
        for kind, codes in (("package", PACKAGES), ("tracker", IMPORTS), ("bare", None)):
            code = "pass" if codes is None else codes[name]
            measures[f"{kind}:{name}"] = _measure(
                tools, name, lambda py, n=name, c=code: wall_ms(n, py, c)
            )
    got, _ = _alternate(measures, plan.import_repeats)

    def of(kind: str) -> dict[str, list[Any]]:
        return {name: got.get(f"{kind}:{name}", []) for name in TOOLS}

    rows = []
    for kind, codes, figure, note in (
        (
            "package",
            PACKAGES,
            "import the package (fresh process, wall)",
            "nlpfootprint imports its names on first use, so this is the package alone",
        ),
        (
            "tracker",
            IMPORTS,
            "import the tracker, like for like (fresh process, wall)",
            "every name's cost paid: what a user writes to get the tracker",
        ),
    ):
        row = peer_row(
            "import" if kind == "package" else "import_tracker",
            figure,
            "ms",
            of(kind),
            tools,
            target="< 1/3 of CodeCarbon's",
            note="wall time of a fresh `python -c`, start to exit, interpreter start included; "
            + "; ".join(f"{n}: `{codes[n]}`" for n in TOOLS)
            + f"; {note}",
        )
        versus = (row["ratio"] or {}).get("codecarbon")
        row["met"] = None if versus is None else bool(versus["median"] > 3.0)
        rows.append(row)
    reference = peer_row(
        "import_bare",
        "reference: `python -c pass` in each tool's interpreter",
        "ms",
        of("bare"),
        tools,
        note="interpreter start alone, in each tool's venv",
    )
    return [*rows, {**reference, "ratio": None}]


def _attempts(warmed: Mapping[str, Any], kind: str) -> str:
    """What each tool's audited warm-up run attempted (``kind``: network or subprocesses)."""
    said = []
    for name, run in warmed.items():
        seen = ((run or {}).get("audit") or {}).get(kind)
        if seen:
            said.append(f"{name}: {', '.join(seen)}")
    return "; ".join(said) or "none"


def first_rows(plan: Plan, base: Tools) -> list[dict[str, Any]]:
    tools = base.fork()

    def child(name: str, *extra: str) -> Callable[[], Any]:
        args = [TRACK, "first", name, *extra]
        return _measure(tools, name, lambda python: run_child(name, python, args, 180.0))

    measures = {name: child(name) for name in tools.names}
    audited = {name: child(name, "--audit") for name in tools.names}
    got, warmed = _alternate(measures, plan.first_repeats, warm=audited)

    def pick(key: str) -> dict[str, list[Any]]:
        return {n: [r and r[key] for r in runs] for n, runs in got.items()}

    network = _attempts(warmed, "network")
    note = (
        "process CPU (all threads, and waited-for subprocesses), automatic meters; "
        "CodeCarbon: OfflineEmissionsTracker(country_iso_code='USA') start/stop; carbontracker: "
        "CarbonTracker(epochs=1) epoch_start/epoch_end/stop; logging disabled for all; sockets "
        f"time out after 5 s. Network attempted by start/stop (audit hook): {network}. "
        f"Programs started: {_attempts(warmed, 'subprocesses')}. What each measures here: "
        f"{_attempts(warmed, 'measured')}"
    )
    return [
        peer_row(
            "first_track",
            "first start+stop of a tracker, after the import (CPU)",
            "ms",
            pick("first_cpu_ms"),
            tools,
            target="< 20 ms",
            limit=20.0,
            note=note,
            network=network,
        ),
        peer_row(
            "first_track_total",
            "import + first start+stop (CPU, end to end)",
            "ms",
            pick("total_cpu_ms"),
            tools,
            note="the import's CPU plus first_track's",
        ),
        peer_row(
            "first_track_wall",
            "first start+stop, after the import (wall)",
            "ms",
            pick("first_wall_ms"),
            tools,
            note="waits included (threads, network)",
        ),
    ]


def sampler_runs(
    base: Tools, interval: str, seconds: float, repeats: int
) -> tuple[dict[str, list[Any]], Tools]:
    """Each tool (and a bare interpreter) tracking a sleep of ``seconds``, concurrently, the
    start order rotating between repeats; ``got[tool][i]`` is repeat i (None: failed)."""
    tools = base.fork()
    names = ["bare", "floor", *tools.names]
    got: dict[str, list[Any]] = {name: [] for name in names}
    for repeat in range(repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        started = {}
        for name in order:
            python = sys.executable if name in ("bare", "floor") else tools.python.get(name)
            if python is not None:
                started[name] = launch(
                    name, python, [TRACK, "sampler", name, interval, str(seconds)]
                )
        for name in order:
            result = None
            try:
                result = finish(started[name], seconds + 300.0) if name in started else None
            except ChildError as err:
                if name in ("bare", "floor"):
                    raise
                tools.fail(name, f"failed: {err}")
            got[name].append(result)
    return got, tools


def _per_run(
    got: Mapping[str, list[Any]], bare: list[Any], value: Callable[[Any, Any], float]
) -> dict[str, list[float | None]]:
    return {
        n: [r and value(r, b) for r, b in zip(runs, bare, strict=True)] for n, runs in got.items()
    }


def _cpu_per_s(run: Any, bare: Any) -> float:
    return float(run["cpu_ms"] / run["wall_s"] - bare["cpu_ms"] / bare["wall_s"])


def _rss_mb(run: Any, bare: Any) -> float:
    return float((run["maxrss_kb"] - bare["maxrss_kb"]) / 1024)


def floor_row(interval: str, floor: list[Any], bare: list[Any]) -> dict[str, Any]:
    """What waking every ``interval`` alone costs (a thread sleeping in a loop, no work)."""
    values = [f and _cpu_per_s(f, b) for f, b in zip(floor, bare, strict=True)]
    return {
        "id": f"sampler_floor_{interval}",
        "figure": f"floor: a thread that only wakes every {interval} (CPU per second)",
        "unit": "ms/s",
        "target": None,
        "met": None,
        "tools": {"nlpfootprint": summary([v for v in values if v is not None])},
        "ratio": None,
        "note": "no tracker: time.sleep in a loop, measured beside the tools; the least any "
        "sampler that wakes once an interval costs on this machine (the nlpfootprint column "
        "holds it)",
    }


def sampler_rows(plan: Plan, base: Tools, *, fast: bool) -> list[dict[str, Any]]:
    """CPU per second of sampling at the default intervals (and RSS), and at 0.1 s; each
    beside the floor of waking alone."""
    got, tools = sampler_runs(base, "default", plan.sampler_default_s, plan.sampler_default_repeats)
    bare = got.pop("bare")
    floor = got.pop("floor")
    seconds = f"{plan.sampler_default_s:g} s"
    bare_mb = summary([b["maxrss_kb"] / 1024 for b in bare])["median"]
    rows = [
        peer_row(
            "sampler_cpu_default",
            "sampler CPU per second tracked, default interval "
            "(nlpfootprint 1 s, CodeCarbon 15 s, carbontracker 1 s)",
            "ms/s",
            _per_run(got, bare, _cpu_per_s),
            tools,
            target="< 0.05 ms/s",
            limit=0.05,
            note=f"a {seconds} tracked sleep minus a bare interpreter's CPU over the same "
            "sleep, all concurrently",
        ),
        peer_row(
            "rss",
            "peak RSS over bare Python, tracking a sleep (default interval)",
            "MB",
            _per_run(got, bare, _rss_mb),
            tools,
            target="< +12 MB",
            limit=12.0,
            note=f"peak RSS (VmHWM) before stopping minus a bare interpreter's ({bare_mb:.1f} MB)",
        ),
        floor_row("1 s", floor, bare),
    ]
    if fast:
        got, tools = sampler_runs(base, "0.1", plan.sampler_fast_s, plan.sampler_fast_repeats)
        bare = got.pop("bare")
        floor = got.pop("floor")
        rows.append(
            peer_row(
                "sampler_cpu_0.1",
                "sampler CPU per second tracked, interval 0.1 s (all three)",
                "ms/s",
                _per_run(got, bare, _cpu_per_s),
                tools,
                target="< 0.5 ms/s",
                limit=0.5,
                note=f"a {plan.sampler_fast_s:g} s tracked sleep (CodeCarbon "
                "measure_power_secs=0.1, carbontracker update_interval=0.1) minus a bare "
                "interpreter's CPU",
            )
        )
        rows.append(floor_row("0.1 s", floor, bare))
    return rows


def selected(only: Collection[str] | None) -> set[str]:
    """The figures ``only`` names (all when None); a row's id selects its figure too."""
    if only is None:
        return set(FIGURES)
    return {f for f in FIGURES for token in only if token == f or token.startswith(f + "_")}


def run(
    quick: bool, peers: Mapping[str, Any] | None = None, only: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Every process-level figure (or those ``only`` names); ``peers`` from
    :func:`benchmarks.peers.prepare` (prepared here when None)."""
    if peers is None:
        from benchmarks.peers import prepare

        peers = prepare()
    plan, tools, wanted = QUICK if quick else FULL, Tools(peers), selected(only)
    fast = "sampler" in wanted  # "rss" alone needs only the default interval
    steps: list[tuple[str, Callable[[], list[dict[str, Any]]]]] = [
        ("import", lambda: import_rows(plan, tools)),
        ("first_track", lambda: first_rows(plan, tools)),
        ("sampler", lambda: sampler_rows(plan, tools, fast=fast)),
        ("slowdown", lambda: slowdown_rows(plan)),
    ]
    if "rss" in wanted:
        wanted.add("sampler")
    rows: list[dict[str, Any]] = []
    for figure, step in steps:
        if figure in wanted:
            start = time.perf_counter()
            try:
                rows.extend(step())
            except Exception as err:  # one figure's failure is a row; the others still run
                rows.append(error_row(figure, figure, f"{type(err).__name__}: {err}"))
            took_s = time.perf_counter() - start
            print(f"process/{figure}: {took_s:.1f} s", file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":  # python -m benchmarks.figures.process [--quick] [FIGURE ...]
    import json

    names = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    print(json.dumps(run("--quick" in sys.argv, only=names or None), indent=1))
