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
  It runs on a worker thread of the meter's (bounded by ``read_timeout_s``); a meter whose
  sync depends on the calling thread can add ``sync_job()``, called in the user's thread,
  which returns what the worker runs (the NVML meter binds the caller's CUDA device);
* ``reads_inline`` (bool): ``True`` promises that ``read()``, ``sync()`` and ``close()``
  never block (the estimated meters: a read of ``/proc/stat``, a constant), so they are
  called in the sampling thread itself, without a worker thread's two hand-offs per
  reading. Leave it out for anything that talks to a driver or a file system that can hang.

Every reading is bounded by what its device can physically draw,
:attr:`Channel.power_bound_w`: :data:`POWER_OVERSHOOT` x the channel's ``max_power_w``
(the device's own maximum, from NVML, RAPL, a TDP table or the user), or, when it states
none, :data:`DEFAULT_MAX_POWER_W` for its domain x the devices it stands for. The ledger
refuses a power sample above the bound, and a counter rise beyond what the bound allows
in the time elapsed (plus :data:`COUNTER_SLACK_S`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from nlpfootprint.checks import MAX_POWER_W, at_most, flag, instance, positive, text
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.provenance import Backend, Device, EstimateBasis, Method, method_of, to_backend

__all__ = [
    "COUNTER_SLACK_S",
    "DEFAULT_MAX_POWER_W",
    "POWER_OVERSHOOT",
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


#: The most one device of each domain is taken to draw when its channel states no
#: ``max_power_w``, in watts: generous on purpose, to refuse only what no such device can
#: draw (a glitch reading 1e9 W, a counter jumping by 1e12 J), never a real reading.
#:
#: * ``gpu``: 4 kW, four times the largest accelerator module in the shipped table
#:   ``data/hardware_power.csv`` (NVIDIA B200 and GH200, 1,000 W);
#: * ``cpu``: 2 kW, four times the largest package TDP in ``data/cpu_tdp.csv`` (500 W:
#:   AMD EPYC 9965, Intel Xeon 6980P);
#: * ``dram``: 2.5 kW per zone: 6 TiB (24 modules of 256 GB, more than a server socket
#:   holds today) at the 3 W per 8 GB that the estimated DRAM meter assumes (Crucial);
#: * ``other`` (a whole node or platform): 200 kW, more than a rack of today's densest
#:   accelerator servers draws.
DEFAULT_MAX_POWER_W: Mapping[str, float] = MappingProxyType(
    {"gpu": 4_000.0, "cpu": 2_000.0, "dram": 2_500.0, "other": 200_000.0}
)
#: How far a reading may exceed a channel's stated ``max_power_w`` before it is refused:
#: power limits hold an average, and devices overshoot them for milliseconds (GPU power
#: excursions), sensors have errors, and a counter's updates come in steps.
POWER_OVERSHOOT = 2.0
#: Seconds added to the time between two counter reads when judging the rise: a reading's
#: time is the middle of its read, and counters update in steps, so a rise may cover a
#: little more time than the timestamps say.
COUNTER_SLACK_S = 1.0


def to_domain(value: Domain | str) -> Domain:
    """``value`` as a :class:`Domain`; the error names it and the domains allowed (a value
    that is not a string is a type error)."""
    allowed = ", ".join(repr(d.value) for d in Domain)
    name = text("domain", value, what=f"one of {allowed}")
    try:
        return Domain(name)
    except ValueError:
        raise ConfigurationError(f"domain {value!r} is not one of {allowed}") from None


def check_kind(_instance: object, _attribute: object, value: str) -> None:
    """An attrs validator: a channel kind is ``energy`` or ``power``."""
    if text("kind", value, what="'energy' or 'power'") not in _KINDS:
        raise ConfigurationError(f"channel kind {value!r} is not one of 'energy', 'power'")


def _max_energy(value: float | None) -> float | None:
    """A counter's wrap range in joules (> 0, finite), or None for one that does not wrap."""
    return None if value is None else positive("max_energy_j", value)


def _max_power(value: float | None) -> float | None:
    """The most the channel's devices draw in watts (> 0, at most MAX_POWER_W), or None."""
    if value is None:
        return None
    power_w = positive("max_power_w", value)
    return at_most("max_power_w", value, power_w, MAX_POWER_W, "watts, a petawatt")


def _text(_instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    text(attribute.name, value)


def _flag(_instance: object, attribute: attrs.Attribute[Any], value: bool) -> None:
    flag(attribute.name, value)


def _device(_instance: object, _attribute: object, value: Device | None) -> None:
    if value is not None:
        instance("device", value, Device, "a Device or None")


def _check_basis(channel: Channel, _attribute: object, value: EstimateBasis | None) -> None:
    if value is None:
        return
    basis = instance("basis", value, EstimateBasis, "an EstimateBasis or None")
    if not channel.estimated:
        raise ConfigurationError(
            f"channel {channel.id!r} has an estimate basis ({basis.basis}) but estimated=False"
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
        max_power_w: The most the device (all the devices the channel stands for) can
            draw, in watts, when known: a GPU's highest settable power limit, a RAPL
            zone's stated maximum, a CPU's TDP. Readings are bounded by it (see
            :attr:`power_bound_w`).

    ``method`` (a property) is ``counter``, ``sampled`` or ``estimated``; ``source`` is the
    same as a plain string.

    Each field takes only its own type (a ``TypeError`` otherwise). ``max_energy_j`` and
    ``max_power_w`` take any real number (numpy numbers too) and keep it as a ``float``;
    ``max_power_w`` is at most :data:`~nlpfootprint.checks.MAX_POWER_W`.
    """

    id: str = attrs.field(validator=_text)
    domain: Domain = attrs.field(converter=to_domain)
    kind: ChannelKind = attrs.field(validator=check_kind)
    label: str = attrs.field(default="", validator=_text)
    estimated: bool = attrs.field(default=False, validator=_flag)
    max_energy_j: float | None = attrs.field(default=None, converter=_max_energy)
    backend: Backend = attrs.field(default=Backend.USER, converter=to_backend)
    device: Device | None = attrs.field(default=None, validator=_device)
    basis: EstimateBasis | None = attrs.field(default=None, validator=_check_basis)
    max_power_w: float | None = attrs.field(default=None, converter=_max_power)

    @property
    def power_bound_w(self) -> float:
        """The most power a reading may show, or a counter's rise imply, before the ledger
        refuses it as physically impossible, in watts: :data:`POWER_OVERSHOOT` x
        ``max_power_w``, or :data:`DEFAULT_MAX_POWER_W` of the domain x the devices the
        channel stands for.

        >>> Channel("gpu:0", "gpu", "power", max_power_w=700.0).power_bound_w
        1400.0
        >>> Channel("gpu:0-7", "gpu", "power", device=Device("A100", count=8)).power_bound_w
        32000.0
        """
        if self.max_power_w is not None:
            return POWER_OVERSHOOT * self.max_power_w
        return DEFAULT_MAX_POWER_W[self.domain.value] * self.device_count

    @property
    def power_bound_basis(self) -> str:
        """Where :attr:`power_bound_w` comes from, for warnings."""
        if self.max_power_w is not None:
            return f"{POWER_OVERSHOOT:g} x its maximum of {self.max_power_w:g} W"
        devices, domain = self.device_count, self.domain.value
        what = f"one {domain} device" if devices == 1 else f"{devices} {domain} devices"
        return f"no maximum stated: the default for {what}"

    @property
    def device_count(self) -> int:
        """How many devices the channel stands for (1 unless its device says)."""
        return 1 if self.device is None else self.device.count

    @property
    def method(self) -> Method:
        """How this channel's energy is obtained (counter, sampled, estimated, or attributed:
        a measured device's energy split by an estimated share)."""
        basis = None if self.basis is None else self.basis.basis
        return method_of(self.kind, estimated=self.estimated, basis=basis)

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
            "max_power_w": self.max_power_w,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Channel:
        """Read :meth:`to_dict` output back (KeyError/TypeError/ValueError if malformed;
        :func:`nlpfootprint.legacy.upgrade_header_channel` fills what older versions left
        out)."""
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
            max_power_w=data["max_power_w"],
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
    if callable(getattr(type(obj), "channels", None)):  # `def channels(self)`, no @property
        raise ConfigurationError(
            f"{type(obj).__name__} meter: its channels is a method, not a property; write "
            "@property above `def channels(self)`, or set channels to a tuple of Channel"
        )
    try:
        channels: tuple[object, ...] | None = tuple(obj.channels)  # type: ignore[attr-defined]
    except AttributeError:
        channels = None
    except Exception as err:  # a meter's own bug, named as such
        raise ConfigurationError(
            f"{type(obj).__name__} meter: reading its channels raised {err!r:.200}; a meter's "
            "channels must be a fixed, non-empty sequence of Channel"
        ) from err
    missing = [name for name in ("read", "close") if not hasattr(obj, name)]
    if channels is None:
        missing.insert(0, "channels")
    if missing:
        raise ConfigurationError(
            f"{obj!r} is not a meter: it lacks {', '.join(missing)} (a meter needs "
            "channels, read() and close(); see nlpfootprint.meters.base)"
        )
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
