"""Units: the conversion constants and every human-readable number format (a leaf module).

One ladder of time units serves the text tables, the paper's prose and the plot axes, so
a duration reads the same everywhere; energies, masses and money are formatted here too.
Nothing here imports the rest of the package.
"""

from __future__ import annotations

import math

__all__ = [
    "J_PER_KWH",
    "LBS_PER_KG",
    "energy_axis",
    "format_duration",
    "format_energy_j",
    "format_energy_kwh",
    "format_flops",
    "format_flops_per",
    "format_lbs",
    "format_mass_kg",
    "format_money",
    "format_prose_number",
    "significant",
    "time_unit",
]

#: Joules in one kilowatt-hour.
J_PER_KWH = 3.6e6
#: Pounds in one kilogram (1 lb = 0.45359237 kg exactly, by the 1959 international agreement).
LBS_PER_KG = 1.0 / 0.45359237

#: The time ladder: (spans shorter than this many seconds, seconds per unit, symbol, word).
_TIME_LADDER: tuple[tuple[float, float, str, str], ...] = (
    (120.0, 1.0, "s", "seconds"),
    (7200.0, 60.0, "min", "minutes"),
    (3 * 86400.0, 3600.0, "h", "hours"),
    (math.inf, 86400.0, "days", "days"),
)


def time_unit(seconds: float, *, largest: str = "days") -> tuple[float, str, str]:
    """The unit to show ``seconds`` in: (seconds per unit, symbol, word).

    ``largest`` caps the ladder (``"h"`` for prose that speaks of hours, never days).

    >>> time_unit(90.0), time_unit(3 * 3600.0)[1], time_unit(9 * 86400.0, largest="h")[2]
    ((1.0, 's', 'seconds'), 'h', 'hours')
    """
    for below, size, symbol, word in _TIME_LADDER:
        if abs(seconds) < below or symbol == largest:
            return size, symbol, word
    return _TIME_LADDER[-1][1:]  # pragma: no cover - the last rung has no upper bound


def format_duration(seconds: float) -> str:
    """Seconds as s, min, h or days: ``7200.0`` gives ``2.00 h``."""
    size, symbol, _ = time_unit(seconds)
    digits = 1 if symbol == "min" else 2
    return f"{seconds / size:.{digits}f} {symbol}"


def format_energy_j(energy_j: float) -> str:
    """Joules with a readable unit (uJ .. GJ)."""
    for unit, size in (("GJ", 1e9), ("MJ", 1e6), ("kJ", 1e3), ("J", 1.0), ("mJ", 1e-3)):
        if abs(energy_j) >= size:
            return f"{energy_j / size:.3f} {unit}"
    return f"{energy_j * 1e6:.3f} uJ" if energy_j else "0 J"


def significant(value: float, digits: int = 4) -> str:
    """``value`` to ``digits`` significant figures, in positional notation with thousands
    separators, never with an exponent (whole numbers keep every digit).

    >>> significant(0.000652778), significant(2402.61), significant(1515430.2), significant(0.5)
    ('0.0006528', '2,403', '1,515,430', '0.5000')
    """
    if not value or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) < 10 ** (digits - 1):  # rounded first: 9.99996 is 10.00, not 10.000
        value = float(f"{value:.{digits}g}")
    exponent = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - exponent, 0)
    return f"{round(value, decimals):,.{decimals}f}"


def _rung(
    value: float, ladder: tuple[tuple[str, float], ...], digits: int = 4
) -> tuple[str, float]:
    """The first (unit, size) of ``ladder`` that ``value`` reaches once rounded to ``digits``
    significant figures (0.99996 kWh is 1.000 kWh, not 1,000.0 Wh); else the last."""
    rounded = float(f"{value:.{digits}g}")
    for unit, size in ladder:
        if abs(rounded) >= size:
            return unit, size
    return ladder[-1]


def _laddered(value: float, ladder: tuple[tuple[str, float], ...], digits: int = 4) -> str:
    """``value`` in its unit of ``ladder`` (see :func:`_rung`), to ``digits`` significant
    figures."""
    unit, size = _rung(value, ladder, digits)
    return f"{significant(value / size, digits)} {unit}"


