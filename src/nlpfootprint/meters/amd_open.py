"""Opening AMD GPUs through amdsmi: how each one is read, decided once.

For :class:`~nlpfootprint.meters.amd.AmdSmiMeter` (whose docstring gives the order: the
energy counter, else power, else an estimate), :class:`AmdOpener` names every GPU amdsmi
lists, opens those chosen, picks how to read each, and settles two-die modules
(:mod:`nlpfootprint.meters.amd_dies`) once all are open, since a die's channel depends on
whether its partner is measured. What it finds worth saying goes to ``notes``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from nlpfootprint.errors import MeterUnavailableError
from nlpfootprint.meters.amd_devices import AmdIdentity, cap_watts, number, power_watts, text_value
from nlpfootprint.meters.amd_dies import (
    FIRST,
    SECOND,
    UNPAIRED,
    DieRole,
    die_role,
    is_two_die,
    partner_of,
)
from nlpfootprint.meters.amd_errors import BUSY, LOST, SERIOUS, code_of, translate

__all__ = ["POWER_FIELDS", "AmdGpuInfo", "AmdOpener"]

log = logging.getLogger("nlpfootprint")

#: The socket powers amdsmi reports, in the order they are preferred.
POWER_FIELDS = ("current_socket_power", "average_socket_power")

_T = TypeVar("_T")


@attrs.frozen
class AmdGpuInfo:
    """What the meter recorded about one GPU when it was created.

    Attributes:
        index: amdsmi index (``amd-smi list``'s ``GPU: N``).
        name: Market name, e.g. ``"AMD Instinct MI300X"``.
        uuid: HIP's ``GPU-...`` UUID where amdsmi reports it (ROCm 6.4 and newer), else
            amdsmi's own UUID of the GPU, or None where it gives none.
        serial: ASIC serial (``0x`` and 16 hex digits) or board serial, or None.
        power_limit_w: Current power cap, or None when amdsmi does not say; for the second
            die of a two-die module (which reports none), half its module's.
        mode: ``"counter"``, ``"power"`` or ``"estimated"``.
        max_power_w: The most the GPU can draw: the highest cap it can be set to (and at
            least the current one), or None when amdsmi says neither.
        hip_index: HIP's index of the GPU before any visibility variable, where amdsmi
            reports it (ROCm 6.4 and newer).
        source: What is read: the counter's key (``energy_accumulator``, or ``power`` in
            bindings older than ROCm 6.2.1), the power field, or ``gfx_activity``.
        resolution_uj: The energy counter's resolution in microjoules (counter mode).
        die: For a die of an MI250/MI250X module (:mod:`~nlpfootprint.meters.amd_dies`):
            ``"first"`` (its readings are the whole module's, both dies), ``"second"``
            (measured without its first die: estimated), ``"unpaired"`` (amdsmi lists no
            other die beside it); ``""`` for any other GPU.
        partner: The amdsmi index of the module's other die (a first die's; a second
            die's where amdsmi shows it), else None.
    """

    index: int
    name: str
    uuid: str | None
    serial: str | None
    power_limit_w: float | None
    mode: str
    max_power_w: float | None = None
    hip_index: int | None = None
    source: str = ""
    resolution_uj: float | None = None
    die: str = ""
    partner: int | None = None


@attrs.frozen
class _SecondDie:
    """A module's second die, found while opening: measured or not once all are open."""

    identity: AmdIdentity
    name: str
    serial: str | None
    partner: int | None  # None where amdsmi shows no first die for it


class AmdOpener:
    """Opens AMD GPUs once and decides how each is read.

    Args:
        amdsmi: An ``amdsmi``-like module, initialised.
        mode: ``"auto"``, ``"counter"`` or ``"power"`` (see the meter).
        first_channel: The number of the meter's first channel (for the notes).

    Attributes:
        notes: Caveats found while opening (a GPU left out, the way one is read).
    """

    def __init__(self, amdsmi: Any, *, mode: str, first_channel: int) -> None:
        self._amd = amdsmi
        self._error_type: type[BaseException] = getattr(amdsmi, "AmdSmiException", Exception)
        self._mode = mode
        self._first = first_channel
        self.notes: list[str] = []

    def _optional(self, name: str, handle: Any) -> Mapping[str, Any] | None:
        """An amdsmi query that a GPU or a version may lack: its dict, or None if it does.

        An error that is not about this query (:data:`~nlpfootprint.meters.amd_errors.SERIOUS`:
        permission, driver, a lost GPU) propagates, untranslated: the caller decides what
        a lost GPU means.
        """
        try:
            result = getattr(self._amd, name)(handle)
        except AttributeError:  # bindings too old to have the function
            return None
        except self._error_type as err:
            if code_of(err) in SERIOUS:
                raise
            return None
        return result if isinstance(result, Mapping) else None

    def _text(self, name: str, handle: Any) -> str | None:
        """A string query (the UUID) that may fail: its text, or None."""
        try:
            return text_value(getattr(self._amd, name)(handle))
        except (self._error_type, AttributeError):
            return None

    # -- construction -----------------------------------------------------------------

    def identity(self, index: int, handle: Any) -> AmdIdentity:
        """The ways GPU ``index`` can be named (a lost GPU: by its index only)."""
        try:
            enum = self._optional("amdsmi_get_gpu_enumeration_info", handle) or {}
            asic = self._optional("amdsmi_get_gpu_asic_info", handle) or {}
        except self._error_type:  # a lost GPU: named by index only; opening it says more
            enum, asic = {}, {}
        hip = enum.get("hip_id")
        return AmdIdentity(
            index=index,
            hip_index=hip if isinstance(hip, int) and not isinstance(hip, bool) else None,
            uuid=self._text("amdsmi_get_gpu_device_uuid", handle),
            hip_uuid=text_value(enum.get("hip_uuid")),
            serial=text_value(asic.get("asic_serial")),
        )

    def _attempt(self, index: int, open_: Callable[[], _T]) -> _T | None:
        """``open_()``; a GPU lost or busy meanwhile is left out with a note (None)."""
        try:
            return open_()
        except self._error_type as err:
            if code_of(err) not in (*LOST, *BUSY):
                raise translate(err, f"opening GPU {index}") from err
            self.notes.append(f"{translate(err, f'GPU {index}')}: not measured")
            return None

    def open(
        self, wanted: list[AmdIdentity], handles: list[Any]
    ) -> tuple[tuple[AmdGpuInfo, ...], list[Any]]:
        """Open the GPUs ``wanted`` (channel order): what is recorded about each measured
        one, and its handle.

        Raises:
            MeterUnavailableError: None can be read (the notes say why).
        """
        opened: list[tuple[Any, AmdGpuInfo | _SecondDie]] = []
        for identity in wanted:
            handle = handles[identity.index]
            found = self._attempt(
                identity.index, functools.partial(self._open_one, identity, handle, handles)
            )
            if found is not None:
                opened.append((handle, found))
        measured = {found.index for _, found in opened if isinstance(found, AmdGpuInfo)}
        covered: list[tuple[_SecondDie, int]] = []  # each with its first die
        infos: list[AmdGpuInfo] = []
        kept: list[Any] = []
        for handle, found in opened:
            info: AmdGpuInfo | None
            if not isinstance(found, _SecondDie):
                info = found
            elif found.partner is not None and found.partner in measured:
                covered.append((found, found.partner))  # its first die's channel carries it
                info = None
            else:
                second = functools.partial(self._second_die, found, handle, handles)
                info = self._attempt(found.identity.index, second)
            if info is not None:
                infos.append(info)
                kept.append(handle)
        self._note_dies(infos, covered, {g.index for g in wanted})
        if not infos:
            raise MeterUnavailableError(
                "no visible AMD GPU reports energy, power or activity through amdsmi: "
                + "; ".join(self.notes)
            )
        return tuple(infos), kept

    def _note_dies(
        self, infos: list[AmdGpuInfo], covered: list[tuple[_SecondDie, int]], wanted: set[int]
    ) -> None:
        """The notes on two-die modules that need every GPU opened (the channel ids)."""
        channel = {info.index: f"gpu:{self._first + n}" for n, info in enumerate(infos)}
        for die, first in covered:
            self.notes.append(
                f"GPU {die.identity.index} ({die.name}) is the second die of a two-die "
                f"module, whose power and energy amdsmi reports on GPU {first} for both "
                f"dies: covered by {channel[first]}, its package's first die"
            )
        for info in infos:
            gpu = f"GPU {info.index} ({info.name})"
            if info.die == FIRST and info.partner not in wanted:
                self._warn(
                    f"{gpu} is the first die of a two-die module, and amdsmi reports the power "
                    f"and energy of both dies on it: {channel[info.index]} includes those of "
                    f"GPU {info.partner}, which is not measured here, whoever uses it"
                )
            elif info.die == UNPAIRED:
                self.notes.append(
                    f"{gpu} is a die of a two-die module, and amdsmi lists no other die beside "
                    "it: where ROCm reports the module's power on this die, "
                    f"{channel[info.index]} includes the other die's"
                )

    def _warn(self, note: str) -> None:
        """A note that also goes to the log as a warning: a figure the user must know."""
        self.notes.append(note)
        log.warning("nlpfootprint: %s", note)

    def _open_one(
        self, identity: AmdIdentity, handle: Any, handles: list[Any]
    ) -> AmdGpuInfo | _SecondDie | None:
        asic = self._optional("amdsmi_get_gpu_asic_info", handle) or {}
        board = self._optional("amdsmi_get_gpu_board_info", handle) or {}
        market = text_value(asic.get("market_name"))
        product = text_value(board.get("product_name"))
        name = market or product or "AMD GPU"
        serial = identity.serial or text_value(board.get("product_serial"))
        partner = partner_of(identity.index)
        role: DieRole = ""
        partner_reads: bool | None = None
        if is_two_die(market, product):
            partner_reads = self._partner_reads(partner, handles)
            role = die_role(reads=self._reads(handle), partner_reads=partner_reads)
        if role == SECOND:
            shown = partner if partner_reads is not None else None
            return _SecondDie(identity, name, serial, shown)
        limit_w, most_w = self._power_caps(handle)
        how = self._probe(handle, f"GPU {identity.index} ({name})", limit_w)
        if how is None:
            return None
        mode, source, resolution = how
        return AmdGpuInfo(
            index=identity.index,
            name=name,
            uuid=identity.hip_uuid or identity.uuid,
            serial=serial,
            power_limit_w=limit_w,
            mode=mode,
            max_power_w=most_w,
            hip_index=identity.hip_index,
            source=source,
            resolution_uj=resolution,
            die=role,
            partner=partner if role == FIRST else None,
        )

    def _reads(self, handle: Any) -> bool:
        """Whether a GPU reports an energy or a power above zero now."""
        energy = self._optional("amdsmi_get_energy_count", handle) or {}
        if number(energy.get("energy_accumulator", energy.get("power"))):
            return True
        power = self._optional("amdsmi_get_power_info", handle) or {}
        return any(power_watts(power.get(field)) for field in POWER_FIELDS)

    def _partner_reads(self, partner: int, handles: list[Any]) -> bool | None:
        """Whether the other die of a two-die module reads (see :meth:`_reads`), or None
        where amdsmi lists no such die there, or it does not answer."""
        if partner >= len(handles):
            return None
        other = handles[partner]
        try:
            asic = self._optional("amdsmi_get_gpu_asic_info", other) or {}
            board = self._optional("amdsmi_get_gpu_board_info", other) or {}
            names = (text_value(asic.get("market_name")), text_value(board.get("product_name")))
            return self._reads(other) if is_two_die(*names) else None
        except self._error_type:  # lost: nothing to compare with
            return None

    def _second_die(self, die: _SecondDie, handle: Any, handles: list[Any]) -> AmdGpuInfo | None:
        """A second die measured without its first: half the module's cap x its activity,
        or None (noted) where that is not known or the mode forbids an estimate."""
        first = (
            "its first die, which amdsmi does not show here"
            if die.partner is None
            else f"its first die, GPU {die.partner}, not measured here"
        )
        what = (
            f"GPU {die.identity.index} ({die.name}) is the second die of a two-die module, whose "
            f"power and energy amdsmi reports only on {first}, for both dies together: the "
            "module's energy cannot be split between its dies"
        )
        if self._mode != "auto":
            self._warn(f"{what}; mode {self._mode!r} allows no estimate: not measured")
            return None
        limit_w, most_w = None, None
        if die.partner is not None:
            with contextlib.suppress(self._error_type):  # lost: the second die's own caps
                limit_w, most_w = self._power_caps(handles[die.partner])
        if limit_w is None:
            limit_w, most_w = self._power_caps(handle)
        activity = self._optional("amdsmi_get_gpu_activity", handle) or {}
        if limit_w is None or number(activity.get("gfx_activity")) is None:
            self._warn(
                f"{what}, and the module's power cap or this die's GFX activity is unknown: "
                "not measured"
            )
            return None
        self._warn(
            f"{what}, so this die is estimated as half the module's power cap "
            f"({limit_w / 2:g} W of {limit_w:g} W) x its GFX activity"
        )
        return AmdGpuInfo(
            index=die.identity.index,
            name=die.name,
            uuid=die.identity.hip_uuid or die.identity.uuid,
            serial=die.serial,
            power_limit_w=limit_w / 2,
            mode="estimated",
            max_power_w=(most_w or limit_w) / 2,
            hip_index=die.identity.hip_index,
            source="gfx_activity",
            die=SECOND,
            partner=die.partner,
        )

    def _power_caps(self, handle: Any) -> tuple[float | None, float | None]:
        """(current cap, highest settable cap, at least the current one) in watts."""
        caps = self._optional("amdsmi_get_power_cap_info", handle) or {}
        limit = cap_watts(caps.get("power_cap"))
        if limit is None:
            info = self._optional("amdsmi_get_power_info", handle) or {}
            limit = cap_watts(info.get("power_limit"))
        known = [w for w in (limit, cap_watts(caps.get("max_power_cap"))) if w is not None]
        return limit, max(known) if known else None

    def _probe(
        self, handle: Any, gpu: str, limit_w: float | None
    ) -> tuple[str, str, float | None] | None:
        """Pick how to read one GPU: (mode, source, counter resolution), or None (noted)."""
        old_counter: float | None = None  # a counter under its pre-6.2.1 name: auto mode
        if self._mode in ("auto", "counter"):
            energy = self._optional("amdsmi_get_energy_count", handle) or {}
            resolution = number(energy.get("counter_resolution"))
            if resolution:
                if "energy_accumulator" in energy:
                    return "counter", "energy_accumulator", resolution
                if "power" in energy and self._mode == "counter":
                    return "counter", "power", resolution
                if "power" in energy:
                    old_counter = resolution
        if self._mode in ("auto", "power"):
            power = self._optional("amdsmi_get_power_info", handle) or {}
            for field in POWER_FIELDS:
                watts = power_watts(power.get(field))
                if watts is None:
                    continue
                if old_counter is not None:
                    self.notes.append(
                        f"{gpu}: these amdsmi bindings predate ROCm 6.2.1, whose energy "
                        "counter was seen standing still on some GPUs (ROCm/amdsmi issue 38): "
                        "read through its power instead (mode='counter' insists on the counter)"
                    )
                if watts == 0:
                    self.notes.append(
                        f"{gpu} reads 0 W now ({field}), which no GPU that is on draws: check "
                        "amd-smi; while it reads 0 W, its energy counts as zero"
                    )
                return "power", field, None
        if old_counter is not None:
            self.notes.append(
                f"{gpu}: these amdsmi bindings predate ROCm 6.2.1, and it reports no power, so "
                "it is read through its energy counter, which with those ROCm versions was seen "
                "standing still on some GPUs (ROCm/amdsmi issue 38): if its energy stays at "
                "zero, update ROCm"
            )
            return "counter", "power", old_counter
        if self._mode != "auto":
            self.notes.append(f"{gpu} cannot be read in mode {self._mode!r}")
            return None
        activity = self._optional("amdsmi_get_gpu_activity", handle) or {}
        if limit_w is not None and number(activity.get("gfx_activity")) is not None:
            self.notes.append(
                f"{gpu} reports neither energy nor power: estimated as its power cap "
                f"({limit_w:g} W) x GFX activity"
            )
            return "estimated", "gfx_activity", None
        self.notes.append(f"{gpu} reports neither energy, power nor activity: not measured")
        return None
