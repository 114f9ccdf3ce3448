"""Run the benchmark suite: every figure module, one JSON file, the table in the docs.

    python benchmarks/run.py [--quick] [--only ID,...] [--no-peers] [--out benchmarks/results]
                             [--peers-dir benchmarks/.peers]

Each module in ``benchmarks/figures/`` (not starting with ``_``) has ``run(quick) -> rows``
(the row format is in ``benchmarks/_stats.py``); a module's ``run`` that also takes
``peers`` gets the peers prepared here, one that takes ``only`` gets ``--only``. A module
that raises becomes an error row and the run goes on. The rows and a description of the
machine go to ``<out>/bench-<date>[-quick].json``; a full run also rewrites the generated part
of ``docs/performance.md`` (between the markers). The exit status is non-zero only when the
harness itself breaks, never because a figure misses its target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib
import inspect
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import peers as peer_envs  # noqa: E402
from benchmarks.render import error_row, render  # noqa: E402

FIGURES_DIR = ROOT / "benchmarks" / "figures"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _first(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text(errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        return None
    return None


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}{' + uncommitted changes' if dirty else ''}" if commit else "unknown"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    memory_kb = _first("/proc/meminfo", "MemTotal")
    return {
        "cpu": _first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "logical_cpus": os.cpu_count(),
        "memory_gib": round(int(memory_kb.split()[0]) / 2**20, 1) if memory_kb else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "nlpfootprint": _version("nlpfootprint"),
        "commit": _commit(),
        "date": dt.date.today().isoformat(),
    }


def modules() -> list[str]:
    return sorted(p.stem for p in FIGURES_DIR.glob("*.py") if not p.stem.startswith("_"))


def wanted(name: str, figures: Sequence[str], only: set[str] | None) -> bool:
    """Whether ``--only`` names the module or one of the figures (or rows) it declares."""
    if only is None or name in only:
        return True
    return any(token == f or token.startswith(f + "_") for f in figures for token in only)


def run_module(
    name: str, quick: bool, peers: Callable[[], dict[str, Any]], only: set[str] | None
) -> tuple[list[dict[str, Any]], float] | None:
    """The module's rows (an error row if it raised) and its wall time; None if not wanted.
    ``peers`` prepares the peers (once) for a module that takes them."""
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.figures.{name}")
        if not wanted(name, getattr(module, "FIGURES", ()), only):
            return None
        accepted = inspect.signature(module.run).parameters
        options: dict[str, Any] = {}
        if "peers" in accepted:
            before = time.perf_counter()
            options["peers"] = peers()
            start += time.perf_counter() - before  # installing is not the module's time
        if "only" in accepted and only is not None and name not in only:
            options["only"] = only
        rows = list(module.run(quick, **options))
    except Exception as err:  # a broken module is a row saying so; the suite goes on
        traceback.print_exc()
        rows = [error_row(name, f"{name} figures", f"{type(err).__name__}: {err}")]
    for row in rows:
        row.setdefault("module", name)
    return rows, time.perf_counter() - start


def update_doc(markdown: str, doc: Path = DOC) -> None:
    """Replace what lies between the markers (added under the title when missing)."""
    text = doc.read_text() if doc.exists() else "# Performance and memory\n"
    block = f"{BEGIN}\n{markdown}{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        title, newline, rest = text.partition("\n")
        text = f"{title}{newline}\n{block}\n{rest}"
    doc.write_text(text)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke test")
    parser.add_argument("--only", help="comma-separated module names or figure ids")
    parser.add_argument("--no-peers", action="store_true", help="measure nlpfootprint alone")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--peers-dir",
        type=Path,
        default=peer_envs.PEERS_DIR,
        help="where the peers' virtual environments are made (or reused)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    only = {token.strip() for token in args.only.split(",") if token.strip()} if args.only else None
    started = time.perf_counter()
    wall_s: dict[str, float] = {}

    prepared: dict[str, Any] = {}

    @functools.cache
    def peers() -> dict[str, Any]:
        start = time.perf_counter()
        prepared.update(peer_envs.prepare(enabled=not args.no_peers, root=args.peers_dir))
        wall_s["peers"] = time.perf_counter() - start
        for peer in prepared.values():
            print(f"peer {peer.name}: {peer.version or peer.error}", file=sys.stderr, flush=True)
        return prepared

    rows: list[dict[str, Any]] = []
    for name in modules():
        done = run_module(name, args.quick, peers, only)
        if done is not None:
            rows += done[0]
            wall_s[name] = done[1]
            print(f"{name}: {len(done[0])} rows in {done[1]:.1f} s", file=sys.stderr, flush=True)
    wall_s["total"] = time.perf_counter() - started
    meta = {
        "machine": machine(),
        "quick": args.quick,
        "only": sorted(only) if only else None,
        "peers": {name: peer.to_dict() for name, peer in prepared.items()},  # those run
        "wall_s": wall_s,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"bench-{meta['machine']['date']}{'-quick' if args.quick else ''}"
    path = args.out / f"{stem}.json"
    path.write_text(json.dumps({**meta, "rows": rows}, indent=1, default=str) + "\n")
    print(render(rows, meta))
    print(f"wrote {path} ({wall_s['total']:.0f} s)")
    if not args.quick and only is None:
        update_doc(render(rows, meta))
        print(f"updated {DOC.relative_to(ROOT)}")
    elif not args.quick:
        print(f"{DOC.relative_to(ROOT)} not updated: --only measured part of the suite")
    return 0


if __name__ == "__main__":
    sys.exit(main())
