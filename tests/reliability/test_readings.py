"""Scenarios: a reading the hardware cannot have produced never reaches a figure.

Every reading is bounded by what its device can physically draw: a power sample above the
bound, or a counter that rose faster than the bound allows, is refused, counted, warned of
(with the value and the bound) and bridged; a counter that goes backwards is a wrap only
when the wrap's energy was possible in the time elapsed, else a reset.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nlpfootprint as nf
from fake_nvml import FakeGpu, make_pynvml
from nlpfootprint.meters.base import COUNTER_SLACK_S, DEFAULT_MAX_POWER_W, POWER_OVERSHOOT
from nlpfootprint.meters.nvml import NvmlMeter
from nlpfootprint.meters.rapl import POWER_LIMIT_SAFETY, RaplMeter
from nlpfootprint.provenance import Backend
from nlpfootprint.runlog import report_from_log
from nlpfootprint.testing import FakeClock, FakeMeter
from powercap import PowercapTree

HOUR_S = 3600.0
J = 1_000_000  # microjoules per joule, as RAPL counts


def at(t: float, when: float) -> bool:
    """True at the sampling tick ``when`` (ticks land within float rounding of it)."""
    return abs(t - when) < 1.0


def scripted(
    clock: FakeClock,
    value_at: Callable[[float], float],
    *,
    kind: str,
    max_energy_j: float | None = None,
    max_power_w: float | None = None,
    domain: str = "gpu",
) -> FakeMeter:
    """A one-channel meter reading ``value_at(seconds since its first read)``."""
    channel = nf.Channel(
        f"{domain}:0",
        domain,
        kind,  # type: ignore[arg-type]
        label="scripted",
        max_energy_j=max_energy_j,
        max_power_w=max_power_w,
        backend=Backend.FAKE,
    )
    origin: list[float] = []

    def read() -> list[float]:
        if not origin:
            origin.append(clock.now())
        return [value_at(clock.now() - origin[0])]

    return FakeMeter((channel,), read, name="scripted")


def run(meter: Any, clock: FakeClock, *, seconds: float, interval_s: float) -> nf.Report:
    with nf.track_energy(meters=[meter], clock=clock, interval_s=interval_s) as tracker:
        clock.advance(seconds)
    report: nf.Report = tracker.report
    return report


def warning_about(report: nf.Report, *phrases: str) -> str:
    found = [w for w in report.warnings if all(p in w for p in phrases)]
    assert len(found) == 1, (phrases, report.warnings)
    return found[0]


# -- power samples ------------------------------------------------------------------------


@pytest.mark.scenario(
    "reading.absurd-power",
    "A power sample above what the device can draw is refused, counted, warned of with the "
    "value and the bound, and bridged from the samples on either side.",
)
@pytest.mark.parametrize(
    ("max_power_w", "absurd_w", "bound_w"),
    [
        (None, 1e9, DEFAULT_MAX_POWER_W["gpu"]),  # the domain's default bound
        (300.0, 900.0, POWER_OVERSHOOT * 300.0),  # the device's own maximum
    ],
)
def test_an_absurd_power_sample_is_refused_and_bridged(
    max_power_w: float | None, absurd_w: float, bound_w: float
) -> None:
    clock = FakeClock()
    meter = FakeMeter.trace(
        lambda t: absurd_w if at(t, 1800.0) else 100.0, clock=clock, max_power_w=max_power_w
    )
    report = run(meter, clock, seconds=HOUR_S, interval_s=60.0)
    # an hour at 100 W: 0.1 kWh, not 277.9 kWh
    assert report.energy_kwh == pytest.approx(0.1, rel=1e-9)
    (gpu,) = report.channels
    assert (gpu.readings, gpu.failures, gpu.rejected) == (meter.reads - 1, 1, 1)
    assert gpu.gap_s == pytest.approx(120.0)
    warning = warning_about(report, "gpu:0 read")
    assert f"{absurd_w!r} W" in warning
    assert f"{bound_w:g} W" in warning


@pytest.mark.scenario(
    "reading.power-overshoot-kept",
    "A sample above a device's stated maximum but within the margin for sensor overshoot and "
    "transient excursions is measured, not refused.",
)
def test_a_transient_above_the_stated_maximum_is_kept() -> None:
    clock = FakeClock()
    spike_w = 1.5 * 300.0
    meter = FakeMeter.trace(
        lambda t: spike_w if at(t, 60.0) else 100.0, clock=clock, max_power_w=300.0
    )
    report = run(meter, clock, seconds=120.0, interval_s=60.0)
    (gpu,) = report.channels
    assert (gpu.readings, gpu.failures, gpu.rejected) == (meter.reads, 0, 0)
    assert gpu.energy_j == pytest.approx(60.0 * (100.0 + spike_w))
    assert meter.channels[0].power_bound_w == POWER_OVERSHOOT * 300.0


@pytest.mark.scenario(
    "reading.bad-value",
    "A reading that is NaN, infinite or negative is refused, counted per channel, warned of "
    "once, and bridged; the other channels go on.",
)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -5.0])
def test_a_bad_value_is_refused_counted_and_bridged(bad: float) -> None:
    clock = FakeClock()
    meter = FakeMeter.trace(
        lambda t: [bad if at(t, 20.0) or at(t, 40.0) else 100.0, 50.0],
        channels=2,
        clock=clock,
    )
    report = run(meter, clock, seconds=60.0, interval_s=10.0)
    bad_channel, good_channel = report.channels
    assert bad_channel.energy_j == pytest.approx(6_000.0)  # bridged at 100 W
    assert (bad_channel.failures, bad_channel.rejected) == (2, 2)
    assert bad_channel.readings == meter.reads - 2
    assert bad_channel.gap_s == pytest.approx(40.0)  # 10-30 s and 30-50 s
    assert (good_channel.energy_j, good_channel.failures, good_channel.rejected) == (3_000.0, 0, 0)
    assert f"gpu:0 read {bad!r}" in warning_about(report, "gpu:0 read")


# -- energy counters ----------------------------------------------------------------------


@pytest.mark.scenario(
    "reading.absurd-counter-jump",
    "A counter that rises faster than its device can draw is refused and warned of; a one-off "
    "glitch is bridged exactly from the counter, a counter that stays at its new level is "
    "re-based there and the interval lost is a gap.",
)
@pytest.mark.parametrize(
    ("persistent", "expected_j"),
    [
        (False, 100.0 * HOUR_S),  # a glitch: the counter is exact across it
        (True, 100.0 * (HOUR_S - 60.0)),  # re-based: the interval before the jump is lost
    ],
)
def test_an_absurd_counter_jump_is_refused(persistent: bool, expected_j: float) -> None:
    clock = FakeClock()

    def value(t: float) -> float:
        jumped = t > 1790.0 if persistent else at(t, 1800.0)
        return 5e5 + 100.0 * t + (1e12 if jumped else 0.0)

    meter = scripted(clock, value, kind="energy")
    report = run(meter, clock, seconds=HOUR_S, interval_s=60.0)
    (gpu,) = report.channels
    assert gpu.energy_j == pytest.approx(expected_j, rel=1e-9)
    assert (gpu.readings, gpu.failures, gpu.rejected) == (meter.reads - 1, 1, 1)
    assert gpu.gap_s == pytest.approx(120.0)
    warning = warning_about(report, "gpu:0 rose")
    assert "1e+12 J" in warning
    assert f"{DEFAULT_MAX_POWER_W['gpu']:g} W" in warning


@pytest.mark.scenario(
    "reading.counter-reset-not-wrap",
    "A counter with a known wrap range that goes backwards far from its wrap point (a driver "
    "reload) is a reset, not a wrap: a wrap would mean more energy than the device can draw "
    "in the time elapsed.",
)
def test_a_counter_reset_far_from_its_wrap_point_is_a_reset() -> None:
    clock = FakeClock()
    readings = {0.0: 497_000.0, 30.0: 500_000.0, 60.0: 3_000.0}  # reset to 0 just after 30 s
    meter = scripted(
        clock,
        lambda t: readings[min(readings, key=lambda k: abs(k - t))],
        kind="energy",
        max_energy_j=1e6,
    )
    report = run(meter, clock, seconds=60.0, interval_s=30.0)
    (gpu,) = report.channels
    # 3,000 J before the reset and 3,000 J after it: not 1 MJ - 500 kJ + 3 kJ
    assert gpu.energy_j == 6_000.0
    assert (gpu.readings, gpu.failures, gpu.rejected) == (meter.reads, 0, 0)
    warning_about(report, "gpu:0: the counter went backwards 1 time(s)", "reset")


@pytest.mark.scenario(
    "reading.counter-wrap-kept",
    "A counter that goes backwards near the top of its wrap range, by an amount the device "
    "could draw in the time elapsed, is still unwrapped exactly.",
)
@pytest.mark.parametrize("gap_s", [30.0, 600.0])
def test_a_genuine_wrap_is_still_a_wrap(gap_s: float) -> None:
    clock = FakeClock()
    top = 1e6
    # 100 W from 994 kJ: wraps once, whether read every 30 s or once after a long gap
    meter = scripted(
        clock, lambda t: math.fmod(994_000.0 + 100.0 * t, top), kind="energy", max_energy_j=top
    )
    report = run(meter, clock, seconds=gap_s * 4, interval_s=gap_s)
    (gpu,) = report.channels
    assert gpu.energy_j == pytest.approx(100.0 * gap_s * 4, rel=1e-12)
    assert (gpu.failures, gpu.rejected) == (0, 0)
    assert not [w for w in report.warnings if "gpu:0" in w]


@pytest.mark.scenario(
    "reading.impossible-reset",
    "A counter without a wrap range that goes backwards to a value it could not have reached "
    "since a reset is refused as a glitch, not counted as a reset of that many joules.",
)
def test_a_backwards_counter_at_an_impossible_value_is_not_a_reset() -> None:
    clock = FakeClock()

    def value(t: float) -> float:  # an NVML-like counter far from zero; one bad read
        return 1e7 + 200.0 * t - (5e6 if at(t, 120.0) else 0.0)

    report = run(scripted(clock, value, kind="energy"), clock, seconds=300.0, interval_s=60.0)
    (gpu,) = report.channels
    assert gpu.energy_j == pytest.approx(200.0 * 300.0)
    assert (gpu.failures, gpu.rejected) == (1, 1)
    assert not [w for w in report.warnings if "went backwards" in w]


# -- bounds from the hardware -------------------------------------------------------------


@pytest.mark.scenario(
    "reading.nvml-bound",
    "An NVIDIA GPU's readings are bounded by the most it can be set to draw (NVML's power "
    "limit constraints), so a sample below the generic GPU bound but impossible for this "
    "board is refused, while a transient over the enforced limit is kept.",
)
def test_an_nvml_gpu_is_bounded_by_its_own_power_limit_constraints() -> None:
    clock = FakeClock()

    def watts(t: float) -> float:
        if at(t, 60.0):
            return 2_000.0  # below 4 kW, above 2 x the board's 400 W maximum
        return 450.0 if at(t, 120.0) else 100.0  # over the 300 W limit, a real transient

    gpu = FakeGpu(counter=False, power_w=watts, limit_w=300.0, max_limit_w=400.0)
    meter = NvmlMeter(nvml=make_pynvml([gpu], clock=clock), environ={})
    (channel,) = meter.channels
    assert channel.max_power_w == 400.0
    assert meter.gpus[0].max_power_w == 400.0
    report = run(meter, clock, seconds=180.0, interval_s=60.0)
    (gpu_report,) = report.channels
    assert gpu_report.rejected == 1
    # 0-120 s bridged from 100 W to 450 W, then 450 W down to 100 W
    assert gpu_report.energy_j == pytest.approx(120.0 * 275.0 + 60.0 * 275.0)
    assert "800 W" in warning_about(report, "gpu:0 read 2000.0 W")


@pytest.mark.scenario(
    "reading.rapl-bound",
    "A RAPL package's counter is bounded by the zone's stated maximum power, or failing that "
    "its power limit, or failing that the CPU model's TDP, so an impossible rise is refused.",
)
@pytest.mark.parametrize(
    ("zone", "model", "max_power_w"),
    [
        ({"max_power_uw": 150_000_000, "power_limit_uw": None}, None, 150.0),
        ({"max_power_uw": None, "power_limit_uw": 75_000_000}, None, 75.0 * POWER_LIMIT_SAFETY),
        (
            {"max_power_uw": None, "power_limit_uw": None},
            "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",  # 150 W TDP in the shipped table
            150.0 * POWER_LIMIT_SAFETY,
        ),
    ],
)
def test_a_rapl_counter_is_bounded_by_its_zone_or_its_tdp(
    tmp_path: Path, zone: dict[str, int | None], model: str | None, max_power_w: float
) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, subzones=(), **zone)  # type: ignore[arg-type]
    meter = RaplMeter(tree.root, model=model)
    assert meter.channels[0].max_power_w == max_power_w
    clock = FakeClock()
    # 60 W for 40 s; at 20 s the counter reads 1.5 kW x 10 s higher for one read: below the
    # generic 2 kW CPU bound, impossible for this package
    energy_uj = [0]
    with nf.track_energy(meters=[meter], clock=clock, interval_s=10.0) as tracker:
        for step in range(1, 5):
            energy_uj[0] += 600 * J
            glitch = 15_000 * J if step == 2 else 0
            tree.set_energy("intel-rapl:0", energy_uj[0] + glitch)
            clock.advance(10.0)
    (cpu,) = tracker.report.channels
    assert cpu.energy_j == pytest.approx(2_400.0)
    assert (cpu.failures, cpu.rejected) == (1, 1)
    bound = POWER_OVERSHOOT * max_power_w
    assert f"{bound:g} W" in warning_about(tracker.report, "cpu:0 rose")
    assert (bound * (10.0 + COUNTER_SLACK_S)) < 15_600.0  # the glitch is beyond the bound


# -- replay -------------------------------------------------------------------------------


def _drop_bounds(path: Path) -> None:
    """Rewrite a log's header as versions before the bounds wrote it (no max_power_w)."""
    header, *rest = path.read_text().splitlines(keepends=True)
    data = json.loads(header)
    for channel in data["channels"]:
        del channel["max_power_w"]
    path.write_text(json.dumps(data) + "\n" + "".join(rest))


