"""The tracker end to end with fakes: exact energy, forms of use, failures, windows, steps."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError, MeterError, TrackerStateError
from nlpfootprint.testing import FakeClock, FakeMeter, sampler_threads


def run_for(
    meters: list[nf.PowerMeter], clock: FakeClock, seconds: float, **kw: object
) -> nf.Report:
    with nf.track_energy(meters=meters, clock=clock, **kw) as tracker:  # type: ignore[arg-type]
        clock.advance(seconds)
    return tracker.report


# -- exact energy with a FakeClock ------------------------------------------------------


def test_constant_meter_energy_is_power_times_time() -> None:
    clock = FakeClock()
    report = run_for([FakeMeter.constant(250.0, domain="gpu")], clock, 3600)
    assert report.energy_kwh == pytest.approx(0.25, rel=1e-12)
    assert report.duration_s == pytest.approx(3600.0)
    assert report.mean_power_w == {"gpu": pytest.approx(250.0)}


def test_linear_trace_is_integrated_exactly() -> None:
    clock = FakeClock()
    meter = FakeMeter.trace(lambda t: 100.0 + 2.0 * t, clock=clock, domain="gpu")
    report = run_for([meter], clock, 100.0, interval_s=7.0)
    # integral of 100 + 2t over [0, 100] = 100*100 + 100**2 = 20000 J
    assert report.energy_j == pytest.approx(20_000.0, rel=1e-12)


def test_nonlinear_trace_converges_with_the_sampling_interval() -> None:
    exact = 100.0 * 60 + 50.0 * (1 - math.cos(60.0))  # integral of 100 + 50 sin t on [0, 60]
    errors = []
    for interval in (1.0, 0.1):
        clock = FakeClock()
        meter = FakeMeter.trace(lambda t: 100.0 + 50.0 * math.sin(t), clock=clock)
        report = run_for([meter], clock, 60.0, interval_s=interval)
        errors.append(abs(report.energy_j - exact))
    assert errors[1] < errors[0] / 50  # trapezoid error falls with interval squared
    assert errors[1] < 1.0


def test_replayed_trace_is_exact_when_advances_land_on_its_points() -> None:
    clock = FakeClock()
    meter = FakeMeter.replay([0, 10, 20], [100.0, 300.0, 100.0], clock=clock, domain="cpu")
    with nf.track_energy(meters=[meter], clock=clock, interval_s=100.0) as tracker:
        clock.advance(10)
        clock.advance(10)
    assert tracker.report.energy_j == pytest.approx(2000.0 + 2000.0)


def test_wrapping_counter_energy_is_exact_across_many_wraps() -> None:
    clock = FakeClock()
    meter = FakeMeter.counter(
        200.0, max_energy_j=1000.0, start_j=900.0, domain="cpu", clock=clock
    )  # wraps every 5 s
    report = run_for([meter], clock, 3600.0, interval_s=2.0)
    assert report.energy_j == pytest.approx(200.0 * 3600.0, rel=1e-9)
    assert report.channels[0].source == "counter"


def test_counter_read_rarely_loses_whole_wraps_and_this_is_why_intervals_matter() -> None:
    # Documented limitation: one wrap per interval at most can be seen.
    clock = FakeClock()
    meter = FakeMeter.counter(200.0, max_energy_j=1000.0, domain="cpu", clock=clock)
    report = run_for([meter], clock, 12.0, interval_s=12.0)
    assert report.energy_j == pytest.approx(2400.0 - 2000.0)


def test_several_meters_and_channels_add_up_by_domain() -> None:
    clock = FakeClock()
    gpus = FakeMeter.constant([300.0, 250.0], domain="gpu")
    cpu = FakeMeter.counter(80.0, domain="cpu", clock=clock)
    dram = FakeMeter.constant(10.0, domain="dram")
    report = run_for([gpus, cpu, dram], clock, 100.0)
    assert [c.id for c in report.channels] == ["gpu:0", "gpu:1", "cpu:0", "dram:0"]
    assert report.mean_power_w == pytest.approx({"gpu": 550.0, "cpu": 80.0, "dram": 10.0})
    assert report.energy_j == pytest.approx(640.0 * 100.0)


def test_block_shorter_than_the_interval_still_gets_its_energy() -> None:
    clock = FakeClock()
    report = run_for([FakeMeter.constant(100.0)], clock, 0.25, interval_s=10.0)
    assert report.energy_j == pytest.approx(25.0)


def test_fake_clock_samples_on_an_absolute_schedule() -> None:
    clock = FakeClock()
    times: list[float] = []
    meter = FakeMeter.constant(1.0)
    original = meter._read
    meter._read = lambda: (times.append(clock.now()), original())[1]  # type: ignore[method-assign]
    with nf.track_energy(meters=[meter], clock=clock, interval_s=2.0):
        t0 = clock.now()
        clock.advance(3.0)  # ticks at 2; sample at end of advance (3)
        clock.advance(4.5)  # ticks at 4, 6; end at 7.5
    relative = [round(t - t0, 9) for t in times]
    assert relative == [0.0, 2.0, 3.0, 4.0, 6.0, 7.5, 7.5]


def test_no_thread_runs_with_a_fake_clock() -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(1.0)], clock=clock):
        assert sampler_threads() == []
        clock.advance(5)
    assert clock.pending == 0


def test_tracker_sample_takes_a_reading_between_advances() -> None:
    clock = FakeClock()
    meter = FakeMeter.constant(1.0)
    with nf.track_energy(meters=[meter], clock=clock, interval_s=60) as tracker:
        before = meter.reads
        tracker.sample()
        assert meter.reads == before + 1


# -- forms of use -----------------------------------------------------------------------


def test_decorator_with_arguments_keeps_return_value_and_last_report() -> None:
    clock = FakeClock()

    @nf.track_energy(meters=[FakeMeter.constant(100.0, domain="cpu")], clock=clock)
    def train(minutes: int) -> str:
        clock.advance(60 * minutes)
        return "trained"

    assert train.last_report is None
    assert train(6) == "trained"
    assert train.last_report is not None
    assert train.last_report.energy_kwh == pytest.approx(0.01)
    assert train.last_report.name is not None
    assert "train" in train.last_report.name
    assert train.__name__ == "train"
    train(12)  # a fresh tracker for each call
    assert train.last_report.energy_kwh == pytest.approx(0.02)


def test_bare_decorator_uses_default_settings() -> None:
    @nf.track_energy
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5
    report = add.last_report
    assert report is not None
    assert report.assumptions.pue == 1.58
    assert report.assumptions.meters.startswith("auto")


def test_decorated_method_binds_self() -> None:
    clock = FakeClock()

    class Trainer:
        def __init__(self) -> None:
            self.calls = 0

        @nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock)
        def fit(self) -> int:
            self.calls += 1
            clock.advance(1)
            return self.calls

    assert Trainer().fit() == 1
    assert Trainer.fit.last_report is not None


def test_decorated_coroutine_function_is_measured_while_awaited() -> None:
    clock = FakeClock()

    @nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock)
    async def train() -> str:
        await asyncio.sleep(0)
        clock.advance(10)
        return "ok"

    assert asyncio.run(train()) == "ok"
    assert train.last_report is not None
    assert train.last_report.energy_j == pytest.approx(100.0)


def test_current_tracker_is_the_running_one_inside_a_decorated_function() -> None:
    clock = FakeClock()

    @nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock)
    def train() -> None:
        tracker = nf.current_tracker()
        assert tracker is not None
        tracker.step(tokens=5)

    assert nf.current_tracker() is None
    train()
    assert nf.current_tracker() is None
    assert train.last_report is not None
    assert train.last_report.tokens == 5


def test_positional_non_callable_argument_gets_a_helpful_error() -> None:
    with pytest.raises(ConfigurationError, match="keyword arguments only"):
        nf.track_energy([FakeMeter.constant(1.0)])  # type: ignore[call-overload]


# -- exceptions and failures ------------------------------------------------------------


def test_exception_in_block_stops_tracking_produces_report_and_reraises() -> None:
    clock = FakeClock()
    tracker = nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock)

    def train() -> None:
        with tracker:
            clock.advance(30)
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        train()
    assert not tracker.running
    assert tracker.report.energy_j == pytest.approx(3000.0)
    assert any("KeyError" in w for w in tracker.report.warnings)


def test_exception_in_decorated_function_still_sets_last_report() -> None:
    clock = FakeClock()

    @nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock)
    def train() -> None:
        clock.advance(2)
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        train()
    assert train.last_report is not None
    assert train.last_report.energy_j == pytest.approx(200.0)


def test_exception_in_block_with_a_real_thread_leaves_no_thread() -> None:
    with (
        pytest.raises(ValueError, match="bad batch"),
        nf.track_energy(meters=[FakeMeter.constant(1.0)], interval_s=0.01),
    ):
        raise ValueError("bad batch")
    assert sampler_threads() == []


def test_failing_meter_mid_run_is_recorded_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    bad = FakeMeter.failing(after=3, watts=50.0, domain="cpu")
    good = FakeMeter.constant(200.0, domain="gpu")
    with caplog.at_level(logging.WARNING, logger="nlpfootprint"):
        report = run_for([bad, good], clock, 10.0, interval_s=1.0)
    by_id = {c.id: c for c in report.channels}
    # reads at t=0,1,2 succeed: 2 s of 50 W; the failure leaves 8 s uncovered
    assert by_id["cpu:0"].energy_j == pytest.approx(100.0)
    assert by_id["cpu:0"].readings == 3
    assert by_id["cpu:0"].failures == 9
    assert by_id["cpu:0"].gap_s == pytest.approx(8.0)
    assert by_id["gpu:0"].energy_j == pytest.approx(2000.0)
    failures_logged = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures_logged) == 1  # one warning, not one per read
    assert any("FakeMeter.failing" in w and "gap" in w for w in report.warnings)
    assert any("80.0% of the run" in w for w in report.warnings)


def test_meter_that_recovers_closes_its_gap() -> None:
    clock = FakeClock()
    state = {"fail": False}

    def read() -> list[float]:
        if state["fail"]:
            raise MeterError("transient")
        return [100.0]

    channel = nf.Channel(id="gpu:0", domain="gpu", kind="power")
    meter = FakeMeter([channel], read)
    with nf.track_energy(meters=[meter], clock=clock, interval_s=1.0) as tracker:
        clock.advance(2)
        state["fail"] = True
        clock.advance(3)
        state["fail"] = False
        clock.advance(5)
    ch = tracker.report.channels[0]
    assert ch.failures == 3
    assert ch.gap_s == pytest.approx(4.0)  # last good read at 2, next good at 6
    assert ch.energy_j == pytest.approx(1000.0)  # interpolated across the gap


def test_meter_returning_wrong_number_of_values_is_a_failure_not_a_crash() -> None:
    clock = FakeClock()
    channels = [nf.Channel(id="gpu:0", domain="gpu", kind="power")]
    meter = FakeMeter(channels, lambda: [1.0, 2.0])
    report = run_for([meter], clock, 3.0)
    assert report.channels[0].readings == 0
    assert any("returned 2 value(s) for 1 channel(s)" in w for w in report.warnings)


def test_nan_reading_is_a_gap_for_that_channel_only() -> None:
    clock = FakeClock()
    values = iter([[10.0, 10.0], [math.nan, 10.0]] + [[10.0, 10.0]] * 20)
    channels = [
        nf.Channel(id="gpu:0", domain="gpu", kind="power"),
        nf.Channel(id="gpu:1", domain="gpu", kind="power"),
    ]
    report = run_for([FakeMeter(channels, lambda: next(values))], clock, 4.0)
    gpu0, gpu1 = report.channels
    assert gpu0.failures == 1
    assert gpu1.failures == 0
    assert gpu1.energy_j == pytest.approx(40.0)
    assert any("gpu:0 read nan" in w for w in report.warnings)


# -- steps, windows, snapshot -----------------------------------------------------------


def test_steps_and_tokens_give_per_step_and_per_token_energy() -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock) as tracker:
        for _ in range(10):
            clock.advance(1)
            tracker.step(tokens=50)
        tracker.step(n=5)
    report = tracker.report
    assert (report.steps, report.tokens) == (15, 500)
    assert report.j_per_step == pytest.approx(1000.0 / 15)
    assert report.j_per_token == pytest.approx(2.0)
    assert report.to_dict()["j_per_token"] == pytest.approx(2.0)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_step_rejects_bad_counts(bad: object) -> None:
    with nf.track_energy(meters=[FakeMeter.constant(1.0)], clock=FakeClock()) as tracker:
        with pytest.raises(ConfigurationError, match="whole number"):
            tracker.step(bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="tokens"):
            tracker.step(tokens=bad)  # type: ignore[arg-type]


def test_windows_nest_and_repeated_entries_are_summed() -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock) as tracker:
        for epoch in range(3):
            with tracker.window("train"):
                clock.advance(10)
                tracker.step(2)
                with tracker.window("eval") as ev:
                    clock.advance(1 + epoch)
                assert ev.report.duration_s == pytest.approx(1 + epoch)
        clock.advance(5)
    report = tracker.report
    (train,) = report.windows
    assert (train.name, train.count, train.steps) == ("train", 3, 6)
    assert train.duration_s == pytest.approx(36.0)
    assert train.energy_j == pytest.approx(3600.0)
    (evaluation,) = train.windows
    assert (evaluation.name, evaluation.count) == ("eval", 3)
    assert evaluation.energy_j == pytest.approx(600.0)
    assert report.energy_j == pytest.approx(4100.0)


def test_window_left_open_at_stop_is_closed_with_a_warning() -> None:
    clock = FakeClock()
    tracker = nf.track_energy(meters=[FakeMeter.constant(1.0)], clock=clock).start()
    window = tracker.window("eval")
    window.__enter__()
    clock.advance(2.5)
    report = tracker.stop()
    assert report.windows[0].name == "eval"
    assert report.windows[0].energy_j == pytest.approx(2.5)
    assert any("still open" in w for w in report.warnings)


def test_snapshot_gives_a_live_partial_report() -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock) as tracker:
        clock.advance(10)
        partial = tracker.snapshot()
        clock.advance(10)
    assert partial.energy_j == pytest.approx(1000.0)
    assert tracker.report.energy_j == pytest.approx(2000.0)


# -- lifecycle and input errors ---------------------------------------------------------


def test_report_before_stop_explains_how_to_get_a_live_figure() -> None:
    tracker = nf.track_energy(meters=[FakeMeter.constant(1.0)], clock=FakeClock())
    with tracker, pytest.raises(TrackerStateError, match="snapshot"):
        _ = tracker.report


def test_a_tracker_runs_once() -> None:
    tracker = nf.track_energy(meters=[FakeMeter.constant(1.0)], clock=FakeClock())
    with tracker:
        pass
    with pytest.raises(TrackerStateError, match="already started"), tracker:
        pass


def test_stop_is_idempotent_and_user_meters_are_not_closed() -> None:
    meter = FakeMeter.constant(1.0)
    tracker = nf.track_energy(meters=[meter], clock=FakeClock()).start()
    first = tracker.stop()
    assert tracker.stop() is first
    assert not meter.closed


def test_duplicate_channel_ids_are_rejected_with_both_meters_named() -> None:
    a, b = FakeMeter.constant(1.0), FakeMeter.constant(2.0)
    with pytest.raises(ConfigurationError, match="'gpu:0'"):
        nf.track_energy(meters=[a, b], clock=FakeClock()).start()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval_s": 0}, "interval_s=0"),
        ({"interval_s": -1.0}, "interval_s=-1.0"),
        ({"interval_s": math.nan}, "interval_s=nan"),
        ({"pue": 0.9}, "pue=0.9"),
        ({"pue": math.inf}, "pue=inf"),
        ({"carbon_intensity": -5}, "carbon_intensity=-5"),
        ({"carbon_intensity": math.nan}, "carbon_intensity=nan"),
        ({"carbon_intensity": "atlantis"}, "carbon_intensity='atlantis'"),
        ({"price_per_kwh": -0.1}, "price_per_kwh=-0.1"),
        ({"meters": "nvml"}, "meters='nvml'"),
        ({"meters": FakeMeter.constant(1.0)}, "wrap one meter in a list"),
        ({"meters": []}, "meters=\\[\\]"),
        ({"meters": [object()]}, "is not a meter"),
        ({"clock": object()}, "now\\(\\) method"),
        ({"trace_points": 1}, "trace_points=1"),
    ],
)
def test_bad_arguments_raise_a_clear_error_naming_the_value(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        nf.track_energy(**kwargs).start()  # type: ignore[call-overload]


def test_configuration_errors_are_value_errors_for_users() -> None:
    with pytest.raises(ValueError, match="pue"):
        nf.track_energy(pue=0.5)


def test_report_states_the_default_intensity_and_how_to_change_it() -> None:
    report = run_for([FakeMeter.constant(1.0)], FakeClock(), 1.0)
    assert report.assumptions.intensity_is_default
    assert report.assumptions.intensity.key == "world"
    text = str(report)
    assert "default" in text
    assert "carbon_intensity=" in text


def test_co2e_and_cost_follow_the_given_assumptions() -> None:
    clock = FakeClock()
    report = run_for(
        [FakeMeter.constant(1000.0)],
        clock,
        3600.0,
        pue=1.2,
        carbon_intensity=400,
        price_per_kwh=0.25,
    )
    assert report.facility_energy_kwh == pytest.approx(1.2)
    assert report.co2e_kg == pytest.approx(0.48)
    assert report.co2e_lbs == pytest.approx(0.48 / 0.45359237)
    assert report.cost_usd == pytest.approx(0.3)


def test_strubell_preset_reproduces_the_papers_conversion() -> None:
    report = run_for(
        [FakeMeter.constant(1000.0)], FakeClock(), 3600.0, pue=1.0, carbon_intensity="strubell2019"
    )
    assert report.co2e_lbs == pytest.approx(0.954)


def test_bounded_trace_stays_small_and_keeps_the_energy() -> None:
    clock = FakeClock()
    report = run_for(
        [FakeMeter.constant(100.0, domain="gpu")],
        clock,
        50_000.0,
        interval_s=1.0,
        trace_points=64,
    )
    assert report.trace is not None
    assert len(report.trace.start_s) <= 64
    assert report.trace.energy_j() == pytest.approx(report.energy_j, rel=1e-9)
    assert set(report.trace.power_w) == {"gpu"}


# -- from the review: current_tracker, threads, decorator edge cases --------------------


def test_current_tracker_is_the_innermost_running_one_even_when_stopped_out_of_order() -> None:
    clock = FakeClock()
    outer = nf.track_energy(meters=[FakeMeter.constant(1.0)], clock=clock).start()
    inner = nf.track_energy(meters=[FakeMeter.constant(1.0)], clock=clock).start()
    assert nf.current_tracker() is inner
    outer.stop()
    assert nf.current_tracker() is inner
    inner.stop()
    assert nf.current_tracker() is None


def test_stop_from_another_thread_leaves_no_stale_current_tracker() -> None:
    tracker = nf.track_energy(meters=[FakeMeter.constant(1.0)], interval_s=0.01).start()
    assert nf.current_tracker() is tracker
    watchdog = threading.Thread(target=tracker.stop, name="test-watchdog")
    watchdog.start()
    watchdog.join(10)
    assert not watchdog.is_alive()
    assert nf.current_tracker() is None
    assert tracker.stop() is tracker.report  # the owner's stop gets the same report


def test_concurrent_stops_make_one_report() -> None:
    tracker = nf.track_energy(meters=[FakeMeter.constant(1.0)], interval_s=0.01).start()
    window = tracker.window("eval")
    window.__enter__()
    reports: list[nf.Report] = []
    threads = [
        threading.Thread(target=lambda: reports.append(tracker.stop()), name=f"test-stop-{i}")
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(reports) == 4
    assert all(r is reports[0] for r in reports)
    assert [w.name for w in reports[0].windows] == ["eval"]


def test_generator_functions_are_refused_with_the_way_to_measure_them() -> None:
    def batches() -> Iterator[int]:
        yield 1

    async def stream() -> AsyncIterator[int]:
        yield 1

    for func in (batches, stream):
        with pytest.raises(ConfigurationError, match="generator function"):
            nf.track_energy(func)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="loop that consumes it"):
            nf.track_energy(meters=[FakeMeter.constant(1.0)])(func)  # type: ignore[arg-type]


def test_function_with_keyword_settings_keeps_the_settings() -> None:
    clock = FakeClock()

    def train() -> None:
        clock.advance(10)

    tracked = nf.track_energy(  # type: ignore[call-overload]
        train, meters=[FakeMeter.constant(10.0)], clock=clock, pue=2.0
    )
    tracked()
    assert tracked.last_report.assumptions.pue == 2.0
    assert tracked.last_report.energy_j == pytest.approx(100.0)


def test_counter_reading_beyond_its_wrap_range_is_a_failed_reading() -> None:
    clock = FakeClock()
    values = iter([[900.0], [1100.0], [50.0], [100.0]] + [[100.0]] * 10)
    channel = nf.Channel(id="cpu:0", domain="cpu", kind="energy", max_energy_j=1000.0)
    report = run_for([FakeMeter([channel], lambda: next(values))], clock, 3.0)
    (cpu,) = report.channels
    assert cpu.failures == 1
    assert cpu.energy_j == pytest.approx(150.0 + 50.0)  # 900 -> 50 wraps once, then +50
    assert any("not a value in [0, 1000]" in w for w in report.warnings)


def test_channel_reports_carry_their_mean_power() -> None:
    clock = FakeClock()
    report = run_for([FakeMeter.constant([300.0, 100.0])], clock, 60.0)
    assert [c.mean_power_w for c in report.channels] == pytest.approx([300.0, 100.0])
    assert report.to_dict()["channels"][0]["mean_power_w"] == pytest.approx(300.0)
    assert report.project(hours=2).channels[0].mean_power_w == pytest.approx(300.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval_s": 1e-6}, "shortest sampling interval"),
        ({"trace_points": 10**10}, "trace_points=10000000000"),
        ({"name": 5}, "name=5"),
        ({"read_timeout_s": 0}, "read_timeout_s=0"),
    ],
)
def test_more_bad_arguments_are_refused_up_front(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        nf.track_energy(**kwargs)  # type: ignore[call-overload]


def test_snapshot_without_reading_reads_no_meter() -> None:
    clock = FakeClock()
    meter = FakeMeter.constant(100.0)
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10) as tracker:
        clock.advance(10)
        reads = meter.reads
        partial = tracker.snapshot(read=False)
        assert meter.reads == reads
        assert partial.energy_j == pytest.approx(1000.0)
        assert partial.duration_s == pytest.approx(10.0)
