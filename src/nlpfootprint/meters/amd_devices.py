"""Which AMD GPUs an amdsmi meter measures, and how amdsmi's numbers are read.

The GPUs: ``gpus=`` if given (amdsmi indices, UUIDs, serials), else the visibility
variables as ROCm applies them, else all. ``ROCR_VISIBLE_DEVICES`` is applied first, by the
ROCr runtime, to every GPU; ``HIP_VISIBLE_DEVICES`` then picks among the GPUs ROCr left
visible (its indices count those, not the machine's); ``CUDA_VISIBLE_DEVICES``, which HIP
also honours, is read in its place only when ``HIP_VISIBLE_DEVICES`` is unset. Each is
split as :func:`~nlpfootprint.meters.nvml_devices.parse_visible_devices` splits CUDA's:
indices and ``GPU-`` UUIDs, stopping at the first entry that is neither.

Indices count GPUs in HIP's order where amdsmi reports it (``hip_id``, from
``amdsmi_get_gpu_enumeration_info``, ROCm 6.4 and newer), else in amdsmi's own order,
which current ROCm releases also take from the PCI bus. A ``GPU-`` UUID matches, by a
unique prefix, the GPU's HIP UUID (as ``rocminfo`` prints it), ``GPU-`` followed by its
ASIC serial, or its amdsmi UUID.

Used by :class:`~nlpfootprint.meters.amd.AmdSmiMeter`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from nlpfootprint.errors import ConfigurationError, MeterUnavailableError
from nlpfootprint.meters.nvml_devices import parse_visible_devices

__all__ = [
    "POWER_NOT_AVAILABLE",
    "AmdIdentity",
    "amd_driver_present",
    "cap_watts",
    "missing_bindings_message",
    "number",
    "power_watts",
    "select_gpus",
    "text_value",
]

#: amdsmi marks a power it cannot read with this value (the Python bindings turn it into
#: ``"N/A"``; some versions pass it through): no reading, not 65,535 W.
POWER_NOT_AVAILABLE = 0xFFFF
#: A power cap at least this large is in microwatts (amdsmi's unit since ROCm 6.1.2, as
#: the driver gives it); a smaller one is in watts (a few earlier releases converted).
#: No GPU's cap is 100 kW, and none is 0.1 W.
_MICROWATTS_FROM = 100_000


def number(value: object) -> float | None:
    """``value`` as a finite, non-negative float, or None (``"N/A"``, a string, a bool).

    >>> number(42), number("N/A"), number(-1), number(float("nan"))
    (42.0, None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) and result >= 0 else None


def power_watts(value: object) -> float | None:
    """A socket power amdsmi reported, in watts, or None where it has none.

    >>> power_watts(312), power_watts("N/A"), power_watts(0xFFFF)
    (312.0, None, None)
    """
    watts = number(value)
    return None if watts is None or watts >= POWER_NOT_AVAILABLE else watts


def cap_watts(value: object) -> float | None:
    """A power cap amdsmi reported, in watts; None for none (0, ``"N/A"``).

    >>> cap_watts(750_000_000), cap_watts(750), cap_watts(0), cap_watts("N/A")
    (750.0, 750.0, None, None)
    """
    amount = number(value)
    if amount is None or amount == 0:
        return None
    return amount / 1e6 if amount >= _MICROWATTS_FROM else amount


def text_value(value: object) -> str | None:
    """A name or id amdsmi returned, stripped; None for ``"N/A"``, empty or not a string."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return None if stripped in ("", "N/A") else stripped


@attrs.frozen
class AmdIdentity:
    """The ways one GPU can be named.

    Attributes:
        index: Its position in ``amdsmi_get_processor_handles()`` (``amd-smi list``'s
            ``GPU: N``).
        hip_index: Its HIP device index before any visibility variable, where amdsmi
            reports it (ROCm 6.4 and newer), else None.
        uuid: What ``amdsmi_get_gpu_device_uuid`` returns, if anything.
        hip_uuid: HIP's ``GPU-...`` UUID, where amdsmi reports it.
        serial: The ASIC serial, ``0x`` and 16 hex digits, if known.
    """

    index: int
    hip_index: int | None = None
    uuid: str | None = None
    hip_uuid: str | None = None
    serial: str | None = None

    def names(self) -> tuple[str, ...]:
        """Every lower-case string a UUID entry may be a prefix of."""
        out: list[str] = []
        if self.hip_uuid:
            out.append(self.hip_uuid.lower())
        if self.serial:
            digits = self.serial.lower().removeprefix("0x")
            out += [f"gpu-{digits}", self.serial.lower()]
        if self.uuid:
            out += [self.uuid.lower(), f"gpu-{self.uuid.lower()}"]
        return tuple(out)


def hip_order(gpus: Sequence[AmdIdentity]) -> list[AmdIdentity]:
    """``gpus`` in HIP's order where every one has a distinct HIP index, else as given."""
    indices = [g.hip_index for g in gpus]
    if None in indices or len(set(indices)) != len(indices):
        return list(gpus)
    return sorted(gpus, key=lambda g: g.hip_index or 0)


