"""The parts :class:`~nlpfootprint.testing.FakeMeter` is built from (private).

Channels for a fake meter (ids, domains and labels checked), per-channel values, and the
seconds since a fake's first read on a given clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from nlpfootprint.checks import nonnegative
from nlpfootprint.clock import Clock, MonotonicClock
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters.base import Channel, ChannelKind, Domain
from nlpfootprint.provenance import Backend

__all__ = ["Elapsed", "fake_channels", "per_channel"]


def fake_channels(
    count: int,
    *,
    domain: Domain | str | Sequence[Domain | str],
    kind: ChannelKind,
    ids: Sequence[str] | None,
    labels: Sequence[str] | None,
    estimated: bool,
    max_energy_j: float | None = None,
) -> tuple[Channel, ...]:
    """``count`` channels of a fake meter, with ids such as ``gpu:0`` unless ``ids`` given.

    Raises:
        ConfigurationError: ``domain`` (a list), ``ids`` or ``labels`` do not give one
            entry per channel, or ``ids``/``labels`` is a string.
    """
    domains = [domain] * count if isinstance(domain, str) else list(domain)
    if len(domains) != count:
        raise ConfigurationError(f"got {len(domains)} domains for {count} channels")
    if isinstance(ids, str) or isinstance(labels, str):
        raise ConfigurationError("ids= and labels= take a list of strings, one per channel")
    if ids is None:
        seen: dict[str, int] = {}
        ids = []
        for d in domains:
            name = Domain(d).value if d in tuple(Domain) else str(d)
            ids.append(f"{name}:{seen.get(name, 0)}")
            seen[name] = seen.get(name, 0) + 1
    if len(ids) != count:
        raise ConfigurationError(f"got {len(ids)} ids for {count} channels")
    if labels is not None and len(labels) != count:
        raise ConfigurationError(f"got {len(labels)} labels for {count} channels")
    return tuple(
        Channel(
            id=ids[i],
            domain=domains[i],
            kind=kind,
            label=labels[i] if labels is not None else f"fake {kind} meter",
            estimated=estimated,
            max_energy_j=max_energy_j,
            backend=Backend.FAKE,
        )
        for i in range(count)
    )


def per_channel(name: str, value: float | Sequence[float]) -> list[float]:
    """``value`` (one number or one per channel) as a list of numbers >= 0.

    Raises:
        ConfigurationError: A string, an empty list, or a negative or non-finite number;
            the message names ``name``.
    """
    if isinstance(value, str | bytes):
        raise ConfigurationError(f"{name}={value!r}: expected a number or a list of numbers")
    values = [value] if isinstance(value, int | float) else list(value)
    if not values:
        raise ConfigurationError(f"{name} is empty: give at least one channel's value")
    return [nonnegative(name, v) for v in values]


class Elapsed:
    """Seconds since the first call, on a given clock."""

    __slots__ = ("_clock", "_origin")

    def __init__(self, clock: Clock | None) -> None:
        self._clock = clock if clock is not None else MonotonicClock()
        self._origin: float | None = None

    def __call__(self) -> float:
        now = self._clock.now()
        if self._origin is None:
            self._origin = now
        return now - self._origin
