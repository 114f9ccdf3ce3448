"""Where a figure came from, as fields: backend, device, method and the basis of an estimate.

Channels (:class:`~nlpfootprint.meters.base.Channel`) and channel reports carry these
values so that every rendering can say how a number was obtained without reading it back
out of a human label. The label stays, for people; these are the facts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, SupportsIndex, TypeVar

import attrs

from nlpfootprint.checks import MAX_COUNT, optional_text, text, whole_number
from nlpfootprint.errors import ConfigurationError

__all__ = [
    "Backend",
    "Basis",
    "Device",
    "EstimateBasis",
    "Method",
    "as_enum",
    "method_of",
    "to_backend",
    "to_basis",
    "to_method",
]


class Method(enum.StrEnum):
    """How a channel's energy was obtained. Members compare equal to plain strings."""

    COUNTER = "counter"  #: differences of a cumulative energy counter (exact)
    SAMPLED = "sampled"  #: power samples integrated over time
    ESTIMATED = "estimated"  #: a model (TDP x load, rated power, ...), not a measurement
    #: a device's measured energy x this process tree's share of the device (the share is
    #: estimated: SM utilisation, else memory; see :mod:`nlpfootprint.meters.gpushare`)
    ATTRIBUTED = "attributed"


class Backend(enum.StrEnum):
    """Which part of nlpfootprint (or of the user's code) produced the readings."""

    NVML = "nvml"
    AMDSMI = "amdsmi"
    RAPL = "rapl"
    PYRAPL = "pyrapl"
    ESTIMATED = "estimated"
    FAKE = "fake"
    USER = "user"  #: a meter the user wrote

    @property
    def display(self) -> str:
        """The name a sentence uses (``NVML``, ``amdsmi``, ``RAPL``, ``pyRAPL``; empty for the
        rest)."""
        names = {"nvml": "NVML", "amdsmi": "amdsmi", "rapl": "RAPL", "pyrapl": "pyRAPL"}
        return names.get(self.value, "")


class Basis(enum.StrEnum):
    """What an estimate is built on."""

    TDP = "tdp"  #: CPU thermal design power x load
    POWER_LIMIT_X_UTILISATION = "power_limit_x_utilisation"  #: a GPU with no power reading
    RATED_POWER = "rated_power"  #: a device's rated power from the hardware table
    GIVEN_POWER = "given_power"  #: a power the user stated
    MEMORY = "memory"  #: DRAM watts per GiB installed
    PROCESS_SHARE = "process_share"  #: a GPU's measured energy x this process tree's share


T = TypeVar("T", bound=enum.StrEnum)


def as_enum(kind: type[T], value: object, what: str) -> T:
    """``value`` as a member of ``kind``; the error names the value and what is allowed
    (a value that is not a string is a type error)."""
    allowed = ", ".join(repr(m.value) for m in kind)
    name = str(text(what, value, what=f"one of {allowed}"))
    try:
        return kind(name)
    except ValueError:
        raise ConfigurationError(f"{what} {value!r} is not one of {allowed}") from None


def to_backend(value: object) -> Backend:
    """``value`` as a :class:`Backend` (an attrs converter)."""
    return as_enum(Backend, value, "backend")


def to_method(value: object) -> Method:
    """``value`` as a :class:`Method` (an attrs converter)."""
    return as_enum(Method, value, "method")


def to_basis(value: object) -> Basis:
    """``value`` as a :class:`Basis` (an attrs converter)."""
    return as_enum(Basis, value, "estimate basis")


def _name(_instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    text(attribute.name, value)


def _optional_name(_instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    optional_text(attribute.name, value)


def _index(value: SupportsIndex | None) -> int | None:
    """A driver's device number (any integral value, kept as an int), or None."""
    if value is None:
        return None
    return whole_number("index", value, what="a device index", maximum=MAX_COUNT)


def _count(value: SupportsIndex) -> int:
    """How many devices (any integral value, kept as an int): 1 to MAX_COUNT."""
    return whole_number(
        "count", value, what="a whole number of devices", minimum=1, maximum=MAX_COUNT
    )


@attrs.frozen
class Device:
    """Which hardware a channel measures.

    Attributes:
        name: The model, e.g. ``"NVIDIA H100 80GB HBM3"`` or ``"Tesla V100 SXM2"``.
        index: The device's index as its driver numbers it (NVML index, RAPL package).
        uuid: A unique id where the driver gives one (NVIDIA GPU UUID).
        host: The machine's name.
        count: How many such devices the channel stands for (an estimate of 64 GPUs: 64),
            from 1 to :data:`~nlpfootprint.checks.MAX_COUNT`.

    Each field takes only its own type (a ``TypeError`` otherwise); ``index`` and ``count``
    take any integral value (numpy integers too) and keep it as an ``int``.
    """

    name: str = attrs.field(default="", validator=_name)
    index: int | None = attrs.field(default=None, converter=_index)
    uuid: str | None = attrs.field(default=None, validator=_optional_name)
    host: str | None = attrs.field(default=None, validator=_optional_name)
    count: int = attrs.field(default=1, converter=_count)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Device | None:
        """Read :meth:`to_dict` output back (None stays None)."""
        return None if data is None else cls(**data)


@attrs.frozen
class EstimateBasis:
    """What an estimated channel's figures rest on.

    Attributes:
        basis: The kind of model (:class:`Basis`).
        rated_w: The power the model starts from (a TDP, a power limit, a rated power, W/GiB
            for memory), or None.
        source: Where that power comes from (a table and its source, ``"given"``).
        scope: ``"machine"`` (every process's load) or ``"process"`` (this process tree's
            share), or None where it does not apply.
    """

    basis: Basis = attrs.field(converter=to_basis)
    rated_w: float | None = None
    source: str = ""
    scope: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**attrs.asdict(self), "basis": self.basis.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EstimateBasis | None:
        """Read :meth:`to_dict` output back (None stays None)."""
        return None if data is None else cls(**data)


def method_of(kind: str, *, estimated: bool, basis: Basis | None = None) -> Method:
    """The :class:`Method` of a channel of ``kind`` (energy or power), ``estimated`` or
    not, resting on ``basis`` (an estimate's): ``attributed`` for a share of a measured
    device (:attr:`Basis.PROCESS_SHARE`)."""
    if estimated:
        return Method.ATTRIBUTED if basis is Basis.PROCESS_SHARE else Method.ESTIMATED
    return Method.COUNTER if kind == "energy" else Method.SAMPLED
