"""Estimated meters: used only when nothing can be read, and always labelled ``estimated``.

CPU (:class:`EstimatedCpuMeter`) is an *energy counter* built from the operating system's
CPU-time counters, so it is exact between any two reads and does not depend on how often
it is read. Each logical CPU stands for ``TDP x packages / logical CPUs`` watts, where
``packages`` is the number of sockets on bare metal and, on a virtual machine whose CPU
model's thread count is known, its share ``logical CPUs / threads per package``
(:mod:`nlpfootprint.meters.cpushare`); written ``TDP x sockets`` below.

* ``scope="machine"`` (default): the whole machine, every process's load. The package is
  modelled as drawing a floor of :data:`IDLE_FRACTION_OF_TDP` (12 %) of TDP when idle and
  rising linearly with utilisation to TDP when every logical CPU is busy::

      energy_j = TDP x sockets x (f x wall_s + (1 - f) x busy_cpu_s / logical_cpus)

  where ``wall_s`` is the total CPU time (busy + idle + iowait + steal) over the logical
  CPUs. The 12 % is the idle point of the Teads curve (B. Davy, "Building an AWS EC2
  Carbon Emissions Dataset", Teads Engineering, 2021: RAPL measurements of Intel
  bare-metal EC2 hosts; the default curve of the Green Software Foundation's Impact
  Framework). That curve is concave (75 % of TDP at 50 % load); a straight line is used
  instead because energy stays a function of the cumulative counters only, hence
  independent of the read interval. It is an assumption, and the label says so.
* ``scope="process"``: this process and its descendants, i.e. their user + system CPU
  time, including children already exited and reaped (``cutime`` and ``cstime``, psutil's
  ``children_user`` and ``children_system``), times ``TDP x sockets / logical CPUs``, read
  from the tree's own ``/proc`` files on Linux (psutil elsewhere). There is no idle floor:
  the idle package is the machine's, not the process's. A descendant that detaches from
  the tree (re-parented to init) takes its CPU time with it; the counter never goes back.

TDP: ``tdp_w`` when given; else the shipped table's entry for the CPU model
(:mod:`nlpfootprint.meters.tdp`); else :data:`DEFAULT_CPU_TDP_W`, said to be assumed.

DRAM (:class:`EstimatedDramMeter`): 3 W per 8 GB installed (0.375 W/GiB), the rule of thumb
published by Crucial ("How much power does memory use?"). In process scope it is the share
of that power equal to the process tree's share of memory (resident set / installed): an
attribution, since DRAM refresh power does not follow use.
"""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Callable
from typing import Any, Literal

from nlpfootprint.checks import flag, nonnegative, positive, whole_number
from nlpfootprint.errors import ConfigurationError, MeterUnavailableError
from nlpfootprint.meters.base import Channel
from nlpfootprint.meters.cpushare import PackageShare, package_share
from nlpfootprint.meters.cputimes import (
    ProcStatCpuTimes,
    ProcTreeCpuSeconds,
    ProcTreeRssBytes,
    charged_machine_seconds,
    installed_bytes,
)
from nlpfootprint.meters.tdp import (
    TdpMatch,
    cpu_is_virtual,
    cpu_model_name,
    cpu_socket_count,
    lookup_tdp,
)
from nlpfootprint.provenance import Backend, Basis, Device, EstimateBasis
from nlpfootprint.units import format_energy_j

__all__ = [
    "DEFAULT_CPU_TDP_W",
    "DRAM_W_PER_GIB",
    "IDLE_FRACTION_OF_TDP",
    "IDLE_FRACTION_SOURCE",
    "EstimatedCpuMeter",
    "EstimatedDramMeter",
    "Scope",
    "cpu_model_name",
    "cpu_socket_count",
    "process_tree_cpu_seconds",
    "process_tree_rss_bytes",
]

