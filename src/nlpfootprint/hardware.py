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

A variant of a listed model (``"RTX 3090 Ti"``, ``"RTX 4090 D"``) is another part: the
error says it is not in the table and names the base model. An unknown name gets close
names of its own series (``"MI300A"``: the MI300X, never a GeForce), each row named once.

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
    "nvidia tesla geforce rtx quadro amd instinct intel habana google cloud gpu gpus tensor "
    "core hbm2 hbm2e hbm3 hbm3e gddr5 gddr6 gddr6x chip module superchip grace hopper hgx "
    "dgx board accelerator ai"
)
_IGNORED = frozenset(_NOISE.split())
_MEMORY = re.compile(r"(\d+)gb")
_FORM = re.compile(r"sxm\d?|pcie|nvl|oam")
#: Form factors made for one system only, taken only when named (rule 1 of the module doc):
#: SXM3, the V100 module of NVIDIA's DGX-2 and DGX-2H.
_ONE_SYSTEM_FORMS = frozenset({"sxm3"})
#: Form factors of the modules that training servers carry (rule 2 of the module doc).
_MODULE_FORMS = ("SXM", "OAM")
_MEMORY_VARIANT = re.compile(r"(\d+) GB (?:HBM\w* )?(?:variant|physical)")
#: Words that name a variant of a model, another part with its own power (``RTX 3090 Ti``,
#: ``RTX 4090 D``, ``RTX 4080 SUPER``, a ``Laptop`` or ``Max-Q`` GPU, a Radeon ``XT``).
_VARIANT_WORDS = frozenset(
    {"ti", "super", "d", "laptop", "mobile", "max", "q", "maxq", "xt", "xtx"}
)
#: The letters before a compact name's first digit: its series (``mi``, ``a``, ``tpuv``).
_SERIES = re.compile(r"[a-z]*")


