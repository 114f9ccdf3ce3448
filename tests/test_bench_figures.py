"""The scale and accuracy benchmark figures, on tiny sizes: rows well formed and the values
that can be checked exactly (counters, constant power, aliasing) right. No timing is asserted.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from benchmarks.figures import accuracy, scale

ROW_KEYS = {"id", "figure", "unit", "target", "met", "tools", "ratio", "note"}


def check_rows(rows: list[dict[str, Any]]) -> None:
    assert rows
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), ids
    for row in rows:
        assert set(row) == ROW_KEYS
        assert list(row["tools"]) == ["nlpfootprint"]
        stats = row["tools"]["nlpfootprint"]
        assert all(math.isfinite(stats[key]) for key in ("median", "low", "high"))
        assert stats["low"] <= stats["median"] <= stats["high"]
        assert stats["n"] >= 1
        assert row["ratio"] is None
        assert (row["met"] is None) == (row["target"] is None)
        assert isinstance(row["figure"], str)
        assert isinstance(row["note"], str)


def midpoint_integral(power: Any, t0: float, t1: float, steps: int) -> float:
    dt = (t1 - t0) / steps
    return sum(power(t0 + (i + 0.5) * dt) for i in range(steps)) * dt


# -- accuracy ----------------------------------------------------------------------------


@pytest.mark.parametrize("signal", accuracy.SIGNALS, ids=lambda s: s.name.split()[0])
def test_signal_energy_is_the_integral_of_its_power(signal: accuracy.Signal) -> None:
    exact = signal.energy(20.3) - signal.energy(0.3)
    assert exact == pytest.approx(midpoint_integral(signal.power, 0.3, 20.3, 100_000), rel=1e-4)


def test_constant_power_is_sampled_exactly() -> None:
    flat = accuracy.Square("flat", 200.0, 200.0, 5.0)
    for interval_s in (0.1, 1.0, 7.0):
        assert abs(accuracy.sampled_error(flat, interval_s, 60.0, 1.3)) < 1e-12


@pytest.mark.parametrize("signal", accuracy.SIGNALS, ids=lambda s: s.name.split()[0])
def test_a_counter_of_the_exact_integral_gives_the_exact_energy(signal: accuracy.Signal) -> None:
    for interval_s in (0.1, 10.0):
        assert abs(accuracy.counter_error(signal, interval_s, 60.0, 0.37)) < 1e-12


@pytest.mark.parametrize(("phase", "error"), [(0.25, 0.5), (0.75, -0.5)])
def test_a_square_wave_of_period_the_interval_aliases(phase: float, error: float) -> None:
    square = accuracy.Square("square", 100.0, 300.0, 1.0)  # mean 200 W; reads 300 or 100
    assert accuracy.sampled_error(square, 1.0, 60.0, phase) == pytest.approx(error, abs=1e-9)


def test_sampling_a_sine_more_often_is_more_accurate() -> None:
    sine = accuracy.SIGNALS[3]
    fine, coarse = (abs(accuracy.sampled_error(sine, i, 120.0, 0.5)) for i in (0.1, 10.0))
    assert fine < coarse


def test_noisy_run_energy_is_the_integral_of_its_power() -> None:
    run = accuracy.NoisyRun.draw(seed=3, steps=40)
    ends, total_s = run.ends_s, sum(run.durations_s)
    numeric = midpoint_integral(lambda t: run.power(t, ends, total_s), 0.0, total_s, 200_000)
    assert run.energy_j() == pytest.approx(numeric, rel=1e-4)


def test_a_steady_run_projects_exactly() -> None:
    steady = accuracy.NoisyRun((1.5,) * 400, (250.0,) * 400, drift=0.0)
    by_steps, by_hours, held = accuracy.projection_errors(steady)
    assert abs(by_steps) < 1e-9
    assert abs(by_hours) < 1e-9
    assert held == 1.0


def test_accuracy_rows_of_a_tiny_plan() -> None:
    plan = accuracy.Plan(intervals_s=(1.0,), phases=2, duration_s=30.0, seeds=2, steps=200)
    rows = accuracy.rows(plan)
    check_rows(rows)
    by_id = {row["id"]: row for row in rows}
    assert by_id["accuracy_counter_1s"]["met"] is True
    assert by_id["aliasing_square_1s"]["tools"]["nlpfootprint"]["median"] == pytest.approx(50.0)
    assert {"projection_steps", "projection_hours", "aliasing_spikes_1s"} <= set(by_id)


# -- scale -------------------------------------------------------------------------------


def test_a_long_run_is_exact_and_keeps_a_bounded_trace() -> None:
    result = scale.long_run(3000, chunks=10, warmup=100)
    assert result["rounds"] == 3000
    assert result["channels"] == 8
    assert len(result["chunk_us_per_round"]) == 10
    assert result["energy_relative_error"] < 1e-9
    assert 0 < result["trace_points"] <= 2048
    rows = scale.size_rows(result)
    check_rows(rows)
    by_id = {row["id"]: row for row in rows}
    assert by_id["scale_energy_error_3e3"]["met"] is True
    assert by_id["scale_trace_points_3e3"]["met"] is True


def test_a_size_runs_in_a_fresh_process() -> None:
    result = scale.run_size(1000)
    assert result["rounds"] == 1000
    assert result["energy_relative_error"] < 1e-9


@pytest.mark.parametrize(
    ("wall_s", "expected"), [(1.0, 10_000_000), (scale.BUDGET_S, scale.FALLBACK_ROUNDS)]
)
def test_the_largest_size_falls_back_when_it_would_not_fit(wall_s: float, expected: int) -> None:
    before = {"rounds": 1_000_000, "wall_s": wall_s}
    assert scale.planned_rounds(10_000_000, before) == expected
    assert scale.planned_rounds(100_000, None) == 100_000


def test_the_run_log_takes_bytes_per_round() -> None:
    per_round = scale.log_bytes_per_round(50)
    assert set(per_round) == {".jsonl", ".jsonl.gz"}
    # a round holds 8 values of several digits each, on 3 lines, plus a step line
    assert per_round[".jsonl"] > 8 * 5
    assert per_round[".jsonl.gz"] > 0


def test_the_real_thread_samples() -> None:
    rounds_per_s, cpu_us = scale.thread_rounds(0.2)
    assert rounds_per_s > 0
    assert cpu_us > 0


def test_only_picks_the_parts_named() -> None:
    assert scale.wanted("log", {"log_bytes_per_round_gzip"})
    assert not scale.wanted("scale", {"thread", "accuracy_sine_1s"})
    assert scale.wanted("thread", None)
    rows = accuracy.run(quick=True, only={"projection_steps"})
    assert {row["id"] for row in rows} == {"projection_steps", "projection_hours"}


def test_the_floor_row_is_a_positive_cost_per_round() -> None:
    (row,) = scale.floor_rows(quick=True)
    assert row["id"] == "floor_bare_loop"
    assert row["unit"] == "µs"
    stats = row["tools"]["nlpfootprint"]
    assert stats["n"] == 3
    assert 0 < stats["low"] <= stats["median"] <= stats["high"]
