"""Reading what older versions wrote: schema-1 reports and run logs, upgraded on load.

Schema 1 kept a channel's provenance only in its human label. On load, this module infers
the structured fields that schema 2 stores (backend, device, estimate basis) from those
labels, once, so that nothing downstream ever reads a label again. Values it cannot infer
stay empty (``backend="user"``, no device, no basis), never guessed further.

Run-log headers written before channels stated the most their device can draw have no
``max_power_w``: it is read as None (not known), so their readings are bounded by the
default for the channel's domain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nlpfootprint.provenance import Backend, Basis

__all__ = ["upgrade_channel", "upgrade_header_channel", "upgrade_report"]

# "64 x Tesla V100 SXM2 at 300 W ..." (an estimate by hardware)
_COUNTED = re.compile(r"^(\d+) x (.+?) at ([\d.]+) W\b")
# "gpu:0-63" (a channel standing for several devices)
_ID_RANGE = re.compile(r":(\d+)-(\d+)$")
# What an estimated channel's schema-1 label said about its basis, in order of precedence.
_BASES = (
    ("utilisation", Basis.POWER_LIMIT_X_UTILISATION),
    ("x utilization", Basis.RATED_POWER),
    ("as given", Basis.GIVEN_POWER),
    ("TDP", Basis.TDP),
    ("W/GiB", Basis.MEMORY),
)


def _backend(label: str, estimated: bool) -> Backend:
    words = label.replace("(", " ").replace(":", " ").split()
    if "NVML" in words:
        return Backend.NVML
    if label.startswith("pyRAPL"):
        return Backend.PYRAPL
    if label.startswith("RAPL"):
        return Backend.RAPL
    if label.startswith("fake "):
        return Backend.FAKE
    return Backend.ESTIMATED if estimated and _basis(label) is not None else Backend.USER


def _basis(label: str) -> Basis | None:
    return next((basis for text, basis in _BASES if text in label), None)


def _device(channel_id: str, label: str, backend: Backend) -> dict[str, Any] | None:
    counted = _COUNTED.match(label)
    if counted:
        return {
            "name": counted[2],
            "index": None,
            "uuid": None,
            "host": None,
            "count": int(counted[1]),
        }
    span = _ID_RANGE.search(channel_id)
    if backend is Backend.NVML or span:
        count = int(span[2]) - int(span[1]) + 1 if span else 1
        name = label.split(" (", maxsplit=1)[0].split(": ", maxsplit=1)[0].strip()
        return {"name": name, "index": None, "uuid": None, "host": None, "count": count}
    return None


def upgrade_channel(data: Mapping[str, Any]) -> dict[str, Any]:
    """A schema-1 channel dict (a report's or a log header's) with schema-2 provenance."""
    label = str(data.get("label", ""))
    estimated = bool(data.get("estimated", data.get("source") == "estimated"))
    backend = _backend(label, estimated)
    counted = _COUNTED.match(label)
    basis = _basis(label) if estimated else None
    return {
        **data,
        "backend": backend.value,
        "device": _device(str(data.get("id", "")), label, backend),
        "basis": None
        if basis is None
        else {
            "basis": basis.value,
            "rated_w": float(counted[3]) if counted else None,
            "source": "",
            "scope": None,
        },
    }


def upgrade_header_channel(data: Mapping[str, Any]) -> dict[str, Any]:
    """A run-log header's channel dict with every field this version reads: provenance
    inferred from a schema-1 label, and ``max_power_w`` None where it was not written."""
    upgraded = dict(data) if "backend" in data else upgrade_channel(data)
    upgraded.setdefault("max_power_w", None)
    return upgraded


def upgrade_report(data: Mapping[str, Any]) -> dict[str, Any]:
    """A schema-1 report dict in schema-2 form (windows too)."""
    return {
        **data,
        "channels": [upgrade_channel(c) for c in data["channels"]],
        "windows": [upgrade_report(w) for w in data["windows"]],
    }
