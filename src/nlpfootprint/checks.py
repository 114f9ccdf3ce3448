"""Argument checks shared by the public entry points (a leaf: imports only errors).

Each error names the value and the rule.
"""

from __future__ import annotations

import math
from numbers import Real

from nlpfootprint.errors import ConfigurationError

__all__ = ["finite_number", "nonnegative", "positive", "pue_value", "whole_number"]


def finite_number(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigurationError(f"{name}={value!r}: expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigurationError(f"{name}={value!r}: expected a finite number")
    return number


def nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not finite and >= 0."""
    number = finite_number(name, value)
    if number < 0:
        raise ConfigurationError(f"{name}={value!r}: must be zero or positive")
    return number


def positive(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not finite and > 0."""
    number = finite_number(name, value)
    if number <= 0:
        raise ConfigurationError(f"{name}={value!r}: must be greater than zero")
    return number


def pue_value(value: object) -> float:
    """Return a power usage effectiveness, which is >= 1 by definition."""
    number = finite_number("pue", value)
    if number < 1:
        raise ConfigurationError(
            f"pue={value!r}: power usage effectiveness is facility power / IT power, so it "
            "is at least 1.0 (1.58 is the 2018 global average the paper used; hyperscale "
            "data centres report about 1.1)"
        )
    return number


def whole_number(name: str, value: object, *, what: str = "a whole number") -> int:
    """Return ``value`` if it is an ``int`` >= 0 (``bool`` is refused), else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{name}={value!r}: expected {what} >= 0")
    return value
