"""The library's exceptions.

Every exception raised on purpose by nlpfootprint derives from :class:`NlpFootprintError`.
Each leaf also derives from the built-in exception it resembles, so code that catches
``ValueError`` or ``PermissionError`` keeps working.

Bad arguments follow one rule in every public function and command, and the message
always names the argument (``interval_s=...``, ``hardware=...``):

- a value of the right type that cannot be used (negative, NaN, infinite, out of range)
  raises :class:`ConfigurationError`, a ``ValueError``;
- a value of the wrong type (``interval_s="1"``, ``name=5``, ``steps=1.5``) raises
  :class:`ConfigurationTypeError`, a ``TypeError``;
- a key that a table does not have (hardware, price table, generation source, region)
  raises :class:`UnknownKeyError`, a ``KeyError``.

The last two are also :class:`ConfigurationError` s, so ``except ConfigurationError``
(or ``except ValueError``, as before) still catches every bad argument.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "ConfigurationTypeError",
    "MeterError",
    "MeterPermissionError",
    "MeterUnavailableError",
    "NlpFootprintError",
    "ReportFormatError",
    "TrackerStateError",
    "UnknownKeyError",
    "UnknownRegionError",
]


class NlpFootprintError(Exception):
    """Root of every error nlpfootprint raises on purpose."""


class ConfigurationError(NlpFootprintError, ValueError):
    """An argument has a value the library cannot use (negative PUE, NaN price, ...).

    Also the base of :class:`ConfigurationTypeError` and :class:`UnknownKeyError`, so it
    catches every bad argument.
    """


class ConfigurationTypeError(ConfigurationError, TypeError):
    """An argument has the wrong type (a string for a number, a float for a count, ...).

    A ``TypeError``; also a :class:`ConfigurationError` (hence a ``ValueError``), so code
    written before this class existed still catches it.
    """


class UnknownKeyError(ConfigurationError, KeyError):
    """A name is not in the table it is looked up in (hardware, price table, region, ...);
    the message says what the table has, or the closest names."""

    def __str__(self) -> str:
        # KeyError quotes its argument; show the message as written instead.
        return str(self.args[0]) if self.args else ""


class MeterError(NlpFootprintError, RuntimeError):
    """A meter failed to produce a reading."""


class MeterUnavailableError(MeterError):
    """A meter's hardware or library is not present on this machine."""


class MeterPermissionError(NlpFootprintError, PermissionError):
    """A meter exists but the current user may not read it; the message says the fix."""


class TrackerStateError(NlpFootprintError, RuntimeError):
    """A tracker was used out of order (report read before stop, started twice, ...)."""


class ReportFormatError(NlpFootprintError, ValueError):
    """A serialised report (dict or JSON) is not one this version can read."""


class UnknownRegionError(UnknownKeyError):
    """A carbon-intensity key is not known; the message lists the closest matches."""
