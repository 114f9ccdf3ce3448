"""Cloud prices per device-hour, as a low..high range (preemptible/spot .. on-demand).

Each :class:`PriceTable` carries its name, source and date. Built in: ``gcp-2019``, the
Google Cloud prices behind the paper's cost column, and ``gcp-2026``, current Google Cloud
prices for common GPUs. Users pass their own as a :class:`PriceTable`, a mapping or a
number (see :func:`nlpfootprint.estimate.cloud_cost`).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping

import attrs

from nlpfootprint.checks import nonnegative
from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError, UnknownKeyError
from nlpfootprint.hardware import HardwareSpec, compact_name, hardware_candidates, hardware_spec

__all__ = [
    "DEFAULT_PRICE_TABLES",
    "GCP_2019",
    "GCP_2026",
    "PRICE_TABLES",
    "PriceTable",
    "price_table",
]


def _price_range(name: str, value: object) -> tuple[float, float]:
    """A price per device-hour, or a (low, high) pair of them; ``name`` says whose."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise ConfigurationError(
                f"{name}={value!r}: expected a price per device-hour or a (low, high) pair"
            )
        low, high = (nonnegative(name, v) for v in value)
    else:
        low = high = nonnegative(name, value)
    if low > high:
        raise ConfigurationError(f"{name}={value!r}: low {low:g} is above high {high:g}")
    return low, high


def _prices(value: Mapping[str, object]) -> Mapping[str, tuple[float, float]]:
    if not isinstance(value, Mapping):
        raise ConfigurationTypeError(
            f"prices={value!r}: must map hardware names to prices, got {type(value).__name__}"
        )
    return types.MappingProxyType(
        {str(k): _price_range(f"prices[{str(k)!r}]", v) for k, v in value.items()}
    )


def _device_notes(value: Mapping[str, object]) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise ConfigurationTypeError(
            f"device_notes={value!r}: must map hardware names to notes, got {type(value).__name__}"
        )
    notes = {}
    for key, given in value.items():
        texts: tuple[object, ...] = (given,) if isinstance(given, str) else tuple(given)  # type: ignore[arg-type]
        if not all(isinstance(t, str) for t in texts):
            raise ConfigurationTypeError(
                f"device_notes[{str(key)!r}]={given!r}: expected a note or a tuple of notes"
            )
        notes[str(key)] = tuple(str(t) for t in texts)
    return types.MappingProxyType(notes)


def _fallback(value: object) -> tuple[float, float] | None:
    return None if value is None else _price_range("fallback", value)


@functools.cache
def _key_candidates(key: str) -> frozenset[HardwareSpec]:
    try:
        return frozenset(hardware_candidates(key))
    except ConfigurationError:
        return frozenset()


def _denotes(key: str, hardware: str | HardwareSpec) -> bool:
    """Whether the table key ``key`` names ``hardware`` (written alike, or the same part)."""
    if isinstance(hardware, str) and compact_name(key) == compact_name(hardware):
        return True
    try:
        fits = set(hardware_candidates(hardware))
    except ConfigurationError:
        return False
    if not fits & _key_candidates(key):
        return False
    if isinstance(hardware, HardwareSpec):
        return True
    try:
        return hardware_spec(hardware) in _key_candidates(key)
    except ConfigurationError:  # a name that fits several parts: it names this key's too
        return True


@attrs.frozen
class PriceTable:
    """Cloud prices per device-hour, low..high (preemptible/spot .. on-demand).

    Attributes:
        name: What to call it (``"gcp-2019"``).
        source: Where the prices come from.
        date: When they were published or captured (a year or an ISO date).
        prices: Hardware name -> ``(low, high)`` per device-hour; a single number means
            low == high. Names are matched like :func:`hardware_spec` names.
        currency: ``"USD"`` unless given.
        region: The cloud region the prices are for, when known.
        notes: Caveats, printed with the table: all of them, the ones about one device
            included (see ``device_notes``).
        fallback: A price for any device the table does not list (a flat rate you pay).
        device_notes: Hardware name -> the notes that concern only that device (matched
            like the prices' names); :meth:`notes_for` leaves them out for other devices.
    """

    name: str
    source: str
    date: str
    prices: Mapping[str, tuple[float, float]] = attrs.field(converter=_prices, hash=False)
    currency: str = "USD"
    region: str = ""
    notes: tuple[str, ...] = ()
    fallback: tuple[float, float] | None = attrs.field(default=None, converter=_fallback)
    device_notes: Mapping[str, tuple[str, ...]] = attrs.field(
        factory=dict, converter=_device_notes, hash=False
    )

    def notes_for(self, hardware: str | HardwareSpec) -> tuple[str, ...]:
        """The notes that apply to ``hardware``: the table's general notes, then its own.

        A note listed in ``device_notes`` is shown only for the device it is about (a
        ``"TPU v2"`` note is not shown for a V100).
        """
        scoped = {n for texts in self.device_notes.values() for n in texts}
        general = tuple(n for n in self.notes if n not in scoped)
        own: list[str] = []
        for key, texts in self.device_notes.items():
            if _denotes(key, hardware):
                own += [n for n in texts if n not in own]
        return general + tuple(own)

    def price_for(self, hardware: str | HardwareSpec) -> tuple[str, tuple[float, float]]:
        """The key and ``(low, high)`` price that apply to ``hardware``.

        A key written like the name wins; otherwise a key denoting the same part (``"P100"``
        prices a ``"Tesla P100 PCIe"``); else the fallback.

        Raises:
            UnknownKeyError: The table has no price for it (the message lists what it has).
            ConfigurationTypeError: ``hardware`` is not a name or a :class:`HardwareSpec`.
        """
        if not isinstance(hardware, str | HardwareSpec):
            raise ConfigurationTypeError(
                f"hardware={hardware!r}: expected a name such as 'V100' or a HardwareSpec, got "
                f"{type(hardware).__name__}"
            )
        if isinstance(hardware, str):
            wanted = compact_name(hardware)
            for key, price in self.prices.items():
                if compact_name(key) == wanted:
                    return key, price
        priced = ", ".join(self.prices) or "nothing"
        try:
            fits = set(hardware_candidates(hardware))
        except ConfigurationError:
            if self.fallback is not None:
                return "any device", self.fallback
            raise UnknownKeyError(
                f"price table {self.name} has no price for hardware={hardware!r}; it prices: "
                f"{priced}"
            ) from None
        keys = [k for k in self.prices if fits & _key_candidates(k)]
        if len(keys) > 1:
            spec = hardware_spec(hardware)
            keys = [k for k in keys if spec in _key_candidates(k)]
        if len(keys) == 1:
            return keys[0], self.prices[keys[0]]
        if self.fallback is not None:
            return "any device", self.fallback
        what = hardware.model if isinstance(hardware, HardwareSpec) else hardware
        raise UnknownKeyError(
            f"price table {self.name} ({self.date}) has no single price for hardware={what!r}; "
            f"it prices: {priced}. Choose another table, or give your own price per "
            "device-hour: prices=2.5 (in Python also prices={name: (low, high)})"
        )

    def describe(self) -> str:
        """``"gcp-2019 (2019; Google Cloud ...)"``; parts the table lacks are left out."""
        when = ", ".join(p for p in (self.date, self.region) if p)
        about = "; ".join(p for p in (when, self.source) if p)
        return f"{self.name} ({about})" if about else self.name