@pytest.mark.scenario(
    "reading.replay-absurd",
    "A run log holding absurd readings replays to the report the live run gave, with the "
    "same refusals: each channel's bound is kept in the log's header, and a log written "
    "before bounds existed replays with the default bounds.",
)
@pytest.mark.parametrize(
    ("max_power_w", "absurd_w", "old_log"),
    [(None, 1e9, False), (300.0, 900.0, False), (None, 1e9, True)],
)
def test_a_log_with_absurd_readings_replays_to_the_live_report(
    tmp_path: Path, max_power_w: float | None, absurd_w: float, old_log: bool
) -> None:
    clock = FakeClock()
    path = tmp_path / "run.jsonl"
    meters = [
        FakeMeter.trace(
            lambda t: absurd_w if at(t, 1800.0) else 100.0, clock=clock, max_power_w=max_power_w
        ),
        scripted(
            clock,
            lambda t: 1e4 + 50.0 * t + (1e12 if at(t, 600.0) else 0.0),
            kind="energy",
            domain="cpu",
        ),
    ]
    with nf.track_energy(meters=meters, clock=clock, interval_s=60.0, log=path) as tracker:
        clock.advance(HOUR_S)
    live: nf.Report = tracker.report
    if old_log:
        _drop_bounds(path)
    rebuilt = report_from_log(path, from_samples=True)
    assert live.energy_j == pytest.approx(150.0 * HOUR_S, rel=1e-9)
    assert rebuilt.energy_j == pytest.approx(live.energy_j, rel=1e-12)
    for mine, theirs in zip(rebuilt.channels, live.channels, strict=True):
        assert (mine.readings, mine.failures, mine.rejected) == (
            theirs.readings,
            theirs.failures,
            theirs.rejected,
        )
        assert mine.rejected == 1
    refused = [w for w in live.warnings if w.startswith(("gpu:0 read", "cpu:0 rose"))]
    assert len(refused) == 2
    assert all(w in rebuilt.warnings for w in refused)
