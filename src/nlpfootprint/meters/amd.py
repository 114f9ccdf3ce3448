"""AMD GPUs through amdsmi (the library behind ``amd-smi``, part of ROCm).

One channel per GPU visible to this process, decided when the meter is created:

* where the ROCm version reports it correctly, the GPU's **energy counter**
  (``amdsmi_get_energy_count``): a 64-bit accumulator times its resolution (in
  microjoules, 15.3 µJ on MI200 and MI300 GPUs), exact between two reads however far
  apart. The meter hands it on modulo 2**53 ticks (:attr:`Channel.max_energy_j
  <nlpfootprint.meters.base.Channel.max_energy_j>`, 1.4e11 J at 15.3 µJ: years at any
  GPU's power), where a float still holds every tick; 2**53 divides 2**64, so the
  accumulator's own wrap is unwrapped the same way. Bindings from ROCm 6.2.1 on name it
  ``energy_accumulator``; older ones call it ``power``, and on some GPUs (MI100, ROCm
  6.0) that counter was seen standing still (ROCm/amdsmi issue 38), so with such bindings
  the meter reads the GPU's power instead, unless ``mode="counter"`` insists;
* otherwise its **power** (``amdsmi_get_power_info``: ``current_socket_power``, else
  ``average_socket_power``, in watts; ``"N/A"`` where a GPU has no such sensor),
  integrated over time;
* if neither, an **estimate**: its power cap x GFX activity (``amdsmi_get_gpu_activity``),
  labelled estimated -- never a silent zero for a GPU that draws power.

With bindings older than ROCm 6.2.1, a GPU that reports no power is read through its
counter after all (with a note), rather than estimated.

An MI250 or MI250X module is two GPUs (dies) to ROCm, and amdsmi reports the module's power
and energy on one of them, for both (:mod:`nlpfootprint.meters.amd_dies`). The module is
counted once: when both dies are measured, on its first die's channel (the second die gets
none, and a note); a second die measured without its first is estimated as half the
module's power cap x its GFX activity, with a note and a warning, or left out where the
cap is unknown; a first die measured without its second is noted as including it.

Each channel states the most its GPU can draw: the highest power cap it can be set to
(``max_power_cap``), or its current cap. amdsmi gives caps in microwatts (see
:func:`~nlpfootprint.meters.amd_devices.cap_watts`).

Which GPUs (chosen by :mod:`nlpfootprint.meters.amd_devices`): ``gpus=`` if given, else
``ROCR_VISIBLE_DEVICES`` and then ``HIP_VISIBLE_DEVICES`` (or ``CUDA_VISIBLE_DEVICES``
where that is unset) as ROCm applies them, else all. The channels are numbered
``gpu:0``.. in the order HIP numbers the GPUs this process sees.

amdsmi errors are translated once, where amdsmi answers, into the library's errors
(:mod:`nlpfootprint.meters.amd_errors`). ``amdsmi`` (extra ``amd``) is imported only when a
meter is made; tests pass a module object of their own as ``amdsmi=``.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nlpfootprint.checks import whole_number
from nlpfootprint.errors import ConfigurationError, MeterError
from nlpfootprint.meters.amd_devices import number, power_watts, select_gpus
from nlpfootprint.meters.amd_dies import FIRST, SECOND
from nlpfootprint.meters.amd_errors import describe, import_amdsmi, translate
from nlpfootprint.meters.amd_open import POWER_FIELDS, AmdGpuInfo, AmdOpener
from nlpfootprint.meters.base import Channel
from nlpfootprint.meters.gpusync import cuda_sync_job
from nlpfootprint.provenance import Backend, Basis, Device, EstimateBasis

__all__ = ["COUNTER_BITS", "EXACT_BITS", "AmdGpuInfo", "AmdSmiMeter"]

log = logging.getLogger("nlpfootprint")

#: Width of amdsmi's energy accumulator: the counter wraps at 2**64 ticks.
COUNTER_BITS = 64
#: The counter is handed on modulo 2**EXACT_BITS ticks: every such count is exact in a
#: float, and it divides 2**COUNTER_BITS, so unwrapping it also unwraps the accumulator.
EXACT_BITS = 53


class AmdSmiMeter:
    """Energy of AMD GPUs, one channel per visible GPU (see the module docstring).

    Args:
        gpus: Which GPUs: amdsmi indices and/or UUIDs (HIP's ``GPU-...``, amdsmi's, or
            the ASIC serial; unique prefixes do). Default: the visibility variables, else
            every GPU.
        amdsmi: An ``amdsmi``-like module (default: ``import amdsmi``).
        environ: Where to read the visibility variables (tests).
        sync_cuda: Before readings at window boundaries and at stop, wait for queued GPU
            work (``torch.cuda.synchronize()``, which is HIP's on ROCm builds of torch)
            when torch has initialised the GPU.
        mode: ``"auto"`` (counter where trusted, else power, else estimated),
            ``"counter"`` or ``"power"`` to insist on one way of reading (a GPU that does
            not support it is left out, with a note).
        first_channel: The number of the first channel, ``gpu:<first_channel>``, so that
            the meter can sit beside another GPU meter (an NVIDIA one) without a clash.

    Raises:
        MeterUnavailableError: No amdsmi, no driver, no GPU, or no visible GPU.
        MeterPermissionError: amdsmi was refused access (render/video groups, devices).
        ConfigurationError: A bad argument, or a GPU named that does not exist.

    Attributes:
        gpus: What was recorded about each measured GPU (:class:`AmdGpuInfo`), channel
            order.
        notes: Caveats found when opening the GPUs (a GPU left out, the way one is read).
        sync_cuda: Whether :meth:`sync` waits for queued GPU work.
    """

    def __init__(
        self,
        gpus: Sequence[int | str] | None = None,
        *,
        amdsmi: Any = None,
        environ: Mapping[str, str] | None = None,
        sync_cuda: bool = True,
        mode: str = "auto",
        first_channel: int = 0,
    ) -> None:
        if mode not in ("auto", "counter", "power"):
            raise ConfigurationError(f"mode={mode!r}: expected 'auto', 'counter' or 'power'")
        self._first = whole_number("first_channel", first_channel, what="a channel number")
        self._amd = amdsmi if amdsmi is not None else import_amdsmi()
        self._error_type: type[BaseException] = getattr(self._amd, "AmdSmiException", Exception)
        self.sync_cuda = sync_cuda
        self.notes: list[str] = []
        self.gpus: tuple[AmdGpuInfo, ...] = ()
        self._handles: list[Any] = []
        self._lost: set[int] = set()
        env = os.environ if environ is None else environ
        self._call("amdsmi_init", context="starting amdsmi")
        self._open = True
        try:
            handles = list(self._call("amdsmi_get_processor_handles", context="listing GPUs"))
            opener = AmdOpener(self._amd, mode=mode, first_channel=self._first)
            self.notes = opener.notes
            known = [opener.identity(i, h) for i, h in enumerate(handles)]
            self.gpus, self._handles = opener.open(select_gpus(known, gpus, env), handles)
        except BaseException:
            self.close()
            raise
        self._channels = tuple(map(self._channel, range(len(self.gpus)), self.gpus))

    # -- talking to amdsmi ------------------------------------------------------------

    def _call(self, name: str, *args: Any, context: str) -> Any:
        """Call an amdsmi function, translating its errors into ours."""
        try:
            return getattr(self._amd, name)(*args)
        except self._error_type as err:
            raise translate(err, context) from err

    def _channel(self, position: int, gpu: AmdGpuInfo) -> Channel:
        how = {
            "counter": "amdsmi energy counter",
            "power": f"amdsmi power samples ({gpu.source})",
            "estimated": "power cap x GFX activity (no amdsmi power reading)",
        }[gpu.mode]
        cap, rated = "cap", "the GPU's power cap (amdsmi)"
        if gpu.die == FIRST:
            how += f", for both dies of its module (amdsmi GPUs {gpu.index} and {gpu.partner})"
        elif gpu.die == SECOND:
            first = "its first die" if gpu.partner is None else f"GPU {gpu.partner}"
            how = (
                "half its module's power cap x GFX activity (amdsmi reads the module's power "
                f"on {first} only)"
            )
            cap, rated = "half-module cap", "half its two-die module's power cap (amdsmi)"
        ident = gpu.uuid or gpu.serial or f"amdsmi GPU {gpu.index}"
        limit = f", {cap} {gpu.power_limit_w:g} W" if gpu.power_limit_w is not None else ""
        estimated = gpu.mode == "estimated"
        counter = gpu.mode == "counter" and gpu.resolution_uj is not None
        return Channel(
            id=f"gpu:{self._first + position}",
            domain="gpu",
            kind="energy" if gpu.mode == "counter" else "power",
            label=f"{gpu.name} ({ident}{limit}): {how}",
            estimated=estimated,
            max_energy_j=2**EXACT_BITS * (gpu.resolution_uj or 0.0) / 1e6 if counter else None,
            backend=Backend.AMDSMI,
            device=Device(name=gpu.name, index=gpu.index, uuid=gpu.uuid, host=platform.node()),
            basis=EstimateBasis(
                Basis.POWER_LIMIT_X_UTILISATION,
                rated_w=gpu.power_limit_w,
                source=rated,
            )
            if estimated
            else None,
            max_power_w=gpu.max_power_w,
        )

    # -- the meter protocol -----------------------------------------------------------

    @property
    def channels(self) -> tuple[Channel, ...]:
        """One channel per measured GPU, ``gpu:0``.. in HIP's order of the visible GPUs."""
        return self._channels

    def _value(self, handle: Any, gpu: AmdGpuInfo) -> float:
        """One GPU's reading: joules (counter) or watts; MeterError if it has none now."""
        amd = self._amd
        if gpu.mode == "counter":
            ticks = int(amd.amdsmi_get_energy_count(handle)[gpu.source]) % 2**EXACT_BITS
            return float(ticks) * (gpu.resolution_uj or 0.0) / 1e6
        if gpu.mode == "power":
            power = amd.amdsmi_get_power_info(handle)
            fields = (gpu.source, *(f for f in POWER_FIELDS if f != gpu.source))
            for field in fields:
                watts = power_watts(power.get(field))
                if watts is not None:
                    return watts
            raise MeterError("amdsmi reports no socket power now (N/A)")
        percent = number(amd.amdsmi_get_gpu_activity(handle).get("gfx_activity"))
        if percent is None:
            raise MeterError("amdsmi reports no GFX activity now (N/A)")
        return (gpu.power_limit_w or 0.0) * percent / 100.0

    def read(self) -> list[float]:
        """Joules (counter GPUs) or watts (the others); NaN for a GPU that failed now.

        Raises:
            MeterError: Every GPU failed (the tracker records a gap).
        """
        values: list[float] = []
        errors: list[str] = []
        for position, (handle, gpu) in enumerate(zip(self._handles, self.gpus, strict=True)):
            context = f"reading GPU {gpu.index} ({gpu.name}, {gpu.uuid or gpu.serial})"
            try:
                value = self._value(handle, gpu)
            except MeterError as err:
                problem: Exception = MeterError(f"{context}: {err}")
            except self._error_type as err:
                problem = translate(err, context)
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                problem = MeterError(f"{context}: unexpected answer from amdsmi ({err!r})")
            else:
                self._lost.discard(position)
                values.append(value)
                continue
            errors.append(str(problem))
            if position not in self._lost:
                self._lost.add(position)
                channel = self._channels[position].id
                log.warning("nlpfootprint: %s; %s has a gap from now", problem, channel)
            values.append(float("nan"))
        if errors and len(errors) == len(values):
            raise MeterError("; ".join(errors))
        return values

    def sync(self) -> None:
        """Wait for queued GPU work, if torch has initialised the GPU and ``sync_cuda``."""
        self.sync_job()()

    def sync_job(self) -> Callable[[], None]:
        """What a sync does, bound here to the calling thread's device (see
        :meth:`NvmlMeter.sync_job <nlpfootprint.meters.nvml.NvmlMeter.sync_job>`)."""
        return cuda_sync_job(self.sync_cuda)

    def close(self) -> None:
        """Shut amdsmi down (once)."""
        if getattr(self, "_open", False):
            self._open = False
            try:
                self._amd.amdsmi_shut_down()
            except self._error_type as err:
                log.warning("nlpfootprint: amdsmi_shut_down failed: %s", describe(err))

    def __repr__(self) -> str:
        gpus = ", ".join(f"{g.index}:{g.mode}" for g in getattr(self, "gpus", ()))
        return f"AmdSmiMeter([{gpus}])"
