"""What the plots share: matplotlib on first use, a new figure with its footnote, a
report's trace as bin edges (a private module of :mod:`nlpfootprint.render.plot`)."""

from __future__ import annotations

import importlib
import os
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from nlpfootprint.errors import ConfigurationError

if TYPE_CHECKING:
    from nlpfootprint.report import Report
    from nlpfootprint.trace import TraceData

__all__ = [
    "DPI",
    "MAX_NOTE_LINES",
    "FloatArray",
    "PathArg",
    "add_note",
    "matplotlib_classes",
    "new_figure",
    "report_trace",
    "save",
    "set_title",
    "trace_edges",
]

PathArg = str | os.PathLike[str]
FloatArray = npt.NDArray[np.float64]

DPI = 150
_WIDTH_IN = 10.0
#: The most lines a footnote prints; a longer one is cut, saying how many more there were.
MAX_NOTE_LINES = 24
#: Beneath the axes: the room for the time axis's labels, and for each line of the note.
_AXIS_LABELS_IN = 0.67
_NOTE_LINE_IN = 0.17
#: The most of a figure's height its note and axis labels take; past it the figure grows.
_NOTE_SHARE = 0.5


def matplotlib_classes() -> tuple[Any, Any]:
    """(Figure, FigureCanvasAgg), or a ConfigurationError saying how to install them."""
    try:
        figure = importlib.import_module("matplotlib.figure")
        agg = importlib.import_module("matplotlib.backends.backend_agg")
    except ImportError as err:
        raise ConfigurationError(
            "plotting needs matplotlib, which is not installed: pip install 'nlpfootprint[plot]'"
        ) from err
    return figure.Figure, agg.FigureCanvasAgg


def set_title(ax: Any, title: str | None) -> None:
    """Title ``ax`` on one line, cut to 90 characters (none for an empty title)."""
    if title:
        flat = " ".join(title.split())  # a command line may hold newlines
        shown = flat if len(flat) <= 90 else flat[:87] + "..."
        ax.set_title(shown, fontsize=11, loc="left")


def new_figure(height_in: float) -> Any:
    """A figure with an Agg canvas of its own: pyplot's state is left alone."""
    figure_class, canvas_class = matplotlib_classes()
    figure = figure_class(figsize=(_WIDTH_IN, height_in))
    canvas_class(figure)
    return figure


def add_note(figure: Any, note: str | None, **margins: float) -> None:
    """Print ``note`` (paragraphs on lines of their own) beneath the axes, making room.

    A note of more than :data:`MAX_NOTE_LINES` lines is cut there, its last line saying
    how many more there were; a note taller than half the figure makes the figure taller,
    so that the axes keep at least the other half.
    """
    lines = [line for part in (note or "").split("\n") for line in textwrap.wrap(part, 170)]
    if len(lines) > MAX_NOTE_LINES:
        more = len(lines) - (MAX_NOTE_LINES - 1)
        lines = [*lines[: MAX_NOTE_LINES - 1], f"... {more} more lines"]
    note_in = _AXIS_LABELS_IN + _NOTE_LINE_IN * len(lines)
    height_in = figure.get_figheight()
    if note_in > _NOTE_SHARE * height_in:
        height_in = note_in / _NOTE_SHARE
        figure.set_figheight(height_in)
    figure.subplots_adjust(left=0.08, right=0.9, top=0.91, bottom=note_in / height_in, **margins)
    if lines:
        figure.text(0.01, 0.015, "\n".join(lines), fontsize=7.5, color="#444444", va="bottom")


def save(figure: Any, path: PathArg | None) -> Any:
    """Save ``figure`` to ``path`` when one is given (its suffix says the format); return it."""
    if path is not None:
        figure.savefig(os.fspath(path), dpi=DPI)
    return figure


def report_trace(report: Report, who: str = "") -> TraceData:
    """The report's trace, or a ConfigurationError saying why it has none (``who`` names
    the report among several)."""
    trace = report.trace
    if trace is not None and trace.start_s and trace.power_w:
        return trace
    why = (
        "it is projected"
        if report.projection is not None
        else "it is an estimate"
        if report.method == "estimated"
        else "no trace was recorded"
    )
    raise ConfigurationError(
        f"nothing to plot{f' for {who}' if who else ''}: the report has no power trace "
        f"({why}); only a measured report carries one"
    )


def trace_edges(trace: TraceData) -> FloatArray:
    """The trace's bin edges, in seconds since the run started (one more than its bins)."""
    starts = np.asarray(trace.start_s, dtype=np.float64)
    return np.append(starts, starts[-1] + trace.width_s[-1])
