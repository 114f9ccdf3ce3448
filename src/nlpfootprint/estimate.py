"""What a run costs without measuring it: Strubell et al.'s Eq. 1 and 2 from stated power.

:func:`estimate` turns a power draw and a duration into the same :class:`~nlpfootprint.Report`
a measurement gives, marked ``estimated``, so ``facility_energy_kwh``, ``co2e_kg``,
``co2e_lbs`` and ``cost_usd`` read the same way. :func:`cloud_cost` prices the device-hours
with a cloud price table (:mod:`nlpfootprint.prices`).

The paper's Table 3 rows, from the power it reports (p_t, all devices together):

>>> r = estimate(power_w=1515.43, hours=84, carbon_intensity="strubell2019")
>>> round(r.facility_energy_kwh, 1), round(r.co2e_lbs)
(201.1, 192)
>>> str(cloud_cost("P100", count=8, hours=84, prices="gcp-2019"))
'$289-$981'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real

import attrs

from nlpfootprint.assumptions import PAPER_PUE, Assumptions
from nlpfootprint.checks import MAX_COUNT, fraction, nonnegative, optional_text, whole_number
from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError, UnknownKeyError
from nlpfootprint.hardware import HardwareSpec, hardware_spec
from nlpfootprint.intensity import Intensity
from nlpfootprint.prices import DEFAULT_PRICE_TABLES, PriceTable, price_table
from nlpfootprint.provenance import Backend, Basis, Device, EstimateBasis
from nlpfootprint.report import Report
from nlpfootprint.report_dict import overflowing_figures
from nlpfootprint.report_parts import ChannelReport

__all__ = [
    "ESTIMATE_METERS",
    "CostRange",
    "cloud_cost",
    "default_prices_for",
    "estimate",
    "resolve_prices",
]

#: What an estimate's assumptions say about its meters.
ESTIMATE_METERS = "estimate: no measurement"

PricesArg = str | PriceTable | Mapping[str, float | tuple[float, float]] | float


def _count(value: object) -> int:
    return whole_number(
        "count", value, what="a whole number of devices", minimum=1, maximum=MAX_COUNT
    )


def _utilization(value: object) -> float:
    """A ``utilization=``: the fraction of the rated power drawn, from 0 to 1."""
    return fraction("utilization", value, what="a fraction of the rated power")


def _amount(amount: float) -> str:
    return f"{amount:,.0f}" if amount >= 10 else f"{amount:,.2f}"


@attrs.frozen
class CostRange:
    """A cloud cost as a range: low (preemptible/spot) .. high (on-demand).

    Attributes:
        low: The cheaper end.
        high: The dearer end.
        currency: The prices' currency.
        table: The price table's name.
        hardware: The table entry that priced the device (``"any device"`` for a flat rate).
        device_hours: Devices x hours.
        low_per_device_hour: The cheaper price per device-hour.
        high_per_device_hour: The dearer price per device-hour.
        date: The price table's date (when its prices were published or read).
    """

    low: float
    high: float
    currency: str = "USD"
    table: str = ""
    hardware: str = ""
    device_hours: float = 0.0
    # What priced the cost, not part of it: equal totals are equal costs.
    low_per_device_hour: float = attrs.field(default=0.0, eq=False)
    high_per_device_hour: float = attrs.field(default=0.0, eq=False)
    date: str = attrs.field(default="", eq=False)

    def __str__(self) -> str:
        return _money_range(self.low, self.high, self.currency)

    @property
    def is_range(self) -> bool:
        """Whether low and high differ (a single price gives one figure, not a range)."""
        return self.low_per_device_hour != self.high_per_device_hour

    def per_device_hour(self) -> str:
        """The price per device-hour as written: ``"$0.74-$2.48"`` or ``"$2.50"``."""
        return _money_range(
            self.low_per_device_hour, self.high_per_device_hour, self.currency, cents=True
        )


def _price(amount: float) -> str:
    """A price per device-hour: to the cent, or 4 significant figures where that says more
    (``"2.50"``, ``"0.2231"``, ``"2.934"``)."""
    if amount >= 100 or f"{amount:.2f}" == f"{amount:.4g}":
        return f"{amount:,.2f}"
    text = f"{amount:.4g}"
    decimals = len(text.partition(".")[2])
    return f"{amount:.{max(decimals, 2)}f}"


def _money_range(low_amount: float, high_amount: float, currency: str, cents: bool = False) -> str:
    """``"$7.40-$25"``, ``"$25"`` (one figure when both ends read alike), ``"25 EUR"``."""
    show = _price if cents else _amount
    low, high = show(low_amount), show(high_amount)
    if currency == "USD":
        return f"${low}" if low == high else f"${low}-${high}"
    return f"{low} {currency}" if low == high else f"{low}-{high} {currency}"


def resolve_prices(prices: PricesArg) -> PriceTable:
    """A ``prices=`` argument as a :class:`PriceTable`.

    A string names a built-in table; a mapping is ``{hardware: (low, high) or price}``; a
    number is one price per device-hour for any device.
    """
    if isinstance(prices, PriceTable):
        return prices
    if isinstance(prices, str):
        return price_table(prices)
    if isinstance(prices, Mapping):
        return PriceTable(name="given", source="given by the user", date="", prices=prices)
    number: object = prices  # anything may come in, whatever the annotation says
    if not isinstance(number, bool) and isinstance(number, Real):
        return PriceTable(
            name="given",
            source="given by the user",
            date="",
            prices={},
            fallback=nonnegative("prices", number),
        )
    raise ConfigurationTypeError(
        f"prices={number!r}: expected a table name such as 'gcp-2019', a PriceTable, a "
        f"mapping {{hardware: (low, high)}} or a number per device-hour, got "
        f"{type(number).__name__}"
    )


def default_prices_for(hardware: str | HardwareSpec) -> PriceTable:
    """The built-in table that prices ``hardware`` when no table is named.

    The tables of :data:`~nlpfootprint.prices.DEFAULT_PRICE_TABLES` are tried in order:
    ``gcp-2019`` (the paper's) for P100, V100 and TPUs, then ``gcp-2026`` for T4, L4 and
    A100 40GB.

    Raises:
        UnknownKeyError: No built-in table prices it (the message says what each prices and
            why the device is missing, where a table says).
        ConfigurationTypeError: ``hardware`` is not a name or a spec.
    """
    first: UnknownKeyError | None = None
    others = []
    for table in DEFAULT_PRICE_TABLES:
        try:
            table.price_for(hardware)
        except UnknownKeyError as err:
            if first is None:
                first = err
                continue
            own = [n for n in table.notes_for(hardware) if n not in table.notes_for("")]
            why = f" ({' '.join(own).rstrip('.')})" if own else ""
            others.append(
                f"{table.name} ({table.date}), which prices {', '.join(table.prices)}{why}"
            )
            continue
        return table
    assert first is not None
    message = str(first.args[0]) if first.args else str(first)
    if others:
        message += f"; nor does {'; nor '.join(others)}"
    raise UnknownKeyError(message)


def cloud_cost(
    hardware: str | HardwareSpec,
    count: int = 1,
    hours: float = 0.0,
    prices: PricesArg = "auto",
) -> CostRange:
    """What ``count`` devices for ``hours`` cost in the cloud: count x hours x (low, high).

    Args:
        hardware: The device, matched like :func:`~nlpfootprint.hardware.hardware_spec`.
        count: How many devices.
        hours: Wall-clock hours of the run.
        prices: A built-in table name (``"gcp-2019"``, the paper's; ``"gcp-2026"``), a
            :class:`~nlpfootprint.prices.PriceTable`, a mapping or a number per device-hour.
            ``"auto"`` (the default) takes the first built-in table that prices the device
            (:func:`default_prices_for`): ``gcp-2019``, then ``gcp-2026``. The cost's
            ``table`` and ``date`` say which priced it.

    Returns:
        The range in the table's currency.

    Raises:
        ConfigurationError: Bad numbers, or a cost too large for a float.
        ConfigurationTypeError: An argument of the wrong type.
        UnknownKeyError: Unknown hardware or table, or the table has no price for it.

    >>> str(cloud_cost("V100", count=64, hours=79.2))
    '$3,751-$12,571'
    """
    count = _count(count)
    hours = nonnegative("hours", hours)
    auto = isinstance(prices, str) and prices.strip().lower() == "auto"
    table = default_prices_for(hardware) if auto else resolve_prices(prices)
    key, (low, high) = table.price_for(hardware)
    device_hours = count * hours
    if not all(math.isfinite(x) for x in (device_hours, device_hours * low, device_hours * high)):
        raise ConfigurationError(
            f"hours={hours:g} with count={count:,} at up to {high:g} per device-hour: the cost "
            "is too large for a float; check hours and count"
        )
    return CostRange(
        low=device_hours * low,
        high=device_hours * high,
        currency=table.currency,
        table=table.name,
        hardware=key,
        device_hours=device_hours,
        low_per_device_hour=low,
        high_per_device_hour=high,
        date=table.date,
    )


def _channel(
    id_: str,
    domain: str,
    label: str,
    power_w: float,
    duration_s: float,
    *,
    basis: EstimateBasis,
    power_arg: str,
    device: Device | None = None,
) -> ChannelReport:
    if not math.isfinite(power_w * duration_s):
        raise ConfigurationError(
            f"hours={duration_s / 3600:g} at {power_arg} {power_w:g} W: the energy is too "
            "large for a float; check hours and power"
        )
    return ChannelReport(
        id=id_,
        domain=domain,
        kind="power",
        source="estimated",
        label=label,
        energy_j=power_w * duration_s,
        duration_s=duration_s,
        backend=Backend.ESTIMATED,
        device=device,
        basis=basis,
    )


def _given(power_w: float) -> EstimateBasis:
    return EstimateBasis(Basis.GIVEN_POWER, rated_w=power_w, source="given")


def _device_channel(spec: HardwareSpec, count: int, utilization: float, s: float) -> ChannelReport:
    ids = "0" if count == 1 else f"0-{count - 1}"
    # NVIDIA and AMD parts are GPUs; TPUs and Gaudi accelerators are not.
    domain = "gpu" if spec.vendor.upper() in {"NVIDIA", "AMD"} else "other"
    label = (
        f"{count} x {spec.model} at {spec.power_w:g} W ({spec.power_metric}) x utilization "
        f"{utilization:g} ({spec.source})"
    )
    return _channel(
        f"{domain}:{ids}",
        domain,
        label,
        count * spec.power_w * utilization,
        s,
        basis=EstimateBasis(Basis.RATED_POWER, rated_w=spec.power_w, source=spec.source),
        power_arg="hardware x count x utilization",
        device=Device(name=spec.model, count=count),
    )


def _total_channels(
    power_w: float,
    duration_s: float,
    *,
    count: int,
    utilization: float,
    cpu_w: float,
    dram_w: float,
) -> list[ChannelReport]:
    """The estimate's single channel: the total power as given (nothing may be added to it)."""
    extras = {"count": count != 1, "utilization": utilization != 1.0, "cpu_power_w": cpu_w}
    extras |= {"dram_power_w": dram_w}
    given = [k for k, v in extras.items() if v]
    if given:
        raise ConfigurationError(
            f"power_w is the total draw, so {', '.join(given)} cannot be added to it; "
            "use hardware= with them, or fold them into power_w"
        )
    total_w = nonnegative("power_w", power_w)
    label = f"total power as given: {total_w:g} W (the paper's p_c + p_r + g * p_g)"
    return [
        _channel(
            "total", "other", label, total_w, duration_s, basis=_given(total_w), power_arg="power_w"
        )
    ]


def _hardware_channels(
    hardware: str | HardwareSpec,
    duration_s: float,
    *,
    count: int,
    utilization: float,
    cpu_w: float,
    dram_w: float,
) -> tuple[list[ChannelReport], tuple[str, ...]]:
    """The devices' channel at their rated power, CPU and DRAM channels, and the warning."""
    spec = hardware_spec(hardware)
    util = _utilization(utilization)
    channels = [_device_channel(spec, _count(count), util, duration_s)]
    if cpu_w:
        label = f"CPU at {cpu_w:g} W as given"
        channels.append(
            _channel(
                "cpu", "cpu", label, cpu_w, duration_s, basis=_given(cpu_w), power_arg="cpu_power_w"
            )
        )
    if dram_w:
        label = f"DRAM at {dram_w:g} W as given"
        channels.append(
            _channel(
                "dram",
                "dram",
                label,
                dram_w,
                duration_s,
                basis=_given(dram_w),
                power_arg="dram_power_w",
            )
        )
    advice = (
        "set utilization= if you know better"
        if util == 1.0
        else f"scaled by utilization={util:g} as given"
    )
    warning = (
        f"{spec.model} power is its {spec.power_metric} ({spec.power_w:g} W), usually "
        f"above the mean draw of a training run; {advice}"
    )
    return channels, (warning,)


def estimate(
    *,
    hours: float,
    power_w: float | None = None,
    hardware: str | HardwareSpec | None = None,
    count: int = 1,
    cpu_power_w: float = 0.0,
    dram_power_w: float = 0.0,
    utilization: float = 1.0,
    pue: float = PAPER_PUE,
    carbon_intensity: Intensity | float | str | None = None,
    price_per_kwh: float | None = None,
    name: str | None = None,
) -> Report:
    """Energy, CO2e and cost of a run from stated power, without measuring (Eq. 1 and 2).

    Give exactly one of ``power_w`` (the whole draw, the paper's p_c + p_r + g * p_g) or
    ``hardware`` (+ ``count``, ``utilization``, and optionally ``cpu_power_w`` and
    ``dram_power_w``), whose rated power comes from the shipped table.

    Args:
        hours: Wall-clock training time.
        power_w: Total mean power in watts.
        hardware: An accelerator name (``"V100"``, ``"A100 80GB"``, ``"TPU v3"``) or spec.
        count: Number of accelerators.
        cpu_power_w: Mean CPU power (all sockets), added as its own channel.
        dram_power_w: Mean DRAM power, added as its own channel.
        utilization: The fraction of the accelerators' rated power drawn on average.
        pue: Data-centre PUE (default 1.58, the paper's).
        carbon_intensity: As for :func:`~nlpfootprint.track_energy` (``"strubell2019"``
            for the paper's 0.954 lbs/kWh).
        price_per_kwh: Electricity price; None computes no electricity cost.
        name: A name for the report.

    Returns:
        A report whose ``method`` is ``"estimated"`` (``"none"`` if its energy is zero).

    Raises:
        ConfigurationError: Negative, NaN or infinite numbers, PUE outside [1, 5],
            utilization outside [0, 1], a count below 1, both/neither of ``power_w`` and
            ``hardware``, or figures too large for a float.
        ConfigurationTypeError: An argument of the wrong type (a float count, ...).
        UnknownKeyError: Unknown hardware or carbon-intensity key.
    """
    hours = nonnegative("hours", hours)
    optional_text("name", name)
    duration_s = hours * 3600.0
    assumptions = Assumptions.build(
        pue=pue,
        carbon_intensity=carbon_intensity,
        price_per_kwh=price_per_kwh,
        meters=ESTIMATE_METERS,
    )
    cpu_w = nonnegative("cpu_power_w", cpu_power_w)
    dram_w = nonnegative("dram_power_w", dram_power_w)
    if (power_w is None) == (hardware is None):
        raise ConfigurationError(
            "give exactly one of power_w= (the total draw in watts) or hardware= (a device "
            "name, with count=)"
        )
    warnings: tuple[str, ...] = ()
    if power_w is not None:
        channels = _total_channels(
            power_w, duration_s, count=count, utilization=utilization, cpu_w=cpu_w, dram_w=dram_w
        )
    else:
        assert hardware is not None
        channels, warnings = _hardware_channels(
            hardware, duration_s, count=count, utilization=utilization, cpu_w=cpu_w, dram_w=dram_w
        )
    if duration_s == 0.0:
        warnings += (
            "hours=0: a run of no time uses no energy, so every figure is zero; give the "
            "run's wall-clock hours",
        )
    report = Report(
        duration_s=duration_s,
        channels=tuple(channels),
        assumptions=assumptions,
        warnings=warnings,
        name=name,
    )
    overflowing = overflowing_figures(report)
    if overflowing:
        raise ConfigurationError(
            f"hours={hours:g}: the estimate's {', '.join(overflowing)} would be too large "
            "for a float; check hours and power"
        )
    return report
