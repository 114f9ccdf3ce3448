"""Argument checks shared by the public entry points (a leaf: imports only errors).

Every check follows the rule of :mod:`nlpfootprint.errors`: a wrong type raises
:class:`~nlpfootprint.errors.ConfigurationTypeError` (a ``TypeError``), a value of the
right type that cannot be used raises :class:`~nlpfootprint.errors.ConfigurationError`
(a ``ValueError``). Each message starts with ``name=value`` and says the rule.

The upper bounds below are here, once, with their reasons; the docs quote them.
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Iterable, Mapping
from numbers import Real
from typing import TypeVar

from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError

__all__ = [
    "DISTRIBUTED_MODES",
    "MAX_COUNT",
    "MAX_FLOPS",
    "MAX_FLOAT_SAFE_INT",
    "MAX_G_PER_KWH",
    "MAX_INTERVAL_S",
    "MAX_GATHER_TIMEOUT_S",
    "MAX_LOG_FLUSH_S",
    "MAX_POWER_W",
    "MAX_PEAK_FLOPS_PER_S",
    "MAX_PRICE_PER_KWH",
    "MAX_PUE",
    "MAX_READ_TIMEOUT_S",
    "MIN_INTERVAL_S",
    "at_most",
    "collection",
    "distributed_mode",
    "finite_number",
    "flag",
    "flops_value",
    "fraction",
    "g_per_kwh_value",
    "instance",
    "gather_timeout_value",
    "interval_value",
    "log_flush_value",
    "nonnegative",
    "optional_text",
    "path_text",
    "positive",
    "price_per_kwh_value",
    "pue_value",
    "read_timeout_value",
    "step_counts",
    "text",
    "whole_number",
]

#: The most steps or tokens one call counts, the most devices an estimate takes and the
#: largest step target of a projection: a billion billion, far above any training run
#: (the largest count some 10**13 tokens), and small enough that sums of counts stay
#: within a float's range.
MAX_COUNT = 10**18
#: The largest integer :func:`whole_number` takes by default (a report's totals): every
#: count up to it converts to a finite float.
MAX_FLOAT_SAFE_INT = 2**1023
#: The largest PUE accepted. The Uptime Institute's survey average was 2.5 in 2007 and
#: 1.58 in 2018; at 5, 80% of the power would go to cooling and losses, so a larger number
#: is a slip (158 typed for 1.58, a percentage).
MAX_PUE = 5.0
#: The largest carbon intensity accepted, g CO2e/kWh: more than twice the dirtiest national
#: grid in the shipped tables (about 1,300) and over three times coal's life-cycle median (820,
#: IPCC AR5); a larger number is likely in g/MWh or mg/kWh.
MAX_G_PER_KWH = 3000.0
#: The largest electricity price accepted, per kWh in any currency: far above any tariff,
#: small enough that no cost overflows a float.
MAX_PRICE_PER_KWH = 1e6
#: The shortest ``interval_s`` accepted (meter reads take microseconds to milliseconds).
MIN_INTERVAL_S = 1e-4
#: The longest ``interval_s`` accepted: a day. Energy counters are exact however far
#: apart they are read, but a longer wait than this gains nothing, and a wait beyond
#: ``threading.TIMEOUT_MAX`` (about 292 years on Linux) cannot be made at all.
MAX_INTERVAL_S = 86400.0
#: The longest ``read_timeout_s`` accepted: a minute. A meter read takes micro- to
#: milliseconds; one that has not returned in a minute is hung, and stop() would keep the
#: program waiting that long.
MAX_READ_TIMEOUT_S = 60.0
#: The longest ``log_flush_s`` accepted: a day (a crash loses at most this much of a log).
MAX_LOG_FLUSH_S = 86400.0
#: The longest rank 0 waits at stop for the other ranks' parts of a distributed job.
MAX_GATHER_TIMEOUT_S = 86400.0
#: The most power a meter's channel may say its devices draw, in watts (its
#: ``max_power_w``): a petawatt, some fifty times all the power humanity uses (world primary
#: energy was 620 EJ in 2023, Energy Institute Statistical Review 2024: 19.6 TW on average).
#: Generous on purpose, as the bounds on readings are; a larger figure is no machine's.
MAX_POWER_W = 1e15
#: The most floating-point operations one ``tracker.step(flops=...)`` counts: 10**40, some
#: 10**14 times the largest training runs estimated so far (a few 10**25 FLOP), so that a
#: larger figure is a slip (a rate, or a product taken twice); sums of a run's counts stay
#: far within a float's range.
MAX_FLOPS = 1e40
#: The largest peak rate ``peak_flops_per_s`` takes, FLOP/s over all the devices measured:
#: 10**24, some ten thousand times a hundred thousand of the fastest accelerators' dense
#: 8-bit peak (about 2e15 each); a larger figure is likely in FLOP/h or summed twice.
MAX_PEAK_FLOPS_PER_S = 1e24

T = TypeVar("T")


def finite_number(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number.

    ``bool`` and non-numbers (strings, ``None``, ``Decimal``) are a type error; an integer
    too large for a float, NaN and infinities are a value error.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigurationTypeError(
            f"{name}={_show(value)}: expected a number, got {type(value).__name__}"
        )
    try:
        number = float(value)
    except OverflowError:
        raise ConfigurationError(
            f"{name}={_show(value)}: too large to compute with (a float holds up to about 1.8e308)"
        ) from None
    if not math.isfinite(number):
        raise ConfigurationError(f"{name}={_show(value)}: expected a finite number")
    return number


def nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not finite and >= 0."""
    number = finite_number(name, value)
    if number < 0:
        raise ConfigurationError(f"{name}={_show(value)}: must be zero or positive")
    return number


