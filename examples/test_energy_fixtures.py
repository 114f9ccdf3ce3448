"""How to test your training code's energy accounting with nlpfootprint's pytest fixtures.

Installing nlpfootprint registers a pytest plugin (nothing to configure) with three fixtures:

- ``fake_clock``: a :class:`~nlpfootprint.testing.FakeClock`; time moves only when the
  test advances it, so figures are exact and nothing sleeps;
- ``fake_meter``: a 100 W GPU (channel ``gpu:0``) on that clock;
- ``energy_tracker``: a tracker started on both, stopped after the test. While the test
  runs it is ``nlpfootprint.current_tracker()``, so the code under test counts its steps
  on it; ``energy_tracker.stop()`` gives the report.

Run it with::

    python -m pytest examples/test_energy_fixtures.py -q
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

import nlpfootprint as nf
from nlpfootprint.testing import FakeClock

Batch = Sequence[Sequence[int]]  # token ids, one sequence per example

BATCHES: list[Batch] = [[[1, 2, 3, 4]] * 8, [[5, 6]] * 8, [[7, 8, 9]] * 8]
TOKENS = sum(len(seq) for batch in BATCHES for seq in batch)  # 72


def train(batches: Sequence[Batch], on_step: Callable[[], None] | None = None) -> int:
    """Stands for your training loop: one optimizer step per batch, counted (with its
    tokens) on whatever tracker is running. ``on_step`` is a callback, as loops have."""
    tracker = nf.current_tracker()
    steps = 0
    for batch in batches:
        steps += 1  # forward, backward, optimizer step
        if tracker is not None:
            tracker.step(tokens=sum(len(seq) for seq in batch))
        if on_step is not None:
            on_step()
    return steps


def evaluate(batches: Sequence[Batch], on_batch: Callable[[], None]) -> None:
    """Stands for your evaluation: measured apart, in the window ``eval``."""
    tracker = nf.current_tracker()
    assert tracker is not None
    with tracker.window("eval"):
        for _ in batches:
            on_batch()


def test_training_counts_every_step_and_token(energy_tracker: nf.EnergyTracker) -> None:
    assert train(BATCHES) == 3
    report = energy_tracker.stop()
    assert (report.steps, report.tokens) == (3, TOKENS)


def test_energy_per_token_on_a_100_w_gpu(
    energy_tracker: nf.EnergyTracker, fake_clock: FakeClock
) -> None:
    train(BATCHES, on_step=lambda: fake_clock.advance(0.5))  # each step "takes" 0.5 s
    report = energy_tracker.stop()
    assert report.duration_s == pytest.approx(1.5)
    assert report.energy_j == pytest.approx(100.0 * 1.5)
    assert report.mean_power_w == pytest.approx({"gpu": 100.0})
    assert report.j_per_token == pytest.approx(150.0 / TOKENS)
    # the paper's extrapolation: a million steps at the measured energy per step
    assert report.project(steps=1_000_000).energy_j == pytest.approx(50.0 * 1_000_000)


def test_evaluation_energy_is_apart_from_training(
    energy_tracker: nf.EnergyTracker, fake_clock: FakeClock
) -> None:
    train(BATCHES, on_step=lambda: fake_clock.advance(1.0))
    evaluate(BATCHES[:2], on_batch=lambda: fake_clock.advance(0.25))
    report = energy_tracker.stop()
    (evals,) = report.windows
    assert evals.name == "eval"
    assert evals.energy_j == pytest.approx(100.0 * 0.5)
    assert report.energy_j - evals.energy_j == pytest.approx(100.0 * 3.0)


def test_training_runs_the_same_without_a_tracker() -> None:
    assert nf.current_tracker() is None
    assert train(BATCHES) == 3
