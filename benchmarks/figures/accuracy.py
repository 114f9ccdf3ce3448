"""Accuracy: how close the tracker's energy is to the exact value, and its projections.

* **Sampled power**: synthetic power signals -- a square wave, 50 ms spikes, a sawtooth
  ramp, a sine -- read by a power meter at intervals of 10 ms to 10 s through the real
  tracker (a :class:`~nlpfootprint.testing.FakeClock`, so time is simulated and exact),
  against the exact integral of the signal. Each is run at a few phases of the signal
  against the sampling grid; rows give the relative error's median and spread, and the
  worst. The signals' periods are incommensurate with the intervals.
* **Aliasing**: the same with a period that is a multiple of the interval -- a square wave
  whose period is the interval, spikes every 3 intervals -- where every sample falls at
  the same place in the cycle and sampling cannot converge. Their own rows.
* **Counters**: the same signals read as an energy counter (the exact integral at each
  read, wrapping like RAPL): the error is that of floating point, ~1e-15.
* **Projection**: a noisy run (power noisy per step and drifting, steps at a noisy rate)
  measured over its first 5% of steps and projected with ``report.project(steps=...)`` and
  ``report.project(hours=...)``, against the run's exact total, over many seeds.

Run: ``python -m benchmarks.figures.accuracy [--full]`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

import attrs
from benchmarks.figures.scale import figure_row, wanted

import nlpfootprint as nf
from nlpfootprint.meters.base import Channel
from nlpfootprint.testing import FakeClock, FakeMeter

__all__ = [
    "FIGURES",
    "NoisyRun",
    "Plan",
    "Sawtooth",
    "Sine",
    "Square",
    "counter_error",
    "projection_errors",
    "rows",
    "run",
    "sampled_error",
]

#: A RAPL package counter's wrap range in joules.
RAPL_MAX_J = 262_143.328850
TAU = 2 * math.pi


@attrs.frozen
class Square:
    """``high`` watts for the first ``duty`` of each ``period_s``, ``low`` for the rest
    (short duties make spikes)."""

    name: str
    low: float
    high: float
    period_s: float
    duty: float = 0.5

    def power(self, t: float) -> float:
        return self.high if t % self.period_s < self.duty * self.period_s else self.low

    def energy(self, t: float) -> float:
        """Exact joules from 0 to ``t``."""
        cycles, rest = divmod(t, self.period_s)
        on_s = self.duty * self.period_s
        per_cycle = self.high * on_s + self.low * (self.period_s - on_s)
        return cycles * per_cycle + self.high * min(rest, on_s) + self.low * max(0.0, rest - on_s)


@attrs.frozen
class Sawtooth:
    """Ramps from ``low`` to ``high`` over each ``period_s``, then drops back."""

    name: str
    low: float
    high: float
    period_s: float

    def power(self, t: float) -> float:
        return self.low + (self.high - self.low) * (t % self.period_s) / self.period_s

    def energy(self, t: float) -> float:
        """Exact joules from 0 to ``t``."""
        cycles, rest = divmod(t, self.period_s)
        slope = (self.high - self.low) / self.period_s
        per_cycle = 0.5 * (self.low + self.high) * self.period_s
        return cycles * per_cycle + self.low * rest + 0.5 * slope * rest * rest


@attrs.frozen
class Sine:
    """``mean + amplitude x sin(2 pi t / period_s)`` watts."""

    name: str
    mean: float
    amplitude: float
    period_s: float

    def power(self, t: float) -> float:
        return self.mean + self.amplitude * math.sin(TAU * t / self.period_s)

    def energy(self, t: float) -> float:
        """Exact joules from 0 to ``t``."""
        swing = self.amplitude * self.period_s / TAU
        return self.mean * t + swing * (1.0 - math.cos(TAU * t / self.period_s))


Signal = Square | Sawtooth | Sine

#: Periods chosen incommensurate with the sampling intervals (no aliasing).
SIGNALS: tuple[Signal, ...] = (
    Square("square wave 100/300 W, period 7.32 s", 100.0, 300.0, 7.3217),
    Square("50 ms spikes to 450 W over 150 W, every 1.32 s", 150.0, 450.0, 1.3179, 0.05 / 1.3179),
    Sawtooth("sawtooth ramp 50 to 350 W, period 23.7 s", 50.0, 350.0, 23.7113),
    Sine("sine 200 +- 100 W, period 11.3 s", 200.0, 100.0, 11.3071),
)


@attrs.frozen
class Plan:
    """How much to run: sampling intervals, phases per signal, simulated seconds per run,
    projection seeds and projection run length (steps)."""

    intervals_s: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    phases: int = 5
    duration_s: float = 300.0
    seeds: int = 20
    steps: int = 4000

    @classmethod
    def of(cls, quick: bool) -> Plan:
        return cls((0.1, 1.0, 10.0), phases=3, seeds=6) if quick else cls()


def _error(
    signal: Signal,
    meter: FakeMeter,
    clock: FakeClock,
    *,
    interval_s: float,
    phase_s: float,
    duration_s: float,
) -> float:
    """Track ``meter`` for ``duration_s``; the relative error of its energy against the
    exact integral of ``signal`` over the time the clock actually moved (a FakeClock starts
    at a random offset, where a float holds time to about 1e-9 s)."""
    start = clock.now()
    with nf.track_energy(meters=[meter], clock=clock, interval_s=interval_s) as tracker:
        clock.advance(duration_s)
    elapsed_s = clock.now() - start
    exact = signal.energy(phase_s + elapsed_s) - signal.energy(phase_s)
    return tracker.report.energy_j / exact - 1.0


def sampled_error(signal: Signal, interval_s: float, duration_s: float, phase_s: float) -> float:
    """Relative error of the energy of ``signal`` (from ``phase_s`` on, for ``duration_s``)
    sampled by a power meter every ``interval_s`` through the tracker."""
    clock = FakeClock()
    meter = FakeMeter.trace(lambda t: signal.power(phase_s + t), domain="gpu", clock=clock)
    return _error(
        signal, meter, clock, interval_s=interval_s, phase_s=phase_s, duration_s=duration_s
    )


def counter_error(signal: Signal, interval_s: float, duration_s: float, phase_s: float) -> float:
    """As :func:`sampled_error`, the signal read as a wrapping energy counter (joules)."""
    clock = FakeClock()
    start = clock.now()
    offset_j = random.Random(phase_s).uniform(0.0, RAPL_MAX_J)

    def read() -> list[float]:
        total = offset_j + signal.energy(phase_s + (clock.now() - start))
        return [math.fmod(total, RAPL_MAX_J)]

    channel = Channel("cpu:0", "cpu", "energy", label="exact counter", max_energy_j=RAPL_MAX_J)
    meter = FakeMeter([channel], read, name="exact counter")
    return _error(
        signal, meter, clock, interval_s=interval_s, phase_s=phase_s, duration_s=duration_s
    )


def _error_row(
    row_id: str, figure: str, errors: Sequence[float], note: str, limit_pct: float | None = None
) -> dict[str, Any]:
    """A row of absolute relative errors in % (the worst and signed median in the note);
    with ``limit_pct``, the target is that every error is below it."""
    percent = [100 * abs(e) for e in errors]
    worst = max(percent)
    note = f"{note}; worst {worst:.3g}%, signed median {100 * statistics.median(errors):+.3g}%"
    if limit_pct is None:
        return figure_row(row_id, figure, "% error", percent, note=note)
    return figure_row(
        row_id, figure, "% error", percent, note=note,
        target=f"every error < {limit_pct:g} % (machine precision)",
        met=lambda _median: worst < limit_pct,
    )  # fmt: skip


def _interval_label(interval_s: float) -> str:
    return f"{interval_s * 1000:g} ms" if interval_s < 1 else f"{interval_s:g} s"


def _id(interval_s: float) -> str:
    return _interval_label(interval_s).replace(" ", "")


def sampling_rows(plan: Plan) -> list[dict[str, Any]]:
    """Sampled power against the exact integral, and the same signals as counters."""
    out = []
    counter_errors: dict[float, list[float]] = {i: [] for i in plan.intervals_s}
    for key, signal in zip(("square", "spikes", "ramp", "sine"), SIGNALS, strict=True):
        phases = [signal.period_s * k / plan.phases for k in range(plan.phases)]
        for interval in plan.intervals_s:
            errors = [sampled_error(signal, interval, plan.duration_s, p) for p in phases]
            counter_errors[interval] += [
                counter_error(signal, interval, plan.duration_s, p) for p in phases
            ]
            out.append(
                _error_row(
                    f"accuracy_{key}_{_id(interval)}",
                    f"sampled power, {signal.name}, every {_interval_label(interval)}",
                    errors,
                    f"{len(phases)} phases, {plan.duration_s:g} s simulated, vs the exact integral",
                )
            )
    for interval, errors in counter_errors.items():
        out.append(
            _error_row(
                f"accuracy_counter_{_id(interval)}",
                f"energy counter (exact integral, wrapping), every {_interval_label(interval)}",
                errors,
                f"the {len(SIGNALS)} signals x {plan.phases} phases, as counters",
                limit_pct=1e-10,
            )
        )
    return out


def aliasing_rows(plan: Plan) -> list[dict[str, Any]]:
    """A period that is a multiple of the interval: every sample at the same phase."""
    out = []
    for interval in plan.intervals_s:
        square = Square("square wave 100/300 W", 100.0, 300.0, interval)
        phases = [interval * (k + 0.3) / plan.phases for k in range(plan.phases)]
        errors = [sampled_error(square, interval, plan.duration_s, p) for p in phases]
        out.append(
            _error_row(
                f"aliasing_square_{_id(interval)}",
                f"ALIASING: square wave 100/300 W of period = interval "
                f"({_interval_label(interval)})",
                errors,
                f"{len(phases)} phases; each sample sees the same half of the cycle",
            )
        )
        if interval <= 0.05:
            continue  # a 50 ms spike spans the interval: nothing to alias
        spikes = Square("spikes", 150.0, 450.0, 3 * interval, 0.05 / (3 * interval))
        phases = [0.02 + k * interval for k in range(3)] + [(k + 0.6) * interval for k in range(3)]
        errors = [sampled_error(spikes, interval, plan.duration_s, p) for p in phases]
        out.append(
            _error_row(
                f"aliasing_spikes_{_id(interval)}",
                f"ALIASING: 50 ms spikes to 450 W over 150 W every 3 intervals "
                f"({_interval_label(interval)})",
                errors,
                "6 phases: in 3 a sample lands on every spike, in 3 on none",
            )
        )
    return out


@attrs.frozen
class NoisyRun:
    """A training run: each step's duration (s) and power (W, before the drift), and a
    drift of the power by ``drift`` (a fraction) from the start to the end of the run."""

    durations_s: tuple[float, ...]
    watts: tuple[float, ...]
    drift: float

    @classmethod
    def draw(cls, seed: int, steps: int) -> NoisyRun:
        """Steps of 1.5 s on average (log-normal, sigma 0.25) at 250 W +- 10% each, the
        whole drifting by up to +-10%."""
        rng = random.Random(seed)
        sigma = 0.25
        durations = [1.5 * rng.lognormvariate(-0.5 * sigma**2, sigma) for _ in range(steps)]
        watts = [250.0 * max(0.3, rng.gauss(1.0, 0.1)) for _ in range(steps)]
        return cls(tuple(durations), tuple(watts), rng.uniform(-0.1, 0.1))

    @property
    def ends_s(self) -> list[float]:
        return list(accumulate(self.durations_s))

    def power(self, t: float, ends_s: Sequence[float], total_s: float) -> float:
        step = min(bisect_right(ends_s, t), len(ends_s) - 1)
        return self.watts[step] * (1.0 + self.drift * t / total_s)

    def energy_j(self) -> float:
        """The whole run's exact energy."""
        ends, total_s = self.ends_s, sum(self.durations_s)
        starts = [0.0, *ends[:-1]]
        return sum(
            w * (e - s + self.drift * (e * e - s * s) / (2 * total_s))
            for w, s, e in zip(self.watts, starts, ends, strict=True)
        )


def projection_errors(run_: NoisyRun, fraction: float = 0.05) -> tuple[float, float, float]:
    """Measure the first ``fraction`` of ``run_``'s steps (interval 1 s), project it to the
    whole run; return the relative errors of the projections by steps and by hours against
    the exact total, and whether the steps projection's band holds it (1 or 0)."""
    steps = len(run_.durations_s)
    ends, total_s = run_.ends_s, sum(run_.durations_s)
    clock = FakeClock()
    meter = FakeMeter.trace(lambda t: run_.power(t, ends, total_s), clock=clock)
    with nf.track_energy(meters=[meter], clock=clock, interval_s=1.0) as tracker:
        for duration in run_.durations_s[: math.ceil(fraction * steps)]:
            clock.advance(duration)
            tracker.step()
    exact = run_.energy_j()
    by_steps = tracker.report.project(steps=steps)
    by_hours = tracker.report.project(hours=total_s / 3600)
    low, high = by_steps.bounds("energy_j")
    return by_steps.energy_j / exact - 1, by_hours.energy_j / exact - 1, float(low <= exact <= high)


def projection_rows(plan: Plan) -> list[dict[str, Any]]:
    """Projection from the first 5% of a noisy run, over seeds."""
    results = [projection_errors(NoisyRun.draw(seed, plan.steps)) for seed in range(plan.seeds)]
    held = sum(r[2] for r in results)
    how = (
        f"{plan.seeds} seeds, {plan.steps:,} steps of ~1.5 s at ~250 W (noise per step 10%, "
        "durations log-normal sigma 0.25, drift up to +-10% over the run); measured over the "
        "first 5% at interval 1 s"
    )
    out = []
    for index, basis in ((0, "steps"), (1, "hours")):
        errors = [100 * r[index] for r in results]
        note = f"{how}; worst {max(map(abs, errors)):.3g}%"
        if basis == "steps":
            band = "the +-1 sd band of bounds('energy_j')"
            note += f"; {band} held the truth in {held:g} of {plan.seeds}"
        out.append(
            figure_row(
                f"projection_{basis}",
                f"projection error from the first 5% of a noisy run, project({basis}=...)",
                "% error (signed)",
                errors,
                note=note,
            )
        )
    return out


def rows(plan: Plan) -> list[dict[str, Any]]:
    """Every accuracy figure under ``plan``."""
    return [*sampling_rows(plan), *aliasing_rows(plan), *projection_rows(plan)]


#: The parts of this module, by the prefix of their rows' ids (``--only`` takes them).
FIGURES = ("accuracy", "aliasing", "projection")


def run(quick: bool, only: set[str] | None = None) -> list[dict[str, Any]]:
    """Every accuracy figure (quick: intervals 100 ms to 10 s, 3 phases, 6 seeds), or those
    ``only`` names (a part, or a row id in it)."""
    plan = Plan.of(quick)
    parts = {"accuracy": sampling_rows, "aliasing": aliasing_rows, "projection": projection_rows}
    return [row for name, part in parts.items() if wanted(name, only) for row in part(plan)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every interval (default: quick)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = run(quick=not args.full)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    print(f"{len(out)} rows in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
