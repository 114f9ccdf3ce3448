"""The shipped carbon-intensity tables and the index of keys over them (private).

:mod:`nlpfootprint.intensity` is the public face. This module reads the CSV files in
``nlpfootprint/data`` (once, on first use, never at import) and builds a :class:`Catalogue`:
every :class:`Region` by its canonical key, and every spelling a user may type (codes,
names, aliases; normalised by :func:`normalize_key`) mapped to one canonical key.

Precedence, when two regions claim the same spelling: codes before names, and among names
countries before aggregates before subnational regions. The one real clash in the shipped
data is "Georgia": the country (GEO) keeps the name, the US state is ``US-GA``. Every
clash is recorded in :attr:`Catalogue.shadowed`, so a test can pin the list.

Corrections (:mod:`nlpfootprint._corrections`; data/README.md lists each, with why): a
country row of 0 g/kWh is served as the estimate from its generation mix (refused without
one); a figure above coal's lifecycle factor for a mostly gas-fired grid is served but
flagged; a cloud row whose ``origin`` is the country table is its country's figure, with
the country's source and flag. Each says so in ``source``, which every report prints.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Literal

import attrs

from nlpfootprint._corrections import (
    COUNTRY_MIXES,
    MixIntensity,
    implausible_notes,
    zero_notes,
)

__all__ = [
    "KINDS",
    "OWID_BASIS",
    "OWID_SOURCE",
    "Catalogue",
    "Region",
    "RegionKind",
    "build_catalogue",
    "emission_factors",
    "normalize_key",
]

RegionKind = Literal["preset", "aggregate", "country", "subnational", "cloud"]

#: The kinds of key, in the order :func:`nlpfootprint.intensity.regions` sorts them.
KINDS: tuple[RegionKind, ...] = ("preset", "aggregate", "country", "subnational", "cloud")

#: The citation Our World in Data asks for, with the license.
OWID_SOURCE = (
    "Ember (2026); Energy Institute - Statistical Review of World Energy (2025) - "
    "processed by Our World in Data, CC BY 4.0"
)
OWID_BASIS = "lifecycle, average of electricity generation"

_EGRID_NOTE = "direct emissions at the plant, not lifecycle: lower than lifecycle figures"
_MLCO2_2019 = (
    "an older grid average compiled in 2019 from 2016-2019 sources, stale next to the "
    "country figures (prefer the country key)"
)
_MLCO2_LATER = "compiled in {year} by ML CO2 Impact; the underlying data may be older"
#: The ``origin`` of a cloud row whose figure is its country's row of the country table.
_MAPPED_ORIGIN = "carbon_intensity_countries.csv"

# Spellings users type that neither OWID nor ISO 3166-1 gives (ours; see data/README.md).
_COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "USA": ("U.S.", "U.S.A.", "United States of America"),
    "GBR": ("UK", "U.K.", "Great Britain", "Britain"),
    "CZE": ("Czech Republic",),
    "NLD": ("Holland",),
    "CIV": ("Ivory Coast",),
    "MMR": ("Burma",),
    "SWZ": ("Swaziland",),
    "MKD": ("Macedonia",),
    "COD": ("DRC", "DR Congo", "Congo-Kinshasa"),
    "COG": ("Congo-Brazzaville", "Republic of the Congo"),
    "ARE": ("UAE",),
    "BIH": ("Bosnia",),
    "XKX": ("XK", "Kosovo"),
}
_AGGREGATE_KEYS = {"OWID_WRL": "world", "OWID_EU27": "eu27"}
_AGGREGATE_ALIASES: dict[str, tuple[str, ...]] = {
    "world": ("global",),
    "eu27": ("EU", "EU-27", "European Union"),
    # Groups only Ember publishes answer to their plain names too.
    "asean-ember": ("ASEAN",),
    "g20-ember": ("G20",),
    "g7-ember": ("G7",),
    "oecd-ember": ("OECD",),
    "middle-east-ember": ("Middle East",),
    "latin-america-and-caribbean-ember": ("Latin America and Caribbean", "Latin America"),
}
# Scaleway's row has no region id in the source; its key comes from the region name.
_CLOUD_ALIASES = {"scaleway:paris": ("scaleway:fr-par",)}
_KOSOVO = ("OWID_KOS", "XKX")


def normalize_key(text: str) -> str:
    """Fold a key for lookup: accents dropped, case folded, whitespace collapsed.

    Examples:
        >>> normalize_key("  Türkiye ")
        'turkiye'
        >>> normalize_key("Côte  d\u2019Ivoire")
        "cote d'ivoire"
    """
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", normalize_key(name)).strip("-")


@attrs.frozen
class Region:
    """One key that ``carbon_intensity=`` accepts, with its value and provenance.

    Attributes:
        key: The canonical key (``"FRA"``, ``"gcp:europe-west4"``, ``"US-CA"``).
        name: A readable name.
        kind: ``"preset"``, ``"aggregate"``, ``"country"``, ``"subnational"`` or ``"cloud"``.
        g_per_kwh: Grams CO2e per kWh.
        year: The year of the value (for mlco2-compiled cloud rows, the year compiled).
        source: Where the value comes from, with its license.
        basis: What the value counts (lifecycle or direct, CO2 only, ...), and caveats.
        short_source: A few words of ``source``, for tables.
        aliases: Other spellings that resolve to this key (ISO alpha-2, names, ...).
    """

    key: str
    name: str
    kind: RegionKind
    g_per_kwh: float
    year: int | None
    source: str
    basis: str = ""
    short_source: str = ""
    aliases: tuple[str, ...] = ()


@functools.cache
def _read(name: str) -> tuple[dict[str, str], ...]:
    """The rows of a shipped CSV file, read once."""
    text = (resources.files("nlpfootprint") / "data" / name).read_text(encoding="utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


def emission_factors() -> dict[str, tuple[float, str]]:
    """Median lifecycle g CO2e/kWh and technology per source (the ``is_default=1`` rows)."""
    return {
        row["source"]: (float(row["gco2e_per_kwh_median"]), row["technology"])
        for row in _read("emission_factors_by_source.csv")
        if row["is_default"] == "1"
    }


@attrs.frozen
class Catalogue:
    """Every region, and every spelling of every key.

    Attributes:
        regions: Region by canonical key.
        index: Normalised spelling -> canonical key.
        no_data: Normalised spelling of an ISO country without a value -> its description.
        shadowed: ``(spelling, key kept, key refused)`` for each clash, first claim kept.
        refused: Normalised spelling of a row whose figure is not served -> why.
    """

    regions: dict[str, Region]
    index: dict[str, str]
    no_data: dict[str, str]
    shadowed: tuple[tuple[str, str, str], ...]
    refused: dict[str, str] = attrs.field(factory=dict)

    def find(self, key: str) -> Region | None:
        """The region a key names (case-insensitive; a leading "the" is optional)."""
        folded = normalize_key(key)
        found = self.index.get(folded)
        if found is None and folded.startswith("the "):
            found = self.index.get(folded[4:])
        return None if found is None else self.regions[found]

    def spellings(self) -> Iterator[tuple[str, str]]:
        """``(normalised spelling, canonical key)`` pairs, for fuzzy matching."""
        return iter(self.index.items())


class _Builder:
    def __init__(self) -> None:
        self.regions: dict[str, Region] = {}
        self.aliases: dict[str, list[str]] = {}
        self.index: dict[str, str] = {}
        self.shadowed: list[tuple[str, str, str]] = []
        self.refused: dict[str, str] = {}
        self.flagged: set[str] = set()

    def refuse(self, spellings: Iterable[str], why: str) -> None:
        for text in spellings:
            if folded := normalize_key(text):
                self.refused.setdefault(folded, why)

    def add(self, region: Region, spellings: Iterable[str] = ()) -> None:
        self.regions[region.key] = region
        self.aliases[region.key] = []
        self.claim(region.key, [region.key, *spellings])

    def claim(self, key: str, spellings: Iterable[str]) -> None:
        for text in spellings:
            folded = normalize_key(text)
            if not folded:
                continue
            holder = self.index.get(folded)
            if holder is None:
                self.index[folded] = key
                if folded != normalize_key(key):
                    self.aliases[key].append(text)
            elif holder != key:
                self.shadowed.append((folded, holder, key))

    def build(self, no_data: dict[str, str]) -> Catalogue:
        regions = {
            key: attrs.evolve(r, aliases=tuple(self.aliases[key]))
            for key, r in self.regions.items()
        }
        refused = {k: why for k, why in self.refused.items() if k not in self.index}
        return Catalogue(regions, self.index, no_data, tuple(self.shadowed), refused)


def _zero_fix(
    name: str, year: int, mix: Mapping[str, float], from_mix: MixIntensity
) -> tuple[float, str, str]:
    """A country row of 0 g/kWh: the figure its generation mix gives, source and basis."""
    g_per_kwh = round(from_mix(mix), 2)
    short, full = zero_notes(name, year, mix, g_per_kwh)
    return g_per_kwh, f"{OWID_SOURCE}; {short}", f"{OWID_BASIS}, estimated from the mix; {full}"


def _countries(
    b: _Builder,
    iso: dict[str, dict[str, str]],
    mixes: Mapping[str, Mapping[str, float]],
    from_mix: MixIntensity,
) -> list[tuple[str, list[str]]]:
    """Add aggregates and countries with their codes; return the names to claim later.

    A row of 0 g/kWh is served as the estimate from its mix in ``mixes``, or, without
    one, refused (its spellings give an error that says why); a figure implausible for
    its mix is served, flagged in ``source`` and ``basis``.
    """
    names: list[tuple[str, list[str]]] = []
    coal = emission_factors()["coal"][0]
    for row in _read("carbon_intensity_countries.csv"):
        code, name = row["iso3"], row["country"]
        aggregate = row["entity_type"] == "aggregate"
        if aggregate:
            key = _AGGREGATE_KEYS.get(code) or _slug(name)
            codes = [code] if code else []
            later = [name, *_AGGREGATE_ALIASES.get(key, ())]
        else:
            key = "XKX" if code in _KOSOVO else code
            entry = iso.get(key, {})
            codes = [code, entry.get("alpha2", "")]
            later = [name, *(entry.get(f, "") for f in ("name", "common_name", "official_name"))]
            later += _COUNTRY_ALIASES.get(key, ())
        g_per_kwh, year = float(row["gco2e_per_kwh"]), int(row["year"])
        source, basis, short = OWID_SOURCE, OWID_BASIS, "OWID (Ember, EI)"
        mix = mixes.get(code)
        if g_per_kwh == 0 and mix is None:
            b.refuse(
                [key, *codes, *later],
                f"{name} ({key}): the shipped table's figure, 0 g/kWh for {year}, is no "
                "lifecycle grid average, so it is not served",
            )
            continue
        if g_per_kwh == 0 and mix is not None:
            g_per_kwh, source, basis = _zero_fix(name, year, mix, from_mix)
            short = "OWID mix, corrected"
        elif mix is not None and (
            notes := implausible_notes(g_per_kwh, year, mix, coal_g_per_kwh=coal, from_mix=from_mix)
        ):
            source, basis = f"{source}; {notes[0]}", f"{basis}; {notes[1]}"
            short += ", flagged"
            b.flagged.add(key)
        b.add(
            Region(
                key=key,
                name=name,
                kind="aggregate" if aggregate else "country",
                g_per_kwh=g_per_kwh,
                year=year,
                source=source,
                basis=basis,
                short_source=short,
            ),
            codes,
        )
        names.append((key, later))
    # Aggregate names are claimed after country names.
    names.sort(key=lambda item: b.regions[item[0]].kind == "aggregate")
    return names


def _cloud(b: _Builder) -> None:
    """Add the cloud regions (after the countries: a mapped row cites its country's)."""
    for row in _read("cloud_regions.csv"):
        provider = row["provider"]
        region_id = row["region"] or _slug(row["region_name"])
        key = f"{provider}:{region_id}"
        year = int(row["year"])
        notes = f"; {row['notes']}" if row["notes"] else ""
        if row["origin"] == _MAPPED_ORIGIN:
            country = b.regions[row["iso3"]]
            mapped = f"{country.name}'s grid average, mapped to this region by nlpfootprint"
            source = f"{mapped}: {country.source}{notes}"
            short = f"OWID {year}, mapped" + (", flagged" if country.key in b.flagged else "")
            basis = f"{row['basis']}; {country.basis}{notes}"
        elif provider == "gcp":
            source = f"Google Cloud region carbon information ({year}), {row['origin']}"
            short = f"Google {year}"
            basis = row["basis"]
        else:
            stale = year <= 2019
            source = f"ML CO2 Impact (Lacoste et al. 2019), {row['origin']}, compiled {year}"
            source += " from 2016-2019 data: stale" if stale else ""
            short = f"mlco2 {year}, stale" if stale else f"mlco2 {year}"
            later = _MLCO2_2019 if stale else _MLCO2_LATER.format(year=year)
            basis = f"{row['basis']}; {later}{notes}"
        label = f"{row['provider_name']} {row['region_name']}".strip()
        b.add(
            Region(
                key=key,
                name=f"{label}: {row['location']}, {row['country']}",
                kind="cloud",
                g_per_kwh=float(row["gco2e_per_kwh"]),
                year=year,
                source=source,
                basis=basis,
                short_source=short,
            ),
            _CLOUD_ALIASES.get(key, ()),
        )


def _subnational(b: _Builder, alpha2: set[str]) -> list[tuple[str, list[str]]]:
    names: list[tuple[str, list[str]]] = []
    for row in _read("carbon_intensity_subnational.csv"):
        key = row["region_code"]
        if key in alpha2:
            continue  # a national row (US, FI): the country's OWID value keeps the code
        country = row["country_iso3"]
        basis = row["basis"]
        if country == "USA":
            short, basis = "EPA eGRID, direct", f"{basis}; {_EGRID_NOTE}"
        elif country == "CHN":
            short, basis = "MEE/NBS, CO2 only", f"{basis}; not lifecycle"
        else:
            short = "codecarbon, derived"
        b.add(
            Region(
                key=key,
                name=row["region_name"],
                kind="subnational",
                g_per_kwh=float(row["gco2e_per_kwh"]),
                year=int(row["year"]),
                source=row["source"],
                basis=basis,
                short_source=f"{short} {row['year']}",
            )
        )
        names.append((key, [row["region_name"]]))
    return names


def build_catalogue(
    presets: Iterable[Region] = (),
    *,
    from_mix: MixIntensity,
    mixes: Mapping[str, Mapping[str, float]] = COUNTRY_MIXES,
) -> Catalogue:
    """Read the shipped tables and index every key (see the module docstring).

    Args:
        presets: Regions of kind ``"preset"``, claimed before anything else.
        from_mix: g CO2e/kWh of a generation mix in %, for the corrections and flags.
        mixes: The generation mix of the country rows to correct or check.
    """
    iso = {row["alpha3"]: row for row in _read("iso3166.csv")}
    b = _Builder()
    for preset in presets:
        b.add(preset)
    names = _countries(b, iso, mixes, from_mix)
    _cloud(b)
    names += _subnational(b, {row["alpha2"] for row in iso.values()})
    for key, spellings in names:
        b.claim(key, spellings)
    no_data: dict[str, str] = {}
    for code, row in iso.items():
        if code in b.regions or normalize_key(code) in b.refused:
            continue
        iso_spellings = (code, row["alpha2"], row["name"], row["common_name"], row["official_name"])
        for text in iso_spellings:
            folded = normalize_key(text)
            if folded and folded not in b.index:
                no_data[folded] = f"{row['name']} ({code})"
    return b.build(no_data)
