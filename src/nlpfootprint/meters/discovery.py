"""Find the meters this machine offers, and say why the others were not used.

:func:`detect` tries each backend in order of preference. Measured backends come first;
estimated meters only fill the domains nothing measured. Every backend not used comes
back with a reason, so ``meters="auto"`` never silently settles for an estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from nlpfootprint.errors import NlpFootprintError
from nlpfootprint.meters.base import PowerMeter

__all__ = ["Backend", "Detection", "detect"]


@attrs.frozen
class Backend:
    """A way of getting meters: a name, what it covers, and a factory that may raise."""

    name: str
    domains: tuple[str, ...]
    factory: Callable[[], PowerMeter]
    estimated: bool = False


@attrs.frozen
class Detection:
    """The result of :func:`detect`.

    Attributes:
        meters: The meters to use, measured first.
        used: Names of the backends that gave meters.
        skipped: For each backend not used, why.
    """

    meters: tuple[PowerMeter, ...]
    used: tuple[str, ...]
    skipped: dict[str, str]

    def summary(self) -> str:
        """One sentence for reports: what was used and why not the rest."""
        used = ", ".join(self.used) or "none"
        text = f"auto: used {used}"
        if self.skipped:
            text += "; not used: " + "; ".join(f"{k} ({v})" for k, v in self.skipped.items())
        return text


def _estimated_backends() -> list[Backend]:
    from nlpfootprint.meters.estimated import EstimatedCpuMeter, EstimatedDramMeter

    return [
        Backend("estimated-cpu", ("cpu",), EstimatedCpuMeter, estimated=True),
        Backend("estimated-dram", ("dram",), EstimatedDramMeter, estimated=True),
    ]


def default_backends() -> list[Backend]:
    """The backends :func:`detect` tries, measured first."""
    return _estimated_backends()


def detect(backends: Sequence[Backend] | None = None) -> Detection:
    """Create the best meters available.

    Measured backends are tried first; an estimated backend is used only for a domain no
    measured backend covers. Backends that fail with a library error are skipped with the
    error's message as the reason.
    """
    meters: list[PowerMeter] = []
    used: list[str] = []
    skipped: dict[str, str] = {}
    covered: set[str] = set()
    ordered = sorted(backends or default_backends(), key=lambda b: b.estimated)
    for backend in ordered:
        if backend.estimated and covered.issuperset(backend.domains):
            skipped[backend.name] = "a measured meter covers " + "/".join(backend.domains)
            continue
        try:
            meter = backend.factory()
        except (NlpFootprintError, OSError) as err:
            skipped[backend.name] = str(err)
            continue
        meters.append(meter)
        used.append(backend.name)
        covered.update(str(c.domain) for c in meter.channels)
    return Detection(meters=tuple(meters), used=tuple(used), skipped=skipped)
