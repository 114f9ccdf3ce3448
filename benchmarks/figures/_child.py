"""What the process-level figures share: the tools' interpreters, running the measuring
children (``_children/*.py``) and reading their one JSON line, and making a row of
side-by-side values."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks._stats import ratio_summary, summary

__all__ = [
    "CHILDREN",
    "PEERS",
    "TOOLS",
    "ChildError",
    "Tools",
    "child_env",
    "finish",
    "launch",
    "peer_row",
    "run_child",
    "wall_ms",
]

PEERS = ("codecarbon", "carbontracker")
TOOLS = ("nlpfootprint", *PEERS)

CHILDREN = Path(__file__).resolve().parent / "_children"


@functools.cache
def workdir() -> Path:
    """An empty folder the children run in, so no configuration file (CodeCarbon reads one
    from the working folder) or local package (``python -c`` imports from it) is picked up."""
    path = Path(tempfile.mkdtemp(prefix="nlpfootprint-bench-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


class ChildError(RuntimeError):
    """A child that failed or printed no measurement; the message says why, in one line."""


class Tools:
    """The tools' interpreters (nlpfootprint: this one), and why a peer is not measured.

    A tool whose child fails once is not run again in this figure: its error is kept.
    """

    def __init__(self, peers: Mapping[str, Any]) -> None:
        self.python: dict[str, str] = {"nlpfootprint": sys.executable}
        self.errors: dict[str, str] = {}
        for name, peer in peers.items():
            if peer.python:
                self.python[name] = peer.python
            else:
                self.errors[name] = peer.error or "not installed"

    @property
    def names(self) -> list[str]:
        return list(self.python)

    def fork(self) -> Tools:
        """A copy whose failures stay its own (one per figure)."""
        copy = Tools({})
        copy.python, copy.errors = dict(self.python), dict(self.errors)
        return copy

    def fail(self, tool: str, why: str) -> None:
        self.python.pop(tool, None)
        self.errors[tool] = why


def child_env(tool: str) -> dict[str, str]:
    """A child's environment: a user's, so bytecode is cached as a normal install caches it
    (pip compiled the peers' at install; an editable nlpfootprint's is written by the
    warm-up runs) -- with ``PYTHONDONTWRITEBYTECODE`` set, every fresh process of the
    editable package would compile it from source, a cost no installed package has."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONWARNINGS"] = "ignore"
    if tool != "nlpfootprint":
        env.pop("PYTHONPATH", None)  # a peer's venv sees only itself
    return env


def launch(tool: str, python: str, args: Sequence[str], prefix: Sequence[str] = ()) -> Any:
    """Start a child (returns the Popen); ``prefix`` goes before the interpreter (taskset)."""
    return subprocess.Popen(
        [*prefix, python, *args],
        cwd=workdir(),
        env=child_env(tool),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: Any, timeout_s: float) -> dict[str, Any]:
    """Wait for a child and parse the last JSON line it printed (its stderr is in
    ``"stderr"``); ChildError when it failed, hung or printed none."""
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise ChildError(f"no result within {timeout_s:.0f} s") from None
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        tail = [line for line in err.strip().splitlines() if line.strip()]
        raise ChildError(f"exit {process.returncode}: {tail[-1] if tail else 'no output'}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["stderr"] = err
    return result


def run_child(
    tool: str, python: str, args: Sequence[str], timeout_s: float, prefix: Sequence[str] = ()
) -> dict[str, Any]:
    return finish(launch(tool, python, args, prefix), timeout_s)


def run_json(args: Sequence[str], *, what: str, cwd: Path, timeout_s: float) -> dict[str, Any]:
    """Run this interpreter with ``args`` in ``cwd``; the JSON object its last line holds
    (RuntimeError naming ``what``, with the end of its stderr, when it fails)."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def wall_ms(tool: str, python: str, code: str, timeout_s: float = 60.0) -> float:
    """Wall time of ``python -c code`` in a fresh process, start to exit."""
    start = time.perf_counter()
    done = subprocess.run(
        [python, "-c", code],
        cwd=workdir(),
        env=child_env(tool),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    took_ms = 1e3 * (time.perf_counter() - start)
    if done.returncode != 0:
        tail = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ChildError(f"exit {done.returncode}: {tail[-1] if tail else 'no output'}")
    return took_ms


def peer_row(
    row_id: str,
    figure: str,
    unit: str,
    values: Mapping[str, Sequence[float | None]],
    tools: Tools,
    *,
    limit: float | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A row: each tool's values summarised (or why it has none), the ratios peer /
    nlpfootprint over the repeats both have (``values[tool][i]`` is repeat i, None where
    it failed); with ``limit``, ``met`` says whether nlpfootprint's median is below it."""
    stats: dict[str, Any] = {}
    for name in TOOLS:
        measured = [v for v in values.get(name, []) if v is not None]
        stats[name] = (
            summary(measured) if measured else {"error": tools.errors.get(name, "no value")}
        )
    ours = values.get("nlpfootprint", [])
    ratio = {}
    for peer in PEERS:
        pairs = [
            (p, n)
            for p, n in zip(values.get(peer, []), ours, strict=False)
            if p is not None and n is not None and n > 0
        ]
        if pairs:
            ratio[peer] = ratio_summary([p for p, _ in pairs], [n for _, n in pairs])
    median = stats["nlpfootprint"].get("median")
    met = None if limit is None or median is None else bool(median < limit)
    row = {"id": row_id, "figure": figure, "unit": unit, "target": None, "met": met}
    return {**row, "tools": stats, "ratio": ratio or None, "note": "", **fields}
