"""Which CPU this is, and its package TDP from the shipped table ``data/cpu_tdp.csv``.

:func:`cpu_model_name` reads the model name without starting a subprocess: from
``/proc/cpuinfo`` on Linux, the ``machdep.cpu.brand_string`` sysctl on macOS, the registry
on Windows. :func:`lookup_tdp` finds its TDP.

The table (about 4,900 Intel, AMD and Apple parts) is codecarbon 3.3.2's
``cpu_power.csv`` (MIT), compiled from the Intel and AMD specification pages; see
``nlpfootprint/data/README.md``. It is read once, on first use, and rows whose TDP is not a
positive number (``"27.29.5"``, ``0.0``) are skipped and counted, never guessed.

Names are matched the way ``/proc/cpuinfo`` writes them. Both the query and every table
name are normalised: lower case; ``(R)``, ``(TM)``, ``®``, ``™`` dropped; everything from
``@`` on (the clock) dropped; spaces around hyphens closed up (``FX(tm)-8350`` is
``fx-8350``); parenthesised notes, clock speeds, ``64-Core``, ``Quad-Core``, ``Dual Core``,
``12th Gen``, ``with Radeon Graphics``, an APU's ``R7, 12 Compute Cores 4C+8G`` and the
words ``CPU``, ``Processor``, ``Genuine`` dropped; a Sandy Bridge ``E31230`` gets its
hyphen (``e3-1230``). A first-generation Core name is then spelled as the table spells it
(``Core(TM) i7 CPU  920`` is ``core i7-920``, ``i5 CPU  M 520`` is ``core i5-520m``,
``i7 CPU  Q 720`` is ``core i7-720q`` or ``-720qm``, all spellings that match having to
agree). Then:

1. **exact**: the normalised names are equal
   (``"Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"`` is ``"Intel Xeon Gold 6248"``);
2. **model number**: otherwise the model number (the last word holding a digit, other
   than a one- or two-digit tier such as the ``9`` of ``Ryzen 9``, plus any ``v2``..``v6``
   suffix, and for Apple the variant: ``6248``, ``i7-8700k``, ``e5-2698 v4``, ``5950x``,
   ``m1 pro``) must equal the model number of a table row of the *same vendor* (Intel,
   AMD, Apple), and every other word of the reported name (family, tier) must appear in
   the row, save ``APU``, ``Dual`` and a stray ``0``; the row may add words, save
   those that mark a variant (``HE``, ``EE``, ``SE``, ``SFF``, ``LV``, ``Mobile``,
   ``PRO``, ``Ultra``, ``Max``, ``BE``...: ``_cpunames.VARIANT_WORDS``). So
   ``Ryzen 7 5950X`` matches no ``Ryzen 9 5950X``, ``Apple M1 Pro`` no ``Apple M1``,
   ``Athlon II X4 650`` no ``Athlon 650``, ``Mobile Sempron 3000+`` no desktop
   ``Sempron 3000+`` and ``Opteron 2350`` no ``Opteron 2350 HE``. Among several such
   rows the one sharing most words and adding fewest wins.

A name without a model number (``"Intel(R) Xeon(R) Processor"``, what many VMs report) or
whose best candidates disagree on the TDP never matches: the caller then says it assumed a
default, instead of quoting a random part's TDP. A wrong match is worse than a miss.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import os
import platform
import re
import sys
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

import attrs

from nlpfootprint.meters._cpunames import (
    families_agree,
    model_key,
    normalize_cpu_name,
    spellings,
    split_name,
)

__all__ = [
    "TDP_TABLE_SOURCE",
    "MatchKind",
    "TdpMatch",
    "TdpRow",
    "TdpTable",
    "cpu_is_virtual",
    "cpu_model_name",
    "cpu_socket_count",
    "load_tdp_table",
    "lookup_tdp",
    "normalize_cpu_name",
    "parse_rows",
    "parse_tdp_table",
]

#: Where the shipped TDP figures come from, as reports print it.
TDP_TABLE_SOURCE = "codecarbon cpu_power.csv, Intel/AMD spec pages"
_TABLE_FILE = "cpu_tdp.csv"

_R = TypeVar("_R")

MatchKind = Literal["exact", "model number"]


def _read_cpuinfo(root: Path) -> str:
    try:
        return (root / "proc" / "cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


def _darwin_brand_string() -> str:
    """``sysctl machdep.cpu.brand_string`` through libc (no subprocess); "" on failure."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        name, size = b"machdep.cpu.brand_string", ctypes.c_size_t(0)
        if libc.sysctlbyname(name, None, ctypes.byref(size), None, 0) != 0 or not size.value:
            return ""
        buffer = ctypes.create_string_buffer(size.value)
        if libc.sysctlbyname(name, buffer, ctypes.byref(size), None, 0) != 0:
            return ""
    except (OSError, AttributeError):
        return ""
    return buffer.value.decode(errors="replace").strip()


