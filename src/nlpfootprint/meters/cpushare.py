"""How much of its CPU packages' TDP a machine is charged: whole sockets on bare metal, a
virtual machine's share of the package when the model's thread count is known.

A cloud VM with 2 vCPUs runs on 2 of the 64 logical CPUs (threads) of, say, a Xeon
Platinum 8358 package; charging it the package's whole 250 W overstates its CPU power
32-fold. So the estimated CPU meter charges:

* **bare metal** (no ``hypervisor`` flag, :func:`~nlpfootprint.meters.tdp.cpu_is_virtual`):
  ``TDP x sockets``;
* **a virtual machine whose model's thread count is known**:
  ``TDP x logical_cpus / model_threads``, its share of the package (above 1 when the VM
  spans more than one package's threads);
* **a virtual machine whose model or thread count is unknown**: ``TDP x sockets`` as the
  VM reports them, the whole package, with a note saying which TDP was charged, why, and
  how to give the share's power instead.

``model_threads`` is the number of logical CPUs of one package of the model, from
``data/cpu_threads.csv`` (Intel ARK and AMD product pages; see ``nlpfootprint/data/
README.md``). A model name is looked up through the TDP table's match
(:func:`~nlpfootprint.meters.tdp.lookup_tdp`), so the thread count and the TDP always come
from the same part.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Literal

import attrs

from nlpfootprint.meters.tdp import TdpMatch, lookup_tdp, normalize_cpu_name, parse_rows
from nlpfootprint.units import significant

__all__ = [
    "THREADS_TABLE_SOURCE",
    "PackageShare",
    "ShareRule",
    "ThreadsRow",
    "ThreadsTable",
    "load_threads_table",
    "lookup_threads",
    "package_share",
    "parse_threads_table",
]

#: Where the shipped thread counts come from, as labels print it.
THREADS_TABLE_SOURCE = "Intel ARK / AMD product pages"
_TABLE_FILE = "cpu_threads.csv"

ShareRule = Literal["sockets", "vm share", "vm whole package"]


@attrs.frozen
class ThreadsRow:
    """One row of the thread-count table.

    Attributes:
        name: The part's name, spelled as in the TDP table (``cpu_tdp.csv``).
        cores: Physical cores per package.
        threads: Logical CPUs (hardware threads) per package.
        source: The vendor's page giving both counts.
        line: The line number in the CSV file (the header is line 1).
    """

    name: str
    cores: int
    threads: int
    source: str
    line: int


@attrs.frozen
class ThreadsTable:
    """Threads per package by part name, with the rows that could not be used.

    Attributes:
        rows: The usable rows, in file order.
        skipped: ``(line, reason)`` for every row left out.
    """

    rows: tuple[ThreadsRow, ...]
    skipped: tuple[tuple[int, str], ...] = ()
    _by_name: dict[str, ThreadsRow] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        by_name = {normalize_cpu_name(row.name): row for row in reversed(self.rows)}
        object.__setattr__(self, "_by_name", by_name)

    def get(self, name: str) -> ThreadsRow | None:
        """The row named as ``name`` once both are normalised (a TDP table row's name)."""
        return self._by_name.get(normalize_cpu_name(name))


def _count(raw: str) -> int | None:
    try:
        number = int(raw)
    except ValueError:
        return None
    return number if number > 0 else None


def _threads_row(record: list[str], line: int) -> ThreadsRow | str:
    """One CSV record as a row, or why it cannot be one."""
    if len(record) != 4 or not record[0].strip():
        return f"expected a name, cores, threads and a source, got {record!r}"
    name, raw_cores, raw_threads, source = (field.strip() for field in record)
    cores, threads = _count(raw_cores), _count(raw_threads)
    if cores is None or threads is None:
        return f"{name}: cores {raw_cores!r} and threads {raw_threads!r} must be whole numbers > 0"
    if threads < cores:
        return f"{name}: {threads} threads is fewer than its {cores} cores"
    if not source:
        return f"{name}: no source"
    return ThreadsRow(name=name, cores=cores, threads=threads, source=source, line=line)


def parse_threads_table(text: str) -> ThreadsTable:
    """Read a ``name,cores,threads,source`` CSV; rows without a name, positive whole counts
    (threads at least cores) or a source, and repeated names, are skipped.

    Args:
        text: The CSV text, header row first.

    Returns:
        The table, with each skipped row's line number and the reason.
    """
    seen: set[str] = set()

    def once(record: list[str], line: int) -> ThreadsRow | str:
        row = _threads_row(record, line)
        if isinstance(row, ThreadsRow):
            name = normalize_cpu_name(row.name)
            if name in seen:
                return f"{row.name}: listed twice"
            seen.add(name)
        return row

    rows, skipped = parse_rows(text, once, ThreadsRow)
    return ThreadsTable(rows=rows, skipped=skipped)


@functools.cache
def load_threads_table() -> ThreadsTable:
    """The shipped table, read on first use and kept."""
    resource = resources.files("nlpfootprint") / "data" / _TABLE_FILE
    return parse_threads_table(resource.read_text(encoding="utf-8"))


def lookup_threads(
    model_name: str, *, tdp_match: TdpMatch | None = None, table: ThreadsTable | None = None
) -> ThreadsRow | None:
    """The threads per package of a CPU model, found through its TDP table row.

    Args:
        model_name: The name as ``/proc/cpuinfo`` (or the platform) writes it.
        tdp_match: Its TDP table match, when already known; else looked up.
        table: The table to search; default the shipped one.

    Returns:
        The row, or None when the name matches no TDP row or that row has no thread count.

    Examples:
        >>> row = lookup_threads("Intel(R) Xeon(R) Platinum 8358 CPU @ 2.60GHz")
        >>> row.name, row.cores, row.threads
        ('Intel Xeon Platinum 8358', 32, 64)
        >>> lookup_threads("AMD EPYC") is None
        True
    """
    match = lookup_tdp(model_name) if tdp_match is None else tdp_match
    if match is None:
        return None
    return (load_threads_table() if table is None else table).get(match.name)


@attrs.frozen
class PackageShare:
    """How much of the packages' TDP is charged, and why (see the module docstring).

    Attributes:
        tdp_w: One package's TDP in watts.
        tdp_source: Where it comes from (``"given"``, ``"table: ..."``, ``"assumed default"``).
        rule: ``"sockets"`` (bare metal), ``"vm share"`` or ``"vm whole package"`` (a VM
            whose share is unknown).
        packages: How many TDPs are charged: the sockets, or ``logical_cpus /
            model_threads``.
        logical_cpus: The machine's logical CPUs (a VM's vCPUs).
        sockets: The packages the machine reports.
        model_threads: Threads per package of the model, when known.
        threads_source: Where ``model_threads`` comes from (``"given"`` or the table row).
        why: For ``"vm whole package"``, why the share is unknown; else ``""``.
    """

    tdp_w: float
    tdp_source: str
    rule: ShareRule
    packages: float
    logical_cpus: int
    sockets: int
    model_threads: int | None = None
    threads_source: str | None = None
    why: str = ""

    @property
    def power_w(self) -> float:
        """The power charged when every logical CPU is busy: ``tdp_w x packages``."""
        return self.tdp_w * self.packages

    def describe(self) -> str:
        """The TDP part of the meter's label."""
        tdp = f"TDP {self.tdp_w:g} W ({self.tdp_source})"
        if self.rule == "vm share":
            return (
                f"{tdp} x {self.logical_cpus}/{self.model_threads} threads (VM share) = "
                f"{significant(self.power_w, 3)} W"
            )
        if self.rule == "vm whole package":
            return (
                f"{self.sockets} x {tdp}, whole package: a VM with {self.logical_cpus} vCPUs "
                "whose share is unknown"
            )
        return f"{self.sockets} x {tdp}"

    def notes(self) -> list[str]:
        """For a VM charged its whole package at a TDP it was not given: which, why, and
        what to pass instead; else nothing."""
        if self.rule != "vm whole package" or self.tdp_source == "given":
            return []
        known = self.tdp_source != "assumed default"
        tdp = f"{self.tdp_w:g} W" if known else "the host package's TDP"
        per_socket = f" / {self.sockets} (the sockets it reports)" if self.sockets > 1 else ""
        return [
            f"cpu:0: this is a VM with {self.logical_cpus} vCPUs, but {self.why}, so the whole "
            f"package's TDP is charged ({self.sockets} x {self.tdp_w:g} W, {self.tdp_source}), "
            "not this VM's share of it, which can be far less. Pass cpu_tdp_w=W "
            "(nlpfootprint run --cpu-tdp W) with the power of this VM's share: "
            f"{tdp} x {self.logical_cpus} / the package's threads{per_socket}"
        ]


def package_share(
    model: str,
    tdp_w: float,
    tdp_source: str,
    *,
    sockets: int,
    logical_cpus: int,
    virtual: bool,
    model_threads: int | None = None,
    tdp_match: TdpMatch | None = None,
) -> PackageShare:
    """Apply the rule of the module docstring.

    Args:
        model: The CPU model name.
        tdp_w: One package's TDP, and ``tdp_source`` where it comes from.
        tdp_source: See :attr:`PackageShare.tdp_source`.
        sockets: The packages the machine reports.
        logical_cpus: The machine's logical CPUs.
        virtual: Whether the machine is a VM.
        model_threads: Threads per package, when known; else looked up for ``model``.
        tdp_match: The model's TDP table match, when already known.

    Returns:
        The share.
    """
    share = functools.partial(
        PackageShare, tdp_w, tdp_source, logical_cpus=logical_cpus, sockets=sockets
    )
    if not virtual:
        return share(rule="sockets", packages=float(sockets))
    source = "given"
    if model_threads is None:
        match = lookup_tdp(model) if tdp_match is None else tdp_match
        row = None if match is None else lookup_threads(model, tdp_match=match)
        if row is None:
            why = (
                f"its CPU model, {model!r}, matches no part of the TDP table"
                if match is None
                else f"the {match.name}'s threads per package are not in the thread table"
            )
            return share(rule="vm whole package", packages=float(sockets), why=why)
        model_threads, source = row.threads, f"{row.name} ({row.source})"
    return share(
        rule="vm share",
        packages=logical_cpus / model_threads,
        model_threads=model_threads,
        threads_source=source,
    )