@attrs.frozen
class HardwareSpec:
    """One accelerator from the power table.

    Attributes:
        vendor: ``NVIDIA``, ``AMD``, ``Intel`` or ``Google``.
        model: The canonical name (``"Tesla V100 SXM2"``, ``"A100 80GB SXM4"``, ``"TPU v3"``,
            ``"Instinct MI300X"``).
        form_factor: ``PCIe``, ``SXM2``, ``SXM4``, ``SXM5``, ``OAM``, ``TPU chip``, ...
        memory_gb: Device memory, when known.
        power_w: Rated power in watts (what ``power_metric`` says).
        power_min_w: The low end of a configurable power range, when there is one.
        power_metric: What ``power_w`` is: max board power, max TDP, total graphics power,
            (A10G) the power cap nvidia-smi reports, or (TPU v2/v3) a measured average --
            Google publishes no TDP for those.
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
    text = re.sub(r"\bgaudi[\s_-]*(\d)", r"gaudi\1", text)
    # nvidia-smi's "Tesla V100-SXM3-32GB-H": the DGX-2H's V100, the table's SXM3 row.
    text = re.sub(r"\bsxm3[\s_-]*(\d+)\s*gb[\s_-]*h\b", r"sxm3 \1gb", text)
    text = re.sub(r"(\d+)\s*gb\b", r"\1gb", text)
    text = re.sub(r"(?<=\d)(?=sxm|pcie|nvl|oam)", " ", text)
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
    """How to write a family in a suggestion: ``"V100"``, ``"TPU v3"``, ``"Gaudi 3"``."""
    models = [e.spec.model for e in entries if e.family == family]
    if len(models) == 1:
        return models[0]
    words = models[0].split()
    spans = (
        " ".join(words[start:end])
        for start in range(len(words))
        if compact_name(words[start])
        for end in range(start + 1, len(words) + 1)
    )
    return next((span for span in spans if compact_name(span) == family), family.upper())


def _same_series(query: str, key: str) -> bool:
    """Whether two compact names belong to one series: the letters before their first
    digit agree, or one extends the other (``tpu``, ``tpuv3``); none agrees only with none
    (``4080``, ``3090``). ``mi300a`` is never close to ``3090``."""
    mine, theirs = _SERIES.match(query), _SERIES.match(key)
    a, b = (mine.group() if mine else ""), (theirs.group() if theirs else "")
    if not a or not b:
        return a == b
    return a.startswith(b) or b.startswith(a)


def _suggestions(name: str, entries: tuple[_Entry, ...]) -> list[str]:
    """Up to five close names of the same series, closest first, each naming rows that no
    earlier one names (``Gaudi 3``, not then ``Gaudi 3 OAM`` and ``Gaudi 3 PCIe`` too)."""
    by_key: dict[str, tuple[str, frozenset[str]]] = {}
    for e in entries:
        rows = frozenset(f.spec.model for f in entries if f.family == e.family)
        by_key[e.family] = (_family_label(entries, e.family), rows)
    for e in entries:
        by_key.setdefault(compact_name(e.spec.model), (e.spec.model, frozenset({e.spec.model})))
    tokens = _tokens(name)
    query = "".join(t for t in tokens if t not in _VARIANT_WORDS) or "".join(tokens)
    keys = [key for key in by_key if _same_series(query, key)]
    hint: list[str] = []
    named: set[str] = set()
    for key in difflib.get_close_matches(query, keys, n=5, cutoff=0.6):
        label, rows = by_key[key]
        if not rows & named:
            hint.append(label)
            named |= rows
    return hint


def _unknown(name: str, entries: tuple[_Entry, ...]) -> UnknownKeyError:
    hint = _suggestions(name, entries)
    known = ", ".join(sorted({e.spec.model for e in entries}))
    did_you_mean = f"did you mean {', '.join(hint)}? " if hint else "no close name; "
    return UnknownKeyError(
        f"hardware={name!r} is not in the power table; {did_you_mean}known: {known}. "
        "For other hardware pass its power in watts (power_w=)"
    )


def _variant_missing(name: str, entries: tuple[_Entry, ...], family: str) -> UnknownKeyError:
    """A variant of a model the table has (``RTX 3090 Ti``): not in the table; the base is."""
    base = _family_label(entries, family)
    rows = [e.spec for e in entries if e.family == family]
    has = f"{base} ({rows[0].power_w:g} W)" if len(rows) == 1 else f"{base}: {_listing(rows)}"
    return UnknownKeyError(
        f"hardware={name!r}: that variant is not in the power table, only the {has}. A "
        f"variant is another part with its own power: pass its power_w=, or "
        f"hardware={base!r} to use the base model's figure"
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
    if other and set(other) <= _VARIANT_WORDS and len(memories) <= 1 and len(forms) <= 1:
        raise _variant_missing(name, entries, found[0])
    if other or len(memories) > 1 or len(forms) > 1:
        raise UnknownKeyError(
            f"hardware={name!r}: did not understand {other or memories + forms} (give one "
            "model, optionally one memory size such as 80GB and one form factor: SXM, PCIe, "
            "NVL, OAM)"
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
    named = set(_tokens(name)) if isinstance(name, str) else set()
    if len(fits) > 1:
        fits = [s for s in fits if not _entry(s).forms & (_ONE_SYSTEM_FORMS - named)] or fits
    if len(fits) > 1 and not any(_FORM.fullmatch(t) for t in named):
        modules = [s for s in fits if s.form_factor.upper().startswith(_MODULE_FORMS)]
        fits = modules or fits
    if len(fits) > 1 and len({s.power_w for s in fits}) == 1:
        fits = [min(fits, key=lambda s: s.memory_gb or math.inf)]
    if len(fits) > 1:
        raise ConfigurationError(
            f"hardware={name!r} is ambiguous: {_listing(fits)}; name the memory or form factor"
        )
    return fits[0]
