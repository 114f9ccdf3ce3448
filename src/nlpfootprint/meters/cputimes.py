"""The machine's CPU times and installed memory, read from the kernel directly.

What the estimated meters read at every sample, so it is read as cheaply as it can be:
one ``pread`` of ``/proc/stat``'s first line on a descriptor kept open, no imports, no
process walks (psutil's ``cpu_times()`` reads and parses the whole file into a named
tuple through its own layers). ``sysconf`` gives installed memory.
"""

from __future__ import annotations

import os
import weakref
from typing import NamedTuple

__all__ = ["CpuTimes", "ProcStatCpuTimes", "installed_bytes"]


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


def installed_bytes() -> int | None:
    """Installed memory in bytes: ``sysconf`` pages x page size (the ``MemTotal`` that
    ``/proc/meminfo`` and psutil report on Linux); None where ``sysconf`` cannot say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (OSError, ValueError, AttributeError):
        return None
