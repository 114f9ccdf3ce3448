"""Benchmark rows to Markdown: a header naming the machine, then one table per group.

A row is the dict documented in ``benchmarks/_stats.py``; a row may also carry ``"error"``
(its figure could not be measured: :func:`error_row`). ``"ratio"`` is either one summary or
one per peer (``{"codecarbon": summary, ...}``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["GROUPS", "PEERS", "cell", "error_row", "number", "render", "table"]

#: Group (the figure module's name) -> its heading, in the order the tables are printed.
GROUPS = {
    "process": "Process figures, beside the peers",
    "scale": "Scale",
    "accuracy": "Accuracy",
    "replay": "Replay",
}
#: Peer key -> its column heading.
PEERS = {"codecarbon": "CodeCarbon", "carbontracker": "carbontracker"}
COLUMNS = (
    "figure",
    "nlpfootprint",
    *PEERS.values(),
    "ratio (peer / nlpfootprint)",
    "target",
    "met",
)
MAX_TEXT = 120
DASH = "\N{EN DASH}"  # an empty cell, and between the quartiles
TIMES = "\N{MULTIPLICATION SIGN}"


def error_row(row_id: str, figure: str, error: str) -> dict[str, Any]:
    """The row of a figure (or a whole module) that could not be measured."""
    return {
        "id": f"{row_id}:error",
        "figure": figure,
        "unit": "",
        "target": None,
        "met": None,
        "tools": {},
        "ratio": None,
        "note": "",
        "error": error,
    }


def number(value: float) -> str:
    """Three significant figures or so, without exponents for everyday magnitudes."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size >= 100 or value == 0:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    if size >= 0.001:
        return f"{value:.3g}"
    return f"{value:.2e}"


def _text(value: object) -> str:
    """Free text made safe for a table cell: one line, no pipe, bounded."""
    text = " ".join(str(value).split()).replace("|", "/")
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def cell(stats: Mapping[str, Any] | None, suffix: str = "") -> str:
    """A summary as ``median [low to high]`` (the quartiles); an error as its reason;
    nothing as a dash."""
    if not stats:
        return DASH
    if "error" in stats:
        return _text(stats["error"])
    spread = ""
    if stats.get("n", 1) > 1:
        spread = f" [{number(stats['low'])}{DASH}{number(stats['high'])}]"
    return f"{number(stats['median'])}{suffix}{spread}"


def _ratio(ratio: Mapping[str, Any] | None) -> str:
    if not ratio:
        return DASH
    if "median" in ratio:
        return cell(ratio, TIMES)
    return "; ".join(
        f"{PEERS.get(peer, peer)} {cell(stats, TIMES)}" for peer, stats in ratio.items()
    )


def _met(met: object, target: object) -> str:
    """yes, **no**, ? (a target not judged: a peer or a value missing, or too noisy), or a
    dash (no target)."""
    if met is None:
        return "?" if target else DASH
    return "yes" if met else "**no**"


def _cells(row: Mapping[str, Any]) -> list[str]:
    unit = f" ({row['unit']})" if row.get("unit") else ""
    figure = f"{_text(row['figure'])}{unit}"
    if row.get("error"):
        blank = [DASH] * (len(COLUMNS) - 2)
        return [figure, f"error: {_text(row['error'])}", *blank]
    tools = row.get("tools", {})
    return [
        figure,
        cell(tools.get("nlpfootprint")),
        *(cell(tools.get(peer)) for peer in PEERS),
        _ratio(row.get("ratio")),
        _text(row["target"]) if row.get("target") else DASH,
        _met(row.get("met"), row.get("target")),
    ]


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of ``rows``, its columns padded so it reads as plain text too."""
    body = [list(COLUMNS), *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in body) for i in range(len(COLUMNS))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in body
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _notes(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        f"- `{row['id']}`: {' '.join(str(row['note']).split())}" for row in rows if row.get("note")
    ]


def header(meta: Mapping[str, Any]) -> list[str]:
    machine = meta.get("machine", {})
    peers = meta.get("peers", {})
    versions = (
        ", ".join(
            f"{PEERS.get(name, name)} {peer['version']}"
            if peer.get("version")
            else f"{PEERS.get(name, name)}: {_text(peer.get('error') or 'not measured')}"
            for name, peer in peers.items()
        )
        or "none"
    )
    kind = "quick run (few repeats)" if meta.get("quick") else "full run"
    return [
        f"Measured {machine.get('date', '?')}, {kind}, on {machine.get('cpu', '?')}: "
        f"{machine.get('logical_cpus', '?')} logical CPUs, {machine.get('memory_gib', '?')} GiB "
        f"of memory, {machine.get('os', '?')}; Python {machine.get('python', '?')}, numpy "
        f"{machine.get('numpy', '?')}; nlpfootprint {machine.get('nlpfootprint', '?')} "
        f"(commit {machine.get('commit', '?')}). Peers, each in a virtual environment of its "
        f"own: {versions}.",
        "",
        "Cells are median [interquartile range] over the repeats; a ratio is peer / "
        "nlpfootprint over paired measurements taken side by side (above 1: nlpfootprint "
        "uses less). Met: yes, **no**, or ? where the target could not be judged (a value or a "
        "peer missing, or the spread too wide to tell).",
    ]


def render(rows: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]) -> str:
    """The Markdown that goes between the markers of ``docs/performance.md``."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get("module", "other")), []).append(row)
    order = [g for g in GROUPS if g in groups] + sorted(g for g in groups if g not in GROUPS)
    out = ["## Benchmark results (generated by `nox -s bench`)", "", *header(meta)]
    for group in order:
        out += ["", f"### {GROUPS.get(group, group.capitalize())}", "", table(groups[group])]
        notes = _notes(groups[group])
        if notes:
            out += ["", *notes]
    return "\n".join(out) + "\n"
