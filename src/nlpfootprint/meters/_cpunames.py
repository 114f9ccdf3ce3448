"""CPU model names reduced to the words that identify the part, for the TDP table's matcher.

:func:`normalize_cpu_name` is applied alike to the name a system reports and to every table
name; :func:`split_name` cuts a normalised name into vendor, model number and the other
words; :func:`spellings` gives the table spellings of a reported name where the two are
written differently (first-generation Core i3/i5/i7); :func:`families_agree` says whether
the other words of a reported name allow a table row. :mod:`nlpfootprint.meters.tdp` uses
them and documents the rules.

Normalising lower-cases, replaces what it drops with a space, closes up the spaces beside a
hyphen and puts a hyphen into ``E31230``: it never joins two runs of letters and digits, so
every such run of a normalised table name occurs in the table's line (the fast lookup
relies on it).
"""

from __future__ import annotations

import re

import attrs

__all__ = [
    "IGNORABLE_WORDS",
    "VARIANT_WORDS",
    "NameParts",
    "families_agree",
    "model_key",
    "normalize_cpu_name",
    "spellings",
    "split_name",
]

_VENDORS = ("intel", "amd", "apple")

_TRADEMARK = re.compile(r"\((?:r|tm|c)\)|[®™]")
_HYPHEN = re.compile(r"\s*-\s*")
_PARENTHESISED = re.compile(r"\([^)]*\)")
_RADEON = re.compile(r"(?:\b(?:with|w/)\s+|\+\s*)?(?:\bamd\s+)?\bradeon\b.*$")
#: AMD APUs' ``R7, 12 Compute Cores 4C+8G``: graphics and core counts, not the model.
_COMPUTE_CORES = re.compile(r"(?:\br\d+,\s*)?\b\d+ compute cores\b.*$")
_CLOCK = re.compile(r"\b\d+(?:\.\d+)?\s*[mg]hz\b")
_CORES = re.compile(r"\b(?:\d+-|(?:dual|triple|quad|six|eight|ten|twelve|sixteen)[- ]?)cores?\b")
_GENERATION = re.compile(r"\b\d+(?:st|nd|rd|th) gen\b")
#: Sandy Bridge Xeon E3s (``E31230``) leave out the hyphen that later ones and the table
#: write (``E3-1230``).
_XEON_E3 = re.compile(r"\be3(1\d{3}[a-z]?)\b")
_NOISE_WORDS = frozenset({"cpu", "processor", "processors", "genuine"})
_VERSION = re.compile(r"v\d+")
_TIER = re.compile(r"\d{1,2}")
#: Apple's variants are different parts with different TDPs: ``M1 Pro`` is not ``M1``.
_APPLE_VARIANTS = frozenset({"pro", "max", "ultra"})
#: First-generation Core (2008-2011): ``Core(TM) i7 CPU  920``, ``i5 CPU  M 520``, where
#: the table writes ``Core i7-920``, ``Core i5-520M``.
_FIRST_GEN_CORE = re.compile(r"\bcore (i[357]) (?:([a-z]) )?(\d{3})\b")
_RUN = re.compile(r"[a-z0-9]+")

#: Words a reported name may carry that its table row leaves out without naming another
#: part: ``APU`` (``AMD A8-3850 APU``), the ``Dual`` of ``Pentium(R) Dual CPU E2180``
#: (the table's ``Pentium Dual-Core E2180``) and the stray ``0`` of Sandy Bridge Xeons
#: (``E5-2680 0``). Any other word the row lacks (``Mobile``, ``PRO``, ``II``, ``X2``,
#: ``HE``) may name a different part, so it stops the match.
IGNORABLE_WORDS = frozenset({"apu", "dual", "0"})

#: Words that mark a variant of a part sold under the same model number, most often at
#: another TDP: low-power (``HE``, ``EE``, ``SFF``, ``LV``, ``ULV``, ``MV``), mobile
#: (``Mobile``, ``DTR``, the ``M`` of ``Celeron M 420``), faster or bigger (``SE``,
#: ``Extreme``, ``Ultra``, ``Max``, ``Max+``, ``BE``, ``HT``, ``MP``) or another line
#: (``PRO``, the ``Go`` of ``Ryzen Z2 Go``). A row that adds one the reported name lacks
#: is another part, or one the name cannot be told from: ``Opteron 2350`` (95 W) is not
#: the table's ``Opteron 2350 HE`` (79 W). Words that only label the one part a model
#: number names (``Gold``, ``X2``, ``APU``, ``SoC``, ``Embedded``, ``X-series``,
#: ``Microsoft Surface Edition``) are not in the set, so a row may add them.
VARIANT_WORDS = frozenset(
    {
        "he", "ee", "sff", "lv", "ulv", "mv", "mobile", "dtr", "m",
        "se", "extreme", "ultra", "max", "max+", "be", "ht", "mp", "pro", "go",
    }
)  # fmt: skip


