"""The machine's CPU times and installed memory, read from the kernel directly.

What the estimated meters read at every sample, so it is read as cheaply as it can be:
one ``pread`` of ``/proc/stat``'s first line on a descriptor kept open, no imports, no
process walks (psutil's ``cpu_times()`` reads and parses the whole file into a named
tuple through its own layers); a process tree's CPU time from the ``/proc`` files of its
members only (psutil reads every process's to find the children). ``sysconf`` gives
installed memory.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = [
    "CpuTimes",
    "charged_machine_seconds",
    "ProcStatCpuTimes",
    "ProcTreeCpuSeconds",
    "ProcTreePids",
    "ProcTreeRssBytes",
    "installed_bytes",
]


class CpuTimes(NamedTuple):
    """Machine CPU times in seconds, summed over logical CPUs (psutil's field names)."""

    user: float
    nice: float
    system: float
    idle: float
    iowait: float
    irq: float
    softirq: float
    steal: float


class ProcStatCpuTimes:
    """The machine's CPU times from the first line of ``/proc/stat`` (Linux), one
    ``pread`` per call on a descriptor kept open: what psutil's ``cpu_times()`` returns
    (user time includes guest time there too), without its imports or allocations.

    Raises:
        OSError: ``path`` cannot be opened or is not in the ``/proc/stat`` format.
    """

    def __init__(self, path: str = "/proc/stat") -> None:
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._close = weakref.finalize(self, os.close, self._fd)
        self._tick = float(os.sysconf("SC_CLK_TCK"))
        self()  # the format is checked now, not at the first reading

    def __call__(self) -> CpuTimes:
        line = os.pread(self._fd, 512, 0).partition(b"\n")[0].split()
        if len(line) < 9 or line[0] != b"cpu":
            raise OSError(f"not the /proc/stat format: {b' '.join(line[:3])!r}")
        tick = self._tick
        return CpuTimes(*(int(field) / tick for field in line[1:9]))

    def close(self) -> None:
        """Close the descriptor (also done when the object is collected)."""
        self._close()


_BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "dpc", "interrupt")
_WAITING_FIELDS = ("idle", "iowait", "steal")


def _busy_seconds(times: Any) -> float:
    """CPU time spent working, summed over CPUs (idle, iowait and steal excluded).

    Guest time is left out: Linux already counts it in ``user`` and ``nice``.
    """
    return float(sum(getattr(times, f, 0.0) for f in _BUSY_FIELDS))


def charged_machine_seconds(cpu_times: Callable[[], Any], idle_fraction: float) -> float:
    """Machine CPU-seconds to charge at ``TDP x sockets / logical CPUs`` each: busy time,
    plus ``idle_fraction`` of the time not busy (the idle floor)."""
    times = cpu_times()
    waiting = float(sum(getattr(times, f, 0.0) for f in _WAITING_FIELDS))
    return _busy_seconds(times) + idle_fraction * waiting


def installed_bytes() -> int | None:
    """Installed memory in bytes: ``sysconf`` pages x page size (the ``MemTotal`` that
    ``/proc/meminfo`` and psutil report on Linux); None where ``sysconf`` cannot say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (OSError, ValueError, AttributeError):
        return None


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


class _ProcTree:
    """A process and its living descendants, found through ``/proc`` (Linux): each
    thread's ``/proc/<pid>/task/<tid>/children`` list (``CONFIG_PROC_CHILDREN``), so
    only the tree's own files are read (psutil reads every process's to find parents).

    Raises:
        OSError: The process or its children lists cannot be read (not Linux, or a kernel
            without ``CONFIG_PROC_CHILDREN``).
    """

    def __init__(self, pid: int | None = None, proc: str = "/proc") -> None:
        self.pid = os.getpid() if pid is None else pid
        self._proc = proc
        task = f"{proc}/{self.pid}/task"
        if not os.path.exists(f"{task}/{os.listdir(task)[0]}/children"):
            raise OSError(f"{task}/*/children does not exist (a kernel without them)")

    def _children(self, pid: int) -> list[int]:
        task = f"{self._proc}/{pid}/task"
        found: list[int] = []
        for tid in os.listdir(task):
            try:
                found.extend(int(child) for child in _read(f"{task}/{tid}/children").split())
            except FileNotFoundError:  # the thread ended meanwhile
                continue
        return found

    def _sum(self, of: Callable[[int], int]) -> int:
        """``of(pid)`` summed over the tree; a member that exits meanwhile, or whose files
        cannot be read (another user's), is skipped."""
        total = of(self.pid)  # the root must be there: it is the measured process
        pending = self._children(self.pid)
        while pending:
            pid = pending.pop()
            try:
                total += of(pid)
                pending.extend(self._children(pid))
            except OSError:  # exited meanwhile, or not ours to read: skipped, as psutil does
                continue
        return total


class ProcTreeCpuSeconds(_ProcTree):
    """User + system CPU seconds of a process tree, plus the children its members reaped
    (``utime``, ``stime``, ``cutime``, ``cstime`` of ``/proc/<pid>/stat``): what
    :func:`~nlpfootprint.meters.estimated.process_tree_cpu_seconds` sums through psutil.
    See :class:`_ProcTree` for the tree and the errors; ``proc`` is where ``/proc`` is."""

    def __init__(self, pid: int | None = None, proc: str = "/proc") -> None:
        super().__init__(pid, proc)
        self._tick = float(os.sysconf("SC_CLK_TCK"))
        self()  # the format is checked now

    def _ticks(self, pid: int) -> int:
        stat = _read(f"{self._proc}/{pid}/stat")
        fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (comm) "
        if len(fields) < 15:
            raise OSError(f"{self._proc}/{pid}/stat is not in the /proc format")
        return sum(int(field) for field in fields[11:15])

    def __call__(self) -> float:
        return self._sum(self._ticks) / self._tick


class ProcTreePids(_ProcTree):
    """The PIDs of a process tree, the root first found (``NvmlMeter(scope="process")``
    matches NVML's processes against them); the root alone once it has exited. See
    :class:`_ProcTree` for the tree and the errors; ``proc`` is where ``/proc`` is."""

    def __call__(self) -> frozenset[int]:
        found = {self.pid}
        pending = [self.pid]
        while pending:
            try:
                children = self._children(pending.pop())
            except OSError:  # exited meanwhile, or not ours to read
                continue
            pending.extend(child for child in children if child not in found)
            found.update(children)
        return frozenset(found)


class ProcTreeRssBytes(_ProcTree):
    """Resident memory of a process tree in bytes (``/proc/<pid>/statm``'s resident pages
    x page size, shared pages once per process): what
    :func:`~nlpfootprint.meters.estimated.process_tree_rss_bytes` sums through psutil."""

    def __init__(self, pid: int | None = None, proc: str = "/proc") -> None:
        super().__init__(pid, proc)
        self._page = int(os.sysconf("SC_PAGE_SIZE"))
        self()  # the format is checked now

    def _resident(self, pid: int) -> int:
        fields = _read(f"{self._proc}/{pid}/statm").split()
        if len(fields) < 2:
            raise OSError(f"{self._proc}/{pid}/statm is not in the /proc format")
        return int(fields[1]) * self._page

    def __call__(self) -> int:
        return self._sum(self._resident)