def _match(entry: str, pool: Sequence[AmdIdentity], where: str) -> AmdIdentity:
    wanted = entry.lower()
    found = [g for g in pool if any(name.startswith(wanted) for name in g.names())]
    if len(found) != 1:
        how = "matches no GPU" if not found else "matches several GPUs"
        raise ConfigurationError(
            f"{where}: {entry!r} {how} (AMD GPU UUIDs come from rocminfo or amd-smi static)"
        )
    return found[0]


def _pick(entries: Sequence[str], pool: Sequence[AmdIdentity], where: str) -> list[AmdIdentity]:
    """The GPUs ``entries`` (indices into ``pool``, or UUIDs) name, in order, once each."""
    picked: list[AmdIdentity] = []
    for entry in entries:
        if entry.isdigit():
            position = int(entry)
            if position >= len(pool):
                raise ConfigurationError(
                    f"{where}: index {position}, but only {len(pool)} AMD GPU(s) are "
                    "visible there (indices count from 0)"
                )
            gpu = pool[position]
        else:
            gpu = _match(entry, pool, where)
        if gpu not in picked:
            picked.append(gpu)
    return picked


def _explicit(gpus: Sequence[int | str], known: Sequence[AmdIdentity]) -> list[AmdIdentity]:
    if isinstance(gpus, str | int):
        raise ConfigurationError(f"gpus={gpus!r}: expected a list, e.g. gpus=[0, 1]")
    entries: list[str] = []
    for gpu in gpus:
        if isinstance(gpu, bool) or not isinstance(gpu, int | str):
            raise ConfigurationError(
                f"gpus: {gpu!r} is neither an amdsmi index nor a UUID (a string)"
            )
        entries.append(str(gpu).strip())
    by_index = sorted(known, key=lambda g: g.index)
    return _pick(entries, by_index, f"gpus={list(gpus)!r}")


def select_gpus(
    known: Sequence[AmdIdentity], gpus: Sequence[int | str] | None, env: Mapping[str, str]
) -> list[AmdIdentity]:
    """The GPUs to measure, in channel order (the HIP device order this process sees).

    Args:
        known: Every GPU amdsmi found.
        gpus: amdsmi indices and/or UUIDs, or None to follow the environment.
        env: Where to read ``ROCR_VISIBLE_DEVICES``, ``HIP_VISIBLE_DEVICES`` and
            ``CUDA_VISIBLE_DEVICES``.

    Raises:
        MeterUnavailableError: No GPU, or the environment hides them all.
        ConfigurationError: An index out of range, or a UUID matching no GPU or several.
    """
    if not known:
        raise MeterUnavailableError(
            "amdsmi found no AMD GPU on this machine (in a container: pass "
            "--device=/dev/kfd --device=/dev/dri)"
        )
    if gpus is not None:
        return _explicit(gpus, known)
    pool = hip_order(known)
    hip_name = "HIP_VISIBLE_DEVICES" if "HIP_VISIBLE_DEVICES" in env else "CUDA_VISIBLE_DEVICES"
    for name in ("ROCR_VISIBLE_DEVICES", hip_name):
        entries = parse_visible_devices(env.get(name))
        if entries is None:
            continue
        if not entries:
            raise MeterUnavailableError(
                f"{name}={env.get(name)!r} hides every AMD GPU from this process, so no GPU "
                "is measured"
            )
        pool = _pick(entries, pool, f"{name}={env.get(name)!r}")
    return pool


def amd_driver_present(root: Path = Path("/")) -> bool:
    """Whether the amdgpu driver shows itself under ``root`` (``/dev/kfd``, the module)."""
    return (root / "dev" / "kfd").exists() or (root / "sys" / "module" / "amdgpu").exists()


def missing_bindings_message(*, driver: bool) -> str:
    """Why no meter could be made without the ``amdsmi`` module, and what to do.

    >>> missing_bindings_message(driver=False).split(" (")[0]
    'no AMD GPU driver on this machine'
    """
    install = (
        "pip install 'nlpfootprint[amd]' (the amdsmi package, whose version must match "
        "the ROCm installed; it loads ROCm's libamd_smi.so)"
    )
    if not driver:
        return (
            "no AMD GPU driver on this machine (no /dev/kfd, no /sys/module/amdgpu), and "
            f"the amdsmi bindings are not installed either: {install}"
        )
    return f"the amdsmi bindings are not installed: {install}"
