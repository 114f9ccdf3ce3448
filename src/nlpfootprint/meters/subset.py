"""Some of a meter's channels: what one rank of a distributed job measures of a meter.

:class:`ChannelSubset` reads the meter it wraps and hands on the values of the channels it
keeps; the optional members (``sync``, ``sync_job``, ``notes``, ``max_interval_s``,
``reads_inline``) are the wrapped meter's, and ``attribution`` is its, of the kept
channels. Closing it closes the wrapped meter.
"""

from __future__ import annotations

from collections.abc import Sequence

from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters.base import Channel, PowerMeter

__all__ = ["ChannelSubset"]

_FORWARDED = ("sync", "sync_job", "notes", "max_interval_s", "reads_inline", "final_warnings")


class ChannelSubset:
    """The channels of ``meter`` at ``keep`` (positions in its ``channels``, in order).

    >>> from nlpfootprint.testing import FakeMeter
    >>> gpus = FakeMeter.constant([300.0, 250.0, 200.0], domain="gpu")
    >>> two = ChannelSubset(gpus, [0, 2])
    >>> [c.id for c in two.channels], two.read()
    (['gpu:0', 'gpu:2'], [300.0, 200.0])
    """

    def __init__(self, meter: PowerMeter, keep: Sequence[int]) -> None:
        channels = tuple(meter.channels)
        positions = tuple(keep)
        if (
            not positions
            or list(positions) != sorted(set(positions))
            or not all(0 <= p < len(channels) for p in positions)
        ):
            raise ConfigurationError(
                f"keep={list(positions)!r}: expected increasing positions among the "
                f"{len(channels)} channel(s) of {meter!r:.120}"
            )
        self.meter = meter
        self.keep = positions
        self._width = len(channels)
        self.channels: tuple[Channel, ...] = tuple(channels[p] for p in positions)
        for name in _FORWARDED:
            if hasattr(meter, name):
                setattr(self, name, getattr(meter, name))

    @property
    def attribution(self) -> tuple[object, ...]:
        """The wrapped meter's per-channel attribution (process scope), of the kept
        channels only (a live view: it is read at the run's start and at its end)."""
        kept = {c.id for c in self.channels}
        found = getattr(self.meter, "attribution", None) or ()
        return tuple(a for a in found if getattr(a, "channel_id", None) in kept)

    def read(self) -> list[float]:
        """The wrapped meter's reading, the kept channels' values only."""
        values = self.meter.read()
        if len(values) != self._width:
            raise ValueError(
                f"{self.meter!r:.120} gave {len(values)} value(s) for its {self._width} channel(s)"
            )
        return [values[p] for p in self.keep]

    def close(self) -> None:
        """Close the wrapped meter."""
        self.meter.close()

    def __repr__(self) -> str:
        ids = ", ".join(c.id for c in self.channels)
        return f"{self.meter!r:.160} [{ids}]"