def positive(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not finite and > 0."""
    number = finite_number(name, value)
    if number <= 0:
        raise ConfigurationError(f"{name}={_show(value)}: must be greater than zero")
    return number


def fraction(name: str, value: object, *, what: str = "a fraction") -> float:
    """Return ``value`` as a float, or raise if it is not a number from 0 to 1."""
    number = finite_number(name, value)
    if not 0.0 <= number <= 1.0:
        raise ConfigurationError(f"{name}={_show(value)}: {what}, between 0 and 1")
    return number


def at_most(name: str, value: object, number: float, maximum: float, why: str) -> float:
    """Return ``number`` (``value`` checked) if it is <= ``maximum``; else raise, saying why."""
    if number > maximum:
        raise ConfigurationError(f"{name}={_show(value)}: at most {maximum:,g} ({why})")
    return number


def pue_value(value: object) -> float:
    """Return a power usage effectiveness: at least 1 by definition, at most :data:`MAX_PUE`."""
    number = finite_number("pue", value)
    if number < 1:
        raise ConfigurationError(
            f"pue={_show(value)}: power usage effectiveness is facility power / IT power, so "
            "it is at least 1.0 (1.58 is the 2018 global average the paper used; hyperscale "
            "data centres report about 1.1)"
        )
    return at_most(
        "pue",
        value,
        number,
        MAX_PUE,
        "the surveyed average was 2.5 in 2007 and 1.58 in 2018; is it 1.58 typed as 158?",
    )


def g_per_kwh_value(name: str, value: object) -> float:
    """Return a carbon intensity in g CO2e/kWh: >= 0 and at most :data:`MAX_G_PER_KWH`."""
    number = nonnegative(name, value)
    return at_most(
        name,
        value,
        number,
        MAX_G_PER_KWH,
        "g CO2e/kWh; the dirtiest grids emit about 1,300 and coal about 820 over its life "
        "cycle: is it in g/MWh?",
    )


def price_per_kwh_value(value: object) -> float:
    """Return an electricity price per kWh: >= 0 and at most :data:`MAX_PRICE_PER_KWH`."""
    number = nonnegative("price_per_kwh", value)
    return at_most(
        "price_per_kwh",
        value,
        number,
        MAX_PRICE_PER_KWH,
        "per kWh, in any currency; is it a price per MWh or a total?",
    )


def interval_value(value: object) -> float:
    """Return a sampling interval in seconds, from :data:`MIN_INTERVAL_S` to a day."""
    interval_s = positive("interval_s", value)
    if interval_s < MIN_INTERVAL_S:
        raise ConfigurationError(
            f"interval_s={_show(value)}: the shortest sampling interval is "
            f"{MIN_INTERVAL_S:g} s (meter reads take microseconds to milliseconds)"
        )
    return at_most(
        "interval_s",
        value,
        interval_s,
        MAX_INTERVAL_S,
        "seconds, a day; energy counters are exact however far apart they are read",
    )


def read_timeout_value(value: object) -> float:
    """Return how long to wait for a meter read, in seconds: > 0 and at most a minute."""
    timeout_s = positive("read_timeout_s", value)
    return at_most(
        "read_timeout_s",
        value,
        timeout_s,
        MAX_READ_TIMEOUT_S,
        "seconds; a meter read takes milliseconds, and one that has not returned in a "
        "minute is hung",
    )


def log_flush_value(value: object) -> float:
    """Return seconds between run-log write-outs: >= 0 and at most a day."""
    flush_s = nonnegative("log_flush_s", value)
    return at_most(
        "log_flush_s",
        value,
        flush_s,
        MAX_LOG_FLUSH_S,
        "seconds, a day; a crash loses at most this much of the log",
    )


#: What ``track_energy(distributed=...)`` takes.
DISTRIBUTED_MODES = ("auto", "torch", "mpi", None)


def distributed_mode(value: object) -> None:
    """Check a ``distributed=`` value (one of :data:`DISTRIBUTED_MODES`)."""
    if value not in DISTRIBUTED_MODES:
        raise ConfigurationError(
            f"distributed={value!r}: expected 'auto' (find the job this process belongs to), "
            "'torch', 'mpi', or None (measure this process alone)"
        )


def gather_timeout_value(value: object) -> float:
    """Return how long rank 0 waits for the other ranks at stop: > 0 and at most a day."""
    timeout_s = positive("gather_timeout_s", value)
    return at_most(
        "gather_timeout_s",
        value,
        timeout_s,
        MAX_GATHER_TIMEOUT_S,
        "seconds, a day; a rank that has not stopped by then is reported missing",
    )


def whole_number(
    name: str,
    value: object,
    *,
    what: str = "a whole number",
    minimum: int = 0,
    maximum: int | None = None,
) -> int:
    """Return ``value`` as an ``int`` from ``minimum`` to ``maximum`` (no bound: any count
    a float can hold), else raise.

    Any integral value is taken (``int``, numpy integers, 0-d integer arrays and tensors:
    what ``operator.index`` takes); ``bool`` and floats, even ``2.0``, are a type error.
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise ConfigurationTypeError(f"{name}={value!r}: expected {what}, got a bool")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigurationTypeError(
            f"{name}={_show(value)}: expected {what}, got {type(value).__name__}"
            f"{_array_kind(value)}"
        ) from None
    if number < minimum:
        raise ConfigurationError(f"{name}={_show(number)}: expected {what} >= {minimum}")
    limit = MAX_FLOAT_SAFE_INT if maximum is None else maximum
    if number > limit:
        raise ConfigurationError(f"{name}={_show(number)}: expected {what} <= {_limit(limit)}")
    return number


def _array_kind(value: object) -> str:
    """For an array or tensor that is no whole number: how many elements, or its dtype."""
    numel = getattr(value, "numel", None)  # a torch tensor's count; numpy's is ``size``
    count = numel() if callable(numel) else getattr(value, "size", None)
    if isinstance(count, int) and count != 1:
        return f" of {count} elements (sum it first, e.g. mask.sum())"
    dtype = getattr(value, "dtype", None)
    return "" if dtype is None else f" of dtype {dtype}"


def step_counts(n: object, tokens: object) -> tuple[int, int | None]:
    """The arguments of ``tracker.step(n, tokens)``, checked: whole numbers from 0 to
    :data:`MAX_COUNT` (``tokens`` may be None)."""
    steps = whole_number("n", n, what="a whole number of steps", maximum=MAX_COUNT)
    if tokens is None:
        return steps, None
    return steps, whole_number("tokens", tokens, what="a whole number of tokens", maximum=MAX_COUNT)


def flops_value(name: str, value: object, *, maximum: float = MAX_FLOPS) -> float:
    """Return a count of floating-point operations as a float: a finite number from 0 to
    ``maximum`` (:data:`MAX_FLOPS`). Integers of any size, floats, numpy scalars and 0-d
    tensors (``.item()`` is taken) are accepted; ``bool`` is a type error."""
    item = getattr(value, "item", None)
    if getattr(value, "ndim", None) == 0 and callable(item):  # a 0-d array or tensor
        value = item()
    number = nonnegative(name, value)
    return at_most(name, value, number, maximum, "FLOP; is it a rate, or counted twice?")


def flag(name: str, value: object) -> bool:
    """Return ``value`` if it is ``True`` or ``False``; anything else is a type error."""
    if not isinstance(value, bool):
        raise ConfigurationTypeError(f"{name}={_show(value)}: expected True or False")
    return value


def instance(name: str, value: object, kind: type[T], what: str) -> T:
    """Return ``value`` if it is a ``kind`` (``what``, in words); anything else is a type
    error. A ``bool`` is never taken for a number."""
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigurationTypeError(
            f"{name}={_show(value)}: expected {what}, got {type(value).__name__}"
        )
    return value


def text(name: str, value: object, *, what: str = "a string") -> str:
    """Return ``value`` if it is a string; anything else is a type error."""
    return instance(name, value, str, what)


def collection(name: str, value: object, *, what: str) -> Iterable[object]:
    """Return ``value`` if it is a collection of items (a list, a tuple, an array, ...); a
    string (which would be read letter by letter), a mapping or a single value is a type
    error."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        one = f" (for one, [{_show(value)}])" if isinstance(value, str) else ""
        raise ConfigurationTypeError(
            f"{name}={_show(value)}: expected {what}{one}, got {type(value).__name__}"
        )
    return value


def path_text(name: str, value: object) -> str:
    """Return a file path (``str`` or ``os.PathLike``) as a string; anything else is a type
    error, and a path no file can have (a NUL character) a value error."""
    if not isinstance(value, str | os.PathLike):
        raise ConfigurationTypeError(
            f"{name}={_show(value)}: expected a file path (str or os.PathLike), got "
            f"{type(value).__name__}"
        )
    path = os.fspath(value)
    if not isinstance(path, str):
        raise ConfigurationTypeError(
            f"{name}={_show(value)}: expected a file path as text (str or os.PathLike[str]), "
            f"got {type(path).__name__}"
        )
    if "\0" in path:
        raise ConfigurationError(f"{name}={_show(path)}: a file path cannot hold a NUL character")
    return path


def optional_text(name: str, value: object) -> str | None:
    """Return ``value`` if it is a string or None; anything else is a type error."""
    if value is not None and not isinstance(value, str):
        raise ConfigurationTypeError(
            f"{name}={_show(value)}: expected a string, got {type(value).__name__}"
        )
    return value


def _limit(limit: int) -> str:
    """``10**18``, ``2**1023`` or ``1,000``: a bound as a reader takes it in."""
    for base in (10, 2):
        exponent = round(math.log(limit, base)) if limit > 1 else 0
        if exponent > 9 and base**exponent == limit:
            return f"{base}**{exponent}"
    return f"{limit:,}"


def _show(value: object) -> str:
    """``repr(value)``, with an integer too long to print whole shortened (10**400 would
    otherwise fill the screen, or exceed Python's digit limit)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        digits = len(str(abs(value))) if abs(value).bit_length() < 10_000 else None
        sign = "-" if value < 0 else ""
        if digits is None:
            return f"{sign}an integer of {abs(value).bit_length():,} bits"
        if value == 10 ** (digits - 1) or -value == 10 ** (digits - 1):
            return f"{sign}10**{digits - 1}"
        return f"{sign}an integer of {digits:,} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
