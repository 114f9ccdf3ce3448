"""An amdsmi-like module for driving the real AmdSmiMeter without an AMD GPU.

It mimics the parts of ROCm's ``amdsmi`` Python bindings the meter calls: functions with
the same names and return shapes (dicts with ``"N/A"`` where a value is missing; the energy
counter as ticks of ``counter_resolution`` microjoules, a 64-bit accumulator that wraps;
socket power in watts; power caps in microwatts), the exception classes
(``AmdSmiLibraryException`` carrying the status code in ``err_code``), and the status
constants. GPUs draw power as a function of a clock, so energy counters advance exactly.

An MI250/MI250X module is two fakes, as amdsmi lists it: the first die reports the
module's power and energy, and the next one, ``secondary_die=True``, reads nothing.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field

from nlpfootprint.clock import Clock

AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_API_FAILED = 7
AMDSMI_STATUS_FAIL_LOAD_MODULE = 4
AMDSMI_STATUS_RETRY = 9
AMDSMI_STATUS_NO_PERM = 10
AMDSMI_STATUS_INIT_ERROR = 18
AMDSMI_STATUS_NOT_FOUND = 31
AMDSMI_STATUS_DRIVER_NOT_LOADED = 34

_INFO = {
    AMDSMI_STATUS_NOT_SUPPORTED: "AMDSMI_STATUS_NOT_SUPPORTED - Feature not supported",
    AMDSMI_STATUS_API_FAILED: "AMDSMI_STATUS_API_FAILED - API call failed",
    AMDSMI_STATUS_FAIL_LOAD_MODULE: "AMDSMI_STATUS_FAIL_LOAD_MODULE - Fail to load lib",
    AMDSMI_STATUS_RETRY: "AMDSMI_STATUS_RETRY - Retry operation",
    AMDSMI_STATUS_NO_PERM: "AMDSMI_STATUS_NO_PERM - Permission Denied",
    AMDSMI_STATUS_INIT_ERROR: "AMDSMI_STATUS_INIT_ERROR - Initialization error",
    AMDSMI_STATUS_NOT_FOUND: "AMDSMI_STATUS_NOT_FOUND - Device Not found",
    AMDSMI_STATUS_DRIVER_NOT_LOADED: "AMDSMI_STATUS_DRIVER_NOT_LOADED - Driver not loaded",
}

#: The resolution MI200/MI300 GPUs report, as the C float amdsmi returns it.
RESOLUTION_UJ = 15.300000190734863
TOP = 2**64


class AmdSmiException(Exception):  # noqa: N818 (amdsmi's name)
    """Like amdsmi.AmdSmiException: the base of the bindings' exceptions."""


class AmdSmiLibraryException(AmdSmiException):
    """Like amdsmi.AmdSmiLibraryException: ``err_code`` is the amdsmi status."""

    def __init__(self, err_code: int) -> None:
        super().__init__(err_code)
        self.err_code = abs(err_code)
        self.err_info = _INFO.get(self.err_code, "AMDSMI_STATUS_UNKNOWN_ERROR")

    def __str__(self) -> str:  # two lines, as the real one
        return f"Error code:\n\t{self.err_code} | {self.err_info}"

    def get_error_code(self) -> int:
        return self.err_code

    def get_error_info(self) -> str:
        return self.err_info


class AmdSmiRetryException(AmdSmiLibraryException):
    """Like amdsmi.AmdSmiRetryException."""

    def __init__(self) -> None:
        super().__init__(AMDSMI_STATUS_RETRY)


@dataclass
class FakeAmdGpu:
    """One GPU: what it supports and how much it draws."""

    name: str = "AMD Instinct MI300X"
    uuid: str = "5eff74a1-0000-1000-80c9-2d30a1235e5a"
    serial: str = "0x1EE5D54A12C3E5B5"
    hip_id: int | None = None
    power_w: float | Callable[[float], float] = 300.0
    cap_w: float | None = 750.0
    max_cap_w: float | None = 750.0
    counter: bool = True
    #: ``"energy_accumulator"`` (ROCm 6.2.1 and newer) or ``"power"`` (older bindings).
    counter_key: str = "energy_accumulator"
    current_power: bool = True
    average_power: bool = True
    activity: int | None = 50
    #: The counter's value, in ticks, when the fake clock starts.
    start_ticks: int = 123_456_789
    #: Ticks the counter also gains at each read of it (the first read gains none), so
    #: that it moves, and can cross 2**64, without the clock advancing.
    ticks_per_read: int = 0
    #: The second die of an MI250/MI250X module: amdsmi reports the module's power and
    #: energy on the first die only, and this one's counter reads 0, its power 0 W (or
    #: "N/A", with ``na_after_reads=0``) and its power caps 0, whatever ``power_w`` says.
    secondary_die: bool = False
    lost_after_reads: int | None = None
    na_after_reads: int | None = None
    #: amdsmi function name -> the status it raises on this GPU (e.g. a permission error).
    fail: dict[str, int] = field(default_factory=dict)
    reads: int = 0
    energy_reads: int = 0

    @property
    def hip_uuid(self) -> str:
        return "GPU-" + self.serial.removeprefix("0x").lower()


@dataclass
class _Handle:
    gpu: FakeAmdGpu


