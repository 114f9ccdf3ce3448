"""``nlpfootprint estimate``: energy, CO2e and cost of a run from specs, without measuring."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from nlpfootprint.checks import MAX_COUNT, fraction
from nlpfootprint.commands import (
    add_accounting_options,
    checked,
    cli_words,
    count_arg,
    nonnegative_arg,
    positive_arg,
)
from nlpfootprint.errors import ConfigurationError, NlpFootprintError
from nlpfootprint.units import format_energy_kwh, format_lbs, format_mass_kg, format_money

if TYPE_CHECKING:
    from nlpfootprint.estimate import CostRange
    from nlpfootprint.hardware import HardwareSpec
    from nlpfootprint.prices import PriceTable
    from nlpfootprint.report import Report

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    """Add the ``estimate`` command."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "estimate",
        help="estimate energy, CO2e and cost from hardware specs or a stated power",
        description="Strubell et al.'s Eq. 1 and 2 without measuring: power from the "
        "accelerator's rated power (--hardware, --count) or as given (--power-w), times "
        "--hours, times PUE; CO2e from the grid's carbon intensity; cloud cost from a price "
        "table. Give --power-w with --hardware to use a power you measured and price the "
        "devices. Everything printed is ESTIMATED, not measured.",
    )
    what = parser.add_argument_group("power (one or both)")
    what.add_argument(
        "--hardware",
        type=_hardware_arg,
        help="accelerator name: V100, A100 80GB, H100, L4, TPU v3, ...; with --power-w it "
        "only picks the cloud prices",
    )
    what.add_argument(
        "--power-w",
        type=nonnegative_arg("power_w"),
        help="total mean power in watts, all devices (e.g. as measured); used instead of "
        "the rated power of --hardware",
    )
    parser.add_argument(
        "--count",
        type=count_arg("count", minimum=1, maximum=MAX_COUNT),
        default=1,
        help="number of accelerators (default 1)",
    )
    parser.add_argument(
        "--hours",
        type=positive_arg("hours"),
        required=True,
        help="wall-clock training hours, above 0",
    )
    parser.add_argument(
        "--cpu-power-w", type=nonnegative_arg("cpu_power_w"), default=0.0, help="mean CPU power (W)"
    )
    parser.add_argument(
        "--dram-power-w",
        type=nonnegative_arg("dram_power_w"),
        default=0.0,
        help="mean DRAM power (W)",
    )
    parser.add_argument(
        "--utilization",
        type=checked(
            lambda value: fraction("utilization", value, what="a fraction of the rated power")
        ),
        default=1.0,
        help="fraction of the accelerators' rated power drawn on average, 0 to 1 (default 1)",
    )
    parser.add_argument(
        "--prices",
        type=_checked_prices,
        default=None,
        metavar="TABLE|USD_PER_HOUR|auto|none",
        help="cloud price table (gcp-2019, the paper's; gcp-2026, current GPU prices), a "
        "price per device-hour, none, or auto (the default: the first of gcp-2019 and "
        "gcp-2026 that prices the device)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_accounting_options(parser)
    parser.set_defaults(run=run)


def _prices_arg(text: str | None) -> str | float | None:
    if text is None or text.strip().lower() == "none":
        return None
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        return text


def _checked_prices(text: str) -> str:
    """``--prices`` as given, once it names a table, a price or none (else a usage error)."""
    from nlpfootprint.estimate import resolve_prices

    prices = _prices_arg(text)
    if prices is not None and prices != "auto":
        try:
            resolve_prices(prices)
        except NlpFootprintError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _hardware_arg(text: str) -> HardwareSpec:
    """``--hardware``: the power-table row the name denotes (else a usage error)."""
    from nlpfootprint.hardware import hardware_spec

    try:
        return hardware_spec(text)
    except NlpFootprintError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    """Estimate, print, return 0 (bad arguments raise ConfigurationError: the CLI exits 2)."""
    from nlpfootprint.estimate import estimate
    from nlpfootprint.hardware import hardware_spec

    spec = None if args.hardware is None else hardware_spec(args.hardware)
    _check_power_flags(args)
    if not isinstance(args.carbon_intensity, float | str | None):  # an hourly series
        raise ConfigurationError(
            "--carbon-intensity FILE.csv: an hourly series weights a measured run's energy "
            "over its time; an estimate has no time. Give a number or a key here, and the "
            "series to 'nlpfootprint report LOG' or 'nlpfootprint advise LOG' of a run"
        )
    given = args.power_w is not None
    report = estimate(
        hours=args.hours,
        power_w=args.power_w,
        hardware=None if given else spec,
        count=1 if given and spec is not None else args.count,
        cpu_power_w=args.cpu_power_w,
        dram_power_w=args.dram_power_w,
        utilization=args.utilization,
        pue=args.pue,
        carbon_intensity=args.carbon_intensity,
        price_per_kwh=args.price_per_kwh,
    )
    cost, table, note = _cloud_cost(args, spec)
    if args.json:
        data = _json_data(report, spec, args.count, cost, table)
        if spec is not None and args.power_w is not None:
            data["hardware"]["power_as_given_w"] = args.power_w
        print(json.dumps(data, indent=2, allow_nan=False))
        return 0
    rows = _text_rows(args, report, spec)
    rows += _cost_rows(cost, table, note, spec)
    print("nlpfootprint estimate: ESTIMATED, not measured (no power meter was read)\n")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    for warning in report.warnings:
        print(f"\n  ! {warning}")
    return 0


def _check_power_flags(args: argparse.Namespace) -> None:
    """One or both of ``--hardware`` and ``--power-w``; with both, nothing to add to the power.

    Raises:
        ConfigurationError: Neither was given, or a flag that scales the rated power was
            given with a measured total.
    """
    if args.hardware is None and args.power_w is None:
        raise ConfigurationError(
            "give --hardware (an accelerator name, its rated power is used), --power-w (the "
            "total mean power in watts), or both (the power as given, the hardware's cloud "
            "prices)"
        )
    if args.hardware is None or args.power_w is None:
        return
    extras = {"--utilization": args.utilization != 1.0, "--cpu-power-w": args.cpu_power_w}
    extras |= {"--dram-power-w": args.dram_power_w}
    given = [flag for flag, value in extras.items() if value]
    if given:
        raise ConfigurationError(
            f"--power-w {args.power_w:g} is the total draw, so {', '.join(given)} cannot be "
            "added to it; with --power-w, --hardware and --count only price the devices"
        )


#: The parameters a cost's note may name, as this command's flags.
_FLAGS = {"hardware": "--hardware", "prices": "--prices", "count": "--count", "hours": "--hours"}


def _cloud_cost(
    args: argparse.Namespace, spec: HardwareSpec | None
) -> tuple[CostRange | None, PriceTable | None, str]:
    """The cloud cost and its price table, or Nones and a note saying why there is none.

    Raises:
        ConfigurationError: ``--prices`` was given but cannot price this run.
    """
    from nlpfootprint.estimate import cloud_cost, default_prices_for, resolve_prices

    explicit = args.prices is not None and args.prices.strip().lower() != "auto"
    prices = _prices_arg(args.prices) if explicit else "auto"
    cost: CostRange | None = None
    table: PriceTable | None = None
    note = "not computed (--prices none)"
    if prices is not None and spec is None:
        if explicit:
            raise ConfigurationError("--prices needs --hardware: prices are per device-hour")
        note = "needs --hardware (prices are per device-hour)"
    elif prices is not None and spec is not None:
        try:
            table = default_prices_for(spec) if not explicit else resolve_prices(prices)
        except ConfigurationError as err:  # printed as the cost: in the command's words
            return None, None, f"not computed: {cli_words(str(err), _FLAGS)}"
        try:
            cost = cloud_cost(spec, args.count, args.hours, prices=table)
        except ConfigurationError as err:
            if explicit:
                raise
            table, note = None, f"not computed: {cli_words(str(err), _FLAGS)}"
    return cost, table, note


def _json_data(
    report: Report,
    spec: HardwareSpec | None,
    count: int,
    cost: CostRange | None,
    table: PriceTable | None,
) -> dict[str, Any]:
    """The report's dict with the hardware and the cloud cost added, for ``--json``."""
    import attrs

    data = report.to_dict()
    data["hardware"] = None if spec is None else {"count": count, **attrs.asdict(spec)}
    data["cloud_cost"] = None
    if cost is not None and table is not None:
        data["cloud_cost"] = {
            **attrs.asdict(cost),
            "source": table.source,
            "date": table.date,
            "region": table.region,
            "notes": list(table.notes_for(cost.hardware if spec is None else spec)),
        }
    return data


def _text_rows(
    args: argparse.Namespace, report: Report, spec: HardwareSpec | None
) -> list[tuple[str, str]]:
    """The text output's rows from the hardware to the electricity cost."""
    a = report.assumptions
    rows = []
    if spec is not None and args.power_w is not None:
        rows.append(
            ("hardware", f"{args.count} x {spec.model} (prices the cloud cost; power as given)")
        )
    elif spec is not None:
        rows.append(("hardware", f"{args.count} x {spec.describe()}; {spec.source}"))
    power = ", ".join(f"{d} {w:,.1f} W" for d, w in sorted(report.mean_power_w.items()))
    rows += [
        ("power", power or "0 W"),
        ("hours", f"{args.hours:g}"),
        ("energy (IT)", format_energy_kwh(report.energy_kwh)),
        ("energy x PUE", f"{format_energy_kwh(report.facility_energy_kwh)} (PUE {a.pue:g})"),
        ("CO2e", f"{format_mass_kg(report.co2e_kg)} = {format_lbs(report.co2e_lbs)}"),
        ("intensity", a.intensity.describe() + (" (default)" if a.intensity_is_default else "")),
        (
            "electricity",
            "not computed (pass --price-per-kwh)"
            if report.cost_usd is None
            else f"{format_money(report.cost_usd, a.currency)} at {a.price_per_kwh:g}/kWh",
        ),
    ]
    return rows


def _cost_rows(
    cost: CostRange | None, table: PriceTable | None, note: str, spec: HardwareSpec | None
) -> list[tuple[str, str]]:
    """The text output's cloud cost row and the notes that concern this device (or why there
    is no cost)."""
    if cost is None or table is None:
        return [("cloud cost", note)]
    of = "" if cost.hardware == "any device" else f" of {cost.hardware}"
    price = f"at {cost.per_device_hour()} per device-hour"
    if cost.is_range:
        price += " (low: preemptible/spot, high: on-demand)"
    rows = [
        ("cloud cost", f"{cost} for {cost.device_hours:,.6g} device-hours{of} {price}"),
        ("prices", table.describe()),
    ]
    notes = table.notes_for(spec if spec is not None else cost.hardware)
    return rows + [("", f"note: {n}") for n in notes]
