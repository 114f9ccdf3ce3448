"""Dynamic energy above an idle baseline: measured, given, read from a file or a log;
subtracted per channel (windows, projections, job merges too); clamped at 0 with a
warning; carried through dicts, run logs, every rendering and the command line."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

import nlpfootprint as nf
from fake_nvml import FakeGpu, make_pynvml
from helpers import run_cli
from nlpfootprint.baseline import BASELINE_SCHEMA, baseline_json, load_baseline, measure_baseline
from nlpfootprint.distributed.merge import Part, job_report
from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError
from nlpfootprint.idle import BASELINE_WARNING, Baseline
from nlpfootprint.meters.base import Channel
from nlpfootprint.meters.nvml import NvmlMeter
from nlpfootprint.testing import FakeClock, FakeMeter
from nlpfootprint.windows import merge_entries

GPU_100W = 100.0
IDLE_62W = {"gpu:0": 62.0}


def idle_then_busy(clock: FakeClock, idle_s: float = 5.0) -> FakeMeter:
    """An energy counter on ``gpu:0`` that draws 62 W for its first ``idle_s`` seconds
    (from when it is made), then 100 W."""
    start = clock.now()

    def read() -> list[float]:
        t = clock.now() - start
        return [62.0 * min(t, idle_s) + GPU_100W * max(t - idle_s, 0.0)]

    return FakeMeter([Channel("gpu:0", "gpu", "energy")], read)


def run(
    seconds: float = 10.0, meters: Sequence[nf.PowerMeter] | None = None, **options: Any
) -> nf.Report:
    """``seconds`` of a 100 W GPU (or ``meters``) on a FakeClock, under ``options``."""
    clock = FakeClock()
    meters = meters if meters is not None else [FakeMeter.constant(GPU_100W)]
    with nf.track_energy(meters=meters, clock=clock, **options) as tracker:
        clock.advance(seconds)
    report: nf.Report = tracker.report
    return report


# -- measuring --------------------------------------------------------------------------


def test_measure_baseline_gives_each_channels_mean_power_without_waiting() -> None:
    clock = FakeClock()
    meter = FakeMeter.constant([62.0, 20.0], domain=["gpu", "cpu"])
    before = clock.now()
    baseline = measure_baseline([meter], 5.0, clock=clock)
    assert baseline.power_w == {"gpu:0": 62.0, "cpu:0": 20.0}
    assert (baseline.source, baseline.seconds, baseline.warnings) == ("measured", 5.0, ())
    assert clock.now() - before == pytest.approx(5.0)  # the fake clock moved; nothing slept
    assert clock.pending == 0
    assert not meter.closed  # a meter the caller passed stays open


def test_measure_baseline_reads_counters_as_the_tracker_does() -> None:
    clock = FakeClock()
    baseline = measure_baseline([FakeMeter.counter(62.0, clock=clock)], 2.0, clock=clock)
    assert baseline.power_w == pytest.approx(IDLE_62W)


def test_a_channel_that_gave_no_readings_is_left_out_and_said() -> None:
    clock = FakeClock()
    good, bad = FakeMeter.constant(62.0), FakeMeter.failing(after=0, domain="cpu")
    baseline = measure_baseline([good, bad], 5.0, clock=clock)
    assert baseline.power_w == IDLE_62W
    assert any("cpu:0 has no idle power" in w for w in baseline.warnings)


@pytest.mark.parametrize("seconds", [0, -1, math.nan, 3601, 1e300])
def test_measure_baseline_refuses_seconds_outside_0_to_an_hour(seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="seconds="):
        measure_baseline([FakeMeter.constant(62.0)], seconds, clock=FakeClock())


def test_baseline_measure_reads_the_idle_power_before_the_block_starts() -> None:
    clock = FakeClock()
    meter = idle_then_busy(clock, idle_s=5.0)
    start = clock.now()
    with nf.track_energy(meters=[meter], clock=clock, baseline="measure", baseline_s=5) as t:
        assert clock.now() - start == pytest.approx(5.0)  # the block begins after it
        clock.advance(10)
    report = t.report
    assert report.duration_s == pytest.approx(10.0)
    assert report.energy_j == pytest.approx(1000.0)
    assert report.baseline is not None
    assert report.baseline.power_w == pytest.approx(IDLE_62W)
    assert report.baseline.source == "measured"
    assert report.baseline.seconds == pytest.approx(5.0)
    assert report.dynamic_energy_j == pytest.approx(380.0)  # (100 - 62) W x 10 s


def test_process_scope_reports_the_whole_gpu_over_the_run_not_the_baseline_before_it() -> None:
    """A 100 W GPU at a 30% SM share: 100 s of idle baseline, then 1000 s of run."""
    me, other = os.getpid(), 4_194_305  # another process on the GPU, not one of ours
    clock = FakeClock()
    gpu = FakeGpu(power_w=100.0, sm_util={me: 30, other: 70}, processes={me: 1, other: 1})
    meter = NvmlMeter(
        nvml=make_pynvml([gpu], clock=clock), environ={}, scope="process", clock=clock
    )
    with nf.track_energy(
        meters=[meter], clock=clock, interval_s=10, baseline="measure", baseline_s=100
    ) as tracker:
        clock.advance(1000)
    report = tracker.report
    (channel,) = report.channels
    assert channel.energy_j == pytest.approx(30e3)
    assert channel.device_energy_j == pytest.approx(100e3)  # the run's, not 110 kJ
    assert channel.share_rules == pytest.approx({"sm": 100e3})
    (line,) = [w for w in report.warnings if w.startswith("gpu:0 (process scope)")]
    assert "attributed 30.000 kJ (30%) of the whole GPU's 100.000 kJ" in line
    # in process scope the idle baseline is this tree's share of the idle draw
    assert report.baseline is not None
    assert report.baseline.power_w == pytest.approx({"gpu:0": 30.0})
    assert report.dynamic_energy_j == pytest.approx(0.0, abs=1e-6)
    (since_first,) = meter.attribution  # the meter's own account began with the baseline
    assert since_first.device_j == pytest.approx(110e3)


# -- subtracting --------------------------------------------------------------------------


def test_dynamic_energy_is_the_energy_above_the_idle_power_and_the_figures_stay_total() -> None:
    report = run(10.0, baseline=IDLE_62W, pue=1.5, carbon_intensity=400.0)
    assert report.energy_j == pytest.approx(1000.0)  # total, as ever
    assert report.dynamic_energy_j == pytest.approx(380.0)
    assert report.dynamic_energy_kwh == pytest.approx(380.0 / 3.6e6)
    assert report.dynamic_co2e_kg == pytest.approx(380.0 / 3.6e6 * 1.5 * 0.4)
    assert report.co2e_kg == pytest.approx(1000.0 / 3.6e6 * 1.5 * 0.4)
    assert report.baseline == Baseline(IDLE_62W, "given")
    assert not [w for w in report.warnings if w.startswith(BASELINE_WARNING)]


def test_without_a_baseline_there_are_no_dynamic_figures() -> None:
    report = run(10.0)
    assert (report.baseline, report.dynamic_energy_j, report.dynamic_energy_kwh) == (None,) * 3
    assert report.dynamic_co2e_kg is None
    assert "dynamic" not in str(report)


def test_windows_count_their_dynamic_energy_over_their_own_duration() -> None:
    clock = FakeClock()
    meter = FakeMeter.constant(GPU_100W)
    with nf.track_energy(meters=[meter], clock=clock, baseline=IDLE_62W) as tracker:
        with tracker.window("train") as train:
            clock.advance(4)
            with tracker.window("eval"):
                clock.advance(1)
        clock.advance(5)
    report = tracker.report
    (window,) = report.windows
    assert train.report.dynamic_energy_j == pytest.approx(38.0 * 5)
    assert window.dynamic_energy_j == pytest.approx(38.0 * 5)
    assert window.windows[0].dynamic_energy_j == pytest.approx(38.0)
    assert report.dynamic_energy_j == pytest.approx(38.0 * 10)


def test_a_projection_scales_the_dynamic_energy_with_the_energy() -> None:
    report = run(10.0, baseline=IDLE_62W)
    hour = report.project(hours=1)
    assert hour.dynamic_energy_j == pytest.approx(38.0 * 3600)
    assert hour.energy_j == pytest.approx(100.0 * 3600)
    assert report.project(runs=3).dynamic_energy_j == pytest.approx(3 * 380.0)


def test_a_channel_without_a_baseline_counts_in_full_and_is_named() -> None:
    meter = FakeMeter.constant([GPU_100W, 30.0], domain=["gpu", "cpu"])
    report = run(10.0, [meter], baseline={"gpu:0": 62.0, "gpu:7": 50.0})
    assert report.dynamic_energy_j == pytest.approx(380.0 + 300.0)
    said = [w for w in report.warnings if w.startswith(BASELINE_WARNING)]
    assert any("no idle power for cpu:0" in w for w in said), said
    assert any("gpu:7 in the baseline but not measured" in w for w in said), said
    assert "above an idle baseline of 62 W" in str(report)  # gpu:7 is not this run's


def test_a_channel_below_its_idle_power_is_clamped_to_zero_with_a_warning() -> None:
    report = run(10.0, baseline={"gpu:0": 120.0})
    assert report.dynamic_energy_j == 0.0
    (said,) = [w for w in report.warnings if w.startswith(BASELINE_WARNING)]
    assert "gpu:0 drew 100 W on average, less than its idle baseline of 120 W" in said
    assert "counted as 0" in said


def test_with_baseline_replaces_the_earlier_baselines_warnings_and_none_removes_it() -> None:
    report = run(10.0, baseline={"gpu:0": 120.0})
    again = report.with_baseline(IDLE_62W)
    assert again.dynamic_energy_j == pytest.approx(380.0)
    assert not [w for w in again.warnings if w.startswith(BASELINE_WARNING)]
    assert report.with_baseline(None).dynamic_energy_j is None


def test_two_entries_keep_a_baseline_they_share_and_drop_one_they_do_not() -> None:
    a, b = run(10.0, baseline=IDLE_62W), run(5.0, baseline=IDLE_62W)
    assert merge_entries(a, b).dynamic_energy_j == pytest.approx(38.0 * 15)
    assert merge_entries(a, run(5.0, baseline={"gpu:0": 50.0})).baseline is None


def _part(rank: int, host: str, watts: float, idle_w: float) -> Part:
    clock = FakeClock()
    meter = FakeMeter.constant(watts)
    baseline = {"gpu:0": idle_w}
    tracker = nf.track_energy(meters=[meter], clock=clock, distributed=None, baseline=baseline)
    with tracker, tracker.window("train"):
        clock.advance(100)
    report = tracker.report
    assert tracker._ledger is not None
    state = tracker._ledger.state(report.duration_s)
    return Part(rank, host, 0, 1_000_000.0, report.duration_s, state, report)


def test_a_job_report_keeps_each_ranks_baseline_under_the_jobs_channel_ids() -> None:
    parts = [_part(0, "a", 300.0, 60.0), _part(1, "b", 250.0, 50.0)]
    job = job_report(
        parts, {}, engine="torch", world_size=2, assumptions=parts[0].report.assumptions
    )
    assert job.baseline is not None
    assert job.baseline.power_w == {"a/gpu:0": 60.0, "b/gpu:0": 50.0}
    assert job.dynamic_energy_j == pytest.approx((240.0 + 200.0) * 100)
    assert job.windows[0].dynamic_energy_j == pytest.approx((240.0 + 200.0) * 100)
    assert not [w for w in job.warnings if BASELINE_WARNING in w]


# -- where a baseline comes from --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ({"gpu:0": -1.0}, ConfigurationError, r"baseline\['gpu:0'\]=-1.0"),
        ({"gpu:0": math.nan}, ConfigurationError, r"baseline\['gpu:0'\]=nan"),
        ({"gpu:0": "62"}, ConfigurationTypeError, r"baseline\['gpu:0'\]='62'"),
        ({"gpu:0": 1e16}, ConfigurationError, "at most"),
        ({3: 62.0}, ConfigurationTypeError, "channel id 3"),
        ([62.0], ConfigurationTypeError, "expected 'measure', a mapping"),
        ("no-such-file.json", ConfigurationError, "baseline='no-such-file.json': cannot read"),
    ],
)
def test_a_bad_baseline_is_refused_naming_it(value: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        nf.track_energy(baseline=value)


@pytest.mark.parametrize("seconds", [0, -5, math.inf, 7200])
def test_baseline_s_is_more_than_0_and_at_most_an_hour(seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="baseline_s="):
        nf.track_energy(baseline="measure", baseline_s=seconds)


def test_baseline_s_without_a_baseline_to_measure_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match=r"baseline_s=3.0: .* not asked for"):
        nf.track_energy(baseline_s=3)
    with pytest.raises(ConfigurationError, match="given, not measured"):
        nf.track_energy(baseline=IDLE_62W, baseline_s=3)


def test_a_baseline_file_round_trips_and_feeds_a_run(tmp_path: Path) -> None:
    measured = measure_baseline([FakeMeter.constant(62.0)], 5.0, clock=FakeClock())
    path = tmp_path / "idle.json"
    path.write_text(baseline_json(measured))
    assert json.loads(path.read_text())["schema"] == BASELINE_SCHEMA
    loaded = load_baseline(path)
    assert (loaded.power_w, loaded.source, loaded.path) == (IDLE_62W, "file", str(path))
    assert (loaded.seconds, loaded.measured_at) == (5.0, measured.measured_at)
    report = run(10.0, baseline=path)
    assert report.dynamic_energy_j == pytest.approx(380.0)
    assert f"read from {path} (measured for 5.00 s" in str(report)


def test_a_previous_run_log_gives_its_mean_power_as_the_baseline(tmp_path: Path) -> None:
    log = tmp_path / "idle.jsonl"
    run(60.0, [FakeMeter.constant(62.0)], log=log)
    report = run(10.0, baseline=str(log))
    assert report.baseline is not None
    assert (report.baseline.source, report.baseline.path) == ("log", str(log))
    assert report.baseline.power_w == pytest.approx(IDLE_62W)
    assert report.dynamic_energy_j == pytest.approx(380.0)
    json_file = tmp_path / "idle-report.json"
    json_file.write_text(nf.Report.from_log(log).to_json())
    assert load_baseline(json_file).power_w == pytest.approx(IDLE_62W)  # a report's JSON too


def test_a_file_that_is_no_baseline_is_refused_naming_it(tmp_path: Path) -> None:
    for name, text in [("a.json", '{"x": 1}'), ("b.json", "not json"), ("c.json", "")]:
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigurationError, match=f"baseline=.*{name}.*expected a baseline"):
            nf.track_energy(baseline=tmp_path / name)
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"schema": "nlpfootprint.baseline/9", "power_w": {}}))
    with pytest.raises(ConfigurationError, match=r"schema 'nlpfootprint\.baseline/9'"):
        load_baseline(newer)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        load_baseline(tmp_path)


# -- carried through dicts, logs and renderings ------------------------------------------


def test_a_report_with_a_baseline_round_trips_through_its_dict_and_json() -> None:
    report = run(10.0, baseline=IDLE_62W)
    data = report.to_dict()
    assert data["baseline"]["power_w"] == IDLE_62W
    assert data["dynamic_energy_kwh"] == pytest.approx(380.0 / 3.6e6)
    assert data["energy_kwh"] == pytest.approx(1000.0 / 3.6e6)
    assert nf.Report.from_dict(data) == report
    assert nf.Report.from_json(report.to_json()) == report


def test_a_report_dict_from_before_baselines_still_reads() -> None:
    data = run(10.0, baseline=IDLE_62W).to_dict()
    for key in ("baseline", "dynamic_energy_kwh", "dynamic_co2e_kg"):
        del data[key]
    report = nf.Report.from_dict(data)
    assert report.baseline is None
    assert report.dynamic_energy_kwh is None


def test_a_crashed_runs_log_keeps_its_baseline_in_the_header(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    live = run(10.0, log=log, baseline=IDLE_62W)
    replayed = nf.Report.from_log(log, from_samples=True)  # as for a run with no summary
    assert replayed.baseline == live.baseline
    assert replayed.dynamic_energy_j == pytest.approx(380.0)


def test_every_rendering_shows_dynamic_energy_beside_the_total() -> None:
    report = run(10.0, baseline=IDLE_62W)
    text = str(report)
    assert "dynamic energy  105.6 mWh (380.000 J) above an idle baseline of 62 W as given" in text
    assert "total 277.8 mWh" in text
    assert "| dynamic energy | 105.6 mWh" in report.to_markdown()
    assert "dynamic energy" in report._repr_html_()
    latex = report.to_latex()
    assert "Dynamic energy & 105.6 mWh" in latex
    assert "(of which 0.000106 kWh above an idle baseline of 62 W)" in latex
    header, row = csv.reader([nf.Report.csv_header(), report.to_csv_row()])
    cells = dict(zip(header, row, strict=True))
    assert float(cells["dynamic_energy_kwh"]) == pytest.approx(380.0 / 3.6e6)
    assert float(cells["baseline_w"]) == 62.0
    assert float(cells["energy_kwh"]) == pytest.approx(1000.0 / 3.6e6)


# -- the command line -------------------------------------------------------------------


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(
        *args,
        cwd=cwd,
        env={"PYTHONWARNINGS": "error", "NLPFOOTPRINT_DISABLE": "nvml,amdsmi,rapl"},
    )


def test_the_baseline_command_measures_and_saves_a_baseline_file(tmp_path: Path) -> None:
    done = cli("baseline", "--seconds", "0.3", "--out", "idle.json", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    saved = json.loads((tmp_path / "idle.json").read_text())
    assert printed == saved
    assert saved["schema"] == BASELINE_SCHEMA
    assert set(saved["power_w"]) == {"cpu:0", "dram:0"}  # the estimates, as detect() gives
    assert saved["seconds"] == pytest.approx(0.3, abs=0.2)
    assert "baseline written to idle.json" in done.stderr
    table = cli("baseline", "--seconds", "0.2", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "cpu:0" in table.stdout
    assert "total" in table.stdout


@pytest.mark.parametrize("text", ["0", "-1", "nan", "3601", "1e10", "abc"])
def test_the_baseline_command_refuses_seconds_outside_0_to_an_hour(
    text: str, tmp_path: Path
) -> None:
    done = cli("baseline", f"--seconds={text}", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("nlpfootprint baseline: error: "), line
    assert "--seconds" in line


def test_run_and_report_take_a_baseline(tmp_path: Path) -> None:
    child = [sys.executable, "-c", "pass"]
    done = cli("run", "--no-status", "--log", "run.jsonl", "--baseline", "measure",
               "--baseline-s", "0.3", "--", *child, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "dynamic energy" in done.stderr
    assert "measured for" in done.stderr
    logged = nf.Report.from_log(tmp_path / "run.jsonl")
    assert logged.baseline is not None
    assert logged.baseline.source == "measured"
    (tmp_path / "idle.json").write_text(
        baseline_json(Baseline({"cpu:0": 1.0, "dram:0": 1.0}, "given"))
    )
    again = cli("report", "run.jsonl", "--baseline", "idle.json", "--format", "json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["baseline"]["source"] == "file"
    assert data["dynamic_energy_kwh"] == pytest.approx(nf.Report.from_dict(data).dynamic_energy_kwh)
    assert data["dynamic_energy_kwh"] < data["energy_kwh"]


def test_the_commands_refuse_a_baseline_they_cannot_use(tmp_path: Path) -> None:
    (tmp_path / "idle.json").write_text(baseline_json(Baseline(IDLE_62W, "given")))
    cases = [
        (("report", "missing.jsonl", "--baseline", "measure"), "--baseline"),
        (("report", "missing.jsonl", "--baseline", "nope.json"), "--baseline"),
        (("run", "--baseline-s", "3", "--", sys.executable, "-c", "pass"), "--baseline-s 3"),
    ]
    for argv, flag in cases:
        done = cli(*argv, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert "error:" in last, last
        assert flag in last, last
        assert "Traceback" not in done.stderr


def test_baseline_fields_are_checked() -> None:
    with pytest.raises(ValueError, match="source"):
        Baseline(IDLE_62W, "guessed")
    with pytest.raises(ConfigurationError, match="no 'source'"):
        Baseline.from_dict({"power_w": {}})
    assert Baseline.from_dict(None) is None
    base = Baseline(IDLE_62W, "given")
    assert Baseline.from_dict(base.to_dict()) == base
    assert attrs.evolve(base, power_w={"x": 1}).power_w == {"x": 1.0}
