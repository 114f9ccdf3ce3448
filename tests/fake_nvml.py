"""A pynvml-like module for driving the real NvmlMeter without a GPU.

It mimics the parts of ``pynvml`` (nvidia-ml-py) the meter calls: functions with the same
names and return shapes (energy in mJ, power in mW, limits in mW, bytes/str names), an
``NVMLError`` exception carrying the NVML return code in ``.value``, and the code
constants. GPUs draw power as a function of a clock, so energy counters advance exactly.

Per-process figures, for ``NvmlMeter(scope="process")``: ``sm_util`` gives each PID's SM
utilisation, returned by ``nvmlDeviceGetProcessUtilization`` as one sample per busy PID
stamped with the clock's time in microseconds (only samples newer than the caller's
``lastSeenTimeStamp``; none: NVML_ERROR_NOT_FOUND); ``processes`` gives each compute
process's ``usedGpuMemory`` in bytes (None: not available, as in some containers). Either
left at None is not supported. Tests change them between readings.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field

from nlpfootprint.clock import Clock

NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15

#: The fake's utilisation samples are stamped from here, in microseconds (NVML stamps them
#: with the CPU's time since the epoch).
_EPOCH_US = 1_700_000_000_000_000
#: gpuInstanceId / computeInstanceId outside MIG mode.
_NO_ID = 0xFFFFFFFF


class NVMLError(Exception):
    """Like pynvml.NVMLError: ``value`` is the NVML return code."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {
            NVML_ERROR_NOT_SUPPORTED: "Not Supported",
            NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
            NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
            NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
            NVML_ERROR_GPU_IS_LOST: "GPU is lost",
            NVML_ERROR_NOT_FOUND: "Not Found",
        }.get(self.value, f"Unknown Error {self.value}")


@dataclass
class FakeGpu:
    """One GPU: what it supports and how much it draws."""

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-aaaa-bbbb-cccc-000000000000"
    power_w: float | Callable[[float], float] = 300.0
    limit_w: float | None = 700.0
    #: The highest power limit it can be set to (NVML's limit constraints); None: unsupported.
    max_limit_w: float | None = 700.0
    counter: bool = True
    power: bool = True
    utilization: int | None = 50
    lost_after_reads: int | None = None
    mig: list[str] = field(default_factory=list)
    #: SM utilisation (%) by PID, or None: per-process utilisation not supported.
    sm_util: dict[int, int] | None = None
    #: ``usedGpuMemory`` (bytes, or None: not available) by PID of the compute processes,
    #: or None: the process list is not supported.
    processes: dict[int, int | None] | None = None
    reads: int = 0
    start_mj: int = 123_456_789


@dataclass
class _Handle:
    gpu: FakeGpu
    mig: str | None = None


def make_pynvml(
    gpus: list[FakeGpu],
    *,
    clock: Clock | None = None,
    init_error: int | None = None,
) -> types.ModuleType:
    """A module object with pynvml's names, over ``gpus`` (power integrated on ``clock``)."""
    module = types.ModuleType("fake_pynvml")
    state = {"init": 0, "shutdown": 0, "origin": None}

    def now() -> float:
        t = clock.now() if clock is not None else 0.0
        if state["origin"] is None:
            state["origin"] = t
        return t - state["origin"]  # type: ignore[operator]

    def watts(gpu: FakeGpu) -> float:
        return gpu.power_w(now()) if callable(gpu.power_w) else gpu.power_w

    def check(handle: _Handle) -> FakeGpu:
        gpu = handle.gpu
        gpu.reads += 1
        if gpu.lost_after_reads is not None and gpu.reads > gpu.lost_after_reads:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        return gpu

    def nvmlInit() -> None:
        if init_error is not None:
            raise NVMLError(init_error)
        state["init"] += 1  # type: ignore[operator]

    def nvmlShutdown() -> None:
        state["shutdown"] += 1  # type: ignore[operator]

    def nvmlDeviceGetCount() -> int:
        return len(gpus)

    def nvmlDeviceGetHandleByIndex(index: int) -> _Handle:
        if not 0 <= index < len(gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(gpus[index])

    def nvmlDeviceGetHandleByUUID(uuid: str) -> _Handle:
        for gpu in gpus:
            if gpu.uuid == uuid:
                return _Handle(gpu)
            if uuid in gpu.mig:
                return _Handle(gpu, mig=uuid)
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(handle: _Handle) -> _Handle:
        if handle.mig is None:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(handle.gpu)

    def nvmlDeviceGetIndex(handle: _Handle) -> int:
        return gpus.index(handle.gpu)

    def nvmlDeviceGetUUID(handle: _Handle) -> str:
        return handle.gpu.uuid

    def nvmlDeviceGetName(handle: _Handle) -> bytes:
        return handle.gpu.name.encode()  # older pynvml returns bytes

    def nvmlDeviceGetEnforcedPowerLimit(handle: _Handle) -> int:
        if handle.gpu.limit_w is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return int(handle.gpu.limit_w * 1000)

    def nvmlDeviceGetPowerManagementLimitConstraints(handle: _Handle) -> list[int]:
        if handle.gpu.max_limit_w is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return [100_000, int(handle.gpu.max_limit_w * 1000)]  # [min, max] in mW

    def nvmlDeviceGetTotalEnergyConsumption(handle: _Handle) -> int:
        gpu = check(handle)
        if not gpu.counter:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        if callable(gpu.power_w):
            raise AssertionError("a counter GPU in this fake needs a constant power")
        return gpu.start_mj + round(gpu.power_w * now() * 1000)

    def nvmlDeviceGetPowerUsage(handle: _Handle) -> int:
        gpu = check(handle)
        if not gpu.power:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return round(watts(gpu) * 1000)

    def still_there(handle: _Handle) -> FakeGpu:
        """The GPU, unless it is lost already (not counted as a reading)."""
        gpu = handle.gpu
        if gpu.lost_after_reads is not None and gpu.reads > gpu.lost_after_reads:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        return gpu

    def nvmlDeviceGetProcessUtilization(
        handle: _Handle, last_seen_us: int
    ) -> list[types.SimpleNamespace]:
        gpu = still_there(handle)
        if gpu.sm_util is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        stamp = _EPOCH_US + round(now() * 1e6)
        samples = [
            types.SimpleNamespace(
                pid=pid, timeStamp=stamp, smUtil=util, memUtil=0, encUtil=0, decUtil=0
            )
            for pid, util in gpu.sm_util.items()
            if util > 0 and stamp > last_seen_us
        ]
        if not samples:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return samples

    def nvmlDeviceGetComputeRunningProcesses(handle: _Handle) -> list[types.SimpleNamespace]:
        gpu = still_there(handle)
        if gpu.processes is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return [
            types.SimpleNamespace(
                pid=pid, usedGpuMemory=used, gpuInstanceId=_NO_ID, computeInstanceId=_NO_ID
            )
            for pid, used in gpu.processes.items()
        ]

    def nvmlDeviceGetUtilizationRates(handle: _Handle) -> types.SimpleNamespace:
        gpu = check(handle)
        if gpu.utilization is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return types.SimpleNamespace(gpu=gpu.utilization, memory=10)

    for name, value in list(locals().items()):
        if name.startswith("nvml") or name == "NVMLError":
            setattr(module, name, value)
    module.NVMLError = NVMLError  # type: ignore[attr-defined]
    for name, value in globals().items():
        if name.startswith("NVML_ERROR_"):
            setattr(module, name, value)
    module.calls = state  # type: ignore[attr-defined]
    return module
