"""The meters of one tracker: chosen (``"auto"`` or given), checked, synced and closed.

Meters the tracker found itself (``"auto"``) are its to close; meters a user passed stay
open. Each meter gets a worker (:mod:`nlpfootprint.meters.worker`) that the sampler reads
it on and that ``close()`` runs on, and a second one for ``sync()`` (a sync waits for the
device's queued work, which may take a while: reads go on meanwhile), so every wait on a
meter is bounded. A meter's optional ``sync_job()`` is called in the thread that asks for
the sync and returns what the worker runs: the NVML meter binds the caller's CUDA device
there. Nothing here raises once tracking runs: a failing, or hanging, ``sync()`` or
``close()`` becomes a warning through the callback given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters.base import Channel, PowerMeter, as_meter, check_channel_ids
from nlpfootprint.meters.worker import Worker, make_workers, reads_inline

__all__ = ["MeterSet"]

Warn = Callable[[str], None]


class MeterSet:
    """Resolve ``spec`` into meters (detecting them for ``"auto"``).

    Attributes:
        meters: The meters, in reading order.
        owned: True when they were detected here (and so are closed here).
        summary: For ``"auto"``, what detection used and why not the rest.
    """

    def __init__(
        self,
        spec: Literal["auto"] | Sequence[PowerMeter],
        *,
        cpu_scope: str = "machine",
        cpu_tdp_w: float | None = None,
        gpu_scope: str = "machine",
    ) -> None:
        self.summary: str | None = None
        self.owned = spec == "auto"
        if spec == "auto":
            from nlpfootprint.meters.discovery import detect

            # the options only where given: a detect() replaced by a test double (or a
            # user's) that takes none keeps working with the defaults
            options: dict[str, Any] = {}
            if (cpu_scope, cpu_tdp_w) != ("machine", None):
                options.update(cpu_scope=cpu_scope, cpu_tdp_w=cpu_tdp_w)
            if gpu_scope != "machine":
                options["gpu_scope"] = gpu_scope
            detection = detect(**options)
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
        self.sync_workers: list[Worker] = []
        self._warned: set[tuple[str, int]] = set()
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

    def restrict(self, keep: Sequence[Sequence[int]], warn: Warn) -> None:
        """Keep, of each meter, the channels at the positions ``keep`` gives it (before
        the workers start): a meter keeping all is kept as it is, one keeping some is read
        through a :class:`~nlpfootprint.meters.subset.ChannelSubset`, one keeping none is
        left out (and closed, if this set detected it)."""
        from nlpfootprint.meters.subset import ChannelSubset

        kept: list[PowerMeter] = []
        for meter, channels, positions in zip(self.meters, self.meter_channels, keep, strict=True):
            if len(positions) == len(channels):
                kept.append(meter)
            elif positions:
                kept.append(ChannelSubset(meter, positions))
            elif self.owned:
                try:
                    meter.close()
                except Exception as err:  # a failing close must not fail the run
                    warn(f"{meter!r}.close() failed: {err!r}")
        self.meters = tuple(kept)
        self.meter_channels = [tuple(m.channels) for m in kept]

    def start_workers(self, *, threaded: bool) -> list[Worker]:
        """Give each meter its workers (threads unless ``threaded`` is False); return the
        ones to read on."""
        inline = reads_inline(self.meters)
        self.workers = make_workers(len(self.meters), threaded=threaded, inline=inline)
        self.sync_workers = make_workers(
            len(self.meters), threaded=threaded, role="sync", inline=inline
        )
        return self.workers

    def _call_each(
        self, what: str, jobs: Mapping[int, Callable[[], object]], workers: list[Worker],
        warn: Warn, timeout_s: float,
    ) -> None:  # fmt: skip
        """Run each meter's job on its worker, all within one shared deadline; warn (once
        per meter and kind of call) about each that fails or does not end in time."""
        begun = {index: workers[index].begin(job) for index, job in jobs.items()}
        deadline = time.monotonic() + timeout_s
        for index, started in begun.items():
            result = workers[index].wait(deadline - time.monotonic()) if started else None
            if result is not None and result[0]:
                continue
            key = (what, index)
            if key in self._warned:
                continue
            self._warned.add(key)
            meter = self.meters[index]
            if result is not None:
                warn(f"{meter!r}.{what}() failed: {result[1]!r}")
            elif what == "sync":
                warn(
                    f"{meter!r}.sync() did not finish within {timeout_s:g} s (queued device "
                    "work, or a hung device): boundary readings were taken without waiting "
                    "for it, so energy near them may land in the neighbouring window"
                )
            else:
                warn(f"{meter!r}.{what}() gave no answer within {timeout_s:g} s (skipped)")

    def sync(self, warn: Warn, timeout_s: float = 1.0) -> None:
        """Let meters flush asynchronous work before a boundary reading (``meter.sync()``)."""
        jobs: dict[int, Callable[[], object]] = {}
        for index, meter in enumerate(self.meters):
            prepare = getattr(meter, "sync_job", None)
            try:
                job = prepare() if callable(prepare) else getattr(meter, "sync", None)
            except Exception as err:  # a failing sync must not fail the run
                job = _raiser(err)
            if callable(job):
                jobs[index] = job
        if jobs:
            workers = self.sync_workers or make_workers(len(self.meters), threaded=False)
            self._call_each("sync", jobs, workers, warn, timeout_s)

    def final_warnings(self, warn: Warn) -> None:
        """Pass on what meters have to say about the run as a whole (an optional
        ``final_warnings()`` member: the CPU estimate's share of other processes' load).
        Only meters that never block have it, so it is called here, in the caller's thread;
        one that fails is warned of."""
        for meter in self.meters:
            say = getattr(meter, "final_warnings", None)
            if not callable(say):
                continue
            try:
                for message in say():
                    warn(str(message))
            except Exception as err:  # a failing meter must not fail the run
                warn(f"{meter!r}.final_warnings() failed: {err!r}")

    def close(self, warn: Warn, timeout_s: float = 1.0) -> None:
        """Close the meters this set detected itself (once; given ones stay open), then end
        the workers."""
        try:
            if self.owned:
                self.owned = False
                workers = self.workers or make_workers(len(self.meters), threaded=False)
                jobs = {i: m.close for i, m in enumerate(self.meters)}
                self._call_each("close", jobs, workers, warn, timeout_s)
        finally:
            for worker in (*self.workers, *self.sync_workers):
                worker.shutdown()


def _raiser(err: Exception) -> Callable[[], object]:
    """A job that raises ``err`` (a ``sync_job()`` that failed in the caller's thread)."""

    def job() -> object:
        raise err

    return job
