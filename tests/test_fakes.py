"""The public fakes users test their own code with."""

from __future__ import annotations

import math

import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError, MeterError
from nlpfootprint.testing import FakeClock, FakeMeter


def test_fake_clock_starts_at_a_random_offset_unless_told() -> None:
    starts = {FakeClock().now() for _ in range(5)}
    assert len(starts) == 5
    assert all(s >= 1e4 for s in starts)
    assert FakeClock(start=0.0).now() == 0.0


def test_fake_clock_advance_moves_time_and_rejects_going_back() -> None:
    clock = FakeClock(start=10.0)
    clock.advance(2.5)
    assert clock.now() == 12.5
    with pytest.raises(ConfigurationError, match="seconds=-1"):
        clock.advance(-1)
    with pytest.raises(ConfigurationError, match="seconds=nan"):
        clock.advance(math.nan)


def test_fake_clock_runs_callbacks_in_order_at_their_due_time() -> None:
    clock = FakeClock(start=0.0)
    seen: list[tuple[str, float]] = []
    clock.call_at(3.0, lambda: seen.append(("b", clock.now())))
    clock.call_at(1.0, lambda: seen.append(("a", clock.now())))
    late = clock.call_at(9.0, lambda: seen.append(("never", clock.now())))
    clock.on_advance(lambda: seen.append(("end", clock.now())))
    clock.cancel(late)
    clock.advance(10.0)
    assert seen == [("a", 1.0), ("b", 3.0), ("end", 10.0)]


def test_constant_meter_is_a_power_meter_with_several_channels() -> None:
    meter = FakeMeter.constant([300.0, 250.0], domain=["gpu", "cpu"])
    assert [c.id for c in meter.channels] == ["gpu:0", "cpu:0"]
    assert all(c.kind == "power" and c.source == "sampled" for c in meter.channels)
    assert meter.read() == [300.0, 250.0]
    assert isinstance(meter, nf.PowerMeter)


def test_trace_meter_reads_a_function_of_time_since_first_read() -> None:
    clock = FakeClock()
    meter = FakeMeter.trace(lambda t: (t, 2 * t), channels=2, clock=clock)
    assert meter.read() == [0.0, 0.0]
    clock.advance(4)
    assert meter.read() == [4.0, 8.0]


def test_trace_meter_with_the_wrong_width_fails_like_a_broken_meter() -> None:
    meter = FakeMeter.trace(lambda t: (1.0, 2.0), channels=1, clock=FakeClock())
    with pytest.raises(MeterError, match="2 values for 1"):
        meter.read()


def test_replay_interpolates_and_holds_the_ends() -> None:
    clock = FakeClock()
    meter = FakeMeter.replay([0, 10], [[100.0, 0.0], [200.0, 50.0]], clock=clock)
    assert meter.read() == [100.0, 0.0]
    clock.advance(5)
    assert meter.read() == [150.0, 25.0]
    clock.advance(100)
    assert meter.read() == [200.0, 50.0]


