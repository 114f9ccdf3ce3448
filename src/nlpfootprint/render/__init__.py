"""Renderings of a :class:`~nlpfootprint.Report`: text, Markdown, HTML, CSV, LaTeX, plot.

One module per format, all reading the same :mod:`~nlpfootprint.render.common` rows, so each
format prints the same numbers and says the same about how they were obtained and what they
assumed. The renderers import the report; the report imports none of them (its
``str()``, ``to_markdown()``, ``to_latex()``, ``_repr_html_()`` and ``plot()`` shortcuts
delegate here lazily). :mod:`~nlpfootprint.render.plot` needs ``nlpfootprint[plot]``.
"""

from nlpfootprint.render.common import (
    CHANNEL_COLUMNS,
    assumption_lines,
    channel_rows,
    figure_rows,
    method_label,
    printable,
    window_lines,
)
from nlpfootprint.render.csv_row import CSV_COLUMNS, render_csv_header, render_csv_row
from nlpfootprint.render.efficiency import efficiency_rows, paper_efficiency_sentence
from nlpfootprint.render.html import render_html
from nlpfootprint.render.latex import hardware_phrase, latex_escape, paper_sentence, render_latex
from nlpfootprint.render.markdown import markdown_escape, render_markdown
from nlpfootprint.render.text import render_text
from nlpfootprint.units import format_duration, format_energy_j, format_mass_kg

__all__ = [
    "CHANNEL_COLUMNS",
    "CSV_COLUMNS",
    "assumption_lines",
    "channel_rows",
    "efficiency_rows",
    "figure_rows",
    "format_duration",
    "format_energy_j",
    "format_mass_kg",
    "hardware_phrase",
    "latex_escape",
    "markdown_escape",
    "method_label",
    "paper_efficiency_sentence",
    "paper_sentence",
    "printable",
    "render_csv_header",
    "render_csv_row",
    "render_html",
    "render_latex",
    "render_markdown",
    "render_text",
    "window_lines",
]
