"""Find the meters this machine offers, and say why the others were not used.

:func:`detect` tries each backend in order of preference: NVIDIA GPUs through NVML, AMD
GPUs through amdsmi, CPU packages and DRAM through RAPL, and only then the estimates for
whatever domain nothing measured (CPU from TDP x utilisation, DRAM from installed memory).
A measured meter whose channel ids clash with one already used is skipped. Every backend
not used comes back with its reason -- no driver, no bindings, no GPU, no powercap tree,
permission denied with the fix -- so ``meters="auto"`` never settles for an estimate
silently.
``nlpfootprint meters`` prints the same as a table.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from nlpfootprint.errors import ConfigurationTypeError, NlpFootprintError
from nlpfootprint.meters.base import PowerMeter

__all__ = ["Backend", "Detection", "default_backends", "detect"]


@attrs.frozen
class Backend:
    """A way of getting meters: a name, the domains it covers, and a factory that may raise."""

    name: str
    domains: tuple[str, ...]
    factory: Callable[[], PowerMeter]
    estimated: bool = False


@attrs.frozen
class Detection:
    """The result of :func:`detect`.

    Attributes:
        meters: The meters to use, measured first.
        used: Names of the backends that gave meters, in the same order.
        skipped: For each backend not used, why.
        notes: What the meters used had to say (a GPU left out, a device order caveat).
    """

    meters: tuple[PowerMeter, ...]
    used: tuple[str, ...]
    skipped: dict[str, str]
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """One sentence for reports: what was used and why not the rest."""
        text = f"auto: used {', '.join(self.used) or 'none'}"
        if self.skipped:
            text += "; not used: " + "; ".join(
                f"{k} ({v.splitlines()[0] if v else 'no reason given'})"
                for k, v in self.skipped.items()
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: each backend with its status, channels or reason."""
        backends: list[dict[str, Any]] = [
            {
                "backend": name,
                "status": "used",
                "channels": [
                    {
                        "id": c.id,
                        "domain": str(c.domain),
                        "kind": c.kind,
                        "source": c.source,
                        "label": c.label,
                    }
                    for c in meter.channels
                ],
            }
            for name, meter in zip(self.used, self.meters, strict=True)
        ]
        backends += [
            {"backend": name, "status": "not used", "reason": reason}
            for name, reason in self.skipped.items()
        ]
        return {"backends": backends, "notes": list(self.notes)}

    def close(self) -> None:
        """Close every meter found (when detecting only to look)."""
        for meter in self.meters:
            meter.close()


def _nvml_meter(scope: str = "machine") -> PowerMeter:
    from nlpfootprint.errors import MeterUnavailableError
    from nlpfootprint.meters.nvml import NvmlMeter

    try:
        return NvmlMeter(scope=scope)
    except MeterUnavailableError as err:
        driver = Path("/proc/driver/nvidia").exists() or Path("/dev/nvidia0").exists()
        if "bindings are not installed" in str(err) and not driver:
            raise MeterUnavailableError(
                "no NVIDIA GPU driver on this machine (no /proc/driver/nvidia, no /dev/nvidia0)"
            ) from err
        raise


def _amd_meter() -> PowerMeter:
    from nlpfootprint.meters.amd import AmdSmiMeter

    return AmdSmiMeter()


def _rapl_meter() -> PowerMeter:
    from nlpfootprint.meters.rapl import RaplMeter

    return RaplMeter()


def _estimated_cpu(scope: str = "machine", tdp_w: float | None = None) -> PowerMeter:
    from nlpfootprint.meters.estimated import EstimatedCpuMeter

    return EstimatedCpuMeter(tdp_w, scope=scope)  # type: ignore[arg-type]


def _estimated_dram() -> PowerMeter:
    from nlpfootprint.meters.estimated import EstimatedDramMeter

    return EstimatedDramMeter()


