"""NVIDIA GPUs through NVML (the library behind ``nvidia-smi``).

One channel per GPU visible to this process, decided when the meter is created:

* where the driver supports it (Volta and newer), the GPU's **energy counter**
  (``nvmlDeviceGetTotalEnergyConsumption``, millijoules since the driver loaded): exact
  between two reads however far apart;
* otherwise its **power** (``nvmlDeviceGetPowerUsage``, milliwatts), integrated over time;
  on Ampere GPUs other than GA100, and on Hopper and newer (H100, H200), this reading is
  itself an average over about one second (NVIDIA's NVML reference);
* if neither is supported, an **estimate**: the power limit x GPU utilisation, labelled
  estimated -- never a silent zero for a GPU that draws power.

Each channel states the most its GPU can draw (:attr:`Channel.max_power_w
<nlpfootprint.meters.base.Channel.max_power_w>`): the highest power limit the board can be
set to (``nvmlDeviceGetPowerManagementLimitConstraints``), or its enforced limit where NVML
gives no constraints, so that a reading no such board can produce is refused.

Which GPUs (chosen by :mod:`nlpfootprint.meters.nvml_devices`): ``gpus=`` if given, else
``CUDA_VISIBLE_DEVICES`` (indices, ``GPU-<uuid>`` prefixes and ``MIG-<uuid>`` forms, read the
way CUDA reads it), else all. NVML numbers GPUs in PCI bus order; CUDA does too only with
``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so with mixed GPU models and another order the meter says
so. A MIG instance has no power sensor of its own: its channel measures the whole physical
GPU, and its label says that.

NVML errors are translated here, once, into the library's errors. ``pynvml`` (from the
``nvidia-ml-py`` distribution, extra ``nvidia``) is imported only when a meter is made;
tests pass a module object of their own as ``nvml=``.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from nlpfootprint.errors import (
    ConfigurationError,
    MeterError,
    MeterPermissionError,
    MeterUnavailableError,
)
from nlpfootprint.meters.base import Channel
from nlpfootprint.meters.nvml_devices import (
    device_order_note,
    nvml_text,
    open_device,
    parse_visible_devices,
    wanted_devices,
)
from nlpfootprint.provenance import Backend, Basis, Device, EstimateBasis

__all__ = ["GpuInfo", "NvmlMeter", "parse_visible_devices"]

log = logging.getLogger("nlpfootprint")

# NVML return codes (nvml.h); the fake modules in tests use the same numbers.
_NOT_SUPPORTED = 3
_NO_PERMISSION = 4
_DRIVER_NOT_LOADED = 9
_LIBRARY_NOT_FOUND = 12
_FUNCTION_NOT_FOUND = 13
_GPU_IS_LOST = 15
_UNSUPPORTED = (_NOT_SUPPORTED, _FUNCTION_NOT_FOUND)


@attrs.frozen
class GpuInfo:
    """What the meter recorded about one GPU when it was created.

    Attributes:
        index: NVML index (PCI bus order).
        name: Product name, e.g. ``"NVIDIA H100 80GB HBM3"``.
        uuid: ``GPU-...`` (for a MIG instance, the instance's ``MIG-...`` UUID).
        power_limit_w: Enforced power limit, or None when NVML does not say.
        mode: ``"counter"``, ``"power"`` or ``"estimated"``.
        mig: True when the channel stands for a MIG instance (whole-GPU readings).
        max_power_w: The most the GPU can draw: the highest power limit it can be set to
            (and at least the enforced one), or None when NVML says neither.
    """

    index: int
    name: str
    uuid: str
    power_limit_w: float | None
    mode: str
    mig: bool = False
    max_power_w: float | None = None


def _code(err: BaseException) -> int | None:
    value = getattr(err, "value", None)
    return value if isinstance(value, int) else None


class NvmlMeter:
    """Energy of NVIDIA GPUs, one channel per visible GPU (see the module docstring).

    Args:
        gpus: Which GPUs: NVML indices and/or UUIDs (``GPU-...`` prefixes, ``MIG-...``).
            Default: ``CUDA_VISIBLE_DEVICES`` if set, else every GPU.
        nvml: A ``pynvml``-like module (default: ``import pynvml``).
        environ: Where to read ``CUDA_VISIBLE_DEVICES``/``CUDA_DEVICE_ORDER`` (tests).
        sync_cuda: Before readings at window boundaries and at stop, wait for queued CUDA
            work (``torch.cuda.synchronize()``) when torch has initialised CUDA, so that
            asynchronous kernels count in the window that launched them.
        mode: ``"auto"`` (counter where supported, else power, else estimated),
            ``"counter"`` or ``"power"`` to insist on one way of reading (a GPU that does
            not support it is left out, with a note) -- e.g. to compare the two.

    Raises:
        MeterUnavailableError: No pynvml, no driver, no GPU, or no visible GPU.
        MeterPermissionError: NVML refused access (containers: device nodes not mounted).

    Attributes:
        gpus: What was recorded about each measured GPU (:class:`GpuInfo`), channel order.
        notes: Caveats found when opening the GPUs (a GPU left out, device order).
        sync_cuda: Whether :meth:`sync` waits for queued CUDA work.
    """

    def __init__(
        self,
        gpus: Sequence[int | str] | None = None,
        *,
        nvml: Any = None,
        environ: Mapping[str, str] | None = None,
        sync_cuda: bool = True,
        mode: str = "auto",
    ) -> None:
        if mode not in ("auto", "counter", "power"):
            raise ConfigurationError(f"mode={mode!r}: expected 'auto', 'counter' or 'power'")
        self._mode = mode
        self._nvml = nvml if nvml is not None else _import_pynvml()
        self._error_type: type[BaseException] = getattr(self._nvml, "NVMLError", Exception)
        self.sync_cuda = sync_cuda
        self.notes: list[str] = []
        env = os.environ if environ is None else environ
        self.gpus: tuple[GpuInfo, ...] = ()
        self._handles: list[Any] = []
        self._modes: list[str] = []
        self._call("nvmlInit", context="starting NVML")
        self._open = True
        try:
            self._open_gpus(self._wanted(gpus, env), env)
        except BaseException:
            self.close()
            raise
        self._lost: set[int] = set()
        self._channels = tuple(map(self._channel, range(len(self.gpus)), self.gpus))

    # -- construction ---------------------------------------------------------------

    def _call(self, name: str, *args: Any, context: str) -> Any:
        """Call an NVML function, translating its errors into ours."""
        try:
            return getattr(self._nvml, name)(*args)
        except self._error_type as err:
            raise self._translate(err, context) from err

    def _translate(self, err: BaseException, context: str) -> Exception:
        code = _code(err)
        if code in (_LIBRARY_NOT_FOUND, _DRIVER_NOT_LOADED):
            return MeterUnavailableError(
                f"{context}: NVML is not available ({err}): no NVIDIA driver on this machine, "
                "or a container started without the NVIDIA runtime (docker run --gpus all)"
            )
        if code == _NO_PERMISSION:
            return MeterPermissionError(
                f"{context}: NVML refused access ({err}); in a container, make the "
                "/dev/nvidia* devices available (docker run --gpus all, or the NVIDIA "
                "device plugin on Kubernetes); on a host, check the device nodes' permissions"
            )
        if code == _GPU_IS_LOST:
            return MeterError(f"{context}: the GPU is lost ({err}); check dmesg / nvidia-smi")
        if code in _UNSUPPORTED:
            return MeterUnavailableError(f"{context}: not supported by this GPU/driver ({err})")
        return MeterError(f"{context}: NVML error {code}: {err}")

    def _wanted(self, gpus: Sequence[int | str] | None, env: Mapping[str, str]) -> list[str]:
        count = int(self._call("nvmlDeviceGetCount", context="counting GPUs"))
        return wanted_devices(gpus, env, count)

    def _open_gpus(self, wanted: list[str], env: Mapping[str, str]) -> None:
        infos: list[GpuInfo] = []
        for entry in wanted:
            index, handle, uuid, mig = open_device(self._call, entry)
            name = nvml_text(self._call("nvmlDeviceGetName", handle, context=f"GPU {index} name"))
            limit_w = self._power_limit_w(handle)
            mode = self._probe(handle, index, name, limit_w)
            if mode is None:
                continue
            most_w = self._max_power_w(handle, limit_w)
            infos.append(GpuInfo(index, name, uuid, limit_w, mode, mig, most_w))
            self._handles.append(handle)
            self._modes.append(mode)
        if not infos:
            raise MeterUnavailableError(
                "no visible GPU reports energy, power or utilisation through NVML: "
                + "; ".join(self.notes)
            )
        self.gpus = tuple(infos)
        note = device_order_note({g.name for g in infos}, wanted, env)
        if note is not None:
            self.notes.append(note)

    def _power_limit_w(self, handle: Any) -> float | None:
        for name in ("nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit"):
            try:
                return float(getattr(self._nvml, name)(handle)) / 1000.0
            except (self._error_type, AttributeError):
                continue
        return None

    def _max_power_w(self, handle: Any, limit_w: float | None) -> float | None:
        """The highest limit the GPU can be set to, at least ``limit_w``; None if unknown."""
        known = [] if limit_w is None else [limit_w]
        try:
            _, top_mw = self._nvml.nvmlDeviceGetPowerManagementLimitConstraints(handle)
            known.append(float(top_mw) / 1000.0)
        except (self._error_type, AttributeError, TypeError, ValueError):
            pass
        positive = [w for w in known if math.isfinite(w) and w > 0]
        return max(positive) if positive else None

    def _probe(self, handle: Any, index: int, name: str, limit_w: float | None) -> str | None:
        """Pick how to read one GPU: counter, power, estimated, or None (note why)."""
        nv = self._nvml
        for mode, fn in (
            ("counter", "nvmlDeviceGetTotalEnergyConsumption"),
            ("power", "nvmlDeviceGetPowerUsage"),
        ):
            if self._mode not in ("auto", mode):
                continue
            try:
                getattr(nv, fn)(handle)
            except self._error_type as err:
                if _code(err) not in _UNSUPPORTED:
                    raise self._translate(err, f"reading GPU {index} ({name})") from err
                continue
            except AttributeError:  # an old pynvml without the function
                continue
            return mode
        if self._mode != "auto":
            self.notes.append(f"GPU {index} ({name}) cannot be read in mode {self._mode!r}")
            return None
        if limit_w is not None:
            try:
                nv.nvmlDeviceGetUtilizationRates(handle)
            except (self._error_type, AttributeError):
                pass
            else:
                self.notes.append(
                    f"GPU {index} ({name}) reports neither energy nor power: estimated as its "
                    f"power limit ({limit_w:g} W) x utilisation"
                )
                return "estimated"
        self.notes.append(
            f"GPU {index} ({name}) reports neither energy, power nor utilisation: not measured"
        )
        return None

    def _channel(self, position: int, gpu: GpuInfo) -> Channel:
        how = {
            "counter": "NVML energy counter",
            "power": "NVML power samples",
            "estimated": "power limit x utilisation (no NVML power reading)",
        }[gpu.mode]
        limit = f", limit {gpu.power_limit_w:g} W" if gpu.power_limit_w is not None else ""
        mig = "; MIG instance: whole-GPU readings" if gpu.mig else ""
        estimated = gpu.mode == "estimated"
        return Channel(
            id=f"gpu:{position}",
            domain="gpu",
            kind="energy" if gpu.mode == "counter" else "power",
            label=f"{gpu.name} ({gpu.uuid}{limit}): {how}{mig}",
            estimated=estimated,
            backend=Backend.NVML,
            device=Device(name=gpu.name, index=gpu.index, uuid=gpu.uuid, host=platform.node()),
            basis=EstimateBasis(
                Basis.POWER_LIMIT_X_UTILISATION,
                rated_w=gpu.power_limit_w,
                source="the GPU's enforced power limit (NVML)",
            )
            if estimated
            else None,
            max_power_w=gpu.max_power_w,
        )

    # -- the meter protocol ----------------------------------------------------------

    @property
    def channels(self) -> tuple[Channel, ...]:
        """One channel per measured GPU, ``gpu:0``.. in the order chosen."""
        return self._channels

    def read(self) -> list[float]:
        """Joules (counter GPUs) or watts (the others); NaN for a GPU that failed now.

        Raises:
            MeterError: Every GPU failed (the tracker records a gap).
        """
        nv = self._nvml
        values: list[float] = []
        errors: list[str] = []
        for position, (handle, mode, gpu) in enumerate(
            zip(self._handles, self._modes, self.gpus, strict=True)
        ):
            try:
                if mode == "counter":
                    value = nv.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0
                elif mode == "power":
                    value = nv.nvmlDeviceGetPowerUsage(handle) / 1000.0
                else:
                    util = nv.nvmlDeviceGetUtilizationRates(handle)
                    value = (gpu.power_limit_w or 0.0) * float(util.gpu) / 100.0
            except self._error_type as err:
                problem = self._translate(err, f"reading GPU {gpu.index} ({gpu.name}, {gpu.uuid})")
                errors.append(str(problem))
                if position not in self._lost:
                    self._lost.add(position)
                    log.warning("nlpfootprint: %s; gpu:%d has a gap from now", problem, position)
                values.append(float("nan"))
                continue
            self._lost.discard(position)
            values.append(float(value))
        if errors and len(errors) == len(values):
            raise MeterError("; ".join(errors))
        return values

    def sync(self) -> None:
        """Wait for queued CUDA work, if torch has initialised CUDA and ``sync_cuda``."""
        self.sync_job()()

    def sync_job(self) -> Callable[[], None]:
        """What a sync does, bound here to the calling thread's CUDA device.

        The tracker calls this in the user's thread and runs the result on a worker thread
        (so that a hung device cannot hang the user); ``torch.cuda.synchronize()`` waits
        for the *current* device's queue, and a worker thread's current device is GPU 0,
        not the one this process (a DDP rank, after ``set_device``) works on.
        """
        torch = sys.modules.get("torch") if self.sync_cuda else None
        cuda = getattr(torch, "cuda", None)
        if cuda is None or not (cuda.is_available() and cuda.is_initialized()):
            return _nothing
        device = cuda.current_device()
        return lambda: cuda.synchronize(device)

    def close(self) -> None:
        """Shut NVML down (once)."""
        if getattr(self, "_open", False):
            self._open = False
            try:
                self._nvml.nvmlShutdown()
            except self._error_type as err:
                log.warning("nlpfootprint: nvmlShutdown failed: %s", err)

    def __repr__(self) -> str:
        gpus = ", ".join(f"{g.index}:{g.mode}" for g in getattr(self, "gpus", ()))
        return f"NvmlMeter([{gpus}])"


def _nothing() -> None:
    """A sync with nothing to wait for."""


def _import_pynvml() -> Any:
    try:
        import pynvml
    except ImportError as err:
        raise MeterUnavailableError(
            "the NVML bindings are not installed: pip install 'nlpfootprint[nvidia]' "
            "(the nvidia-ml-py distribution, which provides the pynvml module)"
        ) from err
    return pynvml
