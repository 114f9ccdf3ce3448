"""Plots of power over time (the ``plot`` extra): valid images, the same figures, no pyplot."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.render.plot import plot_power, plot_report
from nlpfootprint.report import Report
from nlpfootprint.testing import FakeClock, FakeMeter
from nlpfootprint.units import format_energy_kwh, format_money

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def mpl() -> Any:
    """matplotlib with its image module, or a skip where the plot extra is not installed."""
    pytest.importorskip("matplotlib")
    import matplotlib.image

    return matplotlib


def varying_report(seconds: int = 3 * 3600, **kw: Any) -> Report:
    clock = FakeClock()

    def gpu(t: float) -> list[float]:
        base = 90.0 if (t // 1800) % 4 == 3 else 280.0  # an evaluation dip every 2 h
        return [base + 40 * math.sin(t / 400), base + 40 * math.cos(t / 500)]

    meters = [
        FakeMeter.trace(gpu, channels=2, domain="gpu", clock=clock),
        FakeMeter.trace(lambda t: 45 + 20 * math.sin(t / 900) ** 2, domain="cpu", clock=clock),
        FakeMeter.constant(8.0, domain="dram", estimated=True),
    ]
    with nf.track_energy(meters=meters, clock=clock, name="bert-base", **kw) as t:
        for _ in range(seconds // 10):
            clock.advance(10)
            t.step(1)
    return t.report


def assert_png(path: Path, mpl: Any) -> tuple[int, int]:
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = mpl.image.imread(path)
    height, width = image.shape[:2]
    assert 400 <= height <= 4000
    assert 400 <= width <= 4000
    assert image[..., :3].std() > 0.05  # something was drawn, not a blank canvas
    return height, width


def test_report_plot_writes_a_valid_png(tmp_path: Path, mpl: Any) -> None:
    report = varying_report(price_per_kwh=0.25)
    path = tmp_path / "power.png"
    figure = report.plot(path)
    assert assert_png(path, mpl) == (840, 1500)
    assert figure.axes[0].get_ylabel() == "power (W)"


def test_the_energy_so_far_ends_at_the_report_energy(mpl: Any) -> None:
    report = varying_report()
    figure = plot_report(report)
    ax, twin = figure.axes
    assert "(h)" in ax.get_xlabel()
    assert twin.get_ylabel() == "energy so far, IT (kWh)"
    energy = twin.lines[0].get_ydata()
    assert energy[0] == 0.0
    assert np.all(np.diff(energy) >= 0)
    assert energy[-1] == pytest.approx(report.energy_kwh, rel=1e-9)


def test_the_plot_states_the_same_figures_and_assumptions_as_the_report(mpl: Any) -> None:
    report = varying_report(carbon_intensity="FRA", price_per_kwh=0.25)
    figure = report.plot()
    note = " ".join(t.get_text() for t in figure.texts).replace("\n", " ")
    assert report.cost_usd is not None
    for needle in (  # the same figures as the report's tables, in the same words
        format_energy_kwh(report.energy_kwh),
        format_energy_kwh(report.facility_energy_kwh),
        f"PUE {report.assumptions.pue:g}",
        f"{report.assumptions.intensity.g_per_kwh:g} g/kWh",
        "FRA",
        format_money(report.cost_usd, "USD"),
        "Uptime Institute",
    ):
        assert needle in note, needle
    title = figure.axes[0].get_title(loc="left")
    assert "bert-base" in title
    assert "partly estimated" in title
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert labels[:3] == [
        f"{d} (mean {report.mean_power_w[d]:,.1f} W)" for d in ("gpu", "cpu", "dram")
    ]


def test_plotting_leaves_pyplot_alone(tmp_path: Path, mpl: Any) -> None:
    had_pyplot = "matplotlib.pyplot" in sys.modules
    varying_report(seconds=600).plot(tmp_path / "p.png")
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules


def test_a_short_run_is_plotted_in_seconds(mpl: Any) -> None:
    figure = varying_report(seconds=60).plot()
    assert figure.axes[0].get_xlabel() == "time since start (s)"
    assert figure.axes[1].get_ylabel() == "energy so far, IT (Wh)"


def test_plot_draws_into_a_given_axes(mpl: Any) -> None:
    from matplotlib.figure import Figure

    figure = Figure()
    ax = figure.add_subplot()
    assert varying_report(seconds=600).plot(ax=ax) is figure
    assert len(figure.axes) == 2  # the axes and its energy twin
    assert not figure.texts  # no footnote on someone else's figure


def test_plot_power_from_sample_times(tmp_path: Path, mpl: Any) -> None:
    times = np.arange(1.0, 601.0)  # each value: mean power over the second before
    power = {"gpu": 200 + 50 * np.sin(times / 60), "cpu": np.full(times.size, 40.0)}
    path = tmp_path / "log.png"
    figure = plot_power(times, power, path, title="from a log")
    assert_png(path, mpl)
    energy_wh = figure.axes[1].lines[0].get_ydata()[-1]
    assert energy_wh == pytest.approx(float(np.sum(power["gpu"] + power["cpu"])) / 3600)


def test_plot_power_from_bin_edges(mpl: Any) -> None:
    figure = plot_power([0.0, 10.0, 30.0], {"gpu": [100.0, 50.0]})
    assert figure.axes[1].lines[0].get_ydata()[-1] == pytest.approx(2000 / 3600)


@pytest.mark.parametrize(
    ("times", "power", "message"),
    [
        ([1.0, 2.0, 3.0, 4.0, 5.0], {"gpu": [1.0, 2.0]}, "3 values for 2|5 values for 2"),
        ([2.0, 1.0], {"gpu": [1.0, 2.0]}, "strictly increasing"),
        ([1.0, 2.0], {"gpu": [1.0, 2.0], "cpu": [1.0]}, "differ in length"),
        ([1.0], {}, "nothing to plot"),
        ([1.0], {"gpu": [math.nan]}, "finite"),
    ],
)
def test_plot_power_rejects_arrays_it_cannot_draw(
    times: list[float], power: dict[str, list[float]], message: str, mpl: Any
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        plot_power(times, power)


def test_an_estimate_has_nothing_to_plot() -> None:
    report = nf.estimate(hardware="V100", count=8, hours=12)
    with pytest.raises(ConfigurationError, match=r"nothing to plot.*an estimate"):
        report.plot()


def test_a_projection_has_nothing_to_plot() -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock) as t:
        clock.advance(60)
    with pytest.raises(ConfigurationError, match=r"nothing to plot.*projected"):
        t.report.project(hours=10).plot()


def test_without_matplotlib_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'nlpfootprint\[plot\]'"):
        plot_power([1.0, 2.0], {"gpu": [1.0, 2.0]})