def make_amdsmi(
    gpus: list[FakeAmdGpu],
    *,
    clock: Clock | None = None,
    init_error: int | None = None,
    enumeration: bool = True,
) -> types.ModuleType:
    """A module object with amdsmi's names, over ``gpus`` (power integrated on ``clock``).

    ``enumeration=False`` leaves out ``amdsmi_get_gpu_enumeration_info``, as bindings older
    than ROCm 6.4 do.
    """
    module = types.ModuleType("fake_amdsmi")
    state: dict[str, float | None] = {"init": 0, "shutdown": 0, "origin": None}

    def now() -> float:
        t = clock.now() if clock is not None else 0.0
        if state["origin"] is None:
            state["origin"] = t
        return t - state["origin"]

    def watts(gpu: FakeAmdGpu) -> float:
        return gpu.power_w(now()) if callable(gpu.power_w) else gpu.power_w

    def check(handle: _Handle, function: str) -> FakeAmdGpu:
        gpu = handle.gpu
        if function in gpu.fail:
            raise AmdSmiLibraryException(gpu.fail[function])
        gpu.reads += 1
        if gpu.lost_after_reads is not None and gpu.reads > gpu.lost_after_reads:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_FOUND)
        return gpu

    def na(gpu: FakeAmdGpu) -> bool:
        return gpu.na_after_reads is not None and gpu.reads > gpu.na_after_reads

    def amdsmi_init(flag: int = 2) -> None:
        if init_error is not None:
            raise AmdSmiLibraryException(init_error)
        state["init"] = (state["init"] or 0) + 1

    def amdsmi_shut_down() -> None:
        state["shutdown"] = (state["shutdown"] or 0) + 1

    def amdsmi_get_processor_handles() -> list[_Handle]:
        return [_Handle(gpu) for gpu in gpus]

    def amdsmi_get_gpu_device_uuid(handle: _Handle) -> str:
        return handle.gpu.uuid

    def amdsmi_get_gpu_enumeration_info(handle: _Handle) -> dict[str, object]:
        gpu = handle.gpu
        hip = gpu.hip_id if gpu.hip_id is not None else gpus.index(gpu)
        return {"drm_render": 128 + hip, "drm_card": hip, "hsa_id": 2 + hip, "hip_id": hip,
                "hip_uuid": gpu.hip_uuid}  # fmt: skip

    def amdsmi_get_gpu_asic_info(handle: _Handle) -> dict[str, object]:
        check(handle, "amdsmi_get_gpu_asic_info")
        return {
            "market_name": handle.gpu.name,
            "vendor_id": "0x1002",
            "vendor_name": "Advanced Micro Devices Inc. [AMD/ATI]",
            "subvendor_id": "0x1002",
            "device_id": "0x74a1",
            "rev_id": "0x00",
            "asic_serial": handle.gpu.serial,
            "oam_id": 0,
            "num_compute_units": 304,
            "target_graphics_version": "gfx942",
        }

    def amdsmi_get_gpu_board_info(handle: _Handle) -> dict[str, str]:
        return {
            "model_number": "102-G30211-00",
            "product_serial": "692251001124",
            "fru_id": "N/A",
            "product_name": f"{handle.gpu.name} OAM",
            "manufacturer_name": "AMD",
        }

    def amdsmi_get_power_cap_info(handle: _Handle) -> dict[str, int]:
        gpu = handle.gpu
        if gpu.cap_w is None:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        top = gpu.max_cap_w if gpu.max_cap_w is not None else 0
        cap = 0.0 if gpu.secondary_die else gpu.cap_w
        top = 0.0 if gpu.secondary_die else top
        return {
            "power_cap": round(cap * 1e6),  # microwatts
            "default_power_cap": round(cap * 1e6),
            "dpm_cap": 2100,
            "min_power_cap": 0,
            "max_power_cap": round(top * 1e6),
        }

    def amdsmi_get_energy_count(handle: _Handle) -> dict[str, float]:
        gpu = check(handle, "amdsmi_get_energy_count")
        if not gpu.counter:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        if callable(gpu.power_w):
            raise AssertionError("a counter GPU in this fake needs a constant power")
        ticks = gpu.start_ticks + round(gpu.power_w * now() * 1e6 / RESOLUTION_UJ)
        ticks = 0 if gpu.secondary_die else (ticks + gpu.ticks_per_read * gpu.energy_reads) % TOP
        gpu.energy_reads += 1
        return {
            gpu.counter_key: ticks,
            "counter_resolution": RESOLUTION_UJ,
            "timestamp": round(now() * 1e9),
        }

    def amdsmi_get_power_info(handle: _Handle) -> dict[str, object]:
        gpu = check(handle, "amdsmi_get_power_info")
        if not (gpu.current_power or gpu.average_power):
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        value = 0 if gpu.secondary_die else round(watts(gpu))
        limit = "N/A" if gpu.cap_w is None else round((0 if gpu.secondary_die else gpu.cap_w) * 1e6)
        return {
            "current_socket_power": value if gpu.current_power and not na(gpu) else "N/A",
            "average_socket_power": value if gpu.average_power and not na(gpu) else "N/A",
            "gfx_voltage": "N/A",
            "soc_voltage": "N/A",
            "mem_voltage": "N/A",
            "power_limit": limit,
        }

    def amdsmi_get_gpu_activity(handle: _Handle) -> dict[str, object]:
        gpu = check(handle, "amdsmi_get_gpu_activity")
        if gpu.activity is None:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        return {"gfx_activity": gpu.activity, "umc_activity": 10, "mm_activity": "N/A"}

    for name, value in list(locals().items()):
        if name.startswith("amdsmi_"):
            setattr(module, name, value)
    if not enumeration:
        del module.amdsmi_get_gpu_enumeration_info
    module.AmdSmiException = AmdSmiException  # type: ignore[attr-defined]
    module.AmdSmiLibraryException = AmdSmiLibraryException  # type: ignore[attr-defined]
    module.AmdSmiRetryException = AmdSmiRetryException  # type: ignore[attr-defined]
    module.calls = state  # type: ignore[attr-defined]
    return module
