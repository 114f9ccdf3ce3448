"""Hypothesis strategies shared by the property tests of the pure accounting code.

Every strategy keeps arrays short (at most ``MAX_SAMPLES``) and values in a range where
float64 arithmetic is comfortably exact to ~1e-12 relative, so the properties can use tight
tolerances. Timestamps start at a random origin: code that assumes t=0 should break.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "MAX_SAMPLES",
    "counter_readings",
    "energies_j",
    "intensities_g_per_kwh",
    "nonnegative_amounts",
    "power_trace",
    "powers_w",
    "prices_per_kwh",
    "pues",
    "scale_factors",
    "split_power_trace",
    "time_origins",
    "timestamps",
    "trace_segments",
    "wrapped_counter",
]

MAX_SAMPLES = 200

#: Where a clock may start: anywhere from zero to about eleven days of monotonic time.
time_origins = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)

#: Gaps between consecutive samples; zero is allowed (two reads in the same tick).
_gaps_s = st.floats(min_value=0.0, max_value=1e3, allow_nan=False, allow_infinity=False)

#: Instantaneous power of one channel, up to a busy multi-GPU node.
powers_w = st.floats(min_value=0.0, max_value=1e4, allow_nan=False, allow_infinity=False)

#: Energies and other plain non-negative quantities (kWh, J, kg, ...).
nonnegative_amounts = st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False)
energies_j = nonnegative_amounts

#: Power usage effectiveness: at least 1 by definition; real sites report 1.05 to ~3.
pues = st.floats(min_value=1.0, max_value=5.0, allow_nan=False, allow_infinity=False)

#: Grid carbon intensity in g CO2e per kWh (0 for a fully renewable contract).
intensities_g_per_kwh = st.floats(
    min_value=0.0, max_value=2000.0, allow_nan=False, allow_infinity=False
)

#: Electricity price per kWh in any currency.
prices_per_kwh = st.floats(min_value=0.0, max_value=10.0, allow_nan=False, allow_infinity=False)

#: Factors for linearity checks; >= 1 so that a scaled PUE stays a valid PUE.
scale_factors = st.floats(min_value=1.0, max_value=1e3, allow_nan=False, allow_infinity=False)


def _times_from_gaps(origin: float, gaps: list[float]) -> np.ndarray:
    """Sample times at ``origin`` plus the running sum of ``gaps`` (the first gap is unused)."""
    if not gaps:
        return np.array([], dtype=np.float64)
    return origin + np.concatenate([[0.0], np.cumsum(gaps[1:])])


@st.composite
def timestamps(draw: st.DrawFn, min_size: int = 0, max_size: int = MAX_SAMPLES) -> np.ndarray:
    """Non-decreasing sample times starting at a random origin (possibly none at all)."""
    origin = draw(time_origins)
    gaps = draw(st.lists(_gaps_s, min_size=min_size, max_size=max_size))
    return _times_from_gaps(origin, gaps)


@st.composite
def power_trace(
    draw: st.DrawFn, min_size: int = 0, max_size: int = MAX_SAMPLES
) -> tuple[np.ndarray, np.ndarray]:
    """Paired ``(times_s, power_w)`` arrays of equal length."""
    origin = draw(time_origins)
    samples = draw(st.lists(st.tuples(_gaps_s, powers_w), min_size=min_size, max_size=max_size))
    times = _times_from_gaps(origin, [gap for gap, _ in samples])
    return times, np.array([power for _, power in samples], dtype=np.float64)


@st.composite
def split_power_trace(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """A power trace of at least one sample and an index ``k`` to split it at."""
    times, power = draw(power_trace(min_size=1))
    k = draw(st.integers(min_value=0, max_value=times.size - 1))
    return times, power, k


@st.composite
def wrapped_counter(
    draw: st.DrawFn, min_size: int = 1, max_size: int = MAX_SAMPLES
) -> tuple[np.ndarray, np.ndarray, float]:
    """A true monotone counter, its readings wrapped modulo ``max_range``, and the range.

    Values are integer-valued floats (like RAPL's microjoule counters) so the wrap and
    its undoing are exact; each true increment is below ``max_range`` (at most one wrap
    between consecutive reads).
    """
    max_range = draw(st.integers(min_value=1, max_value=2**32))
    start = draw(st.integers(min_value=0, max_value=2**40))
    increments = draw(
        st.lists(
            st.integers(min_value=0, max_value=max_range - 1),
            min_size=min_size - 1,
            max_size=max_size - 1,
        )
    )
    true = np.array([start, *np.cumsum(increments, dtype=np.int64).tolist()], dtype=np.int64)
    true[1:] += start
    readings = (true % max_range).astype(np.float64)
    return true.astype(np.float64), readings, float(max_range)


@st.composite
def counter_readings(
    draw: st.DrawFn, min_size: int = 0, max_size: int = MAX_SAMPLES
) -> tuple[np.ndarray, float]:
    """Arbitrary readings inside ``[0, max_range]`` (wraps anywhere) and the range."""
    max_range = draw(
        st.floats(min_value=1.0, max_value=1e12, allow_nan=False, allow_infinity=False)
    )
    values = draw(
        st.lists(
            st.floats(min_value=0.0, max_value=max_range, allow_nan=False),
            min_size=min_size,
            max_size=max_size,
        )
    )
    return np.asarray(values, dtype=np.float64), max_range


@st.composite
def trace_segments(
    draw: st.DrawFn, origin: float, max_size: int = MAX_SAMPLES
) -> list[tuple[float, float, str, float]]:
    """``(t0, t1, domain, energy_j)`` segments at or after ``origin``, in any order."""
    # Microsecond-resolution offsets (what a monotonic clock gives): a zero-width instant
    # or a span of at least 1 us, never a subnormal sliver that makes mean power overflow.
    offsets = st.integers(min_value=0, max_value=10**11).map(lambda us: us / 1e6)
    segment = st.tuples(
        offsets,
        offsets,
        st.sampled_from(["gpu", "cpu", "dram", "other"]),
        st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
    )
    raw = draw(st.lists(segment, max_size=max_size))
    return [(origin + a, origin + b, domain, energy) for a, b, domain, energy in raw]
