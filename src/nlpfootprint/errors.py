"""The library's exceptions.

Every exception raised on purpose by nlpfootprint derives from :class:`NlpFootprintError`.
Each leaf also derives from the built-in exception it resembles, so code that catches
``ValueError`` or ``PermissionError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "MeterError",
    "MeterPermissionError",
    "MeterUnavailableError",
    "NlpFootprintError",
    "ReportFormatError",
    "TrackerStateError",
    "UnknownRegionError",
]


class NlpFootprintError(Exception):
    """Root of every error nlpfootprint raises on purpose."""


class ConfigurationError(NlpFootprintError, ValueError):
    """An argument has a value the library cannot use (negative PUE, NaN price, ...)."""


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


class UnknownRegionError(ConfigurationError, KeyError):
    """A carbon-intensity key is not known; the message lists the closest matches."""

    def __str__(self) -> str:
        # KeyError quotes its argument; show the message as written instead.
        return str(self.args[0]) if self.args else ""
