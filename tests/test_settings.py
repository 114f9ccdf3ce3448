"""TrackerSettings: one frozen value, checked once, reused; the options spelled out once."""

from __future__ import annotations

import inspect
import typing

import attrs
import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError, UnknownRegionError
from nlpfootprint.settings import TrackerOptions, TrackerSettings
from nlpfootprint.testing import FakeClock, FakeMeter


def test_the_options_are_the_settings_fields_in_every_signature() -> None:
    fields = [f.name for f in attrs.fields(TrackerSettings)]
    assert list(typing.get_type_hints(TrackerOptions)) == fields
    shown = inspect.signature(nf.track_energy).parameters
    assert [p for p in shown if p != "func"] == fields
    assert shown["interval_s"].default == 1.0
    assert shown["pue"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interval_s": 0.0}, "interval_s=0.0"),
        ({"interval_s": 1e-6}, "shortest sampling interval"),
        ({"pue": 0.9}, "pue=0.9"),
        ({"price_per_kwh": -1}, "price_per_kwh=-1"),
        ({"trace_points": 1}, "trace_points=1"),
        ({"meters": "all"}, "meters='all'"),
        ({"clock": object()}, "now()"),
        ({"log": ""}, "log=''"),
        ({"log_command": "python train.py"}, "log_command="),
        ({"read_timeout_s": -2}, "read_timeout_s=-2"),
        ({"intervl_s": 1.0}, "unknown option(s) intervl_s"),
    ],
)
def test_each_bad_option_is_refused_when_the_settings_are_made(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrackerSettings.of(**options)
    with pytest.raises(ConfigurationError):
        nf.track_energy(**options)  # type: ignore[arg-type]


def test_an_unknown_grid_is_refused_up_front() -> None:
    with pytest.raises(UnknownRegionError):
        TrackerSettings(carbon_intensity="Atlantis")


def test_settings_are_a_frozen_value_reused_with_evolve() -> None:
    base = TrackerSettings(pue=1.2, carbon_intensity="FRA")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        base.pue = 2.0  # type: ignore[misc]
    faster = attrs.evolve(base, interval_s=0.25)
    assert (faster.pue, faster.interval_s, base.interval_s) == (1.2, 0.25, 1.0)
    with pytest.raises(ConfigurationError):
        attrs.evolve(base, interval_s=-1.0)  # checked again: evolve makes a new value
    assert base.assumptions().intensity.key == "FRA"


def test_a_tracker_made_from_settings_measures_with_them() -> None:
    clock = FakeClock()
    settings = TrackerSettings(meters=[FakeMeter.constant(100.0)], clock=clock, pue=1.5)
    tracker = nf.EnergyTracker(settings, name="from settings")
    assert tracker.settings.name == "from settings"
    assert settings.name is None  # the value it came from is untouched
    with tracker:
        clock.advance(36)
    assert tracker.report.facility_energy_kwh == pytest.approx(1.5 * 100 * 36 / 3.6e6)
    assert tracker.report.name == "from settings"


def test_a_list_of_meters_as_the_first_argument_still_works() -> None:
    clock = FakeClock()
    tracker = nf.EnergyTracker([FakeMeter.constant(10.0)], clock=clock)
    with tracker:
        clock.advance(10)
    assert tracker.report.energy_j == pytest.approx(100.0)


def test_a_decorated_function_reuses_one_settings_value_for_every_call() -> None:
    clock = FakeClock()

    @nf.track_energy(meters=[FakeMeter.constant(5.0)], clock=clock, pue=1.1)
    def train() -> None:
        clock.advance(2)

    train()
    first = train.last_tracker
    train()
    second = train.last_tracker
    assert first is not None
    assert second is not None
    assert first is not second
    assert first.settings == second.settings
    assert first.settings.name is not None
    assert first.settings.name.endswith("train")
    assert train.last_report is second.result
