"""Estimated meters: used only when nothing can be read, and always labelled ``estimated``.

* CPU: package TDP x CPU utilisation. Utilisation comes from the operating system's CPU
  time counters (through psutil), so the meter is an *energy counter*: between two reads
  it adds ``TDP x sockets x busy CPU-seconds / logical CPUs``. The estimate therefore does
  not depend on how often it is read, and an idle machine estimates near zero while a
  fully busy one estimates near TDP.
* DRAM: a constant power proportional to installed memory, 3 W per 8 GB (0.375 W/GiB),
  the rule of thumb published by Crucial ("How much power does memory use?").

The CPU model is read from ``/proc/cpuinfo`` (or :func:`platform.processor` elsewhere),
never through a subprocess. A TDP table by CPU model arrives with the hardware backends;
until a model is known, the stated default TDP is used and said.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlpfootprint._validate import nonnegative, positive
from nlpfootprint.errors import MeterUnavailableError
from nlpfootprint.meters.base import Channel

__all__ = [
    "DEFAULT_CPU_TDP_W",
    "DRAM_W_PER_GIB",
    "EstimatedCpuMeter",
    "EstimatedDramMeter",
    "cpu_model_name",
    "cpu_socket_count",
]

#: Assumed package TDP when the CPU model's TDP is not known, in watts. A mid-range
#: server/desktop package (Intel and AMD mainstream parts are rated 65-125 W).
DEFAULT_CPU_TDP_W = 85.0
#: DRAM power per GiB installed, 3 W per 8 GB module (Crucial's rule of thumb).
DRAM_W_PER_GIB = 3.0 / 8.0


def _import_psutil() -> Any:
    try:
        import psutil
    except ImportError as err:  # pragma: no cover - psutil is a runtime dependency
        raise MeterUnavailableError(
            "the estimated CPU/DRAM meters need psutil: pip install psutil"
        ) from err
    return psutil


def _read_cpuinfo(root: Path) -> str:
    try:
        return (root / "proc" / "cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


def cpu_model_name(root: str | os.PathLike[str] = "/") -> str:
    """The CPU model name (``/proc/cpuinfo`` "model name"; platform APIs elsewhere)."""
    for line in _read_cpuinfo(Path(root)).splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_socket_count(root: str | os.PathLike[str] = "/") -> int:
    """Number of CPU packages (distinct ``physical id`` in ``/proc/cpuinfo``; 1 if unknown)."""
    ids = {
        line.partition(":")[2].strip()
        for line in _read_cpuinfo(Path(root)).splitlines()
        if line.startswith("physical id")
    }
    return max(1, len(ids))


def _busy_seconds(times: Any) -> float:
    """CPU time spent working, summed over CPUs (idle, iowait and steal excluded)."""
    fields = ("user", "nice", "system", "irq", "softirq", "dpc", "interrupt")
    return float(sum(getattr(times, f, 0.0) for f in fields))


class EstimatedCpuMeter:
    """CPU energy estimated as TDP x utilisation (machine scope), an energy counter.

    Args:
        tdp_w: Package TDP in watts; default :data:`DEFAULT_CPU_TDP_W` (stated in the label).
        sockets: Number of packages; default from ``/proc/cpuinfo``.
        cpu_times: Returns an object with psutil ``cpu_times()`` fields (for tests).
        logical_cpus: Number of logical CPUs the times are summed over (for tests).
    """

    def __init__(
        self,
        tdp_w: float | None = None,
        *,
        sockets: int | None = None,
        cpu_times: Callable[[], Any] | None = None,
        logical_cpus: int | None = None,
    ) -> None:
        if cpu_times is None or logical_cpus is None:
            psutil = _import_psutil()
            cpu_times = cpu_times or psutil.cpu_times
            logical_cpus = logical_cpus or psutil.cpu_count(logical=True) or 1
        self.model = cpu_model_name()
        self.tdp_w = DEFAULT_CPU_TDP_W if tdp_w is None else positive("tdp_w", tdp_w)
        self.tdp_source = "assumed default" if tdp_w is None else "given"
        self.sockets = cpu_socket_count() if sockets is None else int(positive("sockets", sockets))
        self._cpu_times = cpu_times
        self._logical = int(positive("logical_cpus", logical_cpus))
        self._origin = _busy_seconds(self._cpu_times())
        label = (
            f"{self.model}: {self.sockets} x TDP {self.tdp_w:g} W ({self.tdp_source}) "
            f"x utilisation of {self._logical} logical CPUs (machine-wide: every process's "
            "load counts)"
        )
        self._channels = (
            Channel(id="cpu:0", domain="cpu", kind="energy", label=label, estimated=True),
        )

    @property
    def channels(self) -> tuple[Channel, ...]:
        """One channel, ``cpu:0``, for all packages together."""
        return self._channels

    def read(self) -> list[float]:
        """Estimated CPU joules since the meter was created."""
        busy = max(0.0, _busy_seconds(self._cpu_times()) - self._origin)
        return [self.tdp_w * self.sockets * busy / self._logical]

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"EstimatedCpuMeter(tdp_w={self.tdp_w:g}, sockets={self.sockets})"


class EstimatedDramMeter:
    """DRAM power estimated from installed memory (:data:`DRAM_W_PER_GIB`), a power meter.

    Args:
        total_bytes: Installed memory; default from psutil.
        w_per_gib: Watts per GiB.
    """

    def __init__(
        self, total_bytes: int | None = None, *, w_per_gib: float = DRAM_W_PER_GIB
    ) -> None:
        if total_bytes is None:
            total_bytes = int(_import_psutil().virtual_memory().total)
        self.total_gib = nonnegative("total_bytes", total_bytes) / 2**30
        self.w_per_gib = nonnegative("w_per_gib", w_per_gib)
        self.power_w = self.total_gib * self.w_per_gib
        label = f"{self.total_gib:.1f} GiB installed x {self.w_per_gib:g} W/GiB"
        self._channels = (
            Channel(id="dram:0", domain="dram", kind="power", label=label, estimated=True),
        )

    @property
    def channels(self) -> tuple[Channel, ...]:
        """One channel, ``dram:0``."""
        return self._channels

    def read(self) -> list[float]:
        """The estimated DRAM power in watts (constant)."""
        return [self.power_w]

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"EstimatedDramMeter({self.total_gib:.1f} GiB, {self.power_w:.2f} W)"
