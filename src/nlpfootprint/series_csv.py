"""Reading an intensity series from a local CSV file: the layouts, the columns, the errors.

The layouts :meth:`IntensitySeries.from_csv <nlpfootprint.series.IntensitySeries.from_csv>`
reads: ``timestamp,g_per_kwh`` (ISO 8601 times; an offset is converted to UTC, a time
without one is read as UTC) and an Electricity Maps data-portal export (``Datetime
(UTC)``, its life-cycle column by default, the direct one on request). Every error names
the file, the file's own line and what is wrong, in one line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from pathlib import Path

from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError
from nlpfootprint.intensity import Intensity

__all__ = ["MAX_ROWS", "iso", "parse_time", "read_series_csv"]

#: The most rows a series file may hold (10 years of 5-minute values).
MAX_ROWS = 1_100_000

_TIME_COLUMNS = ("timestamp", "datetime (utc)", "datetime", "time", "date")
_VALUE_COLUMNS = ("g_per_kwh", "gco2e_per_kwh", "carbon_intensity", "intensity")
#: An Electricity Maps column's basis, as its exports have spelt it over the years:
#: "(life cycle assessment)", "(Life cycle)", "(LCA)"; and "(direct)".
_LIFE = re.compile(r"\((?:life[ -]?cycle(?: assessment)?|lca)\)")
_DIRECT = re.compile(r"\(direct\)")


def parse_time(value: object, what: str = "time") -> float:
    """A UTC time as seconds since the epoch: a ``datetime`` (naive: UTC), an ISO 8601
    string (``Z`` or an offset; none: UTC) or a number of seconds.

    Raises:
        ConfigurationError: A string that is not an ISO 8601 time, or a number that is
            not finite.
        ConfigurationTypeError: Anything else.
    """
    if isinstance(value, bool):
        raise ConfigurationTypeError(f"{what}={value!r}: expected a datetime or an ISO 8601 time")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ConfigurationError(f"{what}={value!r}: expected a finite number of seconds")
        return float(value)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigurationError(
                f"{what}={value!r}: not an ISO 8601 time (expected e.g. 2024-05-01T13:00:00Z)"
            ) from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    raise ConfigurationTypeError(
        f"{what}={value!r}: expected a datetime, an ISO 8601 string or seconds since the "
        f"epoch, got {type(value).__name__}"
    )


def iso(t: float) -> str:
    """``t`` (UTC seconds) as ``2024-05-01T13:00:00Z``."""
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_series_csv(
    path: Path, *, column: str | None = None, basis: str | None = None
) -> tuple[list[tuple[object, object]], str, str]:
    """The (time, g/kWh) pairs of a series file, the value column's header and the basis
    (``"marginal"`` when not given and the column's name says marginal, else
    ``"average"``).

    Raises:
        ConfigurationError: The file cannot be read, or is not a series this reads.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        why = getattr(err, "strerror", None) or str(err)
        raise ConfigurationError(f"intensity series {path}: cannot read it: {why}") from None
    # (line number, cells) of each row that holds anything: errors name the file's line
    rows = [
        (line, row)
        for line, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if any(cell.strip() for cell in row)
    ]
    if not rows:
        raise ConfigurationError(f"intensity series {path}: the file is empty")
    if len(rows) > MAX_ROWS + 1:
        raise ConfigurationError(
            f"intensity series {path}: {len(rows) - 1:,} rows, more than the {MAX_ROWS:,} "
            "this reads"
        )
    header = [h.strip() for h in rows[0][1]]
    t_col = _time_column(header, path)
    v_col = _value_column(header, column, path)
    if basis is None:
        basis = "marginal" if "marginal" in header[v_col].lower() else "average"
    pairs: list[tuple[object, object]] = []
    seen: dict[float, int] = {}
    for line, row in rows[1:]:
        where = f"intensity series {path}, line {line}"
        try:
            when, raw = row[t_col].strip(), row[v_col].strip()
        except IndexError:
            raise ConfigurationError(
                f"{where}: {len(row)} columns, the header has {len(header)}"
            ) from None
        if not raw:
            continue  # a gap in the data: the value before it holds on (warned if long)
        try:
            number = float(raw)
        except ValueError:
            raise ConfigurationError(f"{where}: {header[v_col]}={raw!r} is not a number") from None
        try:
            t = parse_time(when, "time")
            value = Intensity(number).g_per_kwh
        except (ConfigurationError, ConfigurationTypeError) as err:
            raise ConfigurationError(f"{where}: {err}") from None
        if t in seen:
            raise ConfigurationError(
                f"{where}: the time {iso(t)} is given twice (first on line {seen[t]})"
            )
        seen[t] = line
        pairs.append((t, value))
    return pairs, header[v_col], basis


def _time_column(header: list[str], path: Path) -> int:
    lowered = [h.lower() for h in header]
    for name in _TIME_COLUMNS:
        if name in lowered:
            return lowered.index(name)
    raise ConfigurationError(
        f"intensity series {path}: no time column in the header {header}; expected one of "
        f"{', '.join(_TIME_COLUMNS)} (e.g. timestamp,g_per_kwh)"
    )


def _value_column(header: list[str], column: str | None, path: Path) -> int:
    lowered = [h.lower() for h in header]
    if column is not None:
        wanted = column.strip().lower()
        if wanted in lowered:
            return lowered.index(wanted)
        pattern = {"direct": _DIRECT, "life cycle": _LIFE, "lifecycle": _LIFE, "lca": _LIFE}.get(
            wanted
        )
        found = [
            i
            for i, h in enumerate(lowered)
            if pattern is not None and "carbon intensity" in h and pattern.search(h)
        ]
        if found:
            return found[0]
        raise ConfigurationError(
            f"intensity series {path}: column={column!r} is not in the header {header}; give a "
            "header name, or 'direct' / 'life cycle' for an Electricity Maps export"
        )
    for name in _VALUE_COLUMNS:
        if name in lowered:
            return lowered.index(name)
    life = [i for i, h in enumerate(lowered) if "carbon intensity" in h and _LIFE.search(h)]
    direct = [i for i, h in enumerate(lowered) if "carbon intensity" in h and "direct" in h]
    if life or direct:
        return (life or direct)[0]
    raise ConfigurationError(
        f"intensity series {path}: no value column in the header {header}; expected "
        f"{', '.join(_VALUE_COLUMNS)}, or an Electricity Maps 'Carbon Intensity gCO2eq/kWh "
        "(life cycle assessment)' column"
    )