def _windows_processor_name() -> str:
    """The registry's ``ProcessorNameString`` for CPU 0; "" on failure."""
    if sys.platform == "win32":
        import winreg

        key_path = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key_path) as key:
                value, _ = winreg.QueryValueEx(key, "ProcessorNameString")
        except OSError:
            return ""
        return str(value).strip()
    return ""


def cpu_model_name(root: str | os.PathLike[str] = "/") -> str:
    """The CPU model name, read without starting a subprocess.

    Linux: ``model name`` (``Model``, ``cpu model`` on other architectures) in
    ``<root>/proc/cpuinfo``. macOS: the ``machdep.cpu.brand_string`` sysctl. Windows: the
    registry's ``ProcessorNameString``. Else :func:`platform.processor`.
    """
    for line in _read_cpuinfo(Path(root)).splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model") and value.strip():
            return value.strip()
    if sys.platform == "darwin":
        name = _darwin_brand_string()
    else:
        name = _windows_processor_name()
    return name or platform.processor() or platform.machine() or "unknown CPU"


def cpu_socket_count(root: str | os.PathLike[str] = "/") -> int:
    """Number of CPU packages (distinct ``physical id`` in ``/proc/cpuinfo``; 1 if unknown)."""
    ids = {
        line.partition(":")[2].strip()
        for line in _read_cpuinfo(Path(root)).splitlines()
        if line.startswith("physical id")
    }
    return max(1, len(ids))


def cpu_is_virtual(root: str | os.PathLike[str] = "/") -> bool:
    """Whether this is a virtual machine: the x86 ``hypervisor`` flag in ``/proc/cpuinfo``.

    The flag is what a hypervisor sets in the CPUID it shows its guests (KVM, Xen HVM,
    Hyper-V, VMware: every cloud VM on x86). False where it is absent: bare metal, and also
    where it cannot be seen (no ``/proc/cpuinfo``, or an Arm VM, whose cpuinfo has no such
    flag); pass ``EstimatedCpuMeter(virtual=True)`` there.
    """
    for line in _read_cpuinfo(Path(root)).splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags" and "hypervisor" in value.split():
            return True
    return False


@attrs.frozen
class TdpRow:
    """One usable row of the table.

    Attributes:
        name: The name as the table writes it.
        tdp_w: Its thermal design power in watts.
        line: The line number in the CSV file (the header is line 1).
    """

    name: str
    tdp_w: float
    line: int


@attrs.frozen
class TdpMatch:
    """The table row a CPU name matched.

    Attributes:
        name: The row's name as the table writes it.
        tdp_w: The row's TDP in watts.
        how: ``"exact"`` (normalised names equal) or ``"model number"``.
        source: Where the table's figures come from (:data:`TDP_TABLE_SOURCE`).
    """

    name: str
    tdp_w: float
    how: MatchKind
    source: str = TDP_TABLE_SOURCE


