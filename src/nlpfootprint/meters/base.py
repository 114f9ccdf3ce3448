"""The meter protocol: what every power/energy source looks like to the rest of the library.

A meter has ``channels`` (one per GPU, per CPU package, per DRAM zone, ...) and ``read()``,
which returns one number per channel, in channel order:

* for a channel of kind ``"energy"``, a cumulative energy counter in joules (it may wrap
  at :attr:`Channel.max_energy_j`); the difference between two reads is exact;
* for a channel of kind ``"power"``, the instantaneous power in watts; energy comes from
  integrating the samples over time.

``close()`` releases any hardware handle. The protocol is structural: any object with these
three members is a meter; no base class is needed.

Two optional members are used when present:

* ``max_interval_s`` (float or None): the longest sampling interval at which the meter's
  counters cannot wrap twice between reads; the tracker warns when ``interval_s`` is longer;
* ``sync()``: called before the readings at window boundaries and at stop, so that work a
  device still has queued is counted where it was launched (the NVML meter waits for CUDA).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from nlpfootprint.errors import ConfigurationError
from nlpfootprint.provenance import Backend, Device, EstimateBasis, Method, method_of, to_backend

__all__ = [
    "Channel",
    "ChannelKind",
    "Domain",
    "PowerMeter",
    "as_meter",
    "channel_source",
    "check_channel_ids",
    "check_kind",
    "to_domain",
]

ChannelKind = Literal["energy", "power"]
_KINDS = ("energy", "power")


class Domain(enum.StrEnum):
    """The part of the machine a channel measures. Members compare equal to plain strings."""

    GPU = "gpu"
    CPU = "cpu"
    DRAM = "dram"
    OTHER = "other"


def to_domain(value: Domain | str) -> Domain:
    """``value`` as a :class:`Domain`; the error names it and the domains allowed."""
    try:
        return Domain(value)
    except ValueError:
        allowed = ", ".join(repr(d.value) for d in Domain)
        raise ConfigurationError(f"domain {value!r} is not one of {allowed}") from None


def check_kind(_instance: object, _attribute: object, value: str) -> None:
    """An attrs validator: a channel kind is ``energy`` or ``power``."""
    if value not in _KINDS:
        raise ConfigurationError(f"channel kind {value!r} is not one of 'energy', 'power'")


def _check_max_energy(_instance: object, _attribute: object, value: float | None) -> None:
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ConfigurationError(
            f"max_energy_j={value!r}: a counter's wrap range must be a positive finite number "
            "of joules, or None for a counter that does not wrap"
        )


def _check_basis(instance: Channel, _attribute: object, value: EstimateBasis | None) -> None:
    if value is not None and not instance.estimated:
        raise ConfigurationError(
            f"channel {instance.id!r} has an estimate basis ({value.basis}) but estimated=False"
        )


@attrs.frozen
class Channel:
    """One measured quantity of a meter.

    Attributes:
        id: Unique name within a tracker, such as ``"gpu:0"``, ``"cpu:0"``, ``"dram:0"``.
        domain: Which part of the machine it measures (gpu, cpu, dram, other).
        kind: ``"energy"`` (cumulative joules) or ``"power"`` (watts).
        label: Human description, e.g. ``"NVIDIA A100-SXM4-80GB"`` (for reading only;
            the fields below are the facts).
        estimated: True when the reading comes from a model (TDP x utilisation, ...)
            rather than from a sensor or counter.
        max_energy_j: For energy counters that wrap, the value at which they return to 0.
        backend: Which backend reads it (:class:`~nlpfootprint.provenance.Backend`;
            ``"user"`` for a meter of your own).
        device: The hardware measured (name, index, UUID, host), when known.
        basis: For an estimated channel, what the estimate rests on.

    ``method`` (a property) is ``counter``, ``sampled`` or ``estimated``; ``source`` is the
    same as a plain string.
    """

    id: str = attrs.field(validator=attrs.validators.instance_of(str))
    domain: Domain = attrs.field(converter=to_domain)
    kind: ChannelKind = attrs.field(validator=check_kind)
    label: str = ""
    estimated: bool = False
    max_energy_j: float | None = attrs.field(default=None, validator=_check_max_energy)
    backend: Backend = attrs.field(default=Backend.USER, converter=to_backend)
    device: Device | None = None
    basis: EstimateBasis | None = attrs.field(default=None, validator=_check_basis)

    @property
    def method(self) -> Method:
        """How this channel's energy is obtained (counter, sampled or estimated)."""
        return method_of(self.kind, estimated=self.estimated)

    @property
    def source(self) -> str:
        """:attr:`method` as a plain string (``counter``, ``sampled`` or ``estimated``)."""
        return self.method.value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the run log's header keeps one per channel)."""
        return {
            "id": self.id,
            "domain": self.domain.value,
            "kind": self.kind,
            "label": self.label,
            "estimated": self.estimated,
            "max_energy_j": self.max_energy_j,
            "backend": self.backend.value,
            "device": None if self.device is None else self.device.to_dict(),
            "basis": None if self.basis is None else self.basis.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Channel:
        """Read :meth:`to_dict` output back (KeyError/TypeError/ValueError if malformed)."""
        return cls(
            id=data["id"],
            domain=data["domain"],
            kind=data["kind"],
            label=data["label"],
            estimated=data["estimated"],
            max_energy_j=data["max_energy_j"],
            backend=data["backend"],
            device=Device.from_dict(data["device"]),
            basis=EstimateBasis.from_dict(data["basis"]),
        )


def channel_source(kind: str, *, estimated: bool) -> str:
    """Name the way a channel's energy is obtained, as reports print it."""
    return method_of(kind, estimated=estimated).value


@runtime_checkable
class PowerMeter(Protocol):
    """Structural type of a meter (see the module docstring)."""

    @property
    def channels(self) -> Sequence[Channel]:
        """The meter's channels, fixed when the meter is created."""
        ...

    def read(self) -> Sequence[float]:
        """Return one value per channel: joules (energy counters) or watts (power)."""
        ...

    def close(self) -> None:
        """Release hardware handles. Reading after close is undefined."""
        ...


def as_meter(obj: object) -> PowerMeter:
    """Check that ``obj`` follows the meter protocol; return it typed as a meter."""
    missing = [name for name in ("channels", "read", "close") if not hasattr(obj, name)]
    if missing:
        raise ConfigurationError(
            f"{obj!r} is not a meter: it lacks {', '.join(missing)} (a meter needs "
            "channels, read() and close(); see nlpfootprint.meters.base)"
        )
    try:
        channels = tuple(obj.channels)  # type: ignore[attr-defined]
    except Exception as err:  # a meter's own bug, named as such
        raise ConfigurationError(
            f"{type(obj).__name__} meter: reading its channels raised {err!r:.200}; a meter's "
            "channels must be a fixed, non-empty sequence of Channel"
        ) from err
    if not channels or not all(isinstance(c, Channel) for c in channels):
        raise ConfigurationError(f"{obj!r}.channels must be a non-empty sequence of Channel")
    return obj  # type: ignore[return-value]


def check_channel_ids(meters: Sequence[PowerMeter]) -> tuple[PowerMeter, ...]:
    """Refuse two channels with the same id across ``meters``; return them as a tuple."""
    seen: dict[str, PowerMeter] = {}
    for meter in meters:
        for channel in meter.channels:
            if channel.id in seen:
                raise ConfigurationError(
                    f"two channels are both called {channel.id!r} (from {seen[channel.id]!r} "
                    f"and {meter!r}); give the meters distinct channel ids"
                )
            seen[channel.id] = meter
    return tuple(meters)
