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

``scope="process"`` charges each GPU's energy to this process tree only (a process and its
descendants; ``pid=`` names another root): each channel is then an energy counter of the
joules *attributed* to the tree, the device's energy x the tree's share of the device by
SM utilisation, else by memory (:mod:`nlpfootprint.meters.gpushare`), of method
``attributed``; the whole device's figure is kept beside it (:attr:`NvmlMeter.attribution`;
a tracker puts it, over its run, in the report's channel and one line per GPU among the
report's warnings). On a MIG instance the share is of the whole physical GPU, among the
processes of all its instances.

NVML errors are translated here, once, into the library's errors. ``pynvml`` (from the
``nvidia-ml-py`` distribution, extra ``nvidia``) is imported only when a meter is made;
tests pass a module object of their own as ``nvml=``.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from nlpfootprint.checks import whole_number
from nlpfootprint.clock import Clock, MonotonicClock
from nlpfootprint.errors import (
    ConfigurationError,
    MeterError,
    MeterPermissionError,
    MeterUnavailableError,
)
from nlpfootprint.meters.base import Channel
from nlpfootprint.meters.gpushare import GpuAttribution, ShareAccount, tree_pids
from nlpfootprint.meters.gpusync import cuda_sync_job
from nlpfootprint.meters.nvml_devices import (
    device_order_note,
    max_power_w,
    nvml_text,
    open_device,
    parse_visible_devices,
    power_limit_w,
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
        scope: ``"machine"`` (each GPU's whole energy, whoever used it) or ``"process"``
            (the share attributed to this process tree; see the module docstring).
        pid: In process scope, the root of the process tree (default: this process).
        clock: Where process scope takes the times it integrates power over (default:
            the monotonic clock; tests pass the tracker's ``FakeClock``).

    Raises:
        MeterUnavailableError: No pynvml, no driver, no GPU, or no visible GPU.
        MeterPermissionError: NVML refused access (containers: device nodes not mounted).
        ConfigurationError: A ``mode``, ``scope`` or ``pid`` not among those allowed.

    Attributes:
        gpus: What was recorded about each measured GPU (:class:`GpuInfo`), channel order.
        notes: Caveats found when opening the GPUs (a GPU left out, device order).
        sync_cuda: Whether :meth:`sync` waits for queued CUDA work.
        scope: ``"machine"`` or ``"process"``.
        pid: The root of the process tree charged in process scope, else None.
    """

    def __init__(
        self,
        gpus: Sequence[int | str] | None = None,
        *,
        nvml: Any = None,
        environ: Mapping[str, str] | None = None,
        sync_cuda: bool = True,
        mode: str = "auto",
        scope: str = "machine",
        pid: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        if mode not in ("auto", "counter", "power"):
            raise ConfigurationError(f"mode={mode!r}: expected 'auto', 'counter' or 'power'")
        if scope not in ("machine", "process"):
            raise ConfigurationError(f"scope={scope!r}: expected 'machine' or 'process'")
        self.scope = scope
        self.pid = None
        if scope == "process":
            self.pid = os.getpid() if pid is None else whole_number("pid", pid, minimum=1)
        elif pid is not None:
            raise ConfigurationError(f"pid={pid!r} is for scope='process', not {scope!r}")
        self._clock: Clock = MonotonicClock() if clock is None else clock
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
        self._shares: tuple[ShareAccount, ...] = ()
        self._tree = None if self.pid is None else tree_pids(self.pid)
        if self.scope == "process":
            self._shares = tuple(
                ShareAccount(f"gpu:{i}", "energy" if mode == "counter" else "power")
                for i, mode in enumerate(self._modes)
            )

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
            limit_w = power_limit_w(self._nvml, handle, self._error_type)
            mode = self._probe(handle, index, name, limit_w)
            if mode is None:
                continue
            most_w = max_power_w(self._nvml, handle, limit_w, self._error_type)
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
        process = self.scope == "process"
        basis = None
        if estimated:
            basis = EstimateBasis(
                Basis.POWER_LIMIT_X_UTILISATION,
                rated_w=gpu.power_limit_w,
                source="the GPU's enforced power limit (NVML)",
                scope="process" if process else None,
            )
        elif process:
            basis = EstimateBasis(Basis.PROCESS_SHARE, source=how, scope="process")
        if process:
            whole = "the whole GPU's (all its MIG instances')" if gpu.mig else "the GPU's"
            how += (
                f", attributed to process tree {self.pid} by its share of {whole} use "
                "(SM utilisation, else memory)"
            )
        return Channel(
            id=f"gpu:{position}",
            domain="gpu",
            kind="energy" if gpu.mode == "counter" or process else "power",
            label=f"{gpu.name} ({gpu.uuid}{limit}): {how}{mig}",
            estimated=basis is not None,
            backend=Backend.NVML,
            device=Device(name=gpu.name, index=gpu.index, uuid=gpu.uuid, host=platform.node()),
            basis=basis,
            max_power_w=gpu.max_power_w,
        )

    # -- the meter protocol ----------------------------------------------------------

    @property
    def channels(self) -> tuple[Channel, ...]:
        """One channel per measured GPU, ``gpu:0``.. in the order chosen."""
        return self._channels

    @property
    def attribution(self) -> tuple[GpuAttribution, ...]:
        """In process scope, per GPU: the joules attributed to the process tree and the
        whole device's, since the meter's first reading (empty in machine scope). A
        tracker reports the difference over its run
        (:class:`~nlpfootprint.meters.attribution.RunAttribution`), which leaves out the
        readings of an idle baseline measured before it."""
        return tuple(share.snapshot() for share in self._shares)

    def read(self) -> list[float]:
        """Joules (counter GPUs, and every GPU in process scope: the joules attributed) or
        watts (the others); NaN for a GPU that failed now.

        Raises:
            MeterError: Every GPU failed (the tracker records a gap).
        """
        nv = self._nvml
        values: list[float] = []
        errors: list[str] = []
        tree = None if self._tree is None else functools.cache(self._tree)  # once a reading
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
                if tree is not None:
                    value = self._attributed(handle, self._shares[position], value, tree)
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

    def _attributed(
        self, handle: Any, account: ShareAccount, value: float, tree: Callable[[], frozenset[int]]
    ) -> float:
        """The joules attributed so far to the process tree on one GPU, after its reading
        ``value`` (see :mod:`~nlpfootprint.meters.gpushare`); a lost GPU raises."""
        t = self._clock.now()
        samples = self._figures("nvmlDeviceGetProcessUtilization", handle, account.cursor)
        processes = self._figures("nvmlDeviceGetComputeRunningProcesses", handle)
        share = account.share(account.fresh(samples), processes, tree)
        return account.add(t, value, share)

    def _figures(self, name: str, handle: Any, *args: Any) -> list[Any] | None:
        """What an NVML per-process function returns, or None where it says nothing (not
        supported, no samples since the cursor, no permission, an old pynvml); a lost GPU
        raises."""
        try:
            return list(getattr(self._nvml, name)(handle, *args))
        except self._error_type as err:
            if _code(err) == _GPU_IS_LOST:
                raise
            return None
        except (AttributeError, TypeError):
            return None

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
        return cuda_sync_job(self.sync_cuda)

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
        scope = f", scope='process', pid={self.pid}" if getattr(self, "pid", None) else ""
        return f"NvmlMeter([{gpus}]{scope})"


def _import_pynvml() -> Any:
    try:
        import pynvml
    except ImportError as err:
        raise MeterUnavailableError(
            "the NVML bindings are not installed: pip install 'nlpfootprint[nvidia]' "
            "(the nvidia-ml-py distribution, which provides the pynvml module)"
        ) from err
    return pynvml
