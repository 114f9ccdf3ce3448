"""Markdown: the report's tables and lists, every text escaped."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from nlpfootprint.render.common import (
    CHANNEL_COLUMNS,
    assumption_lines,
    channel_rows,
    figure_rows,
    job_lines,
    method_label,
    printable,
    title,
    warning_lines,
    window_lines,
)

if TYPE_CHECKING:
    from nlpfootprint.report import Report

__all__ = ["markdown_escape", "markdown_table", "render_markdown"]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def markdown_escape(text: str) -> str:
    """Backslash-escape what Markdown (and its inline HTML) would interpret; no newlines,
    and control characters shown as escapes."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(" ".join(text.splitlines())))


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]], align: str) -> list[str]:
    """A pipe table; ``align`` has ``l`` or ``r`` per column."""

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(markdown_escape(c) for c in cells) + " |"

    rule = "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"
    return [line(header), rule, *(line(r) for r in rows)]


def render_markdown(report: Report) -> str:
    """The report as Markdown: figures, channels, windows, assumptions and warnings."""
    lines = [
        f"### {markdown_escape(title(report))}",
        "",
        f"**Figures: {markdown_escape(method_label(report))}**",
        "",
        *markdown_table(("figure", "value"), list(figure_rows(report)), "ll"),
    ]
    if report.channels:
        lines += ["", *markdown_table(CHANNEL_COLUMNS, list(channel_rows(report)), "lllrrrl")]
    if report.job is not None:
        lines += ["", "**Job**", ""]
        lines += [f"- {markdown_escape(line)}" for line in job_lines(report)]
    if report.windows:
        lines += ["", "**Windows**", ""]
        lines += [
            f"{'  ' * depth}- {markdown_escape(line)}"
            for depth, line in window_lines(report.windows)
        ]
    lines += ["", "**Assumptions**", ""]
    lines += [f"- {markdown_escape(s)}" for s in assumption_lines(report.assumptions)]
    if report.warnings:
        lines += ["", "**Warnings**", ""]
        lines += [f"- {markdown_escape(w)}" for w in warning_lines(report)]
    return "\n".join(lines) + "\n"
