"""HTML: a compact fragment for notebooks (``Report._repr_html_``), every text escaped."""

from __future__ import annotations

import html
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

__all__ = ["render_html"]

_LEFT = ' style="text-align:left"'
_RIGHT = ' style="text-align:right"'


def render_html(report: Report) -> str:
    """The report as a compact HTML fragment for notebooks, every text escaped."""

    def e(text: str) -> str:
        return html.escape(printable(text))

    marker = method_label(report)
    strong = report.method != "measured" or report.projection is not None
    mark = f"<strong>{e(marker)}</strong>" if strong else e(marker)
    parts = [
        '<div class="nlpfootprint-report">',
        f"<table><caption{_LEFT}><b>{e(title(report))}</b> [{mark}]</caption><tbody>",
    ]
    parts += [
        f"<tr><th{_LEFT}>{e(k)}</th><td{_LEFT}>{e(v)}</td></tr>" for k, v in figure_rows(report)
    ]
    parts.append("</tbody></table>")
    if report.channels:
        aligns = (_LEFT, _LEFT, _LEFT, _RIGHT, _RIGHT, _RIGHT, _LEFT)
        head = "".join(f"<th{a}>{e(c)}</th>" for a, c in zip(aligns, CHANNEL_COLUMNS, strict=True))
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>")
        for row in channel_rows(report):
            cells = "".join(f"<td{a}>{e(c)}</td>" for a, c in zip(aligns, row, strict=True))
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody></table>")
    if report.job is not None:
        items = "".join(f"<li>{e(line)}</li>" for line in job_lines(report))
        parts.append(f"<p><b>job</b></p><ul>{items}</ul>")
    if report.windows:
        items = "".join(
            f'<li style="margin-left:{1.5 * depth:g}em">{e(line)}</li>'
            for depth, line in window_lines(report.windows)
        )
        parts.append(f"<details><summary>windows</summary><ul>{items}</ul></details>")
    assumptions = "".join(f"<li>{e(s)}</li>" for s in assumption_lines(report.assumptions))
    parts.append(f"<p><b>assumptions</b></p><ul>{assumptions}</ul>")
    if report.warnings:
        warnings = "".join(f"<li>{e(w)}</li>" for w in warning_lines(report))
        parts.append(f"<p><b>warnings</b></p><ul>{warnings}</ul>")
    parts.append("</div>")
    return "\n".join(parts)
