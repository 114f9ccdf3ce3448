"""The meters of one tracker: chosen (``"auto"`` or given), checked, synced and closed.

Meters the tracker found itself (``"auto"``) are its to close; meters a user passed stay
open. Nothing here raises once tracking runs: a failing ``sync()`` or ``close()`` becomes a
warning through the callback given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters.base import Channel, PowerMeter, as_meter, check_channel_ids

__all__ = ["MeterSet"]

Warn = Callable[[str], None]


class MeterSet:
    """Resolve ``spec`` into meters (detecting them for ``"auto"``).

    Attributes:
        meters: The meters, in reading order.
        owned: True when they were detected here (and so are closed here).
        summary: For ``"auto"``, what detection used and why not the rest.
    """

    def __init__(self, spec: Literal["auto"] | Sequence[PowerMeter]) -> None:
        self.summary: str | None = None
        self.owned = spec == "auto"
        if spec == "auto":
            from nlpfootprint.meters.discovery import detect

            detection = detect()
            self.summary = detection.summary()
            if not detection.meters:
                raise ConfigurationError(
                    "meters='auto' found no meter at all on this machine: " + self.summary
                )
            meters: tuple[PowerMeter, ...] = detection.meters
        elif not spec:
            raise ConfigurationError("meters=[]: give at least one meter, or meters='auto'")
        else:
            meters = tuple(as_meter(m) for m in spec)
        self.meters = meters
        self._sync_failed: set[int] = set()
        try:
            check_channel_ids(meters)
        except ConfigurationError:
            self.close(lambda _: None)
            raise

    @property
    def channels(self) -> list[Channel]:
        """Every channel, in reading order."""
        return [c for m in self.meters for c in m.channels]

    @property
    def meter_of_channel(self) -> list[int]:
        """For each channel, the index of its meter."""
        return [i for i, m in enumerate(self.meters) for _ in m.channels]

    def names(self) -> list[str]:
        """Each meter as its repr shows it (for warnings and the run log's header)."""
        return [repr(m)[:200] for m in self.meters]

    def startup_warnings(self, interval_s: float) -> tuple[list[str], list[str]]:
        """(notes the meters made, warnings about ``interval_s`` and counter wraps)."""
        notes: list[str] = []
        warnings: list[str] = []
        for meter in self.meters:
            raw = getattr(meter, "notes", ())
            notes += [f"{meter!r}: {note}" for note in ((raw,) if isinstance(raw, str) else raw)]
            limit = getattr(meter, "max_interval_s", None)
            if isinstance(limit, int | float) and 0 < limit < interval_s:
                warnings.append(
                    f"interval_s={interval_s:g} is longer than {meter!r} can be read without "
                    f"missing a counter wrap at full power ({limit:.3g} s): energy may be "
                    "under-counted; use a shorter interval_s"
                )
        return notes, warnings

    def sync(self, warn: Warn) -> None:
        """Let meters flush asynchronous work before a boundary reading (``meter.sync()``)."""
        for meter in self.meters:
            sync = getattr(meter, "sync", None)
            if callable(sync):
                try:
                    sync()
                except Exception as err:  # a failing sync must not fail the run
                    if id(meter) not in self._sync_failed:
                        self._sync_failed.add(id(meter))
                        warn(f"{meter!r}.sync() failed: {err!r}")

    def close(self, warn: Warn) -> None:
        """Close the meters this set detected itself (once); leave given ones open."""
        if not self.owned:
            return
        self.owned = False
        for meter in self.meters:
            try:
                meter.close()
            except Exception as err:  # closing must not fail the run
                warn(f"closing {meter!r} failed: {err!r}")