def normalize_cpu_name(name: str) -> str:
    """Reduce a CPU model name to the words that identify the part.

    Examples:
        >>> normalize_cpu_name("Intel(R) Xeon(R) CPU E5-2698 v4 @ 2.20GHz")
        'intel xeon e5-2698 v4'
        >>> normalize_cpu_name("AMD EPYC 7763 64-Core Processor")
        'amd epyc 7763'
        >>> normalize_cpu_name("AMD FX(tm)-8350 Eight-Core Processor")
        'amd fx-8350'
    """
    text = _TRADEMARK.sub(" ", name.lower())
    text = _HYPHEN.sub("-", text.partition("@")[0])
    text = _PARENTHESISED.sub(" ", text)
    text = _RADEON.sub(" ", text)
    for pattern in (_COMPUTE_CORES, _CLOCK, _CORES, _GENERATION):
        text = pattern.sub(" ", text)
    text = _XEON_E3.sub(r"e3-\1", text)
    words = text.replace(",", " ").split()
    return " ".join(w for w in words if w not in _NOISE_WORDS)


def spellings(normalized: str) -> tuple[str, ...]:
    """The ways the table may write a normalised reported name: itself, as a rule.

    A first-generation Core name is rewritten as the table writes it: ``core i7 920`` is
    ``core i7-920``; a letter before the number is a suffix, with or without the ``M``
    of the mobile parts (``core i7 q 720`` is ``core i7-720q`` or ``core i7-720qm``,
    ``core i7 x 980`` is ``core i7-980x`` or ``core i7-980xm``), and the caller keeps a
    match only when every spelling that finds one agrees on the TDP.

    Examples:
        >>> spellings("intel core i5 m 520")
        ('intel core i5-520m',)
        >>> spellings("intel core i7 q 720")
        ('intel core i7-720q', 'intel core i7-720qm')
    """
    found = _FIRST_GEN_CORE.search(normalized)
    if found is None:
        return (normalized,)
    tier, letter, number = found.groups()
    if letter is None:
        suffixes: tuple[str, ...] = ("",)
    elif letter == "m":
        suffixes = ("m",)
    else:
        suffixes = (letter, letter + "m")
    head, tail = normalized[: found.start()], normalized[found.end() :]
    return tuple(f"{head}core {tier}-{number}{suffix}{tail}" for suffix in suffixes)


@attrs.frozen
class NameParts:
    """A normalised name cut into its parts.

    Attributes:
        vendor: ``"intel"``, ``"amd"``, ``"apple"``, or None when the name says none.
        model: The model number with its suffixes (``"e5-2698 v4"``, ``"m1 pro"``), or
            None when the name has none.
        family: The other words, vendor left out (``{"xeon", "gold"}``).
    """

    vendor: str | None
    model: str | None
    family: frozenset[str]


def split_name(normalized: str) -> NameParts:
    """Vendor, model number and the remaining words of a normalised name.

    The model number is the last word holding a digit, other than a one- or two-digit
    tier (the ``9`` of ``Ryzen 9``) or a ``v2``..``v6`` revision, which is appended to it
    when it follows; an Apple model keeps its variant (``m1 pro``, ``m2 ultra``).

    Examples:
        >>> parts = split_name("amd ryzen 9 5950x")
        >>> parts.vendor, parts.model, sorted(parts.family)
        ('amd', '5950x', ['9', 'ryzen'])
        >>> split_name("apple m1 pro").model
        'm1 pro'
    """
    words = normalized.split()
    vendor = next((w for w in words if w in _VENDORS), None)
    index = next(
        (
            i
            for i in range(len(words) - 1, -1, -1)
            if any(c.isdigit() for c in words[i])
            and not _VERSION.fullmatch(words[i])
            and not _TIER.fullmatch(words[i])
        ),
        None,
    )
    if index is None:
        return NameParts(vendor, None, frozenset(w for w in words if w != vendor))
    used = {index}
    model = words[index]
    if index + 1 < len(words):
        following = words[index + 1]
        if _VERSION.fullmatch(following) or (vendor == "apple" and following in _APPLE_VARIANTS):
            model += " " + following
            used.add(index + 1)
    family = frozenset(w for i, w in enumerate(words) if i not in used and w != vendor)
    return NameParts(vendor, model, family)


def families_agree(reported: frozenset[str], row: frozenset[str]) -> bool:
    """Whether a row's other words allow the reported name's.

    Every word of the reported name must be in the row, save :data:`IGNORABLE_WORDS`; the
    row may add words (the reported name being less specific), save
    :data:`VARIANT_WORDS`. A wrong match is worse than a miss, so both directions count.

    Examples:
        >>> families_agree(frozenset({"xeon"}), frozenset({"xeon", "gold"}))
        True
        >>> families_agree(frozenset({"opteron"}), frozenset({"opteron", "he"}))
        False
        >>> families_agree(frozenset({"opteron", "he"}), frozenset({"opteron"}))
        False
    """
    return reported - IGNORABLE_WORDS <= row and not (row - reported) & VARIANT_WORDS


def model_key(model: str) -> str:
    """The longest run of letters and digits in a model number's first word: ``"2698"``
    for ``"e5-2698 v4"``, ``"m1"`` for ``"m1 pro"``. Every row with that model number
    holds it in its table line (see the module docstring)."""
    runs: list[str] = _RUN.findall(model.split(maxsplit=1)[0])
    return max(runs, key=lambda run: (any(c.isdigit() for c in run), len(run)))
