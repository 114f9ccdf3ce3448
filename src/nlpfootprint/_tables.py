"""The shipped carbon-intensity tables and the index of keys over them (private).

:mod:`nlpfootprint.intensity` is the public face. This module reads the CSV files in
``nlpfootprint/data`` (once, on first use, never at import) and builds a :class:`Catalogue`:
every :class:`Region` by its canonical key, and every spelling a user may type (codes,
names, aliases; normalised by :func:`normalize_key`) mapped to one canonical key.

Precedence, when two regions claim the same spelling: codes before names, and among names
countries before aggregates before subnational regions. The one real clash in the shipped
data is "Georgia": the country (GEO) keeps the name, the US state is ``US-GA``. Every
clash is recorded in :attr:`Catalogue.shadowed`, so a test can pin the list.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Literal

import attrs

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
    "an older grid average compiled in 2019 from 2016-2018 sources, stale next to the "
    "country figures (prefer the country key)"
)
_MLCO2_LATER = "compiled in {year} by ML CO2 Impact; the underlying data may be older"

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
    """

    regions: dict[str, Region]
    index: dict[str, str]
    no_data: dict[str, str]
    shadowed: tuple[tuple[str, str, str], ...]

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
        return Catalogue(regions, self.index, no_data, tuple(self.shadowed))


def _countries(b: _Builder, iso: dict[str, dict[str, str]]) -> list[tuple[str, list[str]]]:
    """Add aggregates and countries with their codes; return the names to claim later."""
    names: list[tuple[str, list[str]]] = []
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
        b.add(
            Region(
                key=key,
                name=name,
                kind="aggregate" if aggregate else "country",
                g_per_kwh=float(row["gco2e_per_kwh"]),
                year=int(row["year"]),
                source=OWID_SOURCE,
                basis=OWID_BASIS,
                short_source="OWID (Ember, EI)",
            ),
            codes,
        )
        names.append((key, later))
    # Aggregate names are claimed after country names.
    names.sort(key=lambda item: b.regions[item[0]].kind == "aggregate")
    return names


def _cloud(b: _Builder) -> None:
    for row in _read("cloud_regions.csv"):
        provider = row["provider"]
        region_id = row["region"] or _slug(row["region_name"])
        key = f"{provider}:{region_id}"
        year = int(row["year"])
        if provider == "gcp":
            source = f"Google Cloud region carbon information ({year}), {row['origin']}"
            short = f"Google {year}"
            basis = row["basis"]
        else:
            source = f"ML CO2 Impact (Lacoste et al. 2019), {row['origin']}, compiled {year}"
            stale = year <= 2019
            short = f"mlco2 {year}, stale" if stale else f"mlco2 {year}"
            basis = f"{row['basis']}; {_MLCO2_2019 if stale else _MLCO2_LATER.format(year=year)}"
            if row["notes"]:
                basis += f"; {row['notes']}"
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


def build_catalogue(presets: Iterable[Region] = ()) -> Catalogue:
    """Read the shipped tables and index every key (see the module docstring).

    Args:
        presets: Regions of kind ``"preset"``, claimed before anything else.
    """
    iso = {row["alpha3"]: row for row in _read("iso3166.csv")}
    b = _Builder()
    for preset in presets:
        b.add(preset)
    names = _countries(b, iso)
    _cloud(b)
    names += _subnational(b, {row["alpha2"] for row in iso.values()})
    for key, spellings in names:
        b.claim(key, spellings)
    no_data: dict[str, str] = {}
    for code, row in iso.items():
        if code in b.regions:
            continue
        iso_spellings = (code, row["alpha2"], row["name"], row["common_name"], row["official_name"])
        for text in iso_spellings:
            folded = normalize_key(text)
            if folded and folded not in b.index:
                no_data[folded] = f"{row['name']} ({code})"
    return b.build(no_data)
