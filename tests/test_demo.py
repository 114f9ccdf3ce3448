"""Tests for the demo job: a real (short) training run under a fake meter and the real clock."""

from __future__ import annotations

import itertools
import math

import pytest

from nlpfootprint.demo import DemoResult, load_corpus, run_demo
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.testing import FakeMeter

STEPS = 150
EVERY = 50
BATCH = 64


@pytest.fixture(scope="module")
def run() -> tuple[DemoResult, list[str]]:
    """One short demo run shared by the tests below (training is the slow part)."""
    lines: list[str] = []
    result = run_demo(
        seconds=None,
        max_steps=STEPS,
        eval_every=EVERY,
        batch_size=BATCH,
        interval_s=0.05,
        carbon_intensity=400.0,
        meters=[FakeMeter.constant(120.0, domain="cpu")],
        out=lines.append,
    )
    return result, lines


def test_corpus_is_stdlib_docstrings_with_a_tenth_held_out() -> None:
    corpus = load_corpus()
    total = len(corpus.train) + len(corpus.val)
    assert total > 50_000
    assert 0.08 < len(corpus.val) / total < 0.12
    assert corpus.decode(corpus.encode("Return the")) == "Return the"


def test_validation_loss_goes_down_from_chance(run: tuple[DemoResult, list[str]]) -> None:
    result, _ = run
    vocab = len(load_corpus().vocab)
    steps, losses = zip(*result.val_losses, strict=True)
    assert steps == (0, 50, 100, 150)
    assert losses[0] == pytest.approx(math.log(vocab), abs=0.2)
    assert losses[-1] < min(3.0, losses[0] - 1.0)
    assert all(later < earlier for earlier, later in itertools.pairwise(losses))
    assert [s for s, _ in result.train_losses] == list(steps)


def test_report_counts_steps_tokens_and_eval_windows(run: tuple[DemoResult, list[str]]) -> None:
    result, _ = run
    report = result.report
    assert result.steps == report.steps == STEPS
    assert report.tokens == STEPS * BATCH
    assert report.name == "demo: char-MLP language model"
    evals = {w.name: w for w in report.windows}["eval"]
    assert evals.count == len(result.val_losses) == STEPS // EVERY + 1
    assert evals.steps == 0  # no training step happens inside an eval
    assert report.energy_j == pytest.approx(120.0 * report.duration_s, rel=1e-6)
    assert report.assumptions.intensity.g_per_kwh == 400.0
    assert not report.warnings


def test_output_has_a_line_per_eval_the_sample_and_the_report(
    run: tuple[DemoResult, list[str]],
) -> None:
    result, lines = run
    text = "\n".join(lines)
    assert sum(line.startswith("step ") for line in lines) == len(result.val_losses)
    assert result.sample_text.startswith("Return the ")
    assert len(result.sample_text) > 100
    assert result.sample_text in text
    assert lines[-1] == str(result.report)


def test_same_seed_gives_the_same_losses_and_sample() -> None:
    def short(seed: int) -> DemoResult:
        return run_demo(
            seconds=None,
            max_steps=20,
            eval_every=20,
            batch_size=BATCH,
            seed=seed,
            meters=[FakeMeter.constant(10.0)],
            out=lambda _: None,
        )

    first, again, other = short(1), short(1), short(2)
    assert first.val_losses == again.val_losses
    assert first.train_losses == again.train_losses
    assert first.sample_text == again.sample_text
    assert first.val_losses != other.val_losses


def test_a_run_needs_seconds_or_max_steps() -> None:
    with pytest.raises(ConfigurationError, match="seconds= or max_steps="):
        run_demo(seconds=None, max_steps=None, meters=[FakeMeter.constant(10.0)])


@pytest.mark.parametrize(
    "bad", [{"max_steps": 0}, {"batch_size": -1}, {"eval_every": 1.5}, {"seconds": -2.0}]
)
def test_out_of_range_arguments_are_refused_before_training(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        run_demo(meters=[FakeMeter.constant(10.0)], out=lambda _: None, **bad)  # type: ignore[arg-type]


def test_the_time_budget_stops_training() -> None:
    result = run_demo(
        seconds=0.3,
        max_steps=100_000,
        eval_every=10_000,
        batch_size=BATCH,
        meters=[FakeMeter.constant(10.0)],
        out=lambda _: None,
    )
    assert 0 < result.steps < 100_000
    assert result.val_losses[-1][0] == result.steps


def test_by_default_a_timed_run_evaluates_about_ten_times() -> None:
    lines: list[str] = []
    result = run_demo(
        seconds=0.5, batch_size=BATCH, meters=[FakeMeter.constant(10.0)], out=lines.append
    )
    evals = len(result.val_losses)
    assert 2 <= evals <= 12  # step 0, one per tenth of the budget, the last step
    assert sum(line.startswith("step ") for line in lines) == evals
