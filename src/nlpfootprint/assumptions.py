"""The assumptions that turn measured joules into CO2e and money, printed with every report.

Also the attrs validators that the report value types share.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from nlpfootprint.checks import nonnegative, price_per_kwh_value, pue_value, whole_number
from nlpfootprint.intensity import Intensity, resolve_intensity

__all__ = [
    "PAPER_PUE",
    "PAPER_PUE_SOURCE",
    "Assumptions",
    "amount",
    "count",
    "optional_amount",
]

#: The paper's PUE, the 2018 global average data-centre PUE (Uptime Institute).
PAPER_PUE = 1.58
PAPER_PUE_SOURCE = (
    "the 2018 global average data-centre PUE (Uptime Institute survey), as used by "
    "Strubell et al. (ACL 2019)"
)


def amount(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    """An attrs validator: a finite number >= 0 (the error names the field)."""
    nonnegative(attribute.name, value)


def count(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    """An attrs validator: a whole number >= 0."""
    whole_number(attribute.name, value)


def optional_amount(
    _instance: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None:
        nonnegative(attribute.name, value)


@attrs.frozen
class Assumptions:
    """What a report's conversions assumed. Printed with every report.

    Attributes:
        pue: Power usage effectiveness (facility energy / IT energy), >= 1.
        pue_source: Where the PUE comes from.
        intensity: Grid carbon intensity used for CO2e.
        intensity_is_default: True when the user did not choose one.
        price_per_kwh: Electricity price, or None when no cost is computed.
        currency: The price's currency (default ``"USD"``).
        meters: How the meters were chosen (``"auto"`` or ``"given"``), with a note.
    """

    pue: float = attrs.field(default=PAPER_PUE, converter=pue_value)
    pue_source: str = PAPER_PUE_SOURCE
    intensity: Intensity = attrs.field(factory=lambda: resolve_intensity(None)[0])
    intensity_is_default: bool = True
    price_per_kwh: float | None = attrs.field(default=None, validator=optional_amount)
    currency: str = "USD"
    meters: str = "given"

    @classmethod
    def build(
        cls,
        *,
        pue: float = PAPER_PUE,
        carbon_intensity: Intensity | float | str | None = None,
        price_per_kwh: float | None = None,
        currency: str = "USD",
        meters: str = "given",
    ) -> Assumptions:
        """Validate user arguments into assumptions (errors name the bad value)."""
        pue = pue_value(pue)
        intensity, is_default = resolve_intensity(carbon_intensity)
        price = None if price_per_kwh is None else price_per_kwh_value(price_per_kwh)
        return cls(
            pue=pue,
            pue_source=PAPER_PUE_SOURCE if pue == PAPER_PUE else "given by the user",
            intensity=intensity,
            intensity_is_default=is_default,
            price_per_kwh=price,
            currency=currency,
            meters=meters,
        )

    def replaced(
        self,
        *,
        pue: float | None = None,
        carbon_intensity: Intensity | float | str | None = None,
        price_per_kwh: float | None = None,
    ) -> Assumptions:
        """These assumptions with the ones given replaced (None keeps the current one),
        each checked as :meth:`build` checks it."""
        new = Assumptions.build(
            pue=self.pue if pue is None else pue,
            carbon_intensity=self.intensity if carbon_intensity is None else carbon_intensity,
            price_per_kwh=self.price_per_kwh if price_per_kwh is None else price_per_kwh,
            currency=self.currency,
            meters=self.meters,
        )
        if carbon_intensity is None:
            new = attrs.evolve(new, intensity_is_default=self.intensity_is_default)
        if pue is None:
            new = attrs.evolve(new, pue_source=self.pue_source)
        return new

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; :meth:`from_dict` reads it back."""
        return {
            "pue": self.pue,
            "pue_source": self.pue_source,
            "intensity": attrs.asdict(self.intensity),
            "intensity_is_default": self.intensity_is_default,
            "price_per_kwh": self.price_per_kwh,
            "currency": self.currency,
            "meters": self.meters,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assumptions:
        """Rebuild from :meth:`to_dict` output (KeyError/TypeError/ValueError if malformed)."""
        return cls(
            pue=data["pue"],
            pue_source=data["pue_source"],
            intensity=Intensity(**data["intensity"]),
            intensity_is_default=bool(data["intensity_is_default"]),
            price_per_kwh=data["price_per_kwh"],
            currency=data["currency"],
            meters=data["meters"],
        )
