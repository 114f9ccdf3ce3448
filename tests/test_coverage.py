"""Coverage per channel, a first-class figure (issue 13, point 3): the share of the run
with readings on both sides, in every rendering; a report with a channel under 95% is
headed "partial"; a log read while its run goes on says "in progress"."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nlpfootprint as nf
from nlpfootprint.report_parts import PARTIAL_COVERAGE
from nlpfootprint.testing import FakeClock, FakeMeter


def partly_measured() -> nf.Report:
    """A 200 W meter that fails after 0.1 s of a 0.5 s run, beside a 50 W one."""
    clock = FakeClock()
    failing = FakeMeter.failing(after=2, watts=200.0, domain="gpu")
    steady = FakeMeter.constant(50.0, domain="cpu")
    with nf.track_energy(meters=[failing, steady], clock=clock, distributed=None) as tracker:
        for _ in range(5):
            clock.advance(0.1)
            tracker.sample()
    return tracker.report


def test_a_partly_measured_run_is_headed_partial_in_every_rendering() -> None:
    report = partly_measured()
    gpu, cpu = report.channels
    assert gpu.coverage == pytest.approx(0.2)
    assert cpu.coverage == 1.0
    assert report.coverage == pytest.approx(0.2)
    assert report.coverage < PARTIAL_COVERAGE
    heading = "PARTIAL: gpu:0 covers 20% of the run"
    assert heading in str(report).splitlines()[0]
    assert heading in report.to_markdown()
    assert heading in report._repr_html_()
    assert heading.replace("%", "\\%") in report.to_latex()  # escaped, in the caption
    assert "   20%  " in str(report)  # the channel table's coverage column
    data = json.loads(report.to_json())
    # at the top level, which an older reader ignores (it refuses unknown channel keys)
    assert data["coverage"]["channels"] == pytest.approx({"gpu:0": 0.2, "cpu:0": 1.0})
    assert data["coverage"]["run"] == pytest.approx(0.2)
    assert "coverage" not in data["channels"][0]
    assert nf.Report.from_json(report.to_json()) == report
    row = next(csv.DictReader(io.StringIO(f"{report.csv_header()}\n{report.to_csv_row()}")))
    assert float(row["coverage"]) == pytest.approx(0.2)


def test_a_fully_measured_run_is_not_partial() -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(50.0)], clock=clock) as tracker:
        clock.advance(10)
    assert tracker.report.coverage == 1.0
    assert "PARTIAL" not in str(tracker.report)
    assert "100%" in str(tracker.report)


def test_a_log_read_while_its_run_goes_on_is_in_progress(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    clock = FakeClock()
    tracker = nf.track_energy(meters=[FakeMeter.constant(50.0)], clock=clock, log=log)
    with tracker:
        clock.advance(60)
        tracker.sample()
        clock.advance(3)  # past the flush interval: the samples are on disk
        tracker.sample()
        head = nf.Report.from_log(log).warnings[0]
        assert head.startswith("the run is still in progress")
        assert "did not finish" not in head


def test_a_log_whose_process_is_gone_did_not_finish(tmp_path: Path) -> None:
    """Another process wrote it and was killed: not in progress."""
    log = tmp_path / "run.jsonl"
    code = (
        "import os, signal, time, nlpfootprint as nf\n"
        "from nlpfootprint.testing import FakeMeter\n"
        f"t = nf.track_energy(meters=[FakeMeter.constant(5.0)], log={str(log)!r}, "
        "interval_s=0.01, log_flush_s=0).start()\n"
        "time.sleep(0.3)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", code], timeout=120, check=False)
    head = nf.Report.from_log(log).warnings[0]
    assert head.startswith("the run did not finish cleanly")


def test_a_projection_keeps_the_coverage_it_was_measured_with() -> None:
    report = partly_measured()
    projected = report.project(hours=10)
    assert projected.coverage == pytest.approx(0.2)
    assert "PARTIAL: gpu:0 covers 20% of the run" in str(projected)


def test_a_channel_never_read_shows_no_coverage() -> None:
    estimate = nf.estimate(hardware="V100", count=8, hours=2)
    row = next(line for line in str(estimate).splitlines() if line.strip().startswith("gpu"))
    assert "100%" not in row
    assert "  -  " in row
