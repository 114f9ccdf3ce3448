"""Plots of power over time (the ``plot`` extra): valid images, the same figures, no pyplot."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

import nlpfootprint as nf
from nlpfootprint.commands.report import _run_labels
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.render._figure import MAX_NOTE_LINES
from nlpfootprint.render.caption import figure_caption, figures_sentence
from nlpfootprint.render.plot import plot_power, plot_report, plot_reports
from nlpfootprint.report import Report
from nlpfootprint.testing import FakeClock, FakeMeter
from nlpfootprint.trace import MAX_WINDOW_SPANS, WindowSpanLog
from nlpfootprint.units import format_duration, format_energy_kwh, format_mass_kg, format_money

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
        "41.4 g/kWh (FRA, 2025)",
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
    assert figure.axes[1].get_ylabel() == "energy so far, IT (mWh)"  # 2000 J: 555.6 mWh
    assert figure.axes[1].lines[0].get_ydata()[-1] == pytest.approx(2000 / 3.6)


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


# ------------------------------------------------- windows, caption, energy unit, several runs


def windowed_report(
    name: str = "lm", *, evals: int = 3, seconds_between: float = 50.0, **kw: Any
) -> Report:
    """A run of constant power (GPU sampled, DRAM estimated) that evaluates ``evals`` times
    and trains in windows between, with a nested window inside the first evaluation."""
    clock = FakeClock()
    meters = [
        FakeMeter.constant(300.0, domain="gpu"),
        FakeMeter.constant(8.0, domain="dram", estimated=True),
    ]
    with nf.track_energy(meters=meters, clock=clock, name=name, **kw) as t:
        for i in range(evals):
            with t.window("train"):
                clock.advance(seconds_between)
            with t.window("eval"):
                clock.advance(10.0)
                if i == 0:
                    with t.window("bleu"):
                        clock.advance(2.0)
        clock.advance(5.0)
    return t.report


def window_legend(figure: Any) -> list[str]:
    return [t.get_text() for t in figure.axes[0].get_legend().get_texts()]


def test_the_tracker_keeps_when_each_window_ran_in_the_trace() -> None:
    report = windowed_report(evals=2)
    assert report.trace is not None
    spans = {w.path: w for w in report.trace.windows}
    assert set(spans) == {("train",), ("eval",), ("eval", "bleu")}
    assert spans[("train",)].start_s == (0.0, 62.0)
    assert spans[("train",)].end_s == (50.0, 112.0)
    assert spans[("eval",)].start_s == (50.0, 112.0)
    assert spans[("eval",)].end_s == (62.0, 122.0)
    assert spans[("eval", "bleu")].start_s == (60.0,)
    assert spans[("eval", "bleu")].end_s == (62.0,)
    assert {p: w.entries for p, w in spans.items()} == {
        ("train",): 2,
        ("eval",): 2,
        ("eval", "bleu"): 1,
    }
    assert not any(w.merged for w in report.trace.windows)


def test_window_spans_survive_the_report_dict_and_the_run_log(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    report = windowed_report(log=log)
    assert report.trace is not None
    assert report.trace.windows
    assert Report.from_dict(report.to_dict()) == report
    from_log = Report.from_log(log, carbon_intensity="FRA")
    assert from_log.trace is not None
    assert from_log.trace.windows == report.trace.windows
    replayed = Report.from_log(log, from_samples=True)  # the samples hold no windows
    assert replayed.trace is not None
    assert replayed.trace.windows == ()


def test_a_report_dict_without_window_spans_still_reads() -> None:
    data = windowed_report().to_dict()
    del data["trace"]["windows"]  # as written before the spans were kept
    report = Report.from_dict(data)
    assert report.trace is not None
    assert report.trace.windows == ()
    assert report.trace.start_s


@pytest.mark.parametrize(
    "spans",
    [
        [{"name": "eval", "start_s": [1.0], "end_s": [0.5], "entries": 1}],
        [{"name": "eval", "start_s": [1.0, 2.0], "end_s": [1.5], "entries": 2}],
        [{"name": "eval", "start_s": [1.0], "end_s": [2.0], "entries": 0}],
        [{"name": "eval", "start_s": ["x"], "end_s": [2.0], "entries": 1}],
        [{"name": 3, "start_s": [], "end_s": [], "entries": 0}],
        [{"start_s": [], "end_s": [], "entries": 0}],
        "eval",
    ],
)
def test_malformed_window_spans_are_a_report_format_error(spans: object) -> None:
    data = windowed_report().to_dict()
    data["trace"]["windows"] = spans
    with pytest.raises(nf.ReportFormatError, match="malformed report dict"):
        Report.from_dict(data)


def test_past_256_entries_a_window_keeps_evenly_merged_spans() -> None:
    log = WindowSpanLog()
    for i in range(300):
        log.record(("eval",), 10.0 * i, 10.0 * i + 1.0)
    (spans,) = log.spans()
    assert spans.entries == 300
    assert len(spans.start_s) == 150 <= MAX_WINDOW_SPANS  # pairs once 256 were kept
    assert spans.start_s[0] == 0.0
    assert spans.end_s[-1] == 2991.0
    assert spans.start_s[:2] == (0.0, 20.0)  # each span: two entries and the time between
    assert spans.end_s[:2] == (11.0, 31.0)
    assert spans.merged


def test_window_spans_refuse_an_entry_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match=r"'eval'.*end after it starts"):
        WindowSpanLog().record(("eval",), 5.0, 4.0)


def test_the_windows_are_shaded_and_named_once_per_name(mpl: Any) -> None:
    report = windowed_report(evals=3)
    figure = report.plot()
    ax = figure.axes[0]
    assert ax.get_xlabel() == "time since start (min)"
    assert len(ax.patches) == 3 + 3 + 1  # train, eval, eval / bleu: one band per span
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[-3:] == ["train (3x)", "eval (3x)", "eval / bleu (1x)"]
    name_of = {
        tuple(h.get_facecolor()): label
        for h, label in zip(legend.legend_handles, labels, strict=True)
        if label.endswith("x)")
    }
    assert len(name_of) == 3  # one colour per window
    spans_s: dict[str, list[tuple[float, float]]] = {}
    for band in ax.patches:
        x0, x1 = band.get_x(), band.get_x() + band.get_width()
        spans_s.setdefault(name_of[tuple(band.get_facecolor())], []).append(
            (round(60 * x0, 9), round(60 * x1, 9))
        )
    assert spans_s == {
        "train (3x)": [(0.0, 50.0), (62.0, 112.0), (122.0, 172.0)],
        "eval (3x)": [(50.0, 62.0), (112.0, 122.0), (172.0, 182.0)],
        "eval / bleu (1x)": [(60.0, 62.0)],
    }


def test_windows_past_the_colours_share_one_grey_legend_entry(mpl: Any) -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock) as t:
        for i in range(9):
            with t.window(f"epoch-{i}"):
                clock.advance(10.0)
    labels = window_legend(t.report.plot())
    assert [label for label in labels if label.startswith("epoch-")] == [
        f"epoch-{i} (1x)" for i in range(6)
    ]
    assert labels[-1] == "3 more windows"
    assert len(t.report.plot().axes[0].patches) == 9


def test_the_footnote_says_when_window_entries_were_merged(mpl: Any) -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock, interval_s=60) as t:
        for _ in range(300):
            clock.advance(5.0)
            with t.window("eval"):
                clock.advance(1.0)
    note = " ".join(text.get_text() for text in t.report.plot().texts).replace("\n", " ")
    assert "eval (300 entries in 150 bands)" in note
    assert "eval (300x)" in window_legend(t.report.plot())


def test_the_footnote_is_a_caption_of_the_figures_and_how_they_were_measured(
    mpl: Any,
) -> None:
    report = windowed_report(name="lm-8x1024")
    figure = report.plot()
    (text,) = figure.texts
    first = text.get_text().split("\n")[0]
    assert first.startswith(
        f"lm-8x1024: {format_energy_kwh(report.energy_kwh)} IT energy over "
        f"{format_duration(report.duration_s)}, "
        f"{format_energy_kwh(report.facility_energy_kwh)} with PUE 1.58, "
        f"{format_mass_kg(report.co2e_kg)} CO2e at 458 g/kWh (world average)."
    )
    note = text.get_text().replace("\n", " ")
    assert "GPU measured (power samples); DRAM estimated." in note
    assert figure_caption(report) in note
    assert "Sources: PUE: the 2018 global average" in note


def test_the_caption_groups_domains_obtained_alike() -> None:
    clock = FakeClock()
    meters = [
        FakeMeter.constant(300.0, domain="gpu"),
        FakeMeter.constant(40.0, domain="cpu", estimated=True),
        FakeMeter.constant(8.0, domain="dram", estimated=True),
    ]
    with nf.track_energy(meters=meters, clock=clock, carbon_intensity="FRA") as t:
        clock.advance(60)
    caption = figure_caption(t.report)
    assert caption.endswith("GPU measured (power samples); CPU and DRAM estimated.")
    assert "at 41.4 g/kWh (FRA, 2025)" in caption


@pytest.mark.parametrize(
    ("watts", "seconds", "unit"),
    [
        (1.0, 10.0, "mWh"),  # 10 J
        (100.0, 60.0, "Wh"),
        (1000.0, 3 * 3600.0, "kWh"),
        (5e6, 3 * 3600.0, "kWh"),  # 15,000 kWh: the text report says kWh too, not MWh
    ],
)
def test_the_energy_axis_is_in_the_unit_of_the_report(
    watts: float, seconds: float, unit: str, mpl: Any
) -> None:
    clock = FakeClock()
    meter = FakeMeter.constant(watts, max_power_w=1e7)
    with nf.track_energy(meters=[meter], clock=clock, interval_s=600.0) as t:
        clock.advance(seconds)
    report = t.report
    assert format_energy_kwh(report.energy_kwh).endswith(f" {unit}")
    twin = report.plot().axes[1]
    assert twin.get_ylabel() == f"energy so far, IT ({unit})"
    size = {"kWh": 1.0, "Wh": 1e-3, "mWh": 1e-6}[unit]
    assert twin.lines[0].get_ydata()[-1] == pytest.approx(report.energy_kwh / size)
    assert twin.lines[0].get_label() == (
        f"energy so far, IT ({format_energy_kwh(report.energy_kwh)})"
    )


def test_several_runs_are_one_line_each_on_one_figure(tmp_path: Path, mpl: Any) -> None:
    short, long = windowed_report("short", evals=2), windowed_report("long", evals=6)
    path = tmp_path / "runs.png"
    figure = plot_reports([short, long], path)
    assert_png(path, mpl)
    power_ax, energy_ax = figure.axes
    assert [line.get_label() for line in power_ax.lines] == [
        f"short ({format_energy_kwh(short.energy_kwh)} IT, mean 308.0 W)",
        f"long ({format_energy_kwh(long.energy_kwh)} IT, mean 308.0 W)",
    ]
    assert power_ax.get_ylabel() == "total power (W)"
    assert energy_ax.get_xlabel() == "time since start (min)"
    assert energy_ax.get_ylabel() == "energy so far, IT (Wh)"
    ends = [line.get_ydata()[-1] for line in energy_ax.lines]
    assert ends == pytest.approx([short.energy_kwh * 1e3, long.energy_kwh * 1e3])
    note = figure.texts[0].get_text().replace("\n", " ")
    assert figures_sentence(short) in note
    assert figures_sentence(long) in note
    assert note.count("GPU measured (power samples); DRAM estimated.") == 1


def test_several_runs_take_labels_and_tell_runs_of_one_name_apart(mpl: Any) -> None:
    a, b = windowed_report("lm"), windowed_report("lm")
    texts = [t.get_text() for t in plot_reports([a, b]).axes[0].get_legend().get_texts()]
    assert texts[0].startswith("lm (run 1) (")
    assert texts[1].startswith("lm (run 2) (")
    labelled = plot_reports([a, b], labels=["baseline", "pruned"])
    texts = [t.get_text() for t in labelled.axes[0].get_legend().get_texts()]
    assert [t.split(" (")[0] for t in texts] == ["baseline", "pruned"]


def test_several_runs_draw_into_a_given_axes_with_the_energy_dashed(mpl: Any) -> None:
    from matplotlib.figure import Figure

    figure = Figure()
    ax = figure.add_subplot()
    assert plot_reports([windowed_report("a"), windowed_report("b")], ax=ax) is figure
    power_ax, twin = figure.axes
    assert len(power_ax.lines) == 2
    assert [line.get_linestyle() for line in twin.lines] == ["--", "--"]
    assert twin.get_ylabel() == "energy so far, IT (Wh)"
    assert window_legend(figure)[-1] == "energy so far, IT (right)"
    assert not figure.texts


def test_several_runs_name_the_one_without_a_trace(mpl: Any) -> None:
    estimate = nf.estimate(hardware="V100", count=8, hours=12)
    with pytest.raises(ConfigurationError, match=r"run 2 \(.*\).*an estimate"):
        plot_reports([windowed_report(), estimate])


@pytest.mark.parametrize(
    ("reports", "labels", "error", "message"),
    [
        (0, None, ConfigurationError, "no reports given"),
        (2, ["one"], ConfigurationError, "1 given for 2 reports"),
        (2, "ab", nf.ConfigurationTypeError, "list of strings"),
    ],
)
def test_plot_reports_refuses_what_it_cannot_draw(
    reports: int, labels: Any, error: type[Exception], message: str, mpl: Any
) -> None:
    with pytest.raises(error, match=message):
        plot_reports([windowed_report() for _ in range(reports)], labels=labels)


def mixed_run(i: int, **kw: Any) -> Report:
    """Run ``i`` of many: a GPU measured, and on odd runs a CPU estimated too."""
    clock = FakeClock()
    meters = [FakeMeter.constant(300.0, domain="gpu")]
    if i % 2:
        meters.append(FakeMeter.constant(40.0, domain="cpu", estimated=True))
    with nf.track_energy(meters=meters, clock=clock, name=f"run-{i}", **kw) as t:
        clock.advance(60.0 + i)
    return t.report


def footnote_lines(figure: Any) -> list[str]:
    (text,) = figure.texts
    lines: list[str] = text.get_text().split("\n")
    return lines


def test_many_runs_measured_two_ways_get_one_footnote_line_per_way(mpl: Any) -> None:
    runs = [mixed_run(i) for i in range(30)]
    figure = plot_reports(runs)
    lines = footnote_lines(figure)
    assert lines[6] == "... and 24 more runs (see the legend)."
    assert lines[7:9] == [
        "run-0, run-2, run-4 and 12 more runs: GPU measured (power samples).",
        "run-1, run-3, run-5 and 12 more runs: GPU measured (power samples); CPU estimated.",
    ]
    assert sum(line.startswith("Sources: ") for line in lines) == 1
    assert figure.subplotpars.bottom < figure.subplotpars.top


def test_ways_of_measuring_and_sources_past_six_are_cut_saying_how_many_more(
    mpl: Any,
) -> None:
    runs = []
    for i in range(8):  # each of GPU, CPU and DRAM measured or estimated: 8 ways
        clock = FakeClock()
        meters = [
            FakeMeter.constant(100.0, domain=domain, estimated=bool(i & bit))
            for domain, bit in (("gpu", 1), ("cpu", 2), ("dram", 4))
        ]
        with nf.track_energy(meters=meters, clock=clock, name=f"run-{i}") as t:
            clock.advance(60.0)
        sourced = attrs.evolve(t.report.assumptions, pue_source=f"survey {i}")
        runs.append(attrs.evolve(t.report, assumptions=sourced))
    lines = footnote_lines(plot_reports(runs))
    assert lines[6:8] == [
        "... and 2 more runs (see the legend).",
        "run-0: GPU, CPU, DRAM measured (power samples).",
    ]
    assert lines[12:15] == [
        "run-5: GPU and DRAM estimated; CPU measured (power samples).",
        "... and 2 more ways of measuring.",
        "Sources: PUE: survey 0; carbon intensity: " + runs[0].assumptions.intensity.source + ".",
    ]
    assert lines[-1] == "... and 2 more sources."
    assert sum(line.startswith("Sources: ") for line in lines) == 6


def test_a_footnote_too_long_for_the_figure_is_cut_and_the_figure_grows(mpl: Any) -> None:
    note = "\n".join(f"line {i}" for i in range(100))
    figure = plot_power([1.0, 2.0], {"gpu": [1.0, 2.0]}, note=note)
    lines = footnote_lines(figure)
    assert len(lines) == MAX_NOTE_LINES
    assert lines[-2:] == [f"line {MAX_NOTE_LINES - 2}", f"... {101 - MAX_NOTE_LINES} more lines"]
    assert figure.get_figheight() > 5.6  # taller, the axes keeping half of it
    assert figure.subplotpars.top - figure.subplotpars.bottom > 0.4


def failed_run(**kw: Any) -> Report:
    clock = FakeClock()
    tracker = nf.track_energy(
        meters=[FakeMeter.constant(300.0, domain="gpu")], clock=clock, name="lm", **kw
    )

    def crash() -> None:
        with tracker:
            clock.advance(20.0)
            raise RuntimeError("CUDA out of memory")

    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        crash()
    return tracker.report


def test_the_caption_of_a_failed_run_says_so_first(mpl: Any) -> None:
    report = failed_run()
    caption = figure_caption(report)
    assert caption.startswith(
        f"Run failed (raised RuntimeError: CUDA out of memory). {figures_sentence(report)}"
    )
    assert caption in " ".join(footnote_lines(report.plot()))
    several = footnote_lines(plot_reports([report, windowed_report("ok")]))
    assert several[0].endswith(". Run failed (raised RuntimeError: CUDA out of memory).")
    assert "Run failed" not in several[1]


def test_the_caption_of_a_partly_covered_run_says_so_first() -> None:
    clock = FakeClock()
    failing = FakeMeter.failing(after=2, watts=200.0, domain="gpu")
    steady = FakeMeter.constant(50.0, domain="cpu")
    with nf.track_energy(meters=[failing, steady], clock=clock, distributed=None) as t:
        for _ in range(5):
            clock.advance(0.1)
            t.sample()
    caption = figure_caption(t.report)
    assert caption.startswith(f"gpu:0 covers 20% of the run. {figures_sentence(t.report)}")
    assert "cpu:0 covers" not in caption
    assert not figure_caption(windowed_report()).startswith(("Run failed", "gpu:0 covers"))


@pytest.mark.parametrize(
    ("names", "paths", "labels"),
    [
        (["a", "b"], ["x/1.jsonl", "x/2.jsonl"], ["a", "b"]),
        (["lm", "lm"], ["x/base.jsonl", "x/pruned.jsonl.gz"], ["base", "pruned"]),
        (["lm", None], ["x/base.jsonl", "x/pruned.jsonl"], ["base", "pruned"]),
        (["lm", "lm"], ["x/run.jsonl", "y/run.jsonl"], ["x/run.jsonl", "y/run.jsonl"]),
        (["lm", "lm"], ["x/run.jsonl", "x/run.jsonl"], ["x/run.jsonl", "x/run.jsonl (2)"]),
        (
            ["lm", "lm", "lm"],
            ["run.jsonl", "run.jsonl", "run.jsonl"],
            ["run.jsonl", "run.jsonl (2)", "run.jsonl (3)"],
        ),
    ],
)
def test_the_cli_labels_runs_by_name_else_by_log_and_never_two_alike(
    names: list[str | None], paths: list[str], labels: list[str]
) -> None:
    reports = [attrs.evolve(windowed_report(), name=name) for name in names]
    assert _run_labels(reports, [Path(p) for p in paths]) == [str(Path(x)) for x in labels]


def write_log(path: Path, name: str, evals: int) -> Path:
    windowed_report(name, evals=evals, log=path)
    return path


def test_the_cli_plots_several_logs_one_line_per_run(tmp_path: Path, mpl: Any) -> None:
    a = write_log(tmp_path / "a.jsonl", "bert-small", 2)
    b = write_log(tmp_path / "b.jsonl", "bert-large", 4)
    png = tmp_path / "runs.png"
    result = run_cli("report", str(a), str(b), "--plot", str(png), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["runs"]) == 2
    assert f"plot written to {png}" in result.stderr
    assert_png(png, mpl)


def test_the_cli_plots_thirty_logs_measured_two_ways(tmp_path: Path, mpl: Any) -> None:
    logs = [tmp_path / f"run-{i}.jsonl" for i in range(30)]
    for i, log in enumerate(logs):
        mixed_run(i, log=log)
    png = tmp_path / "runs.png"
    result = run_cli("report", *map(str, logs), "--plot", str(png), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert f"plot written to {png}" in result.stderr
    assert_png(png, mpl)


def test_the_cli_names_the_log_it_cannot_plot(tmp_path: Path, mpl: Any) -> None:
    good = write_log(tmp_path / "good.jsonl", "lm", 1)
    bad = write_log(tmp_path / "bad.jsonl", "lm", 1)
    lines = bad.read_text().splitlines()
    summary = json.loads(lines[-1])
    summary["summary"]["trace"] = None
    bad.write_text("\n".join([*lines[:-1], json.dumps(summary)]) + "\n")
    png = tmp_path / "runs.png"
    result = run_cli("report", str(good), str(bad), "--plot", str(png))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"--plot {png}: {bad}: nothing to plot for run 2" in result.stderr
    assert result.stdout == ""
    assert not png.exists()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nlpfootprint", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )
