"""A tracker's settings, checked once: what ``track_energy(...)`` was given.

Kept as a plain mapping of the arguments (so a decorator can make a fresh tracker with the
same ones) after every value has been validated; errors name the value and the rule.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from nlpfootprint._validate import nonnegative, positive
from nlpfootprint.errors import ConfigurationError

__all__ = ["MIN_INTERVAL_S", "checked_settings"]

#: The shortest ``interval_s`` accepted.
MIN_INTERVAL_S = 1e-4
_MAX_TRACE_POINTS = 1_000_000


def checked_settings(**settings: Any) -> dict[str, Any]:
    """Validate ``track_energy``'s arguments (except the accounting ones, which
    :class:`~nlpfootprint.assumptions.Assumptions` checks) and return them."""
    meters = settings["meters"]
    if isinstance(meters, str):
        if meters != "auto":
            raise ConfigurationError(f"meters={meters!r}: expected 'auto' or a list of meters")
    elif not isinstance(meters, Sequence):
        raise ConfigurationError(
            f"meters={meters!r}: expected 'auto' or a list of meters (wrap one meter in a list)"
        )
    clock = settings["clock"]
    if clock is not None and not callable(getattr(clock, "now", None)):
        raise ConfigurationError(f"clock={clock!r}: a clock needs a now() method")
    points = settings["trace_points"]
    if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= 1_000_000:
        raise ConfigurationError(
            f"trace_points={points!r}: expected an integer from 2 to {_MAX_TRACE_POINTS:,}"
        )
    name = settings["name"]
    if name is not None and not isinstance(name, str):
        raise ConfigurationError(f"name={name!r}: expected a string")
    interval_s = positive("interval_s", settings["interval_s"])
    if interval_s < MIN_INTERVAL_S:
        raise ConfigurationError(
            f"interval_s={interval_s!r}: the shortest sampling interval is "
            f"{MIN_INTERVAL_S:g} s (meter reads take microseconds to milliseconds)"
        )
    positive("read_timeout_s", settings["read_timeout_s"])
    log = settings["log"]
    if log is not None and not isinstance(log, str | os.PathLike):
        raise ConfigurationError(f"log={log!r}: expected a file path (str or os.PathLike)")
    if isinstance(log, str | os.PathLike) and not os.fspath(log):
        raise ConfigurationError("log='': give a file path, or log=None for no run log")
    nonnegative("log_flush_s", settings["log_flush_s"])
    command = settings["log_command"]
    if command is not None and (
        isinstance(command, str)
        or not isinstance(command, Sequence)
        or not all(isinstance(part, str) for part in command)
    ):
        raise ConfigurationError(
            f"log_command={command!r}: expected a list of strings (the command's arguments)"
        )
    return dict(settings, interval_s=interval_s)