#: Assumed package TDP when the CPU model's TDP is not known, in watts. A mid-range
#: server/desktop package (Intel and AMD mainstream parts are rated 65-125 W).
DEFAULT_CPU_TDP_W = 85.0
#: DRAM power per GiB installed, 3 W per 8 GB module (Crucial's rule of thumb).
DRAM_W_PER_GIB = 3.0 / 8.0
#: Idle package power as a fraction of TDP, machine scope only (see the module docstring).
IDLE_FRACTION_OF_TDP = 0.12
#: Where :data:`IDLE_FRACTION_OF_TDP` comes from, as labels print it.
IDLE_FRACTION_SOURCE = "Teads/Davy 2021 idle point, assumed"

Scope = Literal["machine", "process"]
_SCOPES = ("machine", "process")
#: In machine scope, other processes' share of the busy CPU time above which the report
#: says so (with both figures), once at least :data:`SHARE_MIN_BUSY_S` CPU-seconds were busy.
OTHERS_SHARE_WARN = 0.2
SHARE_MIN_BUSY_S = 1.0


def _import_psutil() -> Any:
    try:
        import psutil
    except ImportError as err:  # pragma: no cover - psutil is a runtime dependency
        raise MeterUnavailableError(
            "the estimated CPU/DRAM meters need psutil: pip install psutil"
        ) from err
    return psutil


def _check_scope(scope: str) -> Scope:
    if scope not in _SCOPES:
        raise ConfigurationError(f"scope={scope!r} is not one of 'machine', 'process'")
    return "process" if scope == "process" else "machine"


def _machine_cpu_times() -> Callable[[], Any]:
    """The cheapest source of the machine's CPU times here: ``/proc/stat`` read directly
    on Linux, else psutil's ``cpu_times``."""
    try:
        return ProcStatCpuTimes()
    except (OSError, ValueError, AttributeError):
        return _import_psutil().cpu_times  # type: ignore[no-any-return]


def _process_tree_seconds() -> Callable[[], float]:
    """The cheapest source of this process tree's CPU seconds: ``/proc`` read directly on
    Linux, else psutil (:func:`process_tree_cpu_seconds`)."""
    try:
        return ProcTreeCpuSeconds()
    except (OSError, ValueError, IndexError):
        return functools.partial(process_tree_cpu_seconds, _import_psutil().Process())


def _process_tree_rss() -> Callable[[], int]:
    """The cheapest source of this process tree's resident bytes (as for CPU time)."""
    try:
        return ProcTreeRssBytes()
    except (OSError, ValueError, IndexError):
        return functools.partial(process_tree_rss_bytes, _import_psutil().Process())


def _tree_members(process: Any) -> list[Any]:
    psutil = _import_psutil()
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return [process]


def process_tree_cpu_seconds(process: Any | None = None) -> float:
    """User + system CPU seconds of a process and all its descendants, living or reaped.

    Args:
        process: A ``psutil.Process``; default the current process.

    Returns:
        The sum of ``user``, ``system``, ``children_user`` and ``children_system`` over the
        process and its living descendants. The ``children_*`` fields hold the time of
        children that exited and were waited for, so nothing is counted twice.
    """
    psutil = _import_psutil()
    total = 0.0
    for member in _tree_members(psutil.Process() if process is None else process):
        try:
            times = member.cpu_times()
        except psutil.Error:  # exited between listing and reading
            continue
        total += times.user + times.system
        total += getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0)
    return float(total)


def process_tree_rss_bytes(process: Any | None = None) -> int:
    """Resident memory of a process and its living descendants, in bytes (shared pages
    count once per process)."""
    psutil = _import_psutil()
    total = 0
    for member in _tree_members(psutil.Process() if process is None else process):
        try:
            total += int(member.memory_info().rss)
        except psutil.Error:
            continue
    return total