#: The units of energy in a report, from kWh (kWh, Wh, mWh, uWh) and their size in kWh.
_KWH_LADDER = (("kWh", 1.0), ("Wh", 1e-3), ("mWh", 1e-6), ("uWh", 1e-9))


def format_energy_kwh(energy_kwh: float) -> str:
    """Energy as a report's table shows it: kWh from 1 kWh up, else Wh, mWh or uWh, to 4
    significant figures: ``0.000652778`` gives ``0.6528 Wh``."""
    if not energy_kwh:
        return "0 kWh"
    return _laddered(energy_kwh, _KWH_LADDER)


def format_mass_kg(mass_kg: float) -> str:
    """A CO2e mass in t, kg, g, mg or ug, to 4 significant figures."""
    if not mass_kg:
        return "0 g"
    return _laddered(mass_kg, (("t", 1000.0), ("kg", 1.0), ("g", 1e-3), ("mg", 1e-6), ("ug", 1e-9)))


def format_lbs(lbs: float) -> str:
    """A mass in pounds (the paper's unit), to 4 significant figures; below a thousandth
    of a pound, only that it is."""
    if lbs and abs(lbs) < 1e-3:
        return "< 0.001 lbs"
    return f"{significant(lbs)} lbs"


def format_money(amount: float, currency: str) -> str:
    """Money to the cent, or to 2 significant figures below a cent (down to a millionth).

    >>> format_money(20.114, "USD"), format_money(1.2377e-4, "EUR"), format_money(3e-9, "USD")
    ('20.11 USD', '0.00012 EUR', '< 0.000001 USD')
    """
    if abs(amount) >= 0.01 or not amount:
        return f"{amount:,.2f} {currency}"
    if abs(amount) >= 1e-6:
        return f"{significant(amount, 2)} {currency}"
    return f"< 0.000001 {currency}"


#: SI prefixes for rates of floating-point operations (kFLOP/s .. EFLOP/s).
_FLOP_LADDER = (
    ("E", 1e18),
    ("P", 1e15),
    ("T", 1e12),
    ("G", 1e9),
    ("M", 1e6),
    ("k", 1e3),
    ("", 1.0),
)


def format_flops(flops: float) -> str:
    """A count of floating-point operations as papers write it: in scientific notation
    from a million on (``4.20e22 FLOP``), else whole (``384 FLOP``).

    >>> format_flops(4.2e22), format_flops(7.44e17), format_flops(384.0), format_flops(0.0)
    ('4.20e22 FLOP', '7.44e17 FLOP', '384 FLOP', '0 FLOP')
    """
    if abs(flops) < 1e6 or not math.isfinite(flops):
        return f"{flops:,.0f} FLOP"
    mantissa, exponent = f"{flops:.2e}".split("e")
    return f"{mantissa}e{int(exponent)} FLOP"


def format_flops_per(value: float, per: str) -> str:
    """A rate of floating-point operations with an SI prefix, to 4 significant figures:
    ``format_flops_per(9.894e14, "s")`` gives ``989.4 TFLOP/s``; per joule, ``GFLOP/J``.

    >>> format_flops_per(9.894e14, "s"), format_flops_per(3.2e11, "J"), format_flops_per(0.0, "s")
    ('989.4 TFLOP/s', '320.0 GFLOP/J', '0 FLOP/s')
    """
    if not value or not math.isfinite(value):
        return f"{value:g} FLOP/{per}"
    prefix, size = _rung(value, _FLOP_LADDER)
    return f"{significant(value / size)} {prefix}FLOP/{per}"


def format_prose_number(value: float) -> str:
    """A figure for a sentence: one decimal with thousands separators, or 3 significant digits."""
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"


def energy_axis(total_kwh: float) -> tuple[float, str]:
    """The divisor (from kWh) and unit for an axis of energy reaching ``total_kwh``: the
    unit :func:`format_energy_kwh` gives that total in, so a plot and its report agree.

    >>> energy_axis(2.5), energy_axis(0.0065), energy_axis(3e-6), energy_axis(0.0)
    ((1.0, 'kWh'), (0.001, 'Wh'), (1e-06, 'mWh'), (1.0, 'kWh'))
    """
    if not total_kwh or not math.isfinite(total_kwh):
        return 1.0, "kWh"
    unit, size = _rung(total_kwh, _KWH_LADDER)
    return size, unit
