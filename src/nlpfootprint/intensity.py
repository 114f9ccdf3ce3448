"""Carbon intensity of electricity: the number that turns kWh into CO2e.

This module holds the :class:`Intensity` value type, the library's default (the world
average) and the paper's preset, and resolves what users pass as ``carbon_intensity=``.
"""

from __future__ import annotations

import attrs

from nlpfootprint._validate import nonnegative
from nlpfootprint.errors import ConfigurationError

__all__ = ["DEFAULT_INTENSITY", "STRUBELL_2019", "Intensity", "resolve_intensity"]


def _g_per_kwh(value: object) -> float:
    return nonnegative("g_per_kwh", value)


@attrs.frozen
class Intensity:
    """A grid carbon intensity with its provenance.

    Attributes:
        g_per_kwh: Grams CO2-equivalent per kWh of electricity.
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


#: The default, the world average carbon intensity of electricity generation in 2025.
DEFAULT_INTENSITY = Intensity(
    g_per_kwh=458.29,
    source=(
        "Ember (2026); Energy Institute - Statistical Review of World Energy (2025) - "
        "processed by Our World in Data, CC BY 4.0"
    ),
    year=2025,
    basis="lifecycle, average of electricity generation",
    key="world",
)

#: The paper's factor, 0.954 lbs CO2e/kWh, the US EPA 2018 average (Strubell et al. 2019).
STRUBELL_2019 = Intensity(
    g_per_kwh=0.954 * 453.59237,
    source="US EPA (2018) average, as used by Strubell, Ganesh & McCallum (ACL 2019), Eq. 2",
    year=2018,
    basis="0.954 lbs CO2e/kWh",
    key="strubell2019",
)

_PRESETS = {p.key: p for p in (DEFAULT_INTENSITY, STRUBELL_2019)}


def resolve_intensity(value: Intensity | float | str | None) -> tuple[Intensity, bool]:
    """Turn a ``carbon_intensity=`` argument into an :class:`Intensity`.

    Returns the intensity and whether it is the library's default (``value`` was None).
    A number is grams CO2e per kWh.
    """
    if value is None:
        return DEFAULT_INTENSITY, True
    if isinstance(value, Intensity):
        return value, False
    if isinstance(value, str):
        preset = _PRESETS.get(value.strip().lower())
        if preset is None:
            raise ConfigurationError(
                f"carbon_intensity={value!r}: this version knows the keys "
                f"{sorted(_PRESETS)}; pass a number in g CO2e/kWh for any other grid"
            )
        return preset, False
    return Intensity(g_per_kwh=nonnegative("carbon_intensity", value)), False
