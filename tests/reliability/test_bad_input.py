"""Bad input: one error rule for every public function and command, and no raw crash.

The rule (``nlpfootprint.errors``): a value of the right type that cannot be used raises a
``ValueError``, a value of the wrong type a ``TypeError``, a key a table does not have a
``KeyError``; each is a ``ConfigurationError`` (an ``NlpFootprintError``) whose message
names the argument. A value is refused when it is given, never accepted and then fatal at
stop, and nothing accepted turns into an infinite or NaN figure.

The hypothesis tests draw hostile values for every public argument and every command-line
flag; the scenario tests pin each symptom the issue reported.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import nlpfootprint as nf
from nlpfootprint.cli import build_parser, main
from nlpfootprint.errors import (
    ConfigurationError,
    ConfigurationTypeError,
    NlpFootprintError,
    UnknownKeyError,
)
from nlpfootprint.report import Report
from nlpfootprint.testing import FakeClock, FakeMeter

#: An integer no float can hold.
HUGE = 10**400
#: The package, for calls with wrong types on purpose (a type checker would refuse them).
NF: Any = nf


def check_rule(err: BaseException, name: str, kind: str) -> None:
    """``err`` follows the rule for a bad value, a wrong type or an unknown key."""
    assert isinstance(err, NlpFootprintError), repr(err)
    assert isinstance(err, ConfigurationError), repr(err)
    if kind == "type":
        assert isinstance(err, ConfigurationTypeError), repr(err)
        assert isinstance(err, TypeError)
        assert not isinstance(err, KeyError), repr(err)
    elif kind == "key":
        assert isinstance(err, UnknownKeyError), repr(err)
        assert isinstance(err, KeyError)
        assert not isinstance(err, TypeError), repr(err)
    else:
        assert kind == "value"
        assert isinstance(err, ValueError), repr(err)
        assert not isinstance(err, TypeError | KeyError), repr(err)
    assert name in str(err), f"{name!r} not named in {str(err)!r}"
    assert "\n" not in str(err)


def refused(call: Callable[[], object], name: str, kind: str) -> str:
    """Call, check that it raises by the rule, return the message."""
    with pytest.raises(NlpFootprintError) as caught:
        call()
    check_rule(caught.value, name, kind)
    return str(caught.value)


def gpu_run(**options: Any) -> Report:
    """An hour of 250 W on a FakeClock with 10 steps of 100 tokens, under ``options``."""
    clock = FakeClock()
    options.setdefault("meters", [FakeMeter.constant(250.0, domain="gpu")])
    options.setdefault("clock", clock)
    with nf.track_energy(**options) as tracker:
        clock.advance(3600)
        tracker.step(10, tokens=1000)
    return tracker.report


@pytest.fixture(scope="module")
def measured() -> Report:
    return gpu_run()


def assert_finite_report(report: Report) -> None:
    figures = [
        report.duration_s,
        report.energy_j,
        report.energy_kwh,
        report.facility_energy_kwh,
        report.co2e_kg,
        report.co2e_lbs,
        *report.mean_power_w.values(),
        *(c.energy_j for c in report.channels),
    ]
    figures += [
        x for x in (report.cost_usd, report.j_per_step, report.j_per_token) if x is not None
    ]
    assert all(math.isfinite(x) for x in figures), figures
    assert math.isfinite(float(report.steps)), report.steps  # OverflowError past floats
    assert math.isfinite(float(report.tokens)), report.tokens


# -- the symptoms the issue reported ------------------------------------------------------


@pytest.mark.scenario(
    "input.huge-count",
    "A step or token count too large to account (10**400, or more than 10**18 in one "
    "call) is refused at tracker.step() with a ValueError naming it; the run goes on and "
    "its report stays finite.",
)
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        pytest.param({"tokens": HUGE}, "tokens", id="tokens-10**400"),
        pytest.param({"n": HUGE}, "n=", id="steps-10**400"),
        pytest.param({"tokens": 10**18 + 1}, "tokens", id="tokens-over-10**18"),
    ],
)
def test_a_count_too_large_is_refused_at_the_step_and_the_run_goes_on(
    kwargs: dict[str, int], name: str
) -> None:
    clock = FakeClock()
    with NF.track_energy(meters=[FakeMeter.constant(100.0, domain="gpu")], clock=clock) as t:
        clock.advance(10)
        t.step(tokens=1000)
        message = refused(lambda: t.step(**kwargs), name, "value")
        assert "10**18" in message or "1,000,000,000,000,000,000" in message
        t.step(tokens=1000)
    assert (t.report.steps, t.report.tokens) == (2, 2000)
    assert_finite_report(t.report)


@pytest.mark.scenario(
    "input.integral-count",
    "tracker.step() takes any integral count (numpy integers, 0-d integer arrays), not "
    "only int; a float or a bool is a TypeError naming the argument.",
)
def test_step_takes_integral_values_and_refuses_floats_and_bools() -> None:
    clock = FakeClock()
    with NF.track_energy(meters=[FakeMeter.constant(100.0, domain="gpu")], clock=clock) as t:
        t.step(np.int64(2), tokens=np.array(512))
        refused(lambda: t.step(tokens=1.5), "tokens", "type")
        refused(lambda: t.step(True), "n=", "type")
        refused(lambda: t.step(-1), "n=", "value")
        clock.advance(10)
    assert (t.report.steps, t.report.tokens) == (2, 512)
    assert type(t.report.tokens) is int


@pytest.mark.scenario(
    "input.huge-pue",
    "A PUE above 5 (1e308, or 158 typed for 1.58) is refused when given, by track_energy, "
    "estimate and with_assumptions, with a ValueError that says why; PUE 5 itself works.",
)
@pytest.mark.parametrize("pue", [1e308, 158.0, 5.000001], ids=["1e308", "158", "just-over-5"])
def test_a_pue_above_five_is_refused_when_given(pue: float, measured: Report) -> None:
    meters = [FakeMeter.constant(250.0, domain="gpu")]
    message = refused(lambda: NF.track_energy(meters=meters, pue=pue), "pue", "value")
    assert "at most 5" in message
    refused(lambda: NF.estimate(power_w=100, hours=1, pue=pue), "pue", "value")
    refused(lambda: measured.with_assumptions(pue=pue), "pue", "value")
    assert_finite_report(gpu_run(pue=5.0))


@pytest.mark.scenario(
    "input.huge-accounting-number",
    "A carbon intensity above 3,000 g/kWh or an electricity price above 1,000,000 per kWh "
    "is refused when given, not left to turn the report's CO2e or cost into inf at stop.",
)
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("carbon_intensity", 1e308),
        ("carbon_intensity", 4.2e5),  # g per MWh given as g per kWh
        ("price_per_kwh", 1e308),
    ],
)
def test_an_intensity_or_price_too_large_is_refused_when_given(option: str, value: float) -> None:
    meters = [FakeMeter.constant(1e6, domain="gpu")]
    refused(lambda: NF.track_energy(meters=meters, **{option: value}), option, "value")
    refused(lambda: NF.estimate(power_w=1e6, hours=1, **{option: value}), option, "value")
    assert_finite_report(gpu_run(meters=meters, carbon_intensity=3000.0, price_per_kwh=1e6))


@pytest.mark.scenario(
    "input.huge-interval",
    "interval_s above a day (1e10 made the sampler thread die in Event.wait) is refused "
    "when given; a one-day interval runs a real sampler thread and stops at once.",
)
def test_an_interval_above_a_day_is_refused_and_a_day_works() -> None:
    meters = [FakeMeter.constant(100.0, domain="gpu")]
    message = refused(
        lambda: NF.track_energy(meters=meters, interval_s=1e10), "interval_s", "value"
    )
    assert "86400" in message or "86,400" in message
    refused(lambda: NF.TrackerSettings(interval_s=86400.5), "interval_s", "value")
    died: list[threading.ExceptHookArgs] = []
    previous, threading.excepthook = threading.excepthook, died.append
    try:
        with NF.track_energy(meters=meters, interval_s=86400.0) as tracker:
            tracker.step()
    finally:
        threading.excepthook = previous
    assert died == []
    assert tracker.report.channels[0].readings >= 2  # at start and at stop


@pytest.mark.scenario(
    "input.huge-read-timeout",
    "read_timeout_s above 60 s (1e10 overflowed Thread.join at stop) is refused when "
    "given; 60 s itself runs and stops.",
)
def test_a_read_timeout_above_a_minute_is_refused_and_a_minute_works() -> None:
    meters = [FakeMeter.constant(100.0, domain="gpu")]
    message = refused(
        lambda: NF.track_energy(meters=meters, read_timeout_s=1e10), "read_timeout_s", "value"
    )
    assert "60" in message
    with NF.track_energy(meters=meters, read_timeout_s=60.0, interval_s=0.01) as tracker:
        tracker.step()
    assert tracker.report.channels[0].readings >= 2


@pytest.mark.scenario(
    "input.int-too-large-for-float",
    "An integer too large for a float (10**400) given to any number argument raises a "
    "ValueError naming it, never a raw OverflowError.",
)
@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("hours", lambda r: NF.estimate(hours=HUGE, power_w=1)),
        ("power_w", lambda r: NF.estimate(hours=1, power_w=HUGE)),
        ("count", lambda r: NF.estimate(hours=1, hardware="V100", count=HUGE)),
        ("utilization", lambda r: NF.estimate(hours=1, hardware="V100", utilization=HUGE)),
        ("hours", lambda r: NF.cloud_cost("V100", hours=HUGE)),
        ("count", lambda r: NF.cloud_cost("V100", count=HUGE, hours=1)),
        ("prices", lambda r: NF.cloud_cost("V100", hours=1, prices=HUGE)),
        ("carbon_intensity", lambda r: NF.carbon_intensity(HUGE)),
        ("g_per_kwh", lambda r: NF.Intensity(g_per_kwh=HUGE)),
        ("mix", lambda r: NF.intensity_from_mix({"coal": HUGE}, normalize=True)),
        ("pue", lambda r: NF.TrackerSettings(pue=HUGE)),
        ("interval_s", lambda r: NF.TrackerSettings(interval_s=HUGE)),
        ("price_per_kwh", lambda r: NF.TrackerSettings(price_per_kwh=HUGE)),
        ("trace_points", lambda r: NF.TrackerSettings(trace_points=HUGE)),
        ("hours", lambda r: r.project(hours=HUGE)),
        ("runs", lambda r: r.project(runs=HUGE)),
        ("steps", lambda r: r.project(steps=HUGE)),
        ("price_per_kwh", lambda r: r.with_assumptions(price_per_kwh=HUGE)),
        ("max_power_w", lambda r: NF.Channel("gpu:0", "gpu", "power", max_power_w=HUGE)),
        ("max_energy_j", lambda r: NF.Channel("cpu:0", "cpu", "energy", max_energy_j=HUGE)),
        ("count", lambda r: NF.Device("A100", count=HUGE)),  # crashed a tracker at start
        ("count", lambda r: NF.Device("A100", count=10**18 + 1)),  # 4e21 W: no such machine
    ],
)
def test_an_int_too_large_for_a_float_is_a_value_error_naming_the_argument(
    name: str, call: Callable[[Any], object], measured: Report
) -> None:
    refused(lambda: call(measured), name, "value")


@pytest.mark.scenario(
    "input.wrong-type",
    "An argument of the wrong type (interval_s='1', name=5, count=1.5, hardware=5, ...) "
    "raises a TypeError naming it, which is also a ConfigurationError.",
)
@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("interval_s", lambda r: NF.track_energy(interval_s="1")),
        ("name", lambda r: NF.track_energy(name=5)),
        ("pue", lambda r: NF.track_energy(pue=None)),
        ("trace_points", lambda r: NF.TrackerSettings(trace_points=2048.0)),
        ("clock", lambda r: NF.TrackerSettings(clock=5)),
        ("meters", lambda r: NF.TrackerSettings(meters=5)),
        ("meters", lambda r: NF.TrackerSettings(meters=[5])),
        ("log", lambda r: NF.TrackerSettings(log=5)),
        ("log_command", lambda r: NF.TrackerSettings(log_command="python train.py")),
        ("carbon_intensity", lambda r: NF.TrackerSettings(carbon_intensity=True)),
        ("frobnicate", lambda r: NF.track_energy(frobnicate=1)),
        ("hours", lambda r: NF.estimate(hours="84", power_w=100)),
        ("hardware", lambda r: NF.estimate(hours=1, hardware=5)),
        ("name", lambda r: NF.estimate(hours=1, power_w=100, name=5)),
        ("count", lambda r: NF.estimate(hours=1, hardware="V100", count=1.5)),
        ("hardware", lambda r: NF.cloud_cost(5, hours=1)),
        ("count", lambda r: NF.cloud_cost("V100", count=2.0, hours=1)),
        ("prices", lambda r: NF.cloud_cost("V100", hours=1, prices=object())),
        ("carbon_intensity", lambda r: NF.carbon_intensity(None)),
        ("carbon_intensity", lambda r: NF.carbon_intensity([400])),
        ("hardware", lambda r: NF.hardware_spec(5)),
        ("prices", lambda r: NF.price_table(5)),
        ("mix", lambda r: NF.intensity_from_mix([("coal", 1.0)])),
        ("mix", lambda r: NF.intensity_from_mix({"coal": "1"})),
        ("mix", lambda r: NF.intensity_from_mix({5: 1.0})),
        ("normalize", lambda r: NF.intensity_from_mix({"coal": 1.0}, normalize="yes")),
        ("search", lambda r: NF.regions(5)),
        ("kind", lambda r: NF.regions(kind=5)),
        ("steps", lambda r: r.project(steps=1.5)),
        ("hours", lambda r: r.project(hours="84")),
        ("figure", lambda r: r.bounds(5)),
        ("g_per_kwh", lambda r: NF.Intensity(g_per_kwh="400")),
        ("id", lambda r: NF.Channel(id=5, domain="gpu", kind="power")),
        ("domain", lambda r: NF.Channel(id="gpu:0", domain=0, kind="power")),
        ("kind", lambda r: NF.Channel(id="gpu:0", domain="gpu", kind=None)),
        ("label", lambda r: NF.Channel(id="gpu:0", domain="gpu", kind="power", label=5)),
        ("estimated", lambda r: NF.Channel("gpu:0", "gpu", "power", estimated="no")),
        ("backend", lambda r: NF.Channel("gpu:0", "gpu", "power", backend=5)),
        ("device", lambda r: NF.Channel("gpu:0", "gpu", "power", device="A100")),
        ("basis", lambda r: NF.Channel("gpu:0", "gpu", "power", estimated=True, basis="tdp")),
        ("max_power_w", lambda r: NF.Channel("gpu:0", "gpu", "power", max_power_w="100")),
        ("max_energy_j", lambda r: NF.Channel("cpu:0", "cpu", "energy", max_energy_j="1e6")),
        ("count", lambda r: NF.Device("A100", count=1.5)),
        ("name", lambda r: NF.Device(name=5)),
        ("index", lambda r: NF.Device("A100", index=1.5)),
        ("uuid", lambda r: NF.Device("A100", uuid=5)),
        ("host", lambda r: NF.Device("A100", host=5)),
        ("keys", lambda r: r.compare_regions("FRA")),  # iterated over the letters
        ("keys", lambda r: r.compare_regions(5)),
        ("keys", lambda r: r.compare_regions([None])),
        ("read", lambda r: _snapshot(read="no")),
        ("path", lambda r: NF.Report.from_log(5)),
        ("path", lambda r: NF.load_run(5)),
        ("positional", lambda r: NF.track_energy(5)),
        ("decorates", lambda r: NF.track_energy(name="x")(5)),
    ],
)
def test_a_wrong_type_is_a_type_error_naming_the_argument(
    name: str, call: Callable[[Any], object], measured: Report
) -> None:
    refused(lambda: call(measured), name, "type")


@pytest.mark.scenario(
    "input.unknown-key",
    "A name a table does not have (hardware, price table, priced device, generation "
    "source, region) raises a KeyError naming the argument and what the table has.",
)
@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("hardware", lambda: NF.hardware_spec("Z9000")),
        ("hardware", lambda: NF.estimate(hours=1, hardware="Z9000")),
        ("hardware", lambda: NF.hardware_spec("V100 turbo")),
        ("prices", lambda: NF.price_table("aws-1999")),
        ("prices", lambda: NF.cloud_cost("V100", hours=1, prices="aws-1999")),
        ("hardware", lambda: NF.cloud_cost("H100", hours=1, prices="gcp-2019")),
        ("mix", lambda: NF.intensity_from_mix({"unobtainium": 1.0})),
        ("carbon_intensity", lambda: NF.carbon_intensity("Atlantis")),
        ("carbon_intensity", lambda: NF.track_energy(carbon_intensity="Atlantis")),
    ],
)
def test_an_unknown_key_is_a_key_error_naming_the_argument(
    name: str, call: Callable[[], object]
) -> None:
    err = refused(call, name, "key")
    assert not err.startswith("'")  # the message as written, not KeyError's quoting


@pytest.mark.scenario(
    "input.project-whole-steps",
    "Report.project(steps=) takes a whole number of steps: 1.5 is a TypeError, -1 a "
    "ValueError, each naming steps.",
)
def test_project_takes_a_whole_number_of_steps(measured: Report) -> None:
    refused(lambda: measured.project(steps=1.5), "steps", "type")  # type: ignore[arg-type]
    refused(lambda: measured.project(steps=-1), "steps", "value")
    refused(lambda: measured.project(steps=True), "steps", "type")
    assert measured.project(steps=np.int64(20)).steps == 20  # any integral value


@pytest.mark.scenario(
    "input.project-overflow",
    "A projection whose figures a float cannot hold (hours=1e308, runs=1e308) is refused "
    "with a ValueError naming the target, never a report of inf or a raw OverflowError.",
)
@pytest.mark.parametrize(
    ("target", "value"), [("hours", 1e308), ("runs", 1e308), ("steps", 10**18 + 1)]
)
def test_a_projection_that_overflows_is_refused(target: str, value: float) -> None:
    report: Any = gpu_run()
    refused(lambda: report.project(**{target: value}), target, "value")
    assert_finite_report(report.project(**{target: 1000}))


@pytest.mark.scenario(
    "input.cloud-cost-overflow",
    "cloud_cost refuses hours and counts whose cost a float cannot hold (1e308 hours gave "
    "'$inf') with a ValueError naming them.",
)
@pytest.mark.parametrize(
    "kwargs",
    [{"hours": 1e308}, {"hours": 1e300, "count": 10**18}, {"hours": 1e300, "prices": 1e10}],
)
def test_a_cloud_cost_that_overflows_is_refused(kwargs: dict[str, Any]) -> None:
    message = refused(lambda: NF.cloud_cost("V100", **kwargs), "hours", "value")
    assert "inf" not in message.replace("infinite", "")


# -- every public argument -----------------------------------------------------------------

#: Values no careful caller would pass: the far ends of the number line, the wrong types.
hostile_values = st.one_of(
    st.sampled_from(
        [
            HUGE,
            -HUGE,
            10**19,
            2**63,
            math.inf,
            -math.inf,
            math.nan,
            -1,
            -1.5,
            0,
            0.0,
            -0.0,
            5e-324,
            1e308,
            -1e308,
            True,
            False,
            None,
            "",
            "1",
            "abc",
            "auto",
            "V100",
            "FRA",
            [],
            [1.0],
            (1.0, 2.0),
            {},
            {"coal": 1.0},
            object(),
            b"1",
            1j,
            Decimal("1.5"),
            Fraction(3, 2),
            np.float64("nan"),
            np.float64(2.5),
            np.int64(7),
            np.array([1, 2]),
        ]
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
)


def _number(value: object) -> bool:
    from numbers import Real

    return isinstance(value, Real) and not isinstance(value, bool | np.bool_)


def _integral(value: object) -> bool:
    try:
        import operator

        operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return not isinstance(value, bool | np.bool_)


def _text(value: object) -> bool:
    return isinstance(value, str)


def _flag(value: object) -> bool:
    return isinstance(value, bool)


def _optional(accepts: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: value is None or accepts(value)


def _intensity_arg(value: object) -> bool:
    return isinstance(value, str | nf.Intensity) or _number(value)


@attrs.frozen
class Argument:
    """One public argument: how to call with a value, what types it documents, and
    whether it is looked up in a table (a string may then be an unknown key)."""

    label: str
    name: str
    call: Callable[[Any], object]
    right_type: Callable[[object], bool]
    key: bool = False


def _tracked(option: str) -> Callable[[Any], object]:
    return lambda value: _short_run(**{option: value})


def _stepped(kwargs: Callable[[Any], dict[str, Any]]) -> Callable[[Any], object]:
    def call(value: Any) -> Report:
        clock = FakeClock()
        with nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock) as tracker:
            clock.advance(60)
            try:
                tracker.step(**kwargs(value))
            finally:
                clock.advance(60)
        return tracker.report

    return call


def _windowed(name: Any) -> Report:
    clock = FakeClock()
    tracker = nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock)
    with tracker, tracker.window(name):
        clock.advance(1)
    return tracker.report


@functools.cache
def NF_REPORT() -> Any:  # noqa: N802 - read as NF above: a report called with anything
    return gpu_run()


def _snapshot(read: Any) -> Report:
    """``tracker.snapshot(read=read)`` of a running tracker on a FakeClock."""
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(10.0)], clock=clock) as tracker:
        clock.advance(1)
        return tracker.snapshot(read=read)


def _channel(**fields: Any) -> Any:
    """A GPU power channel, with ``fields`` given."""
    return NF.Channel(**{"id": "gpu:0", "domain": "gpu", "kind": "power", **fields})


def _short_run(**options: Any) -> Report:
    """A 50 ms run on a FakeClock (a tiny interval_s then means at most 500 readings)."""
    clock = FakeClock()
    options.setdefault("meters", [FakeMeter.constant(250.0, domain="gpu")])
    options.setdefault("clock", clock)
    with nf.track_energy(**options) as tracker:
        clock.advance(0.05)
        tracker.step(10, tokens=1000)
    return tracker.report


_OPTIONAL_NUMBER = _optional(_number)

ARGUMENTS = [
    Argument("track_energy", "interval_s", _tracked("interval_s"), _number),
    Argument("track_energy", "pue", _tracked("pue"), _number),
    Argument(
        "track_energy",
        "carbon_intensity",
        _tracked("carbon_intensity"),
        _optional(_intensity_arg),
        key=True,
    ),
    Argument("track_energy", "price_per_kwh", _tracked("price_per_kwh"), _OPTIONAL_NUMBER),
    Argument("track_energy", "name", _tracked("name"), _optional(_text)),
    Argument("track_energy", "trace_points", _tracked("trace_points"), _integral),
    Argument("track_energy", "read_timeout_s", _tracked("read_timeout_s"), _number),
    Argument("track_energy", "log_flush_s", _tracked("log_flush_s"), _number),
    Argument(
        "track_energy",
        "log_command",
        _tracked("log_command"),
        lambda v: v is None or (isinstance(v, list | tuple) and all(isinstance(p, str) for p in v)),
    ),
    Argument(
        "track_energy",
        "log",
        lambda v: _short_run(log=v) if not isinstance(v, str) else None,  # no stray files
        lambda v: v is None or isinstance(v, str | os.PathLike),
    ),
    Argument(
        "track_energy",
        "meters",
        lambda v: (
            None if isinstance(v, str) and v == "auto" else _short_run(meters=v)
        ),  # "auto": this machine's
        lambda v: isinstance(v, str) or (isinstance(v, list | tuple) and not v),
    ),
    Argument(
        "track_energy",
        "clock",
        lambda v: _short_run(clock=v) if v is not None else None,  # None: a real clock
        lambda v: v is None,
    ),
    Argument(
        "track_energy",
        "baseline",
        _tracked("baseline"),
        lambda v: v is None or isinstance(v, str | os.PathLike | Mapping | nf.Baseline),
    ),
    Argument(
        "track_energy",
        "baseline_s",
        lambda v: _short_run(baseline="measure", baseline_s=v),  # a FakeClock: no waiting
        _number,
    ),
    Argument("window", "name", _windowed, _text),
    Argument(
        "detect",
        "backends",
        lambda v: None if v is None else NF.detect(v),  # None: this machine's meters
        lambda v: v is None or (isinstance(v, list | tuple) and not v),
    ),
    Argument("step", "n", _stepped(lambda v: {"n": v}), _integral),
    Argument("step", "tokens", _stepped(lambda v: {"tokens": v}), _optional(_integral)),
    Argument("estimate", "hours", lambda v: NF.estimate(hours=v, power_w=300), _number),
    Argument("estimate", "power_w", lambda v: NF.estimate(hours=1, power_w=v), _OPTIONAL_NUMBER),
    Argument(
        "estimate",
        "hardware",
        lambda v: NF.estimate(hours=1, hardware=v),
        _optional(lambda v: isinstance(v, str | nf.HardwareSpec)),
        key=True,
    ),
    Argument(
        "estimate", "count", lambda v: NF.estimate(hours=1, hardware="V100", count=v), _integral
    ),
    Argument(
        "estimate",
        "utilization",
        lambda v: NF.estimate(hours=1, hardware="V100", utilization=v),
        _number,
    ),
    Argument(
        "estimate",
        "cpu_power_w",
        lambda v: NF.estimate(hours=1, hardware="V100", cpu_power_w=v),
        _number,
    ),
    Argument(
        "estimate",
        "dram_power_w",
        lambda v: NF.estimate(hours=1, hardware="V100", dram_power_w=v),
        _number,
    ),
    Argument("estimate", "pue", lambda v: NF.estimate(hours=1, power_w=300, pue=v), _number),
    Argument(
        "estimate",
        "carbon_intensity",
        lambda v: NF.estimate(hours=1, power_w=300, carbon_intensity=v),
        _optional(_intensity_arg),
        key=True,
    ),
    Argument(
        "estimate",
        "price_per_kwh",
        lambda v: NF.estimate(hours=1, power_w=300, price_per_kwh=v),
        _OPTIONAL_NUMBER,
    ),
    Argument(
        "estimate", "name", lambda v: NF.estimate(hours=1, power_w=300, name=v), _optional(_text)
    ),
    Argument(
        "cloud_cost",
        "hardware",
        lambda v: NF.cloud_cost(v, hours=1),
        lambda v: isinstance(v, str | nf.HardwareSpec),
        key=True,
    ),
    Argument("cloud_cost", "count", lambda v: NF.cloud_cost("V100", count=v, hours=1), _integral),
    Argument("cloud_cost", "hours", lambda v: NF.cloud_cost("V100", hours=v), _number),
    Argument(
        "cloud_cost",
        "prices",
        lambda v: NF.cloud_cost("V100", hours=1, prices=v),
        lambda v: _number(v) or isinstance(v, str | dict | nf.PriceTable),
        key=True,
    ),
    Argument("carbon_intensity", "carbon_intensity", nf.carbon_intensity, _intensity_arg, key=True),
    Argument("Intensity", "g_per_kwh", lambda v: NF.Intensity(g_per_kwh=v), _number),
    Argument(
        "intensity_from_mix",
        "mix",
        lambda v: NF.intensity_from_mix({"coal": v, "gas": 1.0}, normalize=True),
        _number,
    ),
    Argument(
        "intensity_from_mix",
        "mix",
        nf.intensity_from_mix,
        lambda v: (
            isinstance(v, dict) and all(isinstance(k, str) and _number(x) for k, x in v.items())
        ),
        key=True,
    ),
    Argument(
        "intensity_from_mix",
        "normalize",
        lambda v: NF.intensity_from_mix({"coal": 2.0}, normalize=v),
        lambda v: isinstance(v, bool),
    ),
    Argument("hardware_spec", "hardware", nf.hardware_spec, lambda v: isinstance(v, str), key=True),
    Argument("price_table", "prices", nf.price_table, _text, key=True),
    Argument("regions", "search", nf.regions, _optional(_text)),
    Argument("regions", "kind", lambda v: NF.regions(kind=v), _optional(_text)),
    Argument(
        "PriceTable",
        "prices",
        lambda v: NF.PriceTable(name="t", source="s", date="d", prices={"V100": v}),
        lambda v: _number(v) or isinstance(v, tuple | list),
    ),
    Argument(
        "PriceTable",
        "fallback",
        lambda v: NF.PriceTable(name="t", source="s", date="d", prices={}, fallback=v),
        lambda v: _OPTIONAL_NUMBER(v) or isinstance(v, tuple | list),
    ),
    Argument("Report.project", "hours", lambda v: NF_REPORT().project(hours=v), _optional(_number)),
    Argument(
        "Report.project", "steps", lambda v: NF_REPORT().project(steps=v), _optional(_integral)
    ),
    Argument("Report.project", "runs", lambda v: NF_REPORT().project(runs=v), _optional(_number)),
    Argument(
        "Report.with_assumptions",
        "pue",
        lambda v: NF_REPORT().with_assumptions(pue=v),
        _OPTIONAL_NUMBER,
    ),
    Argument(
        "Report.with_assumptions",
        "carbon_intensity",
        lambda v: NF_REPORT().with_assumptions(carbon_intensity=v),
        _optional(_intensity_arg),
        key=True,
    ),
    Argument(
        "Report.with_assumptions",
        "price_per_kwh",
        lambda v: NF_REPORT().with_assumptions(price_per_kwh=v),
        _OPTIONAL_NUMBER,
    ),
    Argument("Report.bounds", "figure", lambda v: NF_REPORT().bounds(v), _text),
    Argument(
        "Report.compare_regions",
        "keys",
        lambda v: NF_REPORT().compare_regions(v),
        lambda v: isinstance(v, list | tuple | np.ndarray),  # none of the values drawn is a key
    ),
    Argument("snapshot", "read", _snapshot, _flag),
    Argument(
        "load_run",
        "path",
        lambda v: NF.load_run(v) if not isinstance(v, str) else None,  # no stray reads
        lambda v: isinstance(v, str | os.PathLike),
    ),
    Argument(
        "Report.from_log",
        "path",
        lambda v: NF.Report.from_log(v) if not isinstance(v, str) else None,  # no stray reads
        lambda v: isinstance(v, str | os.PathLike),
    ),
    Argument("Channel", "id", lambda v: _channel(id=v), _text),
    Argument("Channel", "domain", lambda v: _channel(domain=v), _text),
    Argument("Channel", "kind", lambda v: _channel(kind=v), _text),
    Argument("Channel", "label", lambda v: _channel(label=v), _text),
    Argument("Channel", "estimated", lambda v: _channel(estimated=v), _flag),
    Argument("Channel", "backend", lambda v: _channel(backend=v), _text),
    Argument("Channel", "device", lambda v: _channel(device=v), lambda v: v is None),
    Argument("Channel", "basis", lambda v: _channel(basis=v), lambda v: v is None),
    Argument("Channel", "max_power_w", lambda v: _channel(max_power_w=v), _OPTIONAL_NUMBER),
    Argument(
        "Channel",
        "max_energy_j",
        lambda v: _channel(kind="energy", max_energy_j=v),
        _OPTIONAL_NUMBER,
    ),
    Argument("Device", "name", lambda v: NF.Device(name=v), _text),
    Argument("Device", "index", lambda v: NF.Device(index=v), _optional(_integral)),
    Argument("Device", "uuid", lambda v: NF.Device(uuid=v), _optional(_text)),
    Argument("Device", "host", lambda v: NF.Device(host=v), _optional(_text)),
    Argument("Device", "count", lambda v: NF.Device(count=v), _integral),
]


def check_result(result: object) -> None:
    """Whatever a call returned holds only finite figures."""
    if isinstance(result, Report):
        assert_finite_report(result)
    elif isinstance(result, nf.CostRange):
        assert math.isfinite(result.low), result
        assert math.isfinite(result.high), result
        assert "inf" not in str(result)
        assert "nan" not in str(result)
    elif isinstance(result, nf.Intensity):
        assert math.isfinite(result.g_per_kwh)
    elif isinstance(result, tuple) and all(isinstance(x, float) for x in result):
        assert all(math.isfinite(x) for x in result)
    elif isinstance(result, nf.Channel | nf.Device):  # a run log writes it as JSON
        json.dumps(result.to_dict(), allow_nan=False)
        if isinstance(result, nf.Channel):
            assert math.isfinite(result.power_bound_w), result


@pytest.mark.scenario(
    "input.any-public-argument",
    "Any value given to any public argument either works, giving finite figures, or "
    "raises the rule's error (ValueError, TypeError or KeyError, all ConfigurationError) "
    "naming the argument; nothing else escapes.",
)
@pytest.mark.parametrize("argument", ARGUMENTS, ids=lambda a: f"{a.label}-{a.name}")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=hostile_values)
@example(value=HUGE)
@example(value=1e308)
@example(value=math.nan)
@example(value=-1)
@example(value=1.5)
@example(value=True)
@example(value="1")
@example(value=None)
@example(value=np.float32(300))  # a numpy number is a number
def test_any_value_of_any_public_argument_follows_the_rule(
    argument: Argument, value: object
) -> None:
    try:
        result = argument.call(value)
    except NlpFootprintError as err:
        if not argument.right_type(value):
            kind = "type"
        elif isinstance(err, KeyError) and argument.key:
            kind = "key"
        else:
            kind = "value"
        check_rule(err, argument.name, kind)
    else:
        assert argument.right_type(value), f"{argument.name}={value!r} was accepted"
        check_result(result)


# -- every command-line flag ---------------------------------------------------------------


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``nlpfootprint ARGV`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            status = exit_.code if isinstance(exit_.code, int) else 2
    return status, out.getvalue(), err.getvalue()


def _no_constant(text: str) -> float:
    raise AssertionError(f"{text} in the JSON output")


def check_cli(argv: list[str], flag: str, ok: tuple[int, ...] = (0,)) -> None:
    status, out, err = run_cli(argv)
    assert "Traceback" not in err, err
    if status == 2:
        lines = err.strip().splitlines()
        assert lines, "exit status 2 without a message"
        last = lines[-1]
        assert last.startswith("nlpfootprint"), err
        assert "error:" in last, err
        named = (flag, flag.lstrip("-").replace("-", "_"))
        assert any(n in last for n in named), f"{flag} not named in {last!r}"
        assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), err
    else:
        assert status in ok, (status, err)
        if "--json" in argv or "--format=json" in argv:
            json.loads(out, parse_constant=_no_constant)


#: Strings a command line may be given.
hostile_texts = st.one_of(
    st.sampled_from(
        [
            "1" + "0" * 400,
            "-1" + "0" * 400,
            "1e10",
            "1e308",
            "1e400",
            "-1e400",
            "inf",
            "-inf",
            "nan",
            "NaN",
            "-1",
            "0",
            "-0",
            "1.5",
            "0x10",
            "1_000",
            "",
            " ",
            "abc",
            "None",
            "none",
            "True",
            "--",
            "5e-324",
            "9" * 30,
            "V100",
            "FRA",
            "gcp-2019",
            "\u0663",
        ]
    ),
    st.integers().map(str),
    st.floats().map(repr),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=6),
)


@pytest.fixture(scope="module")
def run_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "run.jsonl"
    gpu_run(log=path)
    return path


def cli_flags() -> Iterator[tuple[str, str]]:
    """Every (command, --flag) of the parser that takes a value."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command, subparser in sub.choices.items():
        for action in subparser._actions:
            if (
                action.option_strings
                and action.nargs != 0
                and "--help" not in action.option_strings
            ):
                yield command, action.option_strings[-1]