_TPU_V2_FOOTNOTE = (
    "The paper's footnote prints 1.46 as the preemptible TPU v2 price; its table uses 1.35, "
    "kept here."
)
_TPU_BOARD = (
    "TPU prices are per Cloud TPU device (a v2-8 or v3-8 board of 4 chips); the paper "
    "multiplies them by its chip count (BERT base on TPU v2 x16: 16 x 96 h x "
    "$1.35..$4.50 = $2,074..$6,912)."
)
_GCP_2026_LEFT_OUT = (
    "A100 80GB and H100 are left out: the catalog's H100 on-demand $4.20 (also in us-west1 "
    "and us-west4) comes with spot prices above it elsewhere ($10.02, $7.61), and its A100 "
    "80GB spot price is 85% of on-demand (the other GPUs': 40% or less); pass your own price"
)

#: The prices behind the cloud compute cost column of Strubell et al. (ACL 2019), Table 3.
GCP_2019 = PriceTable(
    name="gcp-2019",
    source="Google Cloud on-demand and preemptible prices as used by Strubell, Ganesh & "
    "McCallum (ACL 2019), Table 3",
    date="2019",
    prices={
        "P100": (0.43, 1.46),
        "V100": (0.74, 2.48),
        "TPU v2": (1.35, 4.50),
        "TPU v3": (2.40, 8.00),
    },
    notes=(_TPU_V2_FOOTNOTE, _TPU_BOARD),
    device_notes={"TPU v2": (_TPU_V2_FOOTNOTE, _TPU_BOARD), "TPU v3": (_TPU_BOARD,)},
)

#: Google Cloud GPU prices in us-central1 as captured in November 2026.
GCP_2026 = PriceTable(
    name="gcp-2026",
    source="Google Cloud Billing Catalog prices per GPU-hour as compiled by SkyPilot: "
    "github.com/skypilot-org/skypilot-catalog catalogs/v7/gcp/vms.csv, commit "
    "017e2502fb63c7a28757acd94002b2d6099d3e3d (accelerator-only rows)",
    date="2026-11-26",
    region="us-central1",
    prices={
        "T4": (0.14, 0.35),
        "P100": (0.584, 1.46),
        "V100": (0.992, 2.48),
        "L4": (0.2231, 0.56004),
        "A100 40GB": (1.1472, 2.93391),
    },
    notes=(
        "GPU only: the VM's vCPUs and memory are billed on top. Spot prices move (up to "
        "daily); the date is when the catalog copy was read.",
        _GCP_2026_LEFT_OUT,
    ),
    device_notes={"A100 80GB": (_GCP_2026_LEFT_OUT,), "H100": (_GCP_2026_LEFT_OUT,)},
)

#: The built-in price tables by name.
PRICE_TABLES: Mapping[str, PriceTable] = types.MappingProxyType(
    {t.name: t for t in (GCP_2019, GCP_2026)}
)

#: What prices a device when no table is named (``nlpfootprint estimate`` without
#: ``--prices``): the paper's table first, so its rows keep the paper's prices, then the
#: current one for the devices the paper did not use (T4, L4, A100 40GB). Each cost says
#: which table, and of what date, priced it.
DEFAULT_PRICE_TABLES: tuple[PriceTable, ...] = (GCP_2019, GCP_2026)


def price_table(name: str) -> PriceTable:
    """A built-in price table by name (``"gcp-2019"``, ``"gcp-2026"``), case-insensitive.

    Raises:
        UnknownKeyError: No built-in table has that name (a ``KeyError``).
        ConfigurationTypeError: ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise ConfigurationTypeError(
            f"prices={name!r}: expected a price table name such as 'gcp-2019', got "
            f"{type(name).__name__}"
        )
    table = PRICE_TABLES.get(name.strip().lower())
    if table is None:
        raise UnknownKeyError(
            f"prices={name!r}: the built-in price tables are {sorted(PRICE_TABLES)}; or pass a "
            "PriceTable, a mapping {name: (low, high)} or a number per device-hour"
        )
    return table
