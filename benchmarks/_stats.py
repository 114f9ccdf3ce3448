"""Statistics shared by the benchmark figures: medians with their spread, and ratios of
paired (side-by-side) measurements.

A figure is a dict (a *row*) that :mod:`benchmarks.run` writes to JSON and renders into
``docs/performance.md``::

    {
        "id": "import",                       # short, stable, unique
        "figure": "import nlpfootprint",      # what is measured, in words
        "unit": "ms",
        "target": "< 1/3 of CodeCarbon's",     # in words (None: no target)
        "met": True,                          # None when the figure has no target
        "tools": {                            # one entry per tool measured
            "nlpfootprint": summary(...),     # {"median", "low", "high", "n"}
            "codecarbon": summary(...) or {"error": "why it was not measured"},
            "carbontracker": ...,
        },
        "ratio": ratio_summary(...) or None,  # peer / nlpfootprint, paired
        "note": "how it was measured",
    }
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["alternate", "ratio_summary", "summary"]

T = TypeVar("T")


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, the quartiles around it (the spread) and how many values."""
    data = sorted(float(v) for v in values)
    if not data:
        raise ValueError("no values to summarise")
    if len(data) >= 4:
        low, _, high = statistics.quantiles(data, n=4, method="inclusive")
    else:
        low, high = data[0], data[-1]
    return {"median": statistics.median(data), "low": low, "high": high, "n": len(data)}


def ratio_summary(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, Any]:
    """The ratios of paired measurements (pair i: ``numerators[i] / denominators[i]``)."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} values paired with {len(denominators)}")
    return summary([a / b for a, b in zip(numerators, denominators, strict=True) if b])


def alternate(measures: dict[str, Callable[[], T]], repeats: int) -> dict[str, list[T]]:
    """Run each measure ``repeats`` times, interleaved (A, B, C, A, B, C, ...), so that a
    machine growing slower or faster during the run affects every tool alike."""
    results: dict[str, list[T]] = {name: [] for name in measures}
    for _ in range(repeats):
        for name, measure in measures.items():
            results[name].append(measure())
    return results