#: Flags that take a file path: hostile paths would write files anywhere, so those are
#: checked case by case in test_cli.py and by the cases below.
PATH_FLAGS = {
    ("run", "--log"),
    ("demo", "--json"),
    ("demo", "--log"),
    ("report", "--plot"),
    ("baseline", "--out"),
}
#: Flags whose every value allowed is that long a wait (up to an hour): their bounds are
#: checked case by case in test_baseline.py.
WAITING_FLAGS = {("baseline", "--seconds")}
#: What each command is run with around the flag under test.
BASES = {
    "estimate": ["estimate", "--hardware", "V100", "--hours", "1", "--json"],
    "report": ["report", "LOG", "--format", "json"],
    "advise": ["advise", "LOG", "--format", "json", "--regions", "FRA"],
    "regions": ["regions", "--json"],
    "demo": ["demo", "--steps", "1", "--seconds", "0.2", "--log", ""],
    "run": ["run", "--no-status", "--log", "CHILD_LOG"],
    "baseline": ["baseline", "--seconds", "0.2", "--json"],
}
#: Commands that measure this machine for real when the flag is accepted (slower).
MEASURING = ("demo", "run", "baseline")
FLAGS = [f for f in cli_flags() if f not in PATH_FLAGS | WAITING_FLAGS]


