"""Which GPUs an NVML meter measures (``gpus=``, else ``CUDA_VISIBLE_DEVICES``, else all),
and the power limits NVML states for each.

``CUDA_VISIBLE_DEVICES`` is read the way CUDA reads it (indices, ``GPU-<uuid>`` prefixes and
``MIG-<uuid>`` forms). Used by :class:`~nlpfootprint.meters.nvml.NvmlMeter`, which passes its
``call`` (an NVML function by name, its errors translated into ours) to reach the driver.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nlpfootprint.errors import ConfigurationError, MeterUnavailableError

__all__ = [
    "NvmlCall",
    "device_order_note",
    "max_power_w",
    "nvml_text",
    "open_device",
    "parse_visible_devices",
    "power_limit_w",
    "wanted_devices",
]

#: ``call(name, *args, context=...)``: an NVML function by name, its errors translated.
NvmlCall = Callable[..., Any]


def parse_visible_devices(value: str | None) -> list[str] | None:
    """Split ``CUDA_VISIBLE_DEVICES`` as CUDA does; None when it is unset (all GPUs).

    Entries are trimmed; parsing stops at the first entry that is neither a whole number
    nor a ``GPU-``/``MIG-`` UUID (CUDA ignores everything from an invalid entry on), and
    at a negative index.

    >>> parse_visible_devices("0, 2")
    ['0', '2']
    >>> parse_visible_devices("GPU-8a1c,1,bogus,3")
    ['GPU-8a1c', '1']
    >>> parse_visible_devices("") == []
    True
    """
    if value is None:
        return None
    out: list[str] = []
    for raw in value.split(","):
        entry = raw.strip()
        if entry.isdigit() or entry.startswith(("GPU-", "MIG-")):
            out.append(entry)
        else:
            break
    return out


def nvml_text(value: object) -> str:
    """A string NVML returned (``bytes`` from older bindings) as text."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def wanted_devices(
    gpus: Sequence[int | str] | None, env: Mapping[str, str], count: int
) -> list[str]:
    """The entries to open: ``gpus`` if given, else ``CUDA_VISIBLE_DEVICES``, else all.

    Args:
        gpus: NVML indices and/or UUIDs, or None.
        env: Where to read ``CUDA_VISIBLE_DEVICES``.
        count: How many GPUs NVML found.

    Raises:
        MeterUnavailableError: No GPU, or ``CUDA_VISIBLE_DEVICES`` hides them all.
        ConfigurationError: ``gpus`` is not a list.
    """
    if count == 0:
        raise MeterUnavailableError("NVML found no NVIDIA GPU on this machine")
    if gpus is not None:
        if isinstance(gpus, str | int):
            raise ConfigurationError(f"gpus={gpus!r}: expected a list, e.g. gpus=[0, 1]")
        entries: list[int | str] = list(gpus)
        return [str(g) for g in entries]
    visible = parse_visible_devices(env.get("CUDA_VISIBLE_DEVICES"))
    if visible is None:
        return [str(i) for i in range(count)]
    if not visible:
        raise MeterUnavailableError(
            "CUDA_VISIBLE_DEVICES hides every GPU from this process "
            f"({env.get('CUDA_VISIBLE_DEVICES')!r}), so no GPU is measured"
        )
    return visible


def open_device(call: NvmlCall, entry: str) -> tuple[int, Any, str, bool]:
    """(NVML index, handle of the physical GPU, uuid shown, is MIG) for one entry.

    Raises:
        ConfigurationError: A ``GPU-`` UUID prefix matches no GPU, or several.
    """
    if entry.isdigit():
        index = int(entry)
        handle = call("nvmlDeviceGetHandleByIndex", index, context=f"opening GPU {index}")
        uuid = nvml_text(call("nvmlDeviceGetUUID", handle, context=f"GPU {index} UUID"))
        return index, handle, uuid, False
    if entry.startswith("MIG-"):
        mig = call("nvmlDeviceGetHandleByUUID", entry, context=f"opening {entry}")
        parent = call(
            "nvmlDeviceGetDeviceHandleFromMigDeviceHandle", mig, context=f"parent of {entry}"
        )
        index = int(call("nvmlDeviceGetIndex", parent, context=f"index of {entry}"))
        return index, parent, entry, True
    # GPU-<uuid>, possibly a unique prefix as CUDA allows
    count = int(call("nvmlDeviceGetCount", context="counting GPUs"))
    matches = []
    for index in range(count):
        handle = call("nvmlDeviceGetHandleByIndex", index, context=f"opening GPU {index}")
        uuid = nvml_text(call("nvmlDeviceGetUUID", handle, context=f"GPU {index} UUID"))
        if uuid.startswith(entry):
            matches.append((index, handle, uuid, False))
    if len(matches) != 1:
        how = "matches no GPU" if not matches else "matches several GPUs"
        raise ConfigurationError(f"GPU {entry!r} {how} (UUIDs come from nvidia-smi -L)")
    return matches[0]


def device_order_note(names: set[str], wanted: Sequence[str], env: Mapping[str, str]) -> str | None:
    """A caveat when CUDA may number the GPUs differently from NVML, else None.

    Args:
        names: The product names of the GPUs opened.
        wanted: The entries they were opened from.
        env: Where ``CUDA_VISIBLE_DEVICES`` and ``CUDA_DEVICE_ORDER`` were read.
    """
    if (
        len(names) > 1
        and env.get("CUDA_VISIBLE_DEVICES") is not None
        and any(e.isdigit() for e in wanted)
        and env.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID"
    ):
        return (
            "CUDA_VISIBLE_DEVICES indices were read in PCI bus order (NVML's); with "
            "mixed GPU models CUDA orders fastest-first unless CUDA_DEVICE_ORDER=PCI_BUS_ID"
            " is set, so the measured GPUs may not be the ones CUDA uses"
        )
    return None


def power_limit_w(nvml: Any, handle: Any, error_type: type[BaseException]) -> float | None:
    """A GPU's enforced power limit in watts, or None when NVML does not say (``error_type``:
    the bindings' ``NVMLError``)."""
    for name in ("nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit"):
        try:
            return float(getattr(nvml, name)(handle)) / 1000.0
        except (error_type, AttributeError):
            continue
    return None


def max_power_w(
    nvml: Any, handle: Any, limit_w: float | None, error_type: type[BaseException]
) -> float | None:
    """The highest limit the GPU can be set to, at least ``limit_w``; None if unknown."""
    known = [] if limit_w is None else [limit_w]
    try:
        _, top_mw = nvml.nvmlDeviceGetPowerManagementLimitConstraints(handle)
        known.append(float(top_mw) / 1000.0)
    except (error_type, AttributeError, TypeError, ValueError):
        pass
    positive = [w for w in known if math.isfinite(w) and w > 0]
    return max(positive) if positive else None