def _resolve_tdp(tdp_w: float | None, model: str) -> tuple[float, str, TdpMatch | None]:
    """The TDP, how it was found, and the table row when it came from the table."""
    if tdp_w is not None:
        return positive("tdp_w", tdp_w), "given", None
    match = lookup_tdp(model)
    if match is None:
        return DEFAULT_CPU_TDP_W, "assumed default", None
    return match.tdp_w, f"table: {match.name} ({match.source})", match


class EstimatedCpuMeter:
    """CPU energy estimated from TDP and CPU time, an energy counter (see the module doc).

    A read is one ``pread`` of ``/proc/stat`` (machine scope, Linux) or a walk of the
    process tree (process scope): it never blocks, so it runs in the sampling thread
    (``reads_inline``).

    Args:
        tdp_w: Package TDP in watts; default from the CPU model, else
            :data:`DEFAULT_CPU_TDP_W`. The label states the value and its source.
        scope: ``"machine"`` (every process's load, with the idle floor) or ``"process"``
            (this process tree's CPU time, no idle floor).
        sockets: Number of packages; default from ``/proc/cpuinfo``.
        model: CPU model name used to look up the TDP; default :func:`cpu_model_name`.
        idle_fraction: Idle power as a fraction of TDP, machine scope only; default
            :data:`IDLE_FRACTION_OF_TDP`. ``0`` gives the plain TDP x utilisation model.
        cpu_times: Returns an object with psutil ``cpu_times()`` fields (machine scope).
        process_cpu_seconds: Returns the process tree's cumulative CPU seconds (process
            scope; in machine scope, its share, measured alongside for
            :meth:`final_warnings`); default :func:`process_tree_cpu_seconds` of the
            creating process.
        logical_cpus: Number of logical CPUs of the machine.
        virtual: Whether the machine is a VM; default :func:`cpu_is_virtual` (the x86
            ``hypervisor`` flag). A VM is charged its share of the package when the
            model's thread count is known (:mod:`~nlpfootprint.meters.cpushare`).
        model_threads: Logical CPUs of one package of the model, for a VM's share;
            default from the shipped thread-count table.
        root: The file tree whose ``proc/cpuinfo`` gives the defaults of ``model``,
            ``sockets`` and ``virtual`` (a test's fake tree); default ``/``.

    Attributes:
        tdp_w: The TDP used, in watts (one package's).
        tdp_source: ``"given"``, ``"table: <row> (<source>)"`` or ``"assumed default"``.
        tdp_match: The table row, when the TDP came from the table.
        share: How much of the TDP is charged, and why (a
            :class:`~nlpfootprint.meters.cpushare.PackageShare`).
        notes: For a VM charged its whole package: which TDP, why, and what to pass.
    """

    reads_inline = True

    def __init__(
        self,
        tdp_w: float | None = None,
        *,
        scope: Scope = "machine",
        sockets: int | None = None,
        model: str | None = None,
        idle_fraction: float | None = None,
        cpu_times: Callable[[], Any] | None = None,
        process_cpu_seconds: Callable[[], float] | None = None,
        logical_cpus: int | None = None,
        virtual: bool | None = None,
        model_threads: int | None = None,
        root: str | os.PathLike[str] = "/",
    ) -> None:
        self.scope = _check_scope(scope)
        self.model = cpu_model_name(root) if model is None else model
        self.tdp_w, self.tdp_source, self.tdp_match = _resolve_tdp(tdp_w, self.model)
        self.sockets = (
            cpu_socket_count(root) if sockets is None else int(positive("sockets", sockets))
        )
        self.idle_fraction = self._check_idle_fraction(idle_fraction)
        if logical_cpus is None:
            logical_cpus = os.cpu_count() or 1
        self._logical = int(positive("logical_cpus", logical_cpus))
        if model_threads is not None:
            model_threads = whole_number("model_threads", model_threads, minimum=1)
        self.share: PackageShare = package_share(
            self.model,
            self.tdp_w,
            self.tdp_source,
            sockets=self.sockets,
            logical_cpus=self._logical,
            virtual=cpu_is_virtual(root) if virtual is None else flag("virtual", virtual),
            model_threads=model_threads,
            tdp_match=self.tdp_match,
        )
        self.notes = self.share.notes()
        self._seconds: Callable[[], float]
        self._source: ProcStatCpuTimes | None = None
        self._tree: Callable[[], float] | None = None
        self._share_origin = (0.0, 0.0)
        if self.scope == "process":
            if process_cpu_seconds is None:
                process_cpu_seconds = _process_tree_seconds()
            self._seconds = process_cpu_seconds
        else:
            times = cpu_times or _machine_cpu_times()
            if isinstance(times, ProcStatCpuTimes):
                self._source = times
            self._seconds = functools.partial(charged_machine_seconds, times, self.idle_fraction)
            self._busy = functools.partial(charged_machine_seconds, times, 0.0)
            try:  # this process tree's own share, measured alongside (final_warnings)
                self._tree = process_cpu_seconds or _process_tree_seconds()
                self._share_origin = (float(self._tree()), float(self._busy()))
            except Exception:  # no share to tell: the estimate itself is unaffected
                self._tree = None
        self._origin = float(self._seconds())
        self._last_j = 0.0
        self._channels = (
            Channel(
                id="cpu:0",
                domain="cpu",
                kind="energy",
                label=self._label(),
                estimated=True,
                backend=Backend.ESTIMATED,
                device=Device(name=self.model, count=self.sockets, host=platform.node()),
                basis=EstimateBasis(
                    Basis.TDP, rated_w=self.tdp_w, source=self.tdp_source, scope=self.scope
                ),
                max_power_w=self.share.power_w,
            ),
        )

    def _check_idle_fraction(self, idle_fraction: float | None) -> float:
        if idle_fraction is None:
            return IDLE_FRACTION_OF_TDP if self.scope == "machine" else 0.0
        fraction = nonnegative("idle_fraction", idle_fraction)
        if fraction > 1:
            raise ConfigurationError(f"idle_fraction={idle_fraction!r}: must be at most 1")
        if self.scope == "process" and fraction > 0:
            raise ConfigurationError(
                f"idle_fraction={idle_fraction!r} with scope='process': the idle floor is the "
                "machine's, not the process's; use scope='machine' or idle_fraction=0"
            )
        return fraction

    def final_warnings(self) -> list[str]:
        """In machine scope, when other processes used more than :data:`OTHERS_SHARE_WARN`
        of the busy CPU time since the meter was made: both figures (machine scope and this
        process tree's own) and how to choose."""
        if self.scope != "machine" or self._tree is None:
            return []
        mine = max(float(self._tree()) - self._share_origin[0], 0.0)
        busy = max(float(self._busy()) - self._share_origin[1], 0.0)
        others = max(busy - mine, 0.0)
        if busy < SHARE_MIN_BUSY_S or others <= OTHERS_SHARE_WARN * busy:
            return []
        own_j = mine * self.share.power_w / self._logical
        return [
            f"cpu:0 is estimated in machine scope, which charges every process's CPU time to "
            f"this run: other processes used {100 * others / busy:.0f}% of the busy CPU time "
            f"({others:.1f} of {busy:.1f} CPU-seconds). cpu:0 is "
            f"{format_energy_j(self._last_j)} in machine scope; this process tree's own CPU "
            f"time gives {format_energy_j(own_j)} (no idle floor). On a shared machine use "
            "cpu_scope='process' (nlpfootprint run --cpu-scope process); keep 'machine' on "
            "a dedicated node, as the paper measured"
        ]

    def _label(self) -> str:
        head = f"{self.model}: {self.share.describe()}"
        if self.scope == "process":
            return (
                f"{head}; process scope: CPU time of this process and its children over "
                f"{self._logical} logical CPUs, no idle floor"
            )
        return (
            f"{head}; machine scope: every process's load on {self._logical} logical CPUs, "
            f"idle floor {self.idle_fraction:.0%} of TDP ({IDLE_FRACTION_SOURCE})"
        )

    @property
    def channels(self) -> tuple[Channel, ...]:
        """One channel, ``cpu:0``, for all packages together."""
        return self._channels

    def read(self) -> list[float]:
        """Estimated CPU joules since the meter was created (never decreasing)."""
        seconds = float(self._seconds()) - self._origin
        energy_j = self.share.power_w * seconds / self._logical
        self._last_j = max(self._last_j, energy_j)
        return [self._last_j]

    def close(self) -> None:
        """Close ``/proc/stat`` when this meter opened it."""
        if self._source is not None:
            self._source.close()

    def __repr__(self) -> str:
        return (
            f"EstimatedCpuMeter(tdp_w={self.tdp_w:g}, sockets={self.sockets}, scope={self.scope!r})"
        )