def flag_argv(command: str, flag: str, text: str, run_log: Path) -> list[str]:
    if (command, flag) == ("estimate", "--power-w"):
        base = ["estimate", "--power-w", "300", "--hours", "1", "--json"]
    else:
        base = BASES[command]
    argv = [*base, f"{flag}={text}"]
    argv = [str(run_log) if a == "LOG" else a for a in argv]
    argv = [str(run_log.with_name("child.jsonl")) if a == "CHILD_LOG" else a for a in argv]
    if command == "run":
        true = shutil.which("true")
        argv += ["--", true] if true else ["--", sys.executable, "-c", ""]
    return argv


@pytest.mark.scenario(
    "input.any-cli-flag",
    "Any text given to any flag of estimate, report, advise or regions either works (finite "
    "JSON) "
    "or exits with status 2 and one line naming the flag, never a traceback.",
)
@pytest.mark.parametrize(
    ("command", "flag"),
    [pytest.param(c, f, id=f"{c}{f}") for c, f in FLAGS if c not in MEASURING],
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile_texts)
@example(text="1" + "0" * 400)
@example(text="1e308")
@example(text="nan")
@example(text="-1")
@example(text="1.5")
@example(text="abc")
@example(text="")
def test_any_text_for_any_flag_works_or_is_a_one_line_usage_error(
    command: str, flag: str, text: str, run_log: Path
) -> None:
    ok = (0, 1) if command == "regions" else (0,)  # regions: 1 when nothing matches
    check_cli(flag_argv(command, flag, text, run_log), flag, ok=ok)


