"""The idle power a run's dynamic energy is counted above: a :class:`Baseline`.

A baseline holds, per channel id, the power the hardware draws when nothing runs on it,
and how that figure was obtained (measured before the run, given, read from a file or a
run log). A report that has one gives its *dynamic* energy beside its total: each
channel's energy less its idle power times the channel's duration, at least zero. A
channel the baseline does not name has an idle power of 0 W here (its energy is all
dynamic), and the report says so.

This module is a value and pure arithmetic: measuring a baseline and reading one from a
file is :mod:`nlpfootprint.baseline`'s job. It works on any object with the report's
attributes (``channels``, ``windows``, ``name``) and imports no report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from nlpfootprint.checks import MAX_POWER_W, at_most, nonnegative
from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError
from nlpfootprint.units import format_duration

__all__ = ["BASELINE_SOURCES", "BASELINE_WARNING", "Baseline", "power_map"]

#: How a baseline was obtained: measured by the tracker before its run (or by
#: :func:`~nlpfootprint.measure_baseline`), given as a mapping, read from a baseline file
#: (``nlpfootprint baseline --out``), or taken as a run log's mean power.
BASELINE_SOURCES = ("measured", "given", "file", "log")

#: Every warning a baseline gives a report starts with this, so that a report given
#: another baseline (:meth:`~nlpfootprint.Report.with_baseline`) drops the old ones.
BASELINE_WARNING = "baseline: "


class _Channel(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def energy_j(self) -> float: ...
    @property
    def duration_s(self) -> float: ...


class _Measured(Protocol):
    @property
    def channels(self) -> Sequence[_Channel]: ...
    @property
    def windows(self) -> Sequence[_Measured]: ...
    @property
    def name(self) -> str | None: ...


def power_map(value: object, name: str = "baseline") -> dict[str, float]:
    """``value`` as ``{channel id: watts}``: a mapping of non-empty strings to finite
    numbers from 0 to :data:`~nlpfootprint.checks.MAX_POWER_W` (the error names ``name``
    and the entry).

    >>> power_map({"gpu:0": 62})
    {'gpu:0': 62.0}
    """
    if not isinstance(value, Mapping):
        raise ConfigurationTypeError(
            f"{name}={value!r:.80}: expected a mapping of channel id to idle watts, such as "
            f"{{'gpu:0': 62.0}}, got {type(value).__name__}"
        )
    out: dict[str, float] = {}
    for key, watts in value.items():
        if not isinstance(key, str) or not key:
            raise ConfigurationTypeError(
                f"{name}: channel id {key!r:.80} is not a non-empty string (ids are such as "
                "'gpu:0', 'cpu:0': see report.channels)"
            )
        where = f"{name}[{key!r}]"
        out[key] = at_most(where, watts, nonnegative(where, watts), MAX_POWER_W, "watts")
    return out


def _power(value: object) -> dict[str, float]:
    return power_map(value, "power_w")


def _seconds(_instance: object, attribute: attrs.Attribute[float | None], value: object) -> None:
    if value is not None:
        nonnegative(attribute.name, value)


def _optional_str(_instance: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{attribute.name}: expected a string or None, got {value!r:.80}")


def _texts(_instance: object, attribute: attrs.Attribute[tuple[str, ...]], value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{attribute.name}: expected a tuple of strings, got {value!r:.80}")


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _watts(watts: float) -> str:
    return f"{watts:.4g} W"


@attrs.frozen
class Baseline:
    """The idle power of each channel, which dynamic energy is counted above.

    Attributes:
        power_w: Per channel id (``"gpu:0"``, ``"cpu:0"``), its idle power in watts.
        source: How it was obtained, one of :data:`BASELINE_SOURCES`: ``"measured"``
            (before the run), ``"given"`` (a mapping), ``"file"`` (a baseline file),
            ``"log"`` (a run log's mean power per channel).
        seconds: How long the idle power was measured over (None: given).
        measured_at: When that measurement began, ISO 8601 UTC (a label only; None when
            not known).
        path: The file it was read from (``"file"`` and ``"log"``).
        warnings: What went wrong while measuring it (a channel without readings enough
            is left out of ``power_w``, and said here).

    >>> b = Baseline({"gpu:0": 62.0}, "measured", seconds=5.0)
    >>> b.total_w, b.describe()
    (62.0, 'measured for 5.00 s before the run')
    """

    power_w: dict[str, float] = attrs.field(converter=_power)
    source: str = attrs.field(validator=attrs.validators.in_(BASELINE_SOURCES))
    seconds: float | None = attrs.field(default=None, validator=_seconds)
    measured_at: str | None = attrs.field(default=None, validator=_optional_str)
    path: str | None = attrs.field(default=None, validator=_optional_str)
    warnings: tuple[str, ...] = attrs.field(default=(), converter=_strings, validator=_texts)

    @property
    def total_w(self) -> float:
        """The idle power of every channel named, summed."""
        return math.fsum(self.power_w.values())

    def power_of(self, ids: Iterable[str]) -> float:
        """The idle power of the channels ``ids`` that it names, summed (a run's idle
        power, leaving out channels the run does not have)."""
        return math.fsum(self.power_w.get(i, 0.0) for i in set(ids))

    def describe(self) -> str:
        """How it was obtained, in words (after "an idle baseline of 62 W ...")."""
        measured = (
            f"measured for {format_duration(self.seconds)}" if self.seconds is not None else ""
        )
        when = f", starting {self.measured_at}" if self.measured_at else ""
        if self.source == "measured":
            return f"{measured} before the run" if measured else "measured before the run"
        if self.source == "file":
            return f"read from {self.path}" + (f" ({measured}{when})" if measured else "")
        if self.source == "log":
            over = f" over {format_duration(self.seconds)}" if self.seconds is not None else ""
            return f"taken as the mean power of run log {self.path}{over}{when}"
        return "as given"

    def idle_j(self, channel: _Channel) -> float:
        """What ``channel`` would have drawn idle over its duration (0 J when not named)."""
        return self.power_w.get(channel.id, 0.0) * channel.duration_s

    def dynamic_j(self, channels: Iterable[_Channel]) -> float:
        """The energy of ``channels`` above their idle power, each at least 0 J."""
        return math.fsum(max(c.energy_j - self.idle_j(c), 0.0) for c in channels)

    def check(self, report: _Measured) -> list[str]:
        """What a reader of ``report``'s dynamic energy must know, each line starting
        with :data:`BASELINE_WARNING`: the measurement's own warnings, the channels this
        baseline does not name (counted in full), the ids it names that the report has
        not, and each channel (of the report or a window) that drew less than its idle
        power (counted as 0)."""
        out = [f"{BASELINE_WARNING}{w}" for w in self.warnings]
        ids = [c.id for c in report.channels]
        unnamed = [i for i in ids if i not in self.power_w]
        if unnamed:
            out.append(
                f"{BASELINE_WARNING}no idle power for {', '.join(unnamed)}: its energy is "
                "counted in full as dynamic energy (total only)"
            )
        extra = [i for i in self.power_w if i not in ids]
        if extra:
            out.append(
                f"{BASELINE_WARNING}{', '.join(extra)} in the baseline but not measured in "
                f"this run (its channels: {', '.join(ids) or 'none'}): ignored"
            )
        out += self._below_idle(report, "")
        return out

    def _below_idle(self, report: _Measured, where: str) -> list[str]:
        out = []
        for c in report.channels:
            idle = self.power_w.get(c.id)
            if idle is None or c.duration_s <= 0 or c.energy_j >= idle * c.duration_s:
                continue
            out.append(
                f"{BASELINE_WARNING}{where}{c.id} drew {_watts(c.energy_j / c.duration_s)} "
                f"on average, less than its idle baseline of {_watts(idle)}: its dynamic "
                "energy is counted as 0 (the 'idle' was not idle, or was measured on other "
                "hardware or at another temperature)"
            )
        for w in report.windows:
            out += self._below_idle(w, f"{where}window {w.name!r}: ")
        return out

    def renamed(self, ids: Mapping[str, str]) -> Baseline:
        """The same baseline with its channel ids renamed (``{old: new}``); ids not in
        ``ids`` are left out."""
        return attrs.evolve(self, power_w={ids[k]: w for k, w in self.power_w.items() if k in ids})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``total_w`` is added for readers of the file)."""
        return {
            "power_w": dict(self.power_w),
            "total_w": self.total_w,
            "source": self.source,
            "seconds": self.seconds,
            "measured_at": self.measured_at,
            "path": self.path,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Baseline | None:
        """Read :meth:`to_dict` output back (None for None: a report without a baseline).

        Raises:
            ConfigurationError: Not a baseline's dict (a missing key, a wrong value).
        """
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise ConfigurationTypeError(f"baseline: expected an object, got {type(data).__name__}")
        warnings = data.get("warnings") or ()
        if not isinstance(warnings, list | tuple):
            raise ConfigurationTypeError(
                f"baseline: warnings: expected a list of strings, got {type(warnings).__name__}"
            )
        try:
            return cls(
                power_w=data["power_w"],
                source=data["source"],
                seconds=data.get("seconds"),
                measured_at=data.get("measured_at"),
                path=data.get("path"),
                warnings=tuple(warnings),
            )
        except KeyError as err:
            raise ConfigurationError(f"baseline: no {err} in {dict(data)!r:.120}") from None
        except (TypeError, ValueError) as err:
            if isinstance(err, ConfigurationError):
                raise
            raise ConfigurationError(f"baseline: {err}") from err
