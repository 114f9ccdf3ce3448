"""Writing a run log: :class:`RunLogWriter`, a sink of the sampler.

The writer receives the readings the ledger receives (times already in seconds since the
run's origin, to the microsecond) and writes one line each. Lines are buffered and handed
to the OS every ``flush_s`` seconds of the injected clock (``*.gz`` names are gzip with a
sync flush each time, so a cut stream still reads), and fsynced at close. A failing write
is recorded in :attr:`RunLogWriter.errors`, never raised.

Folders missing above the file are created (as ``mkdir -p``; removed again when the file
cannot be opened after all), and an unusable path is an OSError saying why (a folder where
the file should be, a file where a folder should be, no permission).

The file is opened without blocking and stays so: a FIFO with no reader is an error at
start (opening one would wait for a reader forever), and a FIFO whose reader stops
reading fails the write (recorded, the run goes on) instead of stalling the sampler.

A log belongs to the process that opened it: in a child made by ``os.fork()`` every open
writer is disowned at once (its descriptor there now points at ``/dev/null`` and it writes
nothing), so neither the child's calls, nor its exit flushing buffers, reach the parent's
file.
"""

from __future__ import annotations

import datetime as dt
import errno
import gzip
import json
import logging
import math
import os
import platform
import threading
import weakref
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from nlpfootprint.clock import Clock, MonotonicClock
from nlpfootprint.meters.base import Channel
from nlpfootprint.runlog.schema import SCHEMA, header_channel_dicts
from nlpfootprint.version import package_version

__all__ = ["RunLogWriter"]

_SEP = (",", ":")
log = logging.getLogger("nlpfootprint")
#: The writers open in this process (disowned in a forked child).
_OPEN: weakref.WeakSet[RunLogWriter] = weakref.WeakSet()


def _disown_all_in_child() -> None:
    for writer in list(_OPEN):
        writer._disown()
    _OPEN.clear()


os.register_at_fork(after_in_child=_disown_all_in_child)


def _make_folders(path: str) -> list[str]:
    """Create the folders missing above ``path`` (as ``mkdir -p``); return those created,
    innermost first. Raises OSError, having removed what it created, when one cannot be."""
    missing: list[str] = []
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    created: list[str] = []
    try:
        for folder in reversed(missing):
            try:
                os.mkdir(folder)
            except FileExistsError:  # made meanwhile (another rank of the job)
                if not os.path.isdir(folder):
                    raise
            else:
                created.insert(0, folder)
    except OSError:
        _remove_folders(created)
        raise
    return created


def _remove_folders(created: Sequence[str]) -> None:
    """Remove the folders :func:`_make_folders` created (innermost first), where empty."""
    for folder in created:
        try:
            os.rmdir(folder)
        except OSError:  # no longer empty: someone else uses it now
            return


def _why(err: OSError, path: str) -> OSError:
    """``err`` (from making the folders above ``path`` or opening it) restated for a
    user: what is in the way, or who may not write where; the errno is kept."""
    if err.errno == errno.ENXIO:  # a FIFO that nothing reads
        return OSError(err.errno, "it is a FIFO with no reader", path)
    if err.errno == errno.EISDIR or os.path.isdir(path):
        return OSError(
            err.errno,
            "it names a folder, not a file (name a file in it, such as "
            f"{os.path.join(path, 'run.jsonl')})",
            path,
        )
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        folder = os.path.dirname(os.path.abspath(path))
        while folder != os.path.dirname(folder) and not os.path.isdir(folder):
            if os.path.lexists(folder):
                return OSError(err.errno, f"{folder} is a file, not a folder", path)
            folder = os.path.dirname(folder)
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        target = os.fspath(err.filename) if err.filename is not None else path
        what = (
            f"this user may not write {target}"
            if os.path.lexists(target)
            else f"this user may not create {target} in {os.path.dirname(target) or '.'}"
        )
        return OSError(err.errno, f"{err.strerror}: {what}", path)
    return err


