"""Carbon intensity of electricity: the number that turns kWh into CO2e.

:func:`carbon_intensity` turns what users pass as ``carbon_intensity=`` into an
:class:`Intensity`; :func:`resolve_intensity` does the same and says whether the default
was used. A key is a string, matched case-insensitively with surrounding whitespace and
accents ignored:

- ``"world"``: the world average (:data:`DEFAULT_INTENSITY`, the default);
- a country: ISO 3166-1 alpha-3 (``"FRA"``), alpha-2 (``"FR"``) or name (``"France"``,
  ``"UK"``, ``"Czech Republic"``, ``"Türkiye"``, a leading "the" optional); Kosovo is
  ``"XKX"`` (also ``"XK"``, ``"OWID_KOS"``);
- an aggregate: ``"europe"`` (the continent), ``"eu27"`` (also ``"EU"``,
  ``"European Union"``), ``"asia"``, ``"north-america"``, ``"oecd-ember"``, ...;
- a cloud region, ``provider:region``: ``"gcp:europe-west4"``, ``"aws:us-east-1"``,
  ``"azure:westeurope"``, and ``coreweave:``, ``ovh:``, ``scaleway:``, ``seeweb:``;
- a subnational grid: US states ``"US-CA"`` (or ``"California"``), Chinese provinces
  ``"CN-GD"``, Swedish and Norwegian bidding zones ``"SE3"``, ``"NO1"``;
- a preset: ``"strubell2019"``, the paper's 0.954 lbs/kWh (:data:`STRUBELL_2019`).

Codes win over names, and countries over other names: "Georgia" is the country, the US
state is ``"US-GA"``. A number is grams CO2e per kWh; an :class:`Intensity` passes through.

A published figure is never served silently when it cannot be a grid average: a country's
0 g/kWh is served as the estimate from its generation mix (``"CAF"``), figures implausible
for their mix are served but flagged (``"TKM"``), and cloud regions without a figure of
their own are mapped to their country's (``"aws:eu-south-1"``, ``"seeweb:fro2"``). The
``source`` of the :class:`Intensity` says so, and every report prints it (see
``data/README.md``).
:func:`regions` lists every key, :func:`data_sources` the origin and license of the data,
and :func:`intensity_from_mix` computes an intensity from a generation mix.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Mapping
from numbers import Real

import attrs

from nlpfootprint import _tables
from nlpfootprint._datasources import DATA_SOURCES, DataSource
from nlpfootprint._tables import KINDS, OWID_BASIS, OWID_SOURCE, Region, RegionKind, normalize_key
from nlpfootprint.checks import flag, g_per_kwh_value, nonnegative, optional_text
from nlpfootprint.errors import (
    ConfigurationError,
    ConfigurationTypeError,
    UnknownKeyError,
    UnknownRegionError,
)

__all__ = [
    "DEFAULT_INTENSITY",
    "KINDS",
    "STRUBELL_2019",
    "DataSource",
    "Intensity",
    "Region",
    "RegionKind",
    "carbon_intensity",
    "data_sources",
    "intensity_from_mix",
    "regions",
    "resolve_intensity",
]


def _g_per_kwh(value: object) -> float:
    return g_per_kwh_value("g_per_kwh", value)


@attrs.frozen
class Intensity:
    """A grid carbon intensity with its provenance.

    Attributes:
        g_per_kwh: Grams CO2-equivalent per kWh of electricity, from 0 to 3,000.
        source: Where the number comes from.
        year: The year the number describes, when known.
        basis: What it counts (lifecycle or direct emissions, average or marginal, ...).
        key: The key it was looked up by (``"world"``, ``"FRA"``), or "" for a number.
    """

    g_per_kwh: float = attrs.field(converter=_g_per_kwh)
    source: str = "given by the user"
    year: int | None = None
    basis: str = ""
    key: str = ""

    def describe(self) -> str:
        """A one-line description, e.g. ``458.3 g/kWh (world, 2025; Ember ...)``."""
        where = ", ".join(str(x) for x in (self.key, self.year) if x)
        where = f"{where}; " if where else ""
        return f"{self.g_per_kwh:g} g/kWh ({where}{self.source})"


#: The default, the world average carbon intensity of electricity generation in 2025
#: (the ``world`` row of the shipped country table).
DEFAULT_INTENSITY = Intensity(
    g_per_kwh=458.29, source=OWID_SOURCE, year=2025, basis=OWID_BASIS, key="world"
)

#: The paper's factor, 0.954 lbs CO2e/kWh, the US EPA 2018 average (Strubell et al. 2019).
STRUBELL_2019 = Intensity(
    g_per_kwh=0.954 * 453.59237,
    source="US EPA (2018) average, as used by Strubell, Ganesh & McCallum (ACL 2019), Eq. 2",
    year=2018,
    basis="0.954 lbs CO2e/kWh",
    key="strubell2019",
)

_HOW_TO_FIND = "`nlpfootprint regions --search TEXT` lists the keys"


@functools.cache
def _catalogue() -> _tables.Catalogue:
    preset = Region(
        key=STRUBELL_2019.key,
        name="Strubell et al. (2019): US EPA 2018 average, 0.954 lbs/kWh",
        kind="preset",
        g_per_kwh=STRUBELL_2019.g_per_kwh,
        year=STRUBELL_2019.year,
        source=STRUBELL_2019.source,
        basis=STRUBELL_2019.basis,
        short_source="the paper (EPA 2018)",
    )
    return _tables.build_catalogue([preset], from_mix=_mix_g_per_kwh)


def _mix_g_per_kwh(mix: Mapping[str, float]) -> float:
    return intensity_from_mix(mix).g_per_kwh


def _as_intensity(region: Region) -> Intensity:
    return Intensity(
        g_per_kwh=region.g_per_kwh,
        source=region.source,
        year=region.year,
        basis=region.basis,
        key=region.key,
    )


def _label(region: Region) -> str:
    if region.kind == "cloud" or normalize_key(region.name) == normalize_key(region.key):
        return region.key
    return f"{region.key} ({region.name})"


def _unknown_key_message(key: str, catalogue: _tables.Catalogue) -> str:
    folded = normalize_key(key)
    if not folded:
        return f"carbon_intensity={key!r}: the key is empty; {_HOW_TO_FIND}"
    if folded in catalogue.refused:
        return (
            f"carbon_intensity={key!r}: {catalogue.refused[folded]}; pass a number in g "
            f"CO2e/kWh or the key of a neighbouring grid ({_HOW_TO_FIND})"
        )
    if folded in catalogue.no_data:
        return (
            f"carbon_intensity={key!r} is {catalogue.no_data[folded]}, but the shipped tables "
            "have no carbon intensity for it; pass a number in g CO2e/kWh or the key of the "
            f"grid that supplies it ({_HOW_TO_FIND})"
        )
    try:
        number = float(key)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            return f"carbon_intensity={key!r}: expected a key or a finite number of g CO2e/kWh"
        return (
            f"carbon_intensity={key!r}: a string is read as a key; pass the number "
            f"{number:g} (g CO2e/kWh) itself, not as a string"
        )
    spellings = dict(catalogue.spellings())
    closest: list[str] = []
    for match in difflib.get_close_matches(folded, list(spellings), n=30, cutoff=0.6):
        label = _label(catalogue.regions[spellings[match]])
        if label not in closest:
            closest.append(label)
    hint = f"closest: {', '.join(closest[:5])}" if closest else "no close match"
    return (
        f"carbon_intensity={key!r}: unknown key ({hint}); {_HOW_TO_FIND}, or pass a number "
        "in g CO2e/kWh"
    )


def carbon_intensity(key: str | float | Intensity) -> Intensity:
    """The carbon intensity a key names, with its source, year and basis.

    Args:
        key: A key (see the module docstring), a number in g CO2e/kWh (0 to 3,000), or
            an :class:`Intensity`, which is returned as it is.

    Returns:
        The intensity; ``key`` on it is the canonical key (``"fr"`` gives ``"FRA"``).

    Raises:
        UnknownRegionError: The key is not known; the message lists the closest keys.
            It is also a ``KeyError``, a ``ValueError`` and a ``ConfigurationError``.
        ConfigurationError: A number that is negative, NaN, infinite or above 3,000.
        ConfigurationTypeError: Not a string, a number or an :class:`Intensity`.

    Examples:
        >>> carbon_intensity("fr").key, carbon_intensity("fr").g_per_kwh
        ('FRA', 41.44)
        >>> carbon_intensity("gcp:europe-west4").year
        2024
        >>> carbon_intensity(120).describe()
        '120 g/kWh (given by the user)'
    """
    if isinstance(key, Intensity):
        return key
    if isinstance(key, str):
        catalogue = _catalogue()
        region = catalogue.find(key)
        if region is None:
            raise UnknownRegionError(_unknown_key_message(key, catalogue))
        if region.key == STRUBELL_2019.key:
            return STRUBELL_2019
        return _as_intensity(region)
    number: object = key  # anything may come in, whatever the annotation says
    if isinstance(number, bool) or not isinstance(number, Real):
        raise ConfigurationTypeError(
            f"carbon_intensity={number!r}: expected a key such as 'FRA', a number of g "
            f"CO2e/kWh or an Intensity, got {type(number).__name__}"
        )
    return Intensity(g_per_kwh=g_per_kwh_value("carbon_intensity", number))


def resolve_intensity(value: Intensity | float | str | None) -> tuple[Intensity, bool]:
    """Turn a ``carbon_intensity=`` argument into an :class:`Intensity`.

    Returns the intensity and whether it is the library's default (``value`` was None,
    giving :data:`DEFAULT_INTENSITY`, the world average). Anything else goes through
    :func:`carbon_intensity`, whose errors it raises.
    """
    if value is None:
        return DEFAULT_INTENSITY, True
    return carbon_intensity(value), False


def regions(search: str | None = None, *, kind: str | None = None) -> list[Region]:
    """Every key :func:`carbon_intensity` accepts, with its value and source.

    Args:
        search: Keep regions whose key, name or an alias contains this text
            (case-insensitive, accents ignored).
        kind: Keep one kind: ``"preset"``, ``"aggregate"``, ``"country"``,
            ``"subnational"`` or ``"cloud"``.

    Returns:
        The regions, sorted by kind (in that order), then key.

    Examples:
        >>> [r.key for r in regions("france", kind="country")]
        ['FRA']
    """
    optional_text("search", search)
    if optional_text("kind", kind) is not None and kind not in KINDS:
        raise ConfigurationError(f"kind={kind!r}: expected one of {', '.join(KINDS)}")
    needle = normalize_key(search) if search else ""
    found = [
        r
        for r in _catalogue().regions.values()
        if (kind is None or r.kind == kind)
        and any(needle in normalize_key(text) for text in (r.key, r.name, *r.aliases))
    ]
    return sorted(found, key=lambda r: (KINDS.index(r.kind), r.key.casefold()))


def data_sources() -> list[DataSource]:
    """Origin, license and year of every data file shipped in ``nlpfootprint/data``."""
    return list(DATA_SOURCES)


# -- intensity from a generation mix -----------------------------------------------------

MIX_BASIS = "lifecycle (IPCC AR5 WG3 Annex III medians; oil: UK POST 2014 via Electricity Maps)"
_RENEWABLES = ("hydro", "wind", "solar")
_MIX_ALIASES = {"bioenergy": "biomass"}
_MIX_NOTES = {
    "renewables": "renewables: the mean of the hydro, wind and solar medians",
    "other_renewables": "other_renewables: counted as geothermal",
}


def _mix_factors() -> dict[str, float]:
    """g CO2e/kWh per accepted source name, pseudo-sources included."""
    factors = {name: g for name, (g, _) in _tables.emission_factors().items()}
    factors["renewables"] = sum(factors[s] for s in _RENEWABLES) / len(_RENEWABLES)
    factors["other_renewables"] = factors["geothermal"]
    return factors


def intensity_from_mix(mix: Mapping[str, float], *, normalize: bool = False) -> Intensity:
    """The lifecycle carbon intensity of a generation mix.

    The result is the share-weighted mean of the median lifecycle factor of each source
    (``data/emission_factors_by_source.csv``): coal 820, gas 490, oil 650, nuclear 12,
    hydro 24, wind 11, solar 48, biomass 230, geothermal 38 g CO2e/kWh. Also accepted:
    ``bioenergy`` (= biomass), ``other_renewables`` (OWID's "other renewables" without
    bioenergy, mostly geothermal: counted as geothermal) and ``renewables`` (an aggregate,
    as in Strubell et al.'s Table 2: the mean of hydro, wind and solar, 27.67).

    Shares are fractions when they add up to 1 (within 0.01) and percentages when they add
    up to 100 (within 1); either way they are divided by their total. Any other total is
    an error unless ``normalize=True``, which scales any positive total to 100 %.

    Args:
        mix: Share of generation per source, e.g. ``{"coal": 0.65, "gas": 0.35}``.
        normalize: Scale shares that do not add up to 1 or 100.

    Returns:
        The intensity, its source listing the mix and its basis the factors used.

    Raises:
        UnknownKeyError: An unknown source (a ``KeyError``).
        ConfigurationTypeError: ``mix`` is not a mapping of names to numbers.
        ConfigurationError: A negative or non-finite share, or a total that is neither 1
            nor 100 (nor positive, with ``normalize=True``).

    Examples:
        >>> intensity_from_mix({"coal": 50, "nuclear": 50}).g_per_kwh
        416.0
    """
    if not isinstance(mix, Mapping):
        raise ConfigurationTypeError(
            f"mix={mix!r}: expected a mapping of source to share, got {type(mix).__name__}"
        )
    if not mix:
        raise ConfigurationError("mix={}: expected a mapping of source to share, got none")
    flag("normalize", normalize)
    factors = _mix_factors()
    shares: dict[str, float] = {}
    for name, share in mix.items():
        if not isinstance(name, str):
            raise ConfigurationTypeError(
                f"mix source {name!r}: expected a source name (a string), got {type(name).__name__}"
            )
        source = normalize_key(name).replace(" ", "_").replace("-", "_")
        source = _MIX_ALIASES.get(source, source)
        if source not in factors:
            allowed = ", ".join([*factors, *_MIX_ALIASES])
            raise UnknownKeyError(f"mix source {name!r} is not known; expected some of {allowed}")
        shares[source] = shares.get(source, 0.0) + nonnegative(f"mix[{name!r}]", share)
    total = math.fsum(shares.values()) if all(map(math.isfinite, shares.values())) else math.inf
    if not math.isfinite(total):
        raise ConfigurationError(
            "mix shares add up to more than a float holds: give fractions or percentages"
        )
    shares = {s: v / total for s, v in shares.items()} if total > 0 else shares
    if not normalize and not (math.isclose(total, 1, abs_tol=0.01) or abs(total - 100) <= 1):
        raise ConfigurationError(
            f"mix shares add up to {total:g}: give fractions adding up to 1 (within 0.01) or "
            "percentages adding up to 100 (within 1), or pass normalize=True to scale them"
        )
    if total <= 0:
        raise ConfigurationError(f"mix shares add up to {total:g}: at least one must be > 0")
    g_per_kwh = sum(factors[s] * v for s, v in shares.items())
    listed = ", ".join(f"{s} {100 * v:.3g}%" for s, v in shares.items() if v)
    notes = [note for s, note in _MIX_NOTES.items() if shares.get(s)]
    return Intensity(
        g_per_kwh=g_per_kwh,
        source=f"computed from a generation mix: {listed}",
        basis="; ".join([MIX_BASIS, *notes]),
    )