class EstimatedDramMeter:
    """DRAM power estimated from installed memory (:data:`DRAM_W_PER_GIB`), a power meter.
    Its reads never block (``reads_inline``).

    Args:
        total_bytes: Installed memory; default from psutil.
        w_per_gib: Watts per GiB.
        scope: ``"machine"`` (all installed memory, default) or ``"process"`` (the share
            of it resident in this process tree, read at every sample).
        rss_bytes: Returns the process tree's resident bytes (process scope); default
            :func:`process_tree_rss_bytes` of the creating process.

    Attributes:
        power_w: The machine's estimated DRAM power in watts.
        w_per_gib_source: ``"Crucial: 3 W per 8 GB"`` for the default, else ``"given"``.
    """

    reads_inline = True

    def __init__(
        self,
        total_bytes: int | None = None,
        *,
        w_per_gib: float = DRAM_W_PER_GIB,
        scope: Scope = "machine",
        rss_bytes: Callable[[], int] | None = None,
    ) -> None:
        self.scope = _check_scope(scope)
        if total_bytes is None:
            total_bytes = installed_bytes() or int(_import_psutil().virtual_memory().total)
        self.total_bytes = int(nonnegative("total_bytes", total_bytes))
        self.total_gib = self.total_bytes / 2**30
        self.w_per_gib = nonnegative("w_per_gib", w_per_gib)
        self.power_w = self.total_gib * self.w_per_gib
        if self.scope == "process" and rss_bytes is None:
            rss_bytes = _process_tree_rss()
        self._rss_bytes = rss_bytes if self.scope == "process" else None
        self.w_per_gib_source = "Crucial: 3 W per 8 GB" if w_per_gib == DRAM_W_PER_GIB else "given"
        label = (
            f"{self.total_gib:.1f} GiB installed x {self.w_per_gib:g} W/GiB "
            f"({self.w_per_gib_source})"
        )
        if self.scope == "process":
            label += "; process scope: x share resident in this process and its children"
        self._channels = (
            Channel(
                id="dram:0",
                domain="dram",
                kind="power",
                label=label,
                estimated=True,
                backend=Backend.ESTIMATED,
                device=Device(name=f"{self.total_gib:.1f} GiB DRAM", host=platform.node()),
                basis=EstimateBasis(
                    Basis.MEMORY,
                    rated_w=self.w_per_gib,
                    source=self.w_per_gib_source,
                    scope=self.scope,
                ),
                max_power_w=self.power_w if self.power_w > 0 else None,
            ),
        )

    @property
    def channels(self) -> tuple[Channel, ...]:
        """One channel, ``dram:0``."""
        return self._channels

    def read(self) -> list[float]:
        """The estimated DRAM power in watts (the machine's, or the process tree's share)."""
        if self._rss_bytes is None or self.total_bytes == 0:
            return [self.power_w]
        share = min(1.0, max(0, self._rss_bytes()) / self.total_bytes)
        return [self.power_w * share]

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return (
            f"EstimatedDramMeter({self.total_gib:.1f} GiB, {self.power_w:.2f} W, "
            f"scope={self.scope!r})"
        )
