"""Everyday equivalents of an amount of CO2e, and the same run on other grids.

The paper's Table 1 put model training next to familiar activities ("as much CO2 as five
cars in their lifetimes"); :func:`equivalents` does the same for any report, with the
paper's figures and a few current, sourced ones. :func:`compare_regions` re-accounts a
report under other grids' carbon intensities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from nlpfootprint.checks import collection
from nlpfootprint.errors import ConfigurationTypeError
from nlpfootprint.units import LBS_PER_KG

if TYPE_CHECKING:
    from nlpfootprint.intensity import Intensity
    from nlpfootprint.report import Report

__all__ = ["ACTIVITIES", "Activity", "Equivalent", "RegionResult", "compare_regions", "equivalents"]

_PAPER = "Strubell, Ganesh & McCallum (ACL 2019), Table 1"


@attrs.frozen
class Activity:
    """An everyday activity and the CO2e of one unit of it.

    Attributes:
        name: What one unit is, e.g. ``"air travel, 1 passenger, New York <-> San Francisco"``.
        co2e_kg: kg CO2e per unit.
        unit: How to count it (``"trips"``, ``"km"``, ...).
        source: Where the figure comes from.
    """

    name: str
    co2e_kg: float
    unit: str
    source: str


#: The paper's Table 1 (given in lbs) and current, sourced figures.
ACTIVITIES: tuple[Activity, ...] = (
    Activity(
        "air travel, 1 passenger, New York <-> San Francisco", 1984 / LBS_PER_KG, "trips", _PAPER
    ),
    Activity("human life, average, 1 year", 11_023 / LBS_PER_KG, "person-years", _PAPER),
    Activity("American life, average, 1 year", 36_156 / LBS_PER_KG, "person-years", _PAPER),
    Activity(
        "car, average, including fuel, 1 lifetime", 126_000 / LBS_PER_KG, "car lifetimes", _PAPER
    ),
    Activity(
        "driving a typical US passenger car",
        0.400 / 1.609344,
        "km",
        "US EPA, 'Greenhouse Gas Emissions from a Typical Passenger Vehicle' "
        "(EPA-420-F-23-014, 2023): about 400 g CO2 per mile",
    ),
    Activity(
        "urban tree seedling grown for 10 years (CO2 taken up)",
        60.0,
        "tree-decades",
        "US EPA Greenhouse Gas Equivalencies Calculator: 0.060 t CO2 per urban tree "
        "seedling grown for 10 years",
    ),
)


@attrs.frozen
class Equivalent:
    """A report's CO2e expressed as a number of some activity."""

    activity: Activity
    amount: float

    def __str__(self) -> str:
        return f"{self.amount:,.4g} {self.activity.unit} of {self.activity.name}"


def equivalents(
    co2e_kg: float, activities: Sequence[Activity] = ACTIVITIES
) -> tuple[Equivalent, ...]:
    """``co2e_kg`` as amounts of each activity (the paper's Table 1 first).

    >>> [round(e.amount, 3) for e in equivalents(1984 / LBS_PER_KG)][:1]
    [1.0]
    """
    return tuple(Equivalent(a, co2e_kg / a.co2e_kg) for a in activities)


@attrs.frozen
class RegionResult:
    """The same run's emissions on another grid."""

    key: str
    intensity: Intensity
    co2e_kg: float

    @property
    def co2e_lbs(self) -> float:
        """The emissions in pounds."""
        return self.co2e_kg * LBS_PER_KG


def compare_regions(report: Report, keys: Sequence[str | float]) -> tuple[RegionResult, ...]:
    """Re-account ``report`` under each grid in ``keys`` (anything ``carbon_intensity=`` takes).

    ``keys`` is a list (any iterable but a string or a mapping); a single string is refused
    with a ``TypeError``, since it would be read letter by letter.
    """
    collection("keys", keys, what="a list of regions or intensities")
    results = []
    for key in keys:
        if key is None:
            raise ConfigurationTypeError(
                "keys=[..., None, ...]: expected regions or intensities, got None"
            )
        other = report.with_assumptions(carbon_intensity=key)
        results.append(RegionResult(str(key), other.assumptions.intensity, other.co2e_kg))
    return tuple(results)
