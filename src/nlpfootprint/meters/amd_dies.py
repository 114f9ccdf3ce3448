"""Two-die AMD GPUs (Instinct MI250 and MI250X): which die carries its module's power.

An MI250 or MI250X module holds two graphics compute dies (GCDs), and ROCm shows each as
a GPU of its own: two amdsmi handles, two HIP devices. amdsmi reports the module's power,
and its energy counter, on one die only, for both dies together; the other die reads
0 W or ``"N/A"``, an energy counter of 0 and power caps of 0 (``rocm-smi`` prints
``N/A (Secondary die)``; ROCm/rocm_smi_lib issues 149 and 160, and Zeus's AMD backend
and CodeCarbon issue 1097 meet the same). Here the die that reads is the module's
*first* die and the other its *second*.

amdsmi names no field that ties a die to the other die of its module (each has its own
ASIC serial and PCI address; the XGMI hive spans the whole machine), so the pairing
follows the order amdsmi lists GPUs in, which puts a module's two dies one after the
other: amdsmi GPUs 0 and 1 are one module, 2 and 3 the next, and so on (what AMD's
tools and Zeus assume too). A GPU is taken as a die of a two-die module only when its
name says MI250 (``"AMD Instinct MI250X"``, ``"AMD Instinct MI250X/MI250"``), and as the
second die only when it reads no power and no energy while its partner reads them (or
amdsmi lists no partner); two dies that both read are each measured on their own.

Used by :class:`~nlpfootprint.meters.amd.AmdSmiMeter`, which counts a module once: on its
first die's channel when both dies are measured, and by an estimate for a second die
measured without its first (see :func:`die_role`).
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["FIRST", "SECOND", "UNPAIRED", "DieRole", "die_role", "is_two_die", "partner_of"]

#: The die amdsmi reads its module's power and energy on, for both dies.
FIRST: Final = "first"
#: The die that reads nothing: its power and energy are in its first die's readings.
SECOND: Final = "second"
#: A die that reads, whose partner amdsmi does not list: perhaps the whole module.
UNPAIRED: Final = "unpaired"

DieRole = Literal["", "first", "second", "unpaired"]

#: Market or board names of two-die modules (case-insensitive substrings).
_TWO_DIE_NAMES = ("mi250",)


def is_two_die(*names: str | None) -> bool:
    """Whether any of a GPU's names (market name, board product name) is a two-die module.

    >>> is_two_die("AMD Instinct MI250X"), is_two_die(None, "AMD Instinct MI250X/MI250")
    (True, True)
    >>> is_two_die("AMD Instinct MI210"), is_two_die("AMD Instinct MI300X", None)
    (False, False)
    """
    return any(part in name.lower() for name in names if name for part in _TWO_DIE_NAMES)


def partner_of(index: int) -> int:
    """The amdsmi index of the other die of the module that GPU ``index`` belongs to.

    >>> [partner_of(i) for i in range(4)]
    [1, 0, 3, 2]
    """
    return index ^ 1


def die_role(*, reads: bool, partner_reads: bool | None) -> DieRole:
    """The part one die of a two-die module plays in measuring it.

    Args:
        reads: Whether the die reports a power or an energy above zero.
        partner_reads: Whether its partner does, or None where amdsmi lists no partner
            that is a die of a two-die module (or the partner does not answer).

    Returns:
        :data:`FIRST` (it reads, its partner does not: its readings are the module's),
        :data:`SECOND` (it reads nothing, its partner reads, or there is no partner to
        read), :data:`UNPAIRED` (it reads, and there is no partner to compare with), or
        ``""`` (both read, each its own; or neither does, and nothing tells them apart).

    >>> die_role(reads=True, partner_reads=False), die_role(reads=False, partner_reads=True)
    ('first', 'second')
    >>> die_role(reads=False, partner_reads=None), die_role(reads=True, partner_reads=None)
    ('second', 'unpaired')
    >>> die_role(reads=True, partner_reads=True), die_role(reads=False, partner_reads=False)
    ('', '')
    """
    if partner_reads is None:
        return UNPAIRED if reads else SECOND
    if reads != partner_reads:
        return FIRST if reads else SECOND
    return ""
