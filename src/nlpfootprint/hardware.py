"""Accelerator power specifications and cloud prices, for estimating a run without measuring it.

:func:`hardware_spec` finds a GPU or TPU in the shipped table ``data/hardware_power.csv``
(vendor datasheets; see ``nlpfootprint/data/README.md``), read once on first use. Names are
matched forgivingly: case, spaces, dashes and vendor words (``NVIDIA``, ``Tesla``,
``Google``) do not matter, the memory (``80GB``) and the form factor (``SXM``, ``SXM4``,
``PCIe``, ``NVL``) are optional, and what ``nvidia-smi`` or a cloud API prints works too
(``"Tesla V100-SXM2-16GB"``, ``"NVIDIA H100 80GB HBM3"``, ``"nvidia-tesla-a100"``).

When a name fits several parts, the rule is:

1. if no form factor was named, keep the SXM modules: they are what 4- and 8-GPU training
   servers (DGX/HGX) and the cloud training instances carry, and they have the highest
   power, so an estimate errs high rather than low. ``"V100"`` is the Tesla V100 SXM2
   (300 W, not the 250 W PCIe card); ``"H100"`` is the H100 SXM5 (700 W);
2. if the parts left all have the same power, take the one with the least memory, the base
   model (``"A100"`` is the A100 40GB SXM4; the 80 GB module has the same 400 W);
3. otherwise the name is ambiguous and the error lists the parts (``"A100 PCIe"``: 250 W
   for 40 GB, 300 W for 80 GB).

Cloud prices are in :mod:`nlpfootprint.prices`.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import math
import re
from collections.abc import Mapping
from importlib import resources

import attrs

from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError, UnknownKeyError

__all__ = [
    "HardwareSpec",
    "compact_name",
    "hardware_candidates",
    "hardware_spec",
    "load_hardware_table",
    "parse_hardware_table",
]

_TABLE_FILE = "hardware_power.csv"
#: Words in a device name that say nothing about which part it is.
_NOISE = (
    "nvidia tesla google cloud gpu gpus tensor core hbm2 hbm2e hbm3 hbm3e gddr5 gddr6 "
    "chip module superchip grace hopper hgx dgx board accelerator"
)
_IGNORED = frozenset(_NOISE.split())
_MEMORY = re.compile(r"(\d+)gb")
_FORM = re.compile(r"sxm\d?|pcie|nvl")
_MEMORY_VARIANT = re.compile(r"(\d+) GB (?:HBM\w* )?(?:variant|physical)")


@attrs.frozen
class HardwareSpec:
    """One accelerator from the power table.

    Attributes:
        vendor: ``NVIDIA`` or ``Google``.
        model: The canonical name (``"Tesla V100 SXM2"``, ``"A100 80GB SXM4"``, ``"TPU v3"``).
        form_factor: ``PCIe``, ``SXM2``, ``SXM4``, ``SXM5``, ``TPU chip``, ...
        memory_gb: Device memory, when known.
        power_w: Rated power in watts (what ``power_metric`` says).
        power_min_w: The low end of a configurable power range, when there is one.
        power_metric: What ``power_w`` is: max board power, max TDP, or (TPU v2/v3) a measured
            average -- Google publishes no TDP for those.
        released: Year of release.
        source: The datasheet or paper the power comes from.
        corroboration: A second source that agrees, when one was found.
        verification: How the value was checked.
        notes: Caveats, variants with the same power.
    """

    vendor: str
    model: str
    form_factor: str
    memory_gb: float | None
    power_w: float
    power_min_w: float | None
    power_metric: str
    released: int | None
    source: str
    corroboration: str
    verification: str
    notes: str

    def describe(self) -> str:
        """``"Tesla V100 SXM2, 300 W (max board power)"``."""
        return f"{self.model}, {self.power_w:g} W ({self.power_metric})"


def _optional_number(row: Mapping[str, str], column: str, line: int) -> float | None:
    text = row[column].strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(f"line {line}: {column}={text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"line {line}: {column}={text!r} must be a positive number")
    return value


def parse_hardware_table(text: str) -> tuple[HardwareSpec, ...]:
    """Read the CSV layout of ``data/hardware_power.csv``; a bad row raises, naming its line."""
    specs = []
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        line = reader.line_num
        power_w = _optional_number(row, "power_w", line)
        if power_w is None or not row["model"].strip():
            raise ConfigurationError(f"line {line}: a row needs a model and power_w")
        released = _optional_number(row, "released", line)
        specs.append(
            HardwareSpec(
                vendor=row["vendor"].strip(),
                model=row["model"].strip(),
                form_factor=row["form_factor"].strip(),
                memory_gb=_optional_number(row, "memory_gb", line),
                power_w=power_w,
                power_min_w=_optional_number(row, "power_min_w", line),
                power_metric=row["power_metric"].strip(),
                released=None if released is None else int(released),
                source=row["source"].strip(),
                corroboration=row["corroboration"].strip(),
                verification=row["verification"].strip(),
                notes=row["notes"].strip(),
            )
        )
    return tuple(specs)


def _tokens(name: str) -> list[str]:
    text = name.lower().replace("pci-e", "pcie").replace("pci express", "pcie")
    text = re.sub(r"\btpu[\s_-]*v?(\d)", r"tpuv\1", text)
    text = re.sub(r"(\d+)\s*gb\b", r"\1gb", text)
    text = re.sub(r"(?<=\d)(?=sxm|pcie|nvl)", " ", text)
    return [t for t in re.split(r"[^a-z0-9]+", text) if t and t not in _IGNORED]


def compact_name(name: str) -> str:
    """A name reduced for matching (case, spaces, dashes and vendor words dropped)."""
    return "".join(_tokens(name))


@attrs.frozen
class _Entry:
    spec: HardwareSpec
    family: str
    memories: frozenset[float]
    forms: frozenset[str]


def _entry(spec: HardwareSpec) -> _Entry:
    tokens = _tokens(spec.model)
    family = next(t for t in tokens if not (_MEMORY.fullmatch(t) or _FORM.fullmatch(t)))
    memories = {float(m) for m in _MEMORY_VARIANT.findall(spec.notes)}
    if spec.memory_gb is not None:
        memories.add(spec.memory_gb)
    if "nvl" in tokens:
        forms = {"nvl"}
    else:
        first = (spec.form_factor.lower().split() or [""])[0]
        forms = {t for t in (*tokens, first) if _FORM.fullmatch(t)}
        forms |= {"sxm"} if any(f.startswith("sxm") for f in forms) else set()
    return _Entry(spec, family, frozenset(memories), frozenset(forms))


@functools.cache
def load_hardware_table() -> tuple[HardwareSpec, ...]:
    """The shipped table, read on first use and kept."""
    resource = resources.files("nlpfootprint") / "data" / _TABLE_FILE
    return parse_hardware_table(resource.read_text(encoding="utf-8"))


@functools.cache
def _entries() -> tuple[_Entry, ...]:
    return tuple(_entry(spec) for spec in load_hardware_table())


def _listing(specs: tuple[HardwareSpec, ...] | list[HardwareSpec]) -> str:
    return "; ".join(f"{s.model} ({s.power_w:g} W)" for s in specs)


def _family_label(entries: tuple[_Entry, ...], family: str) -> str:
    """How to write a family in a suggestion: ``"V100"``, ``"TPU v3"``."""
    models = [e.spec.model for e in entries if e.family == family]
    if len(models) == 1:
        return models[0]
    return next((w for w in models[0].split() if compact_name(w) == family), family.upper())


def _unknown(name: str, entries: tuple[_Entry, ...]) -> UnknownKeyError:
    by_key = {e.family: _family_label(entries, e.family) for e in entries} | {
        compact_name(e.spec.model): e.spec.model for e in entries
    }
    close = difflib.get_close_matches(compact_name(name), list(by_key), n=5, cutoff=0.6)
    hint = list(dict.fromkeys(by_key[c] for c in close))
    known = ", ".join(sorted({e.spec.model for e in entries}))
    did_you_mean = f"did you mean {', '.join(hint)}? " if hint else ""
    return UnknownKeyError(
        f"hardware={name!r} is not in the power table; {did_you_mean}known: {known}. "
        "For other hardware pass its power in watts (power_w=)"
    )


def hardware_candidates(name: str | HardwareSpec) -> tuple[HardwareSpec, ...]:
    """Every table row a name fits, before the default rule picks one (see the module doc).

    Raises:
        UnknownKeyError: The name fits no row, or has words it does not understand.
        ConfigurationTypeError: The name is not a string (nor a :class:`HardwareSpec`).
        ConfigurationError: The name is empty, or names several models.
    """
    if isinstance(name, HardwareSpec):
        return (name,)
    if not isinstance(name, str):
        raise ConfigurationTypeError(
            f"hardware={name!r}: expected a name such as 'V100' or 'H100', got "
            f"{type(name).__name__}"
        )
    if not name.strip():
        raise ConfigurationError(f"hardware={name!r}: expected a name such as 'V100' or 'H100'")
    entries = _entries()
    families = {e.family for e in entries}
    tokens = list(dict.fromkeys(_tokens(name)))
    found = [t for t in tokens if t in families]
    if len(found) != 1:
        if found:
            raise ConfigurationError(f"hardware={name!r} names several models: {found}")
        raise _unknown(name, entries)
    memories = [float(m.group(1)) for t in tokens if (m := _MEMORY.fullmatch(t))]
    forms = [t for t in tokens if _FORM.fullmatch(t)]
    other = [t for t in tokens if t not in found and not _MEMORY.fullmatch(t) and t not in forms]
    if other or len(memories) > 1 or len(forms) > 1:
        raise UnknownKeyError(
            f"hardware={name!r}: did not understand {other or memories + forms} (give one "
            "model, optionally one memory size such as 80GB and one form factor: SXM, PCIe, NVL)"
        )
    family = [e for e in entries if e.family == found[0]]
    fits = [
        e.spec
        for e in family
        if (not memories or memories[0] in e.memories) and (not forms or forms[0] in e.forms)
    ]
    if not fits:
        raise UnknownKeyError(
            f"hardware={name!r}: the power table has no such {_family_label(entries, found[0])}; "
            f"it has: {_listing([e.spec for e in family])}. For other parts pass power_w="
        )
    return tuple(fits)


def hardware_spec(name: str | HardwareSpec) -> HardwareSpec:
    """The power-table row for a GPU or TPU name, by the rule in the module docstring.

    Examples:
        >>> hardware_spec("V100").model, hardware_spec("V100").power_w
        ('Tesla V100 SXM2', 300.0)
        >>> hardware_spec("nvidia a100-80gb pcie").model
        'A100 80GB PCIe'

    Raises:
        UnknownKeyError: Unknown (a ``KeyError``; the message suggests close names).
        ConfigurationTypeError: Not a string.
        ConfigurationError: Ambiguous (the message lists the parts it fits).
    """
    fits = list(hardware_candidates(name))
    named_form = isinstance(name, str) and any(_FORM.fullmatch(t) for t in _tokens(name))
    if len(fits) > 1 and not named_form:
        sxm = [s for s in fits if s.form_factor.upper().startswith("SXM")]
        fits = sxm or fits
    if len(fits) > 1 and len({s.power_w for s in fits}) == 1:
        fits = [min(fits, key=lambda s: s.memory_gb or math.inf)]
    if len(fits) > 1:
        raise ConfigurationError(
            f"hardware={name!r} is ambiguous: {_listing(fits)}; name the memory or form factor"
        )
    return fits[0]