def _unique(rows: Iterable[TdpRow], how: MatchKind, source: str) -> TdpMatch | None:
    """A match when all ``rows`` agree on the TDP (the first one named), else None."""
    found = list(rows)
    if not found or len({row.tdp_w for row in found}) > 1:
        return None
    return TdpMatch(name=found[0].name, tdp_w=found[0].tdp_w, how=how, source=source)


def _agreed(matches: Iterable[TdpMatch | None]) -> TdpMatch | None:
    """The first of the matches of a name's spellings when all found agree on the TDP."""
    found = [match for match in matches if match is not None]
    if not found or len({match.tdp_w for match in found}) > 1:
        return None
    return found[0]


@attrs.frozen
class TdpTable:
    """CPU TDPs by model name, with the rows that could not be used.

    Build one with :func:`parse_tdp_table`; :func:`load_tdp_table` gives the shipped one.

    Attributes:
        rows: The usable rows, in file order.
        skipped: ``(line, reason)`` for every row left out.
        source: Where the figures come from.
    """

    rows: tuple[TdpRow, ...]
    skipped: tuple[tuple[int, str], ...] = ()
    source: str = TDP_TABLE_SOURCE
    _by_name: dict[str, list[TdpRow]] = attrs.field(init=False, eq=False, repr=False)
    _by_model: dict[tuple[str, str], list[tuple[TdpRow, frozenset[str]]]] = attrs.field(
        init=False, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        by_name: dict[str, list[TdpRow]] = {}
        by_model: dict[tuple[str, str], list[tuple[TdpRow, frozenset[str]]]] = {}
        for row in self.rows:
            normalized = normalize_cpu_name(row.name)
            by_name.setdefault(normalized, []).append(row)
            parts = split_name(normalized)
            if parts.vendor is not None and parts.model is not None:
                by_model.setdefault((parts.vendor, parts.model), []).append((row, parts.family))
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_by_model", by_model)

    def lookup(self, model_name: str) -> TdpMatch | None:
        """The row ``model_name`` matches (see the module docstring), or None."""
        return _agreed(map(self._lookup_spelling, spellings(normalize_cpu_name(model_name))))

    def _lookup_spelling(self, normalized: str) -> TdpMatch | None:
        """The row one normalised spelling of a name matches, or None."""
        if not normalized:
            return None
        if normalized in self._by_name:
            return _unique(self._by_name[normalized], "exact", self.source)
        parts = split_name(normalized)
        if parts.vendor is None or parts.model is None:
            return None
        agreeing = [
            (len(parts.family & family), -len(family - parts.family), row)
            for row, family in self._by_model.get((parts.vendor, parts.model), [])
            if families_agree(parts.family, family)
        ]
        if not agreeing:
            return None
        best = max((shared, fewer_extra) for shared, fewer_extra, _ in agreeing)
        rows = (row for shared, fewer_extra, row in agreeing if (shared, fewer_extra) == best)
        return _unique(rows, "model number", self.source)


def parse_tdp_table(text: str, *, source: str = TDP_TABLE_SOURCE) -> TdpTable:
    """Read a ``Name,TDP`` CSV; rows without a name or a positive finite TDP are skipped.

    Args:
        text: The CSV text, header row first.
        source: Where the figures come from, carried into every match.

    Returns:
        The table, with each skipped row's line number and the reason.
    """
    rows, skipped = parse_rows(text, _row, TdpRow)
    return TdpTable(rows=rows, skipped=skipped, source=source)


def parse_rows(
    text: str, parse: Callable[[list[str], int], _R | str], kind: type[_R]
) -> tuple[tuple[_R, ...], tuple[tuple[int, str], ...]]:
    """Each record of a CSV after its header row, as ``parse`` reads it (given the record
    and its line number): the rows of ``kind``, and, for each record ``parse`` refused by
    returning why, its line number and the reason. Blank lines are passed over."""
    rows: list[_R] = []
    skipped: list[tuple[int, str]] = []
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    for record in reader:
        if not record:
            continue
        row = parse(record, reader.line_num)
        if isinstance(row, kind):
            rows.append(row)
        else:
            skipped.append((reader.line_num, str(row)))
    return tuple(rows), tuple(skipped)


def _row(record: list[str], line: int) -> TdpRow | str:
    """One CSV record as a row, or why it cannot be one."""
    if len(record) != 2 or not record[0].strip():
        return f"expected a name and a TDP, got {record!r}"
    name, raw = record[0].strip(), record[1].strip()
    try:
        tdp_w = float(raw)
    except ValueError:
        return f"{name}: TDP {raw!r} is not a number"
    if not (math.isfinite(tdp_w) and tdp_w > 0):
        return f"{name}: TDP {raw!r} is not a positive number of watts"
    return TdpRow(name=name, tdp_w=tdp_w, line=line)


@functools.cache
def _table_text() -> str:
    """The shipped CSV's text, read once."""
    resource = resources.files("nlpfootprint") / "data" / _TABLE_FILE
    return resource.read_text(encoding="utf-8")


@functools.cache
def load_tdp_table() -> TdpTable:
    """The shipped table, read on first use and kept (it never changes while running)."""
    return parse_tdp_table(_table_text())


#: The 0-based line numbers of the shipped table's rows without a model number (all that
#: a name without one can match exactly), found once when the table was shipped and
#: checked against the whole table by the test suite.
NO_MODEL_ROWS = (973, 1765, 3324, 3325, 3327, 3328)


@functools.cache
def _table_lines() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The shipped CSV's lines, as written and in lower case (for finding candidates)."""
    lines = _table_text().split("\n")
    return tuple(lines), tuple(line.lower() for line in lines)


def _candidates(normalized: str) -> TdpTable:
    """The rows of the shipped table that can match a spelling normalised to ``normalized``.

    Normalising never joins two runs of letters and digits (it lower-cases, replaces what it
    drops with a space, closes up spaces beside a hyphen, splits ``E31230``), so every such
    run of a normalised table name is a substring of its lower-cased line. A spelling
    matches a row exactly only if the two normalise alike, and by model number only if they
    share the model number, so the rows holding the longest run of its model number (or,
    with none, every run of its words) are all those :meth:`TdpTable.lookup` can return:
    parsing just them gives the same answer as the whole table, without normalising 4,900
    names.
    """
    parts = split_name(normalized)
    lines, lower = _table_lines()
    if parts.model is not None:
        key = model_key(parts.model)
        numbers = [n for n, text in enumerate(lower) if n and key in text]
    else:  # only an exact match is possible, with a row that has no model number either
        runs = re.findall(r"[a-z0-9]+", normalized)
        numbers = [n for n in NO_MODEL_ROWS if all(run in lower[n] for run in runs)]
    rows = []
    for number in numbers:
        for record in csv.reader([lines[number]]):
            rows.append(_row(record, number + 1))
    return TdpTable(rows=tuple(r for r in rows if isinstance(r, TdpRow)))


def lookup_tdp(model_name: str, *, table: TdpTable | None = None) -> TdpMatch | None:
    """Find the TDP of a CPU by its model name.

    Args:
        model_name: The name as ``/proc/cpuinfo`` (or the platform) writes it.
        table: The table to search; default the shipped one (:func:`load_tdp_table`).

    Returns:
        The matching row, or None when the name matches no row unambiguously.

    Examples:
        >>> match = lookup_tdp("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
        >>> match.name, match.tdp_w, match.how
        ('Intel Xeon Gold 6248', 150.0, 'exact')
        >>> lookup_tdp("Intel(R) Xeon(R) Processor") is None
        True
    """
    if table is not None:
        return table.lookup(model_name)
    return _agreed(
        _candidates(spelling)._lookup_spelling(spelling)
        for spelling in spellings(normalize_cpu_name(model_name))
        if spelling
    )