@pytest.mark.parametrize(
    ("times", "values", "message"),
    [
        ([0, 0], [1.0, 2.0], "strictly increasing"),
        ([0, 1], [1.0], "one value"),
        ([0, 1], [1.0, -2.0], "watts >= 0"),
        ([], [], "one value"),
    ],
)
def test_replay_rejects_malformed_traces(
    times: list[float], values: list[float], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        FakeMeter.replay(times, values)


def test_counter_meter_counts_joules_and_wraps() -> None:
    clock = FakeClock()
    meter = FakeMeter.counter(100.0, max_energy_j=250.0, start_j=200.0, clock=clock)
    (channel,) = meter.channels
    assert (channel.kind, channel.max_energy_j, channel.source) == ("energy", 250.0, "counter")
    assert meter.read() == [200.0]
    clock.advance(1)
    assert meter.read() == [50.0]  # 300 wrapped at 250


def test_every_fake_can_state_the_most_its_device_draws() -> None:
    clock = FakeClock()
    fakes = [
        FakeMeter.constant([1.0, 2.0], max_power_w=300.0),
        FakeMeter.trace(lambda t: [1.0, 2.0], channels=2, clock=clock, max_power_w=[300.0, 50]),
        FakeMeter.replay([0.0, 1.0], [1.0, 2.0], clock=clock, max_power_w=300.0),
        FakeMeter.counter(1.0, clock=clock, max_power_w=300.0),
        FakeMeter.failing(1, max_power_w=300.0),
    ]
    assert [[c.max_power_w for c in f.channels] for f in fakes] == [
        [300.0, 300.0],
        [300.0, 50.0],
        [300.0],
        [300.0],
        [300.0],
    ]
    assert FakeMeter.constant(1.0).channels[0].max_power_w is None
    with pytest.raises(ConfigurationError, match="got 3 max_power_w values for 2 channels"):
        FakeMeter.constant([1.0, 2.0], max_power_w=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigurationError, match=r"max_power_w=0\.0: must be greater than zero"):
        FakeMeter.constant(1.0, max_power_w=0.0)


def test_counter_rejects_a_start_beyond_its_range() -> None:
    with pytest.raises(ConfigurationError, match="start_j=300"):
        FakeMeter.counter(1.0, max_energy_j=250.0, start_j=300.0)


def test_failing_meter_succeeds_n_times_then_raises_every_time() -> None:
    meter = FakeMeter.failing(after=2, watts=5.0)
    assert meter.read() == [5.0]
    assert meter.read() == [5.0]
    for _ in range(3):
        with pytest.raises(MeterError, match=r"read [345]"):
            meter.read()


def test_failing_meter_can_raise_a_chosen_error() -> None:
    meter = FakeMeter.failing(after=0, error=lambda: OSError("GPU fell off the bus"))
    with pytest.raises(OSError, match="fell off"):
        meter.read()


def test_reading_a_closed_fake_meter_is_an_error() -> None:
    meter = FakeMeter.constant(1.0)
    meter.close()
    with pytest.raises(MeterError, match="after close"):
        meter.read()


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_fakes_reject_impossible_power(bad: float) -> None:
    with pytest.raises(ConfigurationError, match="watts"):
        FakeMeter.constant(bad)


def test_fake_meter_domain_must_be_known() -> None:
    with pytest.raises(ConfigurationError, match="domain 'tpu'"):
        FakeMeter.constant(1.0, domain="tpu")


def test_fakes_accept_explicit_ids_so_two_can_share_a_domain() -> None:
    clock = FakeClock()
    a = FakeMeter.constant(1.0, ids=["gpu:0"])
    b = FakeMeter.constant(2.0, ids=["gpu:1"])
    with nf.track_energy(meters=[a, b], clock=clock) as tracker:
        clock.advance(10)
    assert tracker.report.energy_j == pytest.approx(30.0)


def test_any_object_with_channels_read_close_is_a_meter() -> None:
    class Mine:
        channels = (nf.Channel(id="other:0", domain="other", kind="power", label="fan"),)

        def read(self) -> list[float]:
            return [7.0]

        def close(self) -> None:
            pass

    clock = FakeClock()
    with nf.track_energy(meters=[Mine()], clock=clock) as tracker:
        clock.advance(2)
    assert tracker.report.mean_power_w == {"other": pytest.approx(7.0)}


def test_pytest_plugin_fixture_gives_a_fake_clock(fake_clock: FakeClock) -> None:
    before = fake_clock.now()
    fake_clock.advance(1)
    assert fake_clock.now() == before + 1


def test_advancing_the_clock_from_inside_a_meter_read_fails_that_read_not_the_test() -> None:
    clock = FakeClock()

    class Sneaky:
        channels = (nf.Channel(id="gpu:0", domain="gpu", kind="power"),)

        def read(self) -> list[float]:
            clock.advance(1)  # simulating a slow read the wrong way
            return [1.0]

        def close(self) -> None:
            pass

    with nf.track_energy(meters=[Sneaky()], clock=clock, interval_s=10) as tracker:
        before = clock.now()
        clock.advance(5)
        assert clock.now() == before + 5  # time never went backwards
    assert tracker.report.channels[0].failures >= 1
    assert any("inside a callback of advance" in w for w in tracker.report.warnings)


@pytest.mark.parametrize(("kwargs"), [{"watts": "100"}, {"watts": 1.0, "ids": "gpu:0"}])
def test_fakes_refuse_strings_where_lists_belong(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match=r"watts=|ids="):
        FakeMeter.constant(**kwargs)  # type: ignore[arg-type]