def default_backends(
    *, cpu_scope: str = "machine", cpu_tdp_w: float | None = None, gpu_scope: str = "machine"
) -> list[Backend]:
    """The backends :func:`detect` tries: measured ones first, then the estimates (the CPU
    estimate in ``cpu_scope``, at ``cpu_tdp_w`` when given; NVIDIA GPUs in ``gpu_scope``)."""
    estimated_cpu = functools.partial(_estimated_cpu, cpu_scope, cpu_tdp_w)
    return [
        Backend("nvml", ("gpu",), functools.partial(_nvml_meter, gpu_scope)),
        Backend("amdsmi", ("gpu",), _amd_meter),
        Backend("rapl", ("cpu", "dram"), _rapl_meter),
        Backend("estimated-cpu", ("cpu",), estimated_cpu, estimated=True),
        Backend("estimated-dram", ("dram",), _estimated_dram, estimated=True),
    ]


def _backends_arg(backends: object) -> list[Backend]:
    """``detect(backends=...)`` checked: a list of discovery :class:`Backend` s."""
    if isinstance(backends, str) or not isinstance(backends, Sequence):
        raise ConfigurationTypeError(f"backends={backends!r}: expected a list of Backend")
    for i, backend in enumerate(backends):
        if not isinstance(backend, Backend):
            raise ConfigurationTypeError(
                f"backends[{i}]={backend!r}: expected a nlpfootprint.meters.discovery.Backend"
            )
    return list(backends)


def _clash(meter: PowerMeter, found: Sequence[PowerMeter]) -> str:
    """Why ``meter`` cannot join ``found`` (a channel id already taken), or ''."""
    taken = {c.id for m in found for c in m.channels}
    ids = [c.id for c in meter.channels if c.id in taken]
    if not ids:
        return ""
    return (
        f"its channels {', '.join(ids)} clash with those of a meter already used (a machine "
        "with NVIDIA and AMD GPUs: pass meters=[NvmlMeter(), AmdSmiMeter(first_channel=N)])"
    )


def detect(
    backends: Sequence[Backend] | None = None,
    *,
    cpu_scope: str = "machine",
    cpu_tdp_w: float | None = None,
    gpu_scope: str = "machine",
) -> Detection:
    """Create the best meters available here (``cpu_scope`` and ``cpu_tdp_w``: for the CPU
    estimate of the default backends; ``gpu_scope``: for NVIDIA GPUs, ``"process"`` to
    charge this process tree's share of each, see ``NvmlMeter(scope=)``).

    Measured backends are tried first; an estimated backend is used only for a domain no
    measured meter covers. A backend that fails (unavailable, permission denied, an OS
    error, or anything unexpected) is skipped with the error's message as its reason.
    Set ``NLPFOOTPRINT_DISABLE`` to a comma-separated list of backend names to skip them.
    """
    disabled = {
        name.strip() for name in os.environ.get("NLPFOOTPRINT_DISABLE", "").split(",") if name
    }
    meters: list[PowerMeter] = []
    used: list[str] = []
    skipped: dict[str, str] = {}
    notes: list[str] = []
    covered: set[str] = set()
    chosen = (
        default_backends(cpu_scope=cpu_scope, cpu_tdp_w=cpu_tdp_w, gpu_scope=gpu_scope)
        if backends is None
        else _backends_arg(backends)
    )
    for backend in sorted(chosen, key=lambda b: b.estimated):
        if backend.name in disabled:
            skipped[backend.name] = "disabled by NLPFOOTPRINT_DISABLE"
            continue
        if backend.estimated and covered.issuperset(backend.domains):
            skipped[backend.name] = "a measured meter covers " + "/".join(backend.domains)
            continue
        try:
            meter = backend.factory()
        except (NlpFootprintError, OSError) as err:
            skipped[backend.name] = str(err)
            continue
        except Exception as err:  # a backend's bug must not stop the user's run
            skipped[backend.name] = f"failed unexpectedly: {type(err).__name__}: {err}"
            continue
        clash = _clash(meter, meters)
        if clash:
            meter.close()
            skipped[backend.name] = clash
            continue
        meters.append(meter)
        used.append(backend.name)
        covered.update(str(c.domain) for c in meter.channels)
        notes += [str(n) for n in getattr(meter, "notes", ())]
        if gpu_scope == "process" and backend.name == "amdsmi":
            notes.append(
                "gpu_scope='process' applies to NVIDIA GPUs only: the AMD GPUs' channels are "
                "their whole devices' energy, whoever used them"
            )
    return Detection(meters=tuple(meters), used=tuple(used), skipped=skipped, notes=tuple(notes))
