"""Corrections to the shipped country intensities, and the notes that say so (private).

:mod:`nlpfootprint._tables` applies them while it builds the catalogue; ``data/README.md``
lists each, with why. Two rules, both about a country's published lifecycle figure next
to its own generation mix (OWID's, for the same year, in :data:`COUNTRY_MIXES`):

- 0 g/kWh is no lifecycle figure (every source emits over its life), so it is never
  served as a grid average: the estimate from the mix is served instead, with a note.
- A figure above the lifecycle factor of coal for a grid mostly (over 50 %) gas-fired is
  implausible: it is served as published, flagged.

Every other country row above coal's factor was reviewed against its mix and is listed,
with why it is plausible, in :data:`REVIEWED_ABOVE_COAL`; the test suite fails on a row
above the factor that is neither flagged nor listed.

This module imports nothing of the package; the caller gives the factors and estimates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = [
    "COUNTRY_MIXES",
    "REVIEWED_ABOVE_COAL",
    "MixIntensity",
    "implausible_notes",
    "zero_notes",
]

#: OWID's generation mix (% of generation, the intensity's year) of the country rows that
#: are corrected or checked (every row of 0 g/kWh or above coal's lifecycle factor that
#: has one): from the project's reference extract of OWID energy data
#: (``energy_mix_countries.csv``, CC BY 4.0; not shipped).
COUNTRY_MIXES: Mapping[str, Mapping[str, float]] = {
    "CAF": {"hydro": 100.0},
    "BHR": {"gas": 99.736, "solar": 0.264},
    "BRN": {"coal": 19.784, "gas": 79.137, "oil": 0.899, "solar": 0.18},
    "LBY": {"gas": 74.53, "oil": 25.441, "solar": 0.029},
    "TKM": {"gas": 99.97, "hydro": 0.03},
    "UZB": {"coal": 6.574, "gas": 72.318, "oil": 1.73, "hydro": 7.266, "wind": 4.614,
            "solar": 7.497},
    "BWA": {"coal": 98.251, "oil": 1.458, "solar": 0.292},
    "FLK": {"oil": 100.0},
    "MSR": {"oil": 100.0},
    "SHN": {"oil": 100.0},
}  # fmt: skip

#: Country rows above coal's lifecycle factor (820 g/kWh) that are served unflagged, each
#: reviewed against its generation mix, with why its figure is plausible. Coal- and
#: oil-fired grids can exceed the factor (old or small plants burn more fuel per kWh than
#: the IPCC medians assume); only a mostly gas-fired grid above it is implausible.
REVIEWED_ABOVE_COAL: Mapping[str, str] = {
    "BWA": (
        "851.31 g/kWh (2024) for a grid 98.3 % coal-fired (Morupule A and B), 4 % above "
        "coal's median factor and steady at 800-859 since 2000: within coal's range"
    ),
    "FLK": (
        "1,000 g/kWh (2023) for a 100 % oil-fired grid of 0.01 TWh (diesel sets); coarse, "
        "a quotient of figures rounded to 0.01 (500 in some years), but small diesel "
        "generation lies near it: oil, not gas"
    ),
    "MSR": (
        "1,000 g/kWh (2024) for a 100 % oil-fired grid of 0.01 TWh (diesel sets), the "
        "same figure every year since 2000: coarse, but oil, not gas"
    ),
    "SHN": (
        "1,000 g/kWh (2023) for a 100 % oil-fired grid of 0.01 TWh (diesel sets), the "
        "same figure every year since 2000: coarse, but oil, not gas"
    ),
    "OWID_KOS": (
        "900.94 g/kWh (2025); the extract has no mix for Kosovo (OWID gives its intensity "
        "but no shares), whose power comes mostly from lignite (Kosovo A and B), and whose "
        "figure was 885-995 g/kWh in every year since 2000: a coal grid"
    ),
}

#: g CO2e/kWh of a generation mix (shares in %); :mod:`nlpfootprint.intensity` passes
#: its ``intensity_from_mix``, so there is one implementation of the computation.
MixIntensity = Callable[[Mapping[str, float]], float]


def _listed(mix: Mapping[str, float]) -> str:
    return ", ".join(f"{source} {share:.4g}%" for source, share in mix.items())


def zero_notes(name: str, year: int, mix: Mapping[str, float], served: float) -> tuple[str, str]:
    """Why a country row of 0 g/kWh serves ``served``, the estimate from its mix.

    Returns:
        A short note for ``source`` (every report prints it) and a full one for ``basis``.

    Examples:
        >>> zero_notes("Atlantis", 2023, {"hydro": 100.0}, 24.0)[0]
        "corrected: the table's 0 g/kWh is no lifecycle figure; 24 g/kWh is estimated from the 2023 generation mix (hydro 100%)"
    """  # noqa: E501
    short = (
        f"corrected: the table's 0 g/kWh is no lifecycle figure; {served:g} g/kWh is "
        f"estimated from the {year} generation mix ({_listed(mix)})"
    )
    full = (
        f"corrected: the table's 0 g/kWh for {name} ({year}) is no lifecycle figure, so "
        f"{served:g} g/kWh is served, estimated by nlpfootprint from the {year} "
        f"generation mix ({_listed(mix)}) with the IPCC AR5 lifecycle medians"
    )
    return short, full


def implausible_notes(
    g_per_kwh: float,
    year: int,
    mix: Mapping[str, float],
    *,
    coal_g_per_kwh: float,
    from_mix: MixIntensity,
) -> tuple[str, str] | None:
    """Why a country's figure is implausible for its mix (short, full), or None if it is not.

    The rule: above the lifecycle factor of coal for a grid mostly (over 50 %) gas-fired.
    """
    if g_per_kwh <= coal_g_per_kwh or mix.get("gas", 0.0) <= 50:
        return None
    estimate = f"{from_mix(mix):.0f} g/kWh"
    short = (
        f"flagged as implausible, kept as published: above coal's lifecycle "
        f"{coal_g_per_kwh:g} g/kWh for a mostly gas-fired grid, whose mix gives {estimate}"
    )
    full = (
        f"flagged as implausible, kept as published: {g_per_kwh:g} g/kWh is above the "
        f"lifecycle factor of coal ({coal_g_per_kwh:g}) for a grid mostly gas-fired in "
        f"{year} ({_listed(mix)}), whose mix gives {estimate}"
    )
    return short, full
