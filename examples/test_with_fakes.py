"""How to unit-test your own training code's energy accounting: fake meters, a fake clock.

A :class:`~nlpfootprint.testing.FakeClock` only moves when you advance it, and the
tracker then starts no sampling thread, so the numbers are exact and the tests never
sleep. :class:`~nlpfootprint.testing.FakeMeter` reads what you tell it to.

Run it with::

    python -m pytest examples/test_with_fakes.py -q
"""

from __future__ import annotations

import logging

import pytest

import nlpfootprint as nf
from nlpfootprint.testing import FakeClock, FakeMeter

STEP_S = 2.0  # each fake training step "takes" two seconds


def train(steps: int, clock: FakeClock) -> float:
    """Stands for your training function: it counts steps on whatever tracker is running."""
    loss = 4.0
    tracker = nf.current_tracker()
    for step in range(1, steps + 1):
        clock.advance(STEP_S)  # in real code: forward, backward, optimizer step
        loss *= 0.9
        if tracker is not None:
            tracker.step(tokens=512)
            if step % 5 == 0:
                with tracker.window("eval"):
                    clock.advance(1.0)  # an evaluation that takes one second
    return loss


def test_energy_co2e_and_j_per_step_are_exact() -> None:
    clock = FakeClock()
    meters = [FakeMeter.constant(300.0, domain="gpu"), FakeMeter.constant(50.0, domain="cpu")]
    with nf.track_energy(
        meters=meters, clock=clock, pue=1.5, carbon_intensity=400.0, price_per_kwh=0.2
    ) as tracker:
        train(10, clock)
    report = tracker.report

    # 10 steps x 2 s + 2 evals x 1 s = 22 s at 350 W = 7,700 J.
    assert report.duration_s == pytest.approx(22.0)
    assert report.energy_j == pytest.approx(350.0 * 22.0)
    assert report.energy_kwh == pytest.approx(7700.0 / 3.6e6)
    assert report.energy_j_by_domain == pytest.approx({"gpu": 6600.0, "cpu": 1100.0})
    assert report.j_per_step == pytest.approx(770.0)
    assert report.j_per_token == pytest.approx(770.0 / 512)
    assert report.co2e_kg == pytest.approx(7700.0 / 3.6e6 * 1.5 * 400.0 / 1000.0)
    assert report.cost_usd == pytest.approx(7700.0 / 3.6e6 * 1.5 * 0.2)
    assert report.steps == 10
    assert report.tokens == 5120
    assert not report.warnings


def test_the_eval_window_is_measured_on_its_own() -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(300.0)], clock=clock) as tracker:
        train(10, clock)
    (evals,) = tracker.report.windows
    assert evals.name == "eval"
    assert evals.count == 2
    assert evals.duration_s == pytest.approx(2.0)
    assert evals.energy_j == pytest.approx(600.0)


def test_a_decorated_train_function_reports_each_call() -> None:
    clock = FakeClock()

    @nf.track_energy(meters=[FakeMeter.constant(100.0, domain="cpu")], clock=clock)
    def tracked_train(steps: int) -> float:
        return train(steps, clock)

    assert tracked_train(4) < 4.0  # the function still returns its own result
    report = tracked_train.last_report
    assert report is not None
    assert report.steps == 4
    assert report.energy_j == pytest.approx(100.0 * 4 * STEP_S)


def test_a_failing_meter_gives_a_warning_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    gpu = FakeMeter.failing(after=3, watts=300.0, domain="gpu")
    cpu = FakeMeter.constant(50.0, domain="cpu")
    with (
        caplog.at_level(logging.WARNING, logger="nlpfootprint"),
        nf.track_energy(meters=[gpu, cpu], clock=clock, interval_s=1.0) as tracker,
    ):
        loss = train(10, clock)

    assert loss < 4.0  # training ran to the end
    report = tracker.report
    assert report.steps == 10
    assert any("failed" in w for w in report.warnings)
    assert "failed" in caplog.text
    gpu_channel, cpu_channel = report.channels
    # Three good readings (t = 0, 1, 2 s) give 2 s at 300 W; the other 20 s are a gap.
    assert gpu_channel.energy_j == pytest.approx(300.0 * 2.0)
    assert gpu_channel.gap_s == pytest.approx(20.0)
    assert gpu_channel.failures > 0
    assert cpu_channel.failures == 0
    assert cpu_channel.energy_j == pytest.approx(50.0 * 22.0)  # the other meter goes on