@pytest.mark.slow
@pytest.mark.scenario(
    "input.any-cli-flag-measuring",
    "Any text given to any flag of the measuring commands (run, demo, baseline) either runs or "
    "exits with status 2 and one line naming the flag, before anything is measured.",
)
@pytest.mark.parametrize(
    ("command", "flag"),
    [pytest.param(c, f, id=f"{c}{f}") for c, f in FLAGS if c in MEASURING],
)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile_texts)
@example(text="1e10")
@example(text="1e308")
@example(text="-1")
@example(text="nan")
def test_any_text_for_a_measuring_flag_runs_or_is_a_usage_error(
    command: str, flag: str, text: str, run_log: Path
) -> None:
    check_cli(flag_argv(command, flag, text, run_log), flag)


def _python_m(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [sys.executable, "-m", "nlpfootprint", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.mark.scenario(
    "input.cli-usage-error",
    "A bad flag value given to the real command exits with status 2 and one error line "
    "naming the flag, before measuring anything; no traceback, no thread left dying.",
)
@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["estimate", "--hours", "1e400", "--power-w", "300"], "--hours"),
        (["estimate", "--hours", "1", "--hardware", "V100", "--count", "1" + "0" * 400], "--count"),
        (["estimate", "--hours", "1", "--hardware", "Z9000"], "--hardware"),
        (["estimate", "--hours", "1", "--power-w", "300", "--pue", "1e308"], "--pue"),
        (["demo", "--steps", "1", "--seed", "-1", "--log", ""], "--seed"),
        (["run", "--no-status", "--interval-s", "1e10", "--", "true"], "--interval-s"),
        (["report", "LOG", "--project-hours", "1e308"], "--project-hours"),
    ],
    ids=["hours", "count", "hardware", "pue", "seed", "interval", "project-hours"],
)
def test_the_real_command_exits_2_with_one_line_naming_the_flag(
    args: list[str], flag: str, run_log: Path, tmp_path: Path
) -> None:
    args = [str(run_log) if a == "LOG" else a for a in args]
    if args[0] == "run":
        args[1:1] = ["--log", str(tmp_path / "run.jsonl")]
    done = _python_m(*args)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert flag in lines[-1], done.stderr
    assert "error:" in lines[-1], done.stderr
    assert not (tmp_path / "run.jsonl").exists()  # refused before measuring