def _open(path: str) -> IO[bytes]:
    """``path`` opened for writing without ever blocking, the folders missing above it
    created first (OSError saying why if it cannot be; the folders are then removed)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NONBLOCK", 0)
    created: list[str] = []
    try:
        created = _make_folders(path)
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as err:
        _remove_folders(created)
        why = _why(err, path)
        if why is err:
            raise
        raise why from err
    return os.fdopen(fd, "wb")


def _num(value: float) -> str:
    """A value as the log keeps it: the number, ``null`` for NaN, ``"inf"``/``"-inf"``."""
    value = float(value)
    if math.isfinite(value):
        return repr(value)
    return "null" if math.isnan(value) else f'"{value!r}"'  # JSON has no infinity


def writing_here(path: str | os.PathLike[str]) -> bool:
    """True when a run-log writer of this process has ``path`` open (its run goes on)."""
    target = os.path.realpath(path)
    return any(not w._done and os.path.realpath(w.path) == target for w in list(_OPEN))


class RunLogWriter:
    """Writes a run log to ``path`` (gzip when it ends in ``.gz``); opening may raise OSError.

    Args:
        path: The file; the folders missing above it are created.
        flush_s: Seconds of ``clock`` time between write-outs (0: every line); a crash
            loses at most this much.
        clock: Where the flush timing comes from (default: the monotonic clock).
        counts: Returns (steps, tokens, FLOPs) as the round just ended accounted them
            (FLOPs None until some are counted); written at the end of each round in
            which they changed (default: never).

    Thread-safe. No method raises on a failed write: the first error goes to
    :attr:`errors` and the log, later lines are dropped.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_s: float = 2.0,
        clock: Clock | None = None,
        counts: Callable[[], tuple[int, int, float | None]] | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.flush_s = flush_s
        #: Write errors (at most one: writing stops at the first).
        self.errors: list[str] = []
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._counts_of = counts
        self._raw: IO[bytes] = _open(self.path)  # closed in close()
        self._gz = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw)
            if self.path.endswith(".gz")
            else None
        )
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._last_flush = self._clock.now()
        self._counts: tuple[int, int, float | None] = (0, 0, None)
        self._done = False
        _OPEN.add(self)

    @classmethod
    def start(
        cls,
        path: str | os.PathLike[str],
        *,
        flush_s: float,
        clock: Clock | None,
        counts: Callable[[], tuple[int, int, float | None]] | None,
        meter_channels: Sequence[Sequence[Channel]],
        meter_names: Sequence[str],
        settings: Mapping[str, object],
        command: Sequence[str] | None,
        started_at: str | None,
    ) -> RunLogWriter:
        """Open ``path`` and write the header for meters with ``meter_channels``
        (raises OSError when the file cannot be opened)."""
        writer = cls(path, flush_s=flush_s, clock=clock, counts=counts)
        writer.header(
            channels=[c for channels in meter_channels for c in channels],
            meter_of=[i for i, channels in enumerate(meter_channels) for _ in channels],
            meter_names=meter_names,
            settings=settings,
            command=command,
            started_at=started_at,
        )
        return writer

    def header(
        self,
        *,
        channels: Sequence[Channel],
        meter_names: Sequence[str],
        settings: Mapping[str, object],
        command: Sequence[str] | None,
        meter_of: Sequence[int] | None = None,
        started_at: str | None = None,
    ) -> None:
        """Write the header line now. ``meter_of`` gives each channel's meter index
        (default: all of meter 0)."""
        meter_of = meter_of if meter_of is not None else [0] * len(channels)
        head = {
            "schema": SCHEMA,
            "started_at": started_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "pid": os.getpid(),
            "command": None if command is None else list(command),
            "version": package_version(),
            "meters": list(meter_names),
            "channels": header_channel_dicts(channels, meter_of),
            "settings": dict(settings),
        }
        self._write(json.dumps(head, separators=_SEP, default=str), force=True)

    # -- the sink --------------------------------------------------------------------

    def on_reading(self, meter: int, t: float, values: Sequence[float]) -> None:
        """Log one meter's reading taken at ``t`` (seconds since the origin)."""
        self._write(f'{{"t":{t!r},"m":{meter},"v":[{",".join(map(_num, values))}]}}')

    def on_failure(self, meter: int, t: float, error: str) -> None:
        """Log that a meter failed to read at ``t``."""
        self._write(json.dumps({"t": t, "m": meter, "err": error}, separators=_SEP))

    def on_round(self, t: float) -> None:
        """At the end of a round, log the step, token and FLOP counts if they changed."""
        if self._counts_of is not None:
            self.counts(t, *self._counts_of())

    def counts(self, t: float, steps: int, tokens: int, flops: float | None = None) -> None:
        """Log the step, token and FLOP counts at ``t``, when they changed since the last
        time (the FLOPs, as a float, once some are counted)."""
        if (steps, tokens, flops) != self._counts:
            self._counts = (steps, tokens, flops)
            more = "" if flops is None else f',"flops":{float(flops)!r}'
            self._write(f'{{"t":{t!r},"steps":{steps},"tokens":{tokens}{more}}}')

    def summary(self, report_dict: Mapping[str, Any]) -> None:
        """Log the final report (its ``to_dict()``): the mark of a clean stop."""
        try:
            line = json.dumps({"summary": report_dict}, separators=_SEP, allow_nan=False)
        except (TypeError, ValueError) as err:  # a bug, but the log must not raise
            with self._lock:
                self._fail(err)
        else:
            self._write(line, force=True)

    def close(self) -> None:
        """Write out what is buffered, fsync and close. Safe to call twice."""
        with self._lock:
            if self._done:
                return
            self._flush()
            self._done = True
            try:
                if self._gz is not None:
                    self._gz.close()
                self._raw.flush()
                os.fsync(self._raw.fileno())
            except (OSError, ValueError) as err:
                self._fail(err)
            finally:
                _OPEN.discard(self)
                try:
                    self._raw.close()
                except (OSError, ValueError) as err:
                    self._fail(err)

    def _disown(self) -> None:
        """In a forked child: write nothing more, and point this process's descriptor at
        ``/dev/null`` so that closing or collecting the file here cannot touch the log."""
        self._done = True
        self._lines = []
        self._lock = threading.Lock()  # the parent's threads may have held it at fork
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, self._raw.fileno())
            finally:
                os.close(null)
        except (OSError, ValueError):  # already closed: nothing can reach the file
            pass

    def _write(self, line: str, *, force: bool = False) -> None:
        with self._lock:
            if self._done or self.errors:
                return
            self._lines.append(line)
            if force or self._clock.now() - self._last_flush >= self.flush_s:
                self._flush()

    def _flush(self) -> None:
        if not self._lines or self.errors:
            return
        data = ("\n".join(self._lines) + "\n").encode()
        self._lines.clear()
        try:
            if self._gz is not None:
                self._gz.write(data)
                self._gz.flush(zlib.Z_SYNC_FLUSH)
            else:
                self._raw.write(data)
                self._raw.flush()
        except (OSError, ValueError) as err:
            self._fail(err)
        self._last_flush = self._clock.now()

    def _fail(self, err: BaseException) -> None:
        if not self.errors:
            self.errors.append(f"writing the run log {self.path} failed: {err}")
            log.warning("nlpfootprint: %s; later lines are dropped", self.errors[0])
        self._lines.clear()
