"""The bytes of a run log, as lines of bounded length: what a hostile file can make the
reader hold is bounded, and nothing it is can make the reader wait.

:func:`open_log` opens only a regular file: a FIFO, a device (``/dev/zero``), a directory,
a dangling symbolic link or a loop of them is refused with a
:class:`~nlpfootprint.runlog.RunLogError` that says what it is, before it is opened (and
again once open, without blocking, in case it was swapped in between). :class:`Source`
reads it in chunks of 1 MiB and decompresses gzip in steps of 1 MiB, however much a chunk
would expand (a 1 MB gzip bomb never becomes 1 GiB in memory). :func:`blocks` hands the
chunks on as whole lines, many at a time (:func:`lines` one at a time), and refuses a line
longer than its limit -- :data:`HEADER_MAX_BYTES` for the header,
:data:`SUMMARY_MAX_BYTES` for the summary, :data:`LINE_MAX_BYTES` for any other -- as
soon as it is, so no more than about the limit is ever held.
"""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Generator, Iterable, Iterator
from typing import IO

from nlpfootprint.report_dict import MAX_JSON_BYTES
from nlpfootprint.runlog.schema import RunLogError

__all__ = [
    "HEADER_MAX_BYTES",
    "LINE_MAX_BYTES",
    "SUMMARY_MAX_BYTES",
    "Block",
    "Source",
    "blocks",
    "lines",
    "newlines",
    "open_log",
]

