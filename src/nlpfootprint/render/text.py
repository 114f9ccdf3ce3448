"""The plain-text table: what ``str(report)`` gives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nlpfootprint.render.common import (
    assumption_lines,
    channel_rows,
    figure_rows,
    job_lines,
    method_label,
    title,
    warning_lines,
    window_lines,
)

if TYPE_CHECKING:
    from nlpfootprint.report import Report

__all__ = ["render_text"]


def render_text(report: Report) -> str:
    """The report as a plain-text table: figures, channels, windows, assumptions, warnings.

    Text from the report (names, labels, warnings) has its control characters shown as
    escapes (:func:`~nlpfootprint.render.common.printable`): one line stays one line and
    nothing in a report can move the cursor or retitle the terminal.
    """
    lines = [f"{title(report)}  [{method_label(report)}]", ""]
    rows = figure_rows(report)
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    if report.channels:
        lines += ["", "  channel      domain  source     energy        mean W  cover  label"]
        lines += [
            f"  {cid:<12} {domain:<7} {method:<10} {energy:>12}  {watts:>7}  {cover:>5}  {label}"
            for cid, domain, method, energy, watts, cover, label in channel_rows(report)
        ]
    if report.job is not None:
        lines += ["", "  job"] + [f"    {line}" for line in job_lines(report)]
    if report.windows:
        lines += ["", "  windows"]
        lines += [f"    {'  ' * depth}{line}" for depth, line in window_lines(report.windows)]
    lines += ["", "  assumptions"]
    lines += [f"    - {s}" for s in assumption_lines(report.assumptions)]
    if report.warnings:
        lines += ["", "  warnings"] + [f"    ! {w}" for w in warning_lines(report)]
    return "\n".join(lines)
