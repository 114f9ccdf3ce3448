"""A log's summary, found without parsing its millions of readings.

A log that ends with a summary holds the tracker's report: its figures come from that
line, not from the readings before it. So the lines in between are *screened*, not
parsed: each is seen, in blocks of about 1 MiB, as the bytes that are left once every
digit, sign, point, exponent, comma and colon is taken out. A reading the tracker wrote
leaves ``{"t""m""v"[]}`` and a count line ``{"t""stps""tokns"}`` (or
``{"t""stps""tokns""flops"}`` once FLOPs are counted); a line that leaves one of these is
of the right shape (a whole line, no nesting, no text where numbers go), which
a few C-speed byte operations check for a whole block at once. Any other line (a failure,
the summary, a reading with a ``null``, a corrupt or cut-off line) is read as JSON, one
line at a time, with every check a replay makes.

What is not checked of a reading screened so: its numbers (their grammar and value),
that its meter exists and has that many channels, that its time does not go back. A
log whose lines, screened so, give a summary gives that summary; on any doubt -- no
summary, a line refused, a line too long -- the log is replayed instead, which reads
every line in full and raises the very error a replay raises.

A plain log is looked at from its end first: one whose last line is not a summary (a
crashed run) is replayed at once, not screened first.
"""

from __future__ import annotations

from typing import Any

from nlpfootprint.runlog.reader import LogReader
from nlpfootprint.runlog.schema import RunLogError

__all__ = ["logged_summary"]

#: What is taken out of a line to leave its shape.
_NUMBER_BYTES = b"0123456789+-.eE,:"
#: The shapes of a reading and of a count line (without and with FLOPs), each with its
#: newline.
_SHAPES = (b'{"t""m""v"[]}\n', b'{"t""stps""tokns"}\n', b'{"t""stps""tokns""flops"}\n')
#: The same without their newline (as the last line of a block is).
_LAST = tuple(shape[:-1] for shape in _SHAPES)
_KNOWN = frozenset(_LAST)
#: How much of a plain log's end is looked at for its last line.
_TAIL_BYTES = 1 << 16


def logged_summary(reader: LogReader) -> dict[str, Any] | None:
    """The summary a log holds (its last, as a replay finds it), or None: no summary, or a
    line that does not pass (then replaying the log says why).

    ``reader`` is spent, unless it is a plain log whose last line is not a summary
    (then it is left unread, for the replay)."""
    if not _may_end_with_summary(reader):
        return None
    summary: dict[str, Any] | None = None
    last_t = [0.0] * len(reader.widths)  # failure lines are kept in order too
    try:
        for first, count, data, cut in reader.blocks():
            shape = data.translate(None, _NUMBER_BYTES)
            if _all_known(shape, count):
                continue
            lines = data.split(b"\n")
            for offset, line_shape in enumerate(shape.split(b"\n")):
                if line_shape in _KNOWN:
                    continue
                event = reader.event(first + offset, lines[offset], cut, last_t)
                if event is not None and event[0] == "summary" and event[1]:
                    summary = event[1]
    except RunLogError:
        return None
    finally:
        reader.close()
    return summary


def _all_known(shape: bytes, lines: int) -> bool:
    """True when each of the ``lines`` lines of ``shape`` (newlines between them, none
    after the last) is of a known shape.

    Each known shape ends with the only newline it holds, and none ends another, so
    each line holds at most one of them, at its end: there are as many as lines only when
    every line ends with one, and the lengths add up only when every line is one.
    """
    found = [shape.count(known) for known in _SHAPES]
    for i, last in enumerate(_LAST):
        if shape.endswith(last):  # the last line, without its newline
            found[i] += 1
            break
    size = sum(n * len(known) for n, known in zip(found, _SHAPES, strict=True))
    return sum(found) == lines and len(shape) + 1 == size


def _may_end_with_summary(reader: LogReader) -> bool:
    """False for a plain log whose last line is not a summary; True for any other."""
    tail = reader.tail(_TAIL_BYTES)
    if tail is None:  # gzip: its end is known only once it is all read
        return True
    last = tail.rstrip()
    start = last.rfind(b"\n")
    if start < 0:  # a last line longer than the tail: only a summary may be
        return True
    return last[start + 1 :].lstrip().startswith(b'{"summary"')