_CHUNK = 1 << 20
#: How much compressed input is handed to zlib at once: what it cannot inflate within a
#: chunk's room is copied for the next step, so a smaller piece is copied less.
_GZIP_READ = 1 << 18
#: The longest header line read. A header lists the channels and the settings: a few KiB,
#: some 400 bytes more per channel.
HEADER_MAX_BYTES = 4 << 20
#: The longest reading, failure or counts line read. A tracker writes a few hundred bytes.
LINE_MAX_BYTES = 1 << 20
#: The longest summary line read: a report's JSON, some 4 KiB per window it holds.
SUMMARY_MAX_BYTES = MAX_JSON_BYTES


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (a named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((what for test, what in kinds if test(mode)), "something other than a regular file")


def _not_a_file(name: str, mode: int) -> RunLogError:
    return RunLogError(
        f"{name} is not a file: it is {_kind(mode)}; expected a run log (a .jsonl file from log=)"
    )


def open_log(name: str) -> IO[bytes]:
    """``name`` opened for reading, once known to be a regular file (RunLogError if not).

    It is looked at before it is opened, so that a FIFO or a device is never opened, and
    again once open (without blocking), in case it was replaced in between.
    """
    try:
        mode = os.stat(name).st_mode
    except OSError as err:
        if os.path.islink(name) and not os.path.exists(name):
            try:
                target = os.readlink(name)
            except OSError:
                target = "?"
            if not os.path.lexists(os.path.join(os.path.dirname(name), target)):
                raise RunLogError(
                    f"{name} is a symbolic link to {target}, which does not exist"
                ) from err
        if isinstance(err, FileNotFoundError):
            raise RunLogError(
                f"{name} does not exist: expected a run log (a .jsonl file from log=)"
            ) from err
        raise RunLogError(f"{name}: cannot read it: {err.strerror or err}") from err
    if not stat.S_ISREG(mode):
        raise _not_a_file(name, mode)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as err:
        raise RunLogError(f"{name}: cannot read it: {err.strerror or err}") from err
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _not_a_file(name, mode)
    return os.fdopen(fd, "rb")


class Source:
    """The bytes of an open plain or gzip file, in chunks of at most 1 MiB (decompressed
    in steps of that much, however much a chunk expands); ``cut`` when a gzip stream is
    cut. Closes the file when done."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.cut = False
        #: True once the first chunk showed a gzip stream.
        self.compressed = False

    def tail(self, size: int) -> bytes | None:
        """The last ``size`` bytes of a plain file (fewer if it is shorter), read without
        moving the stream; None for a gzip file, a closed one or one that cannot be read."""
        if self.compressed or self.file.closed or not hasattr(os, "pread"):
            return None
        try:
            fd = self.file.fileno()
            end = os.fstat(fd).st_size
            return os.pread(fd, min(size, end), max(end - size, 0))
        except OSError:
            return None

    def __iter__(self) -> Iterator[bytes]:
        with self.file as f:
            chunk = f.read(_CHUNK)
            self.compressed = chunk.startswith(b"\x1f\x8b")
            if not self.compressed:
                while chunk:
                    yield chunk
                    chunk = f.read(_CHUNK)
                return
            yield from self._inflate(f, chunk)

    def _inflate(self, f: IO[bytes], chunk: bytes) -> Iterator[bytes]:
        stream, fed = zlib.decompressobj(wbits=31), False
        while True:
            fed = fed or bool(chunk)
            try:
                data = stream.decompress(chunk, _CHUNK)
            except zlib.error:  # garbage after the last flush, as a crash may leave
                self.cut = True
                return
            if data:
                yield data
            if stream.eof:  # another gzip member may follow
                chunk = stream.unused_data
                stream, fed = zlib.decompressobj(wbits=31), False
            else:
                chunk = stream.unconsumed_tail
                if len(data) == _CHUNK:
                    continue  # more may be waiting inside the stream
            if not chunk:
                chunk = f.read(_GZIP_READ)
                if not chunk:
                    break
        self.cut = fed and not stream.eof


_SUMMARY_START = b'{"summary"'


def _limit(first: bool, start: bytes) -> tuple[int, str]:
    """The longest a line may be, and what such a line is, by its place and first bytes."""
    if first:
        return HEADER_MAX_BYTES, "a header lists channels and settings in a few KiB"
    if start.lstrip().startswith(_SUMMARY_START):
        return SUMMARY_MAX_BYTES, "a summary is a report"
    return LINE_MAX_BYTES, "a reading takes a few hundred bytes"


def _too_long(path: str, number: int, first: bool, start: bytes) -> RunLogError:
    limit, why = _limit(first, start)
    return RunLogError(
        f"{path}: line {number} is longer than {limit >> 20} MiB ({why}): not a run log "
        "that nlpfootprint wrote, or a corrupt one"
    )


def newlines(data: bytes) -> int:
    """How many newlines ``data`` holds (numpy counts a MiB four times faster than
    ``bytes.count``, which is left the small ones)."""
    if len(data) < 1 << 16:
        return data.count(b"\n")
    import numpy as np

    return int(np.count_nonzero(np.frombuffer(data, np.uint8) == ord("\n")))


def _bounded(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, none longer than 1 MiB (so that a line within one is within the limit)."""
    for chunk in chunks:
        if len(chunk) <= _CHUNK:
            yield chunk
        else:
            yield from (chunk[i : i + _CHUNK] for i in range(0, len(chunk), _CHUNK))


#: ``(number, count, data, cut)``: see :func:`blocks`.
Block = tuple[int, int, bytes, bool]


def blocks(path: str, chunks: Iterable[bytes]) -> Generator[Block, None, None]:
    """``(number, count, data, cut)``: the lines of the file, whole ones many at a time.

    ``data`` is ``count`` whole lines joined by newlines (none after the last), the first
    of them line ``number``; blank lines are kept, so the others are numbered on from it.
    A last line without its newline comes alone, with ``cut``. A line that spans
    chunks comes alone too, checked against its limit as it grows: a RunLogError before
    more of it is held."""
    parts: list[bytes] = []  # the line being read, in pieces
    size, start, number = 0, b"", 0
    header = True  # no line but blank ones yet: the next is the header
    checked = False
    for chunk in _bounded(chunks):
        if not checked and (lead := chunk.lstrip()):
            checked = True
            if not lead.startswith(b"{"):  # not JSON lines: stop at once
                yield (1, 1, lead[:200], True)
                return
        end = chunk.rfind(b"\n")
        if end < 0:
            body = -1
        elif parts:  # the line that spans chunks ends here
            body = chunk.find(b"\n")
            line = b"".join((*parts, chunk[:body]))
            parts, size, start, number = [], 0, b"", number + 1
            if len(line) > LINE_MAX_BYTES and len(line) > _limit(header, line[:16])[0]:
                raise _too_long(path, number, header, line[:16])
            header = header and not line.strip()
            yield (number, 1, line, False)
            body += 1
        else:
            body = 0
        if 0 <= body <= end:
            data = chunk[body:end]
            header = header and not data.strip()
            count = newlines(data) + 1
            yield (number + 1, count, data, False)
            number += count
        rest = chunk[end + 1 :]
        if rest:
            parts.append(rest)
            size += len(rest)
            if len(start) < 16:
                start += rest[: 16 - len(start)]
            if size > LINE_MAX_BYTES and size > _limit(header, start)[0]:
                raise _too_long(path, number + 1, header, start)
    line = b"".join(parts)
    if line.strip():
        yield (number + 1, 1, line, True)


def lines(path: str, chunks: Iterable[bytes]) -> Generator[tuple[int, bytes, bool], None, None]:
    """``(line_number, line, cut)`` of non-blank lines, one at a time (see :func:`blocks`)."""
    for number, _, data, cut in blocks(path, chunks):
        for offset, line in enumerate(data.split(b"\n")):
            if line.strip():
                yield (number + offset, line, cut)
