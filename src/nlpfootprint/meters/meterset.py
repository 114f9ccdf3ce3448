"""The meters of one tracker: chosen (``"auto"`` or given), checked, synced and closed.

Meters the tracker found itself (``"auto"``) are its to close; meters a user passed stay
open. Each meter gets a worker (:mod:`nlpfootprint.meters.worker`) that the sampler reads
it on and that ``sync()`` and ``close()`` run on too, so every wait on a meter is bounded.
Nothing here raises once tracking runs: a failing, or hanging, ``sync()`` or ``close()``
becomes a warning through the callback given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Literal

from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters.base import Channel, PowerMeter, as_meter, check_channel_ids
from nlpfootprint.meters.worker import Worker, make_workers

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
        #: Each meter's channels, read once (a meter's ``channels`` is fixed).
        self.meter_channels = [tuple(m.channels) for m in meters]
        self.workers: list[Worker] = []
        self._sync_failed: set[int] = set()
        try:
            check_channel_ids(meters)
        except ConfigurationError:
            self.close(lambda _: None)
            raise

    @property
    def channels(self) -> list[Channel]:
        """Every channel, in reading order."""
        return [c for channels in self.meter_channels for c in channels]

    @property
    def meter_of_channel(self) -> list[int]:
        """For each channel, the index of its meter."""
        return [i for i, channels in enumerate(self.meter_channels) for _ in channels]

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

    def start_workers(self, *, threaded: bool) -> list[Worker]:
        """Give each meter its worker (threads unless ``threaded`` is False)."""
        self.workers = make_workers(len(self.meters), threaded=threaded)
        return self.workers

    def _call_each(self, method: str, warn: Warn, timeout_s: float) -> None:
        """Call ``meter.<method>()`` on each meter that has one, on its worker, all within
        one shared deadline; warn (once per meter) about each that fails or hangs."""
        workers = self.workers or make_workers(len(self.meters), threaded=False)
        calls = []
        for index, (meter, worker) in enumerate(zip(self.meters, workers, strict=True)):
            func = getattr(meter, method, None)
            if callable(func):
                calls.append((index, meter, worker, worker.begin(func)))
        deadline = time.monotonic() + timeout_s
        for index, meter, worker, begun in calls:
            result = worker.wait(deadline - time.monotonic()) if begun else None
            if result is not None and result[0]:
                continue
            if method == "sync" and index in self._sync_failed:
                continue
            self._sync_failed.add(index)
            why = (
                f"failed: {result[1]!r}"
                if result is not None
                else f"gave no answer within {timeout_s:g} s (skipped; the meter hangs)"
            )
            warn(f"{'closing ' if method == 'close' else ''}{meter!r}.{method}() {why}")

    def sync(self, warn: Warn, timeout_s: float = 1.0) -> None:
        """Let meters flush asynchronous work before a boundary reading (``meter.sync()``)."""
        self._call_each("sync", warn, timeout_s)

    def close(self, warn: Warn, timeout_s: float = 1.0) -> None:
        """Close the meters this set detected itself (once; given ones stay open), then end
        the workers."""
        try:
            if self.owned:
                self.owned = False
                self._call_each("close", warn, timeout_s)
        finally:
            for worker in self.workers:
                worker.shutdown()
