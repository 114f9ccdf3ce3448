"""This process tree's share of a shared NVIDIA GPU: what ``NvmlMeter(scope="process")``
charges.

A GPU reports the energy of the whole device, whoever used it. In process scope each GPU
channel is an energy counter of the joules *attributed* to one process tree (a process
and its descendants): at every reading, the device's energy since the reading before (the
difference of its energy counter, or its power integrated by the trapezoid rule) times the
tree's share of the device over that interval, found by the first rule that applies:

1. ``"sm"``: SM utilisation. NVML keeps per-process samples of SM (streaming
   multiprocessor) utilisation (``nvmlDeviceGetProcessUtilization``, one sample per
   process busy in each of its sampling periods); the share is the sum of the tree's
   ``smUtil`` over the samples newer than the last one seen, divided by the sum over every
   process's. An interval with no such share (no new samples -- a reading interval
   shorter than NVML's sampling period -- or all of them zero) keeps the last SM share
   found while the GPU's compute processes are the same ones as when it was found: a run
   is not split by time in one interval and by memory in the next.
2. ``"memory"``: where there is no SM share to use (the call is not supported, or there
   has been no SM sample yet, or the GPU's processes have changed since the last one),
   the tree's ``usedGpuMemory`` over that of every compute process on the GPU
   (``nvmlDeviceGetComputeRunningProcesses``), when every listed process's memory is
   known and their sum is above zero.
3. ``"processes"``: the memory of some process is not known (NVML reports it as not
   available in some containers and under WDDM): the tree's processes over the processes
   listed, an equal split.
4. ``"idle"``: the GPU has no compute process at all: the energy is nobody's, and the
   tree is charged none of it (the sum over processes is then below the device's).
5. ``"assumed"``: NVML says neither (no samples and no process list): the share found
   last, or 1 -- the whole device, as in machine scope -- until one is found. This errs
   on the side of charging too much, never silently too little.

The energy is measured; the share is a model. SM utilisation is the share of *time* a
process kept the SMs busy, not its share of *power*: a kernel at full tensor-core load and
one waiting on memory count alike, and idle power is split in proportion too. Shares are
only as fine as NVML's sampling (periods of a sixth of a second to a second, by product):
a process busy for less may not be seen. So a process-scope channel's method is
``attributed``, a report with one is headed "partly estimated", and the whole device's
energy is kept beside it: the meter's :class:`GpuAttribution` (since its first reading),
and, over a tracker's run (from the run's first reading, after any idle baseline:
:mod:`nlpfootprint.meters.attribution`), the report's channel (``device_energy_j``,
``share_rules``) and one line among its warnings.

NVML names processes by their PIDs in the host's PID namespace: in a container with a
namespace of its own, this tree's PIDs do not match, nothing is attributed to it, and the
meter says so at the end.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from nlpfootprint.meters.cputimes import ProcTreePids
from nlpfootprint.units import format_energy_j

__all__ = [
    "RULE_WORDS",
    "GpuAttribution",
    "Share",
    "ShareAccount",
    "ShareRule",
    "count_share",
    "memory_share",
    "process_tree_pids",
    "sm_share",
    "tree_pids",
]

ShareRule = Literal["sm", "memory", "processes", "idle", "assumed"]

#: Each rule in words, as the meter's final warnings print them.
RULE_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "sm": "by SM utilisation",
        "memory": "by GPU memory share",
        "processes": "split equally among the GPU's processes",
        "idle": "while no process used the GPU (nobody's)",
        "assumed": "with no process figures from NVML (the last share, or all)",
    }
)

#: ``usedGpuMemory`` when NVML cannot say (NVML_VALUE_NOT_AVAILABLE, an unsigned -1);
#: pynvml turns it into None, other bindings may not.
_NOT_AVAILABLE = 2**64 - 1


def process_tree_pids(pid: int) -> frozenset[int]:
    """``pid`` and the PIDs of its living descendants (psutil); ``pid`` alone when it is
    not a process here (another PID namespace's, or gone)."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return frozenset((pid,))
    return frozenset((pid, *(child.pid for child in children)))


def tree_pids(pid: int) -> Callable[[], frozenset[int]]:
    """The cheapest reader of a process tree's PIDs here: the tree's own ``/proc`` files
    on Linux (:class:`~nlpfootprint.meters.cputimes.ProcTreePids`), else psutil
    (:func:`process_tree_pids`, which reads every process's)."""
    try:
        return ProcTreePids(pid)
    except (OSError, ValueError, IndexError):
        return functools.partial(process_tree_pids, pid)


def sm_share(samples: Iterable[Any], pids: Collection[int]) -> float | None:
    """The share of the samples' SM utilisation that belongs to ``pids``; None when the
    samples sum to zero (or there are none).

    Args:
        samples: NVML process utilisation samples (``pid``, ``smUtil``).
        pids: The process tree.

    >>> from types import SimpleNamespace as S
    >>> sm_share([S(pid=1, smUtil=30), S(pid=2, smUtil=70)], {1})
    0.3
    >>> sm_share([S(pid=1, smUtil=0)], {1}) is None
    True
    """
    total = mine = 0
    for sample in samples:
        util = max(int(sample.smUtil), 0)
        total += util
        if int(sample.pid) in pids:
            mine += util
    return mine / total if total > 0 else None


def _memory_bytes(process: Any) -> int | None:
    value = getattr(process, "usedGpuMemory", None)
    if value is None or int(value) >= _NOT_AVAILABLE or int(value) < 0:
        return None
    return int(value)


def memory_share(processes: Collection[Any], pids: Collection[int]) -> float | None:
    """The share of the processes' GPU memory that belongs to ``pids``; None unless every
    process's memory is known and they sum to more than zero.

    >>> from types import SimpleNamespace as S
    >>> memory_share([S(pid=1, usedGpuMemory=1 << 30), S(pid=2, usedGpuMemory=3 << 30)], {1})
    0.25
    >>> memory_share([S(pid=1, usedGpuMemory=1 << 30), S(pid=2, usedGpuMemory=None)], {1}) is None
    True
    """
    sizes = [(int(p.pid), _memory_bytes(p)) for p in processes]
    if not sizes or any(size is None for _, size in sizes):
        return None
    total = sum(size or 0 for _, size in sizes)
    mine = sum(size or 0 for pid, size in sizes if pid in pids)
    return mine / total if total > 0 else None


def count_share(processes: Collection[Any], pids: Collection[int]) -> float | None:
    """The share of the processes listed that are in ``pids`` (each PID once); None when
    none is listed.

    >>> from types import SimpleNamespace as S
    >>> count_share([S(pid=1), S(pid=2), S(pid=3), S(pid=4)], {1, 3})
    0.5
    """
    listed = {int(p.pid) for p in processes}
    return len(listed & set(pids)) / len(listed) if listed else None


@attrs.frozen
class Share:
    """A process tree's share of a GPU over one interval, and the rule that found it.

    Attributes:
        value: From 0 to 1.
        rule: Which rule of the module docstring applied.
    """

    value: float
    rule: ShareRule


@attrs.frozen
class GpuAttribution:
    """What a process-scope GPU channel attributed, beside the whole device's figure.

    Attributes:
        channel_id: The channel (``gpu:0``).
        device_j: The whole device's energy between the meter's first and latest readings.
        attributed_j: Of it, the joules attributed to the process tree.
        rule_j: The device's joules by the rule that split them (:data:`RULE_WORDS`).
        tree_seen: Whether the tree was ever among the GPU's processes (its samples or its
            process list).
    """

    channel_id: str
    device_j: float
    attributed_j: float
    rule_j: Mapping[str, float]
    tree_seen: bool

    @property
    def share(self) -> float | None:
        """``attributed_j / device_j``, or None before the device used any energy."""
        return self.attributed_j / self.device_j if self.device_j > 0 else None

    def since(self, earlier: GpuAttribution | None) -> GpuAttribution:
        """The joules between ``earlier`` (this channel's attribution, taken before) and
        this one; ``earlier`` None gives this one. ``tree_seen`` stays this one's."""
        if earlier is None:
            return self
        tiny = 1e-12 * max(self.device_j, 1.0)  # what is left of a rule unused since
        rules = {r: j - earlier.rule_j.get(r, 0.0) for r, j in self.rule_j.items()}
        return attrs.evolve(
            self,
            device_j=max(self.device_j - earlier.device_j, 0.0),
            attributed_j=max(self.attributed_j - earlier.attributed_j, 0.0),
            rule_j=MappingProxyType({r: j for r, j in rules.items() if j > tiny}),
        )

    def describe(self) -> str:
        """One line: the attributed figure, the device's, and how it was split."""
        share = self.share
        if share is None:
            return f"{self.channel_id} (process scope): the GPU used no energy yet"
        used = [(j, RULE_WORDS[rule]) for rule, j in self.rule_j.items() if j > 0]
        used.sort(key=lambda pair: -pair[0])
        how = ", ".join(f"{100 * j / self.device_j:.0f}% of it {words}" for j, words in used)
        line = (
            f"{self.channel_id} (process scope): attributed {format_energy_j(self.attributed_j)}"
            f" ({100 * share:.0f}%) of the whole GPU's {format_energy_j(self.device_j)} to "
            f"this process tree; {how}"
        )
        if not self.tree_seen:
            line += (
                "; this process tree was never among the GPU's processes: in a container "
                "with its own PID namespace NVML reports the host's PIDs (run it with the "
                "host's PID namespace, or pass NvmlMeter(pid=) the host PID)"
            )
        return line


class ShareAccount:
    """One GPU's running attribution: the utilisation cursor, the last share, the device's
    last reading and the totals. Meter-internal; :meth:`snapshot` is the public value.

    Args:
        channel_id: The channel it feeds.
        kind: ``"energy"`` (the device's readings are a counter in joules) or
            ``"power"`` (watts, integrated by the trapezoid rule).
    """

    def __init__(self, channel_id: str, kind: Literal["energy", "power"]) -> None:
        self.channel_id = channel_id
        self.kind = kind
        #: The newest utilisation sample's timestamp seen (NVML's ``lastSeenTimeStamp``).
        self.cursor = 0
        self._last_share: float | None = None
        self._last_t: float | None = None
        self._last_value = 0.0
        self._device_j = 0.0
        self._attributed_j = 0.0
        self._rule_j: dict[str, float] = {}
        self._seen = False
        #: The last SM share found, and the GPU's compute processes then (None: not listed).
        self._sm: tuple[float, frozenset[int] | None] | None = None

    def fresh(self, samples: Iterable[Any] | None) -> list[Any] | None:
        """The samples newer than the cursor, which moves past them (None stays None)."""
        if samples is None:
            return None
        new = [s for s in samples if int(s.timeStamp) > self.cursor]
        self.cursor = max((int(s.timeStamp) for s in new), default=self.cursor)
        return new

    def share(
        self,
        samples: list[Any] | None,
        processes: Collection[Any] | None,
        tree: Callable[[], Collection[int]],
    ) -> Share:
        """The tree's share over the interval the samples cover (see the module docstring).

        Args:
            samples: The fresh utilisation samples, or None when NVML gives none.
            processes: The GPU's compute processes, or None when NVML cannot list them.
            tree: Returns the process tree's PIDs (called only when needed).
        """
        found: Share | None = None
        listed = None if processes is None else frozenset(int(p.pid) for p in processes)
        if samples:
            self._seen |= any(int(s.pid) in tree() for s in samples)
            value = sm_share(samples, tree())
            if value is not None:
                found = Share(value, "sm")
                self._sm = (value, listed)
        if processes is not None:
            self._seen |= any(int(p.pid) in tree() for p in processes)
            if found is None:
                found = self._kept_sm(listed) or self._by_processes(processes, tree())
        if found is None:
            last = self._last_share
            return Share(1.0 if last is None else last, "assumed")
        if found.rule != "idle":
            self._last_share = found.value
        return found

    def _kept_sm(self, listed: frozenset[int] | None) -> Share | None:
        """The last SM share, while the GPU's compute processes are still the ones listed
        when it was found (rule 1 for an interval without new samples)."""
        if self._sm is None or not listed:
            return None
        value, then = self._sm
        return Share(value, "sm") if then == listed else None

    @staticmethod
    def _by_processes(processes: Collection[Any], pids: Collection[int]) -> Share:
        """Rules 2 to 4: by memory, else by count, else (no process) nobody's."""
        memory = memory_share(processes, pids)
        if memory is not None:
            return Share(memory, "memory")
        count = count_share(processes, pids)
        return Share(0.0, "idle") if count is None else Share(count, "processes")

    def add(self, t: float, value: float, share: Share) -> float:
        """Take the device's reading ``value`` at ``t`` with the share of the interval it
        ends; return the joules attributed so far (the channel's reading)."""
        if self._last_t is not None:
            if self.kind == "energy":  # a counter lower than before was reset: count anew
                increment = value - self._last_value if value >= self._last_value else value
            else:
                increment = max(t - self._last_t, 0.0) * (value + self._last_value) / 2
            self._device_j += increment
            self._attributed_j += increment * share.value
            if increment:
                self._rule_j[share.rule] = self._rule_j.get(share.rule, 0.0) + increment
        self._last_t, self._last_value = t, value
        return self._attributed_j

    def snapshot(self) -> GpuAttribution:
        """The totals so far, as a value."""
        return GpuAttribution(
            channel_id=self.channel_id,
            device_j=self._device_j,
            attributed_j=self._attributed_j,
            rule_j=MappingProxyType(dict(self._rule_j)),
            tree_seen=self._seen,
        )
