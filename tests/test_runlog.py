"""The run log: written by a real tracker, read back, re-accounted, and survived a crash."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nlpfootprint as nf
from helpers import wait_until
from nlpfootprint.errors import ConfigurationError, ReportFormatError
from nlpfootprint.runlog import SCHEMA, RunLogError, RunLogWriter, load_run, report_from_log
from nlpfootprint.testing import FakeClock, FakeMeter, sampler_threads


def tracked_run(path: Path, **kw: object) -> nf.Report:
    """A run with a power meter (a ramp) and a wrapping counter, steps and a window."""
    clock = FakeClock()
    ramp = FakeMeter.trace(lambda t: 100.0 + 3.0 * t, clock=clock, domain="gpu")
    counter = FakeMeter.counter(
        [40.0, 7.5], max_energy_j=250.0, clock=clock, domain=["cpu", "dram"]
    )
    with nf.track_energy(
        meters=[ramp, counter], clock=clock, log=path, interval_s=1.0, name="train", **kw
    ) as tracker:  # type: ignore[call-overload]
        for _ in range(20):
            clock.advance(1.5)
            tracker.step(tokens=512)
        with tracker.window("eval"):
            clock.advance(4.0)
    report: nf.Report = tracker.report
    return report


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write_lines(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end)
    return path


# -- round trip ------------------------------------------------------------------------


def test_a_tracker_log_reads_back_with_its_header_samples_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    report = tracked_run(path, log_command=["python", "train.py"])
    run = load_run(path)
    assert run.complete
    assert not run.truncated
    assert run.header["schema"] == SCHEMA
    assert run.header["command"] == ["python", "train.py"]
    assert run.header["pid"] == os.getpid()
    assert [c.id for c in run.channels] == ["gpu:0", "cpu:0", "dram:0"]
    assert run.channel_meters == (0, 1, 1)
    assert run.channels[1].max_energy_j == 250.0
    assert [s.values.shape[1] for s in run.samples] == [1, 2]
    assert len(run.samples[0].times_s) == report.channels[0].readings
    assert run.samples[0].times_s[0] >= 0.0
    assert run.counts[-1, 1:].tolist() == [20, 20 * 512]
    sample = json.loads(lines_of(path)[1])
    assert set(sample) == {"t", "m", "v"}


def test_report_from_log_equals_the_trackers_report(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    report = tracked_run(path)
    again = nf.Report.from_log(path)
    assert again == report
    assert again.windows[0].name == "eval"
    assert again.steps == 20


def test_reaccounting_a_log_changes_only_the_derived_figures(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    report = tracked_run(path)
    other = nf.Report.from_log(path, pue=1.1, carbon_intensity=100.0, price_per_kwh=0.3)
    assert other.energy_j == report.energy_j
    assert other.channels == report.channels
    assert other.steps == report.steps
    assert other.windows[0].energy_j == report.windows[0].energy_j
    assert other.facility_energy_kwh == pytest.approx(report.energy_kwh * 1.1)
    assert other.co2e_kg == pytest.approx(report.energy_kwh * 1.1 * 0.1)
    assert other.cost_usd == pytest.approx(report.energy_kwh * 1.1 * 0.3)
    assert report.cost_usd is None
    assert other.co2e_kg != report.co2e_kg


def test_gzip_log_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl.gz"
    report = tracked_run(path)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(path.read_bytes()).startswith(b'{"schema":')
    assert nf.Report.from_log(path) == report
    assert not load_run(path).truncated


# -- runs that did not stop cleanly ----------------------------------------------------


def test_a_log_without_summary_rebuilds_the_energy_from_its_samples(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    report = tracked_run(path)
    lines = lines_of(path)
    assert json.loads(lines[-1]).keys() == {"summary"}
    crashed = write_lines(tmp_path / "crashed.jsonl", lines[:-1])
    run = load_run(crashed)
    assert not run.complete
    assert not run.truncated
    rebuilt = report_from_log(run)
    for live, logged in zip(report.channels, rebuilt.channels, strict=True):
        assert logged.energy_j == pytest.approx(live.energy_j, rel=1e-9)
        assert (logged.id, logged.readings, logged.failures) == (live.id, live.readings, 0)
    assert rebuilt.duration_s == pytest.approx(report.duration_s, rel=1e-9)
    assert (rebuilt.steps, rebuilt.tokens) == (report.steps, report.tokens)
    assert rebuilt.assumptions == report.assumptions
    assert rebuilt.name == "train"
    assert rebuilt.trace is not None
    assert rebuilt.trace.energy_j() == pytest.approx(report.energy_j, rel=1e-9)
    assert "did not finish cleanly" in rebuilt.warnings[0]
    assert f"t={rebuilt.duration_s + run.samples[0].times_s[0]:.3f} s" in rebuilt.warnings[0]


def test_a_cut_off_last_line_is_ignored_and_flagged(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    tracked_run(path)
    lines = lines_of(path)[:-1]
    whole = report_from_log(write_lines(tmp_path / "whole.jsonl", lines[:-1]))
    cut = write_lines(tmp_path / "cut.jsonl", [*lines[:-1], lines[-1][:9]], end="")
    run = load_run(cut)
    assert run.truncated
    assert not run.complete
    assert report_from_log(run).energy_j == whole.energy_j
    assert "last line was cut off" in report_from_log(run).warnings[0]


def test_failures_and_gaps_are_rebuilt_as_the_tracker_counted_them(tmp_path: Path) -> None:
    clock = FakeClock()
    meters = [FakeMeter.constant(50.0, domain="cpu"), FakeMeter.failing(4, watts=300.0)]
    path = tmp_path / "run.jsonl"
    with nf.track_energy(meters=meters, clock=clock, log=path) as tracker:
        clock.advance(10.0)
    report = tracker.report
    lines = lines_of(path)
    assert any('"err":"MeterError: fake meter failure' in line for line in lines)
    rebuilt = report_from_log(write_lines(tmp_path / "crashed.jsonl", lines[:-1]))
    for live, logged in zip(report.channels, rebuilt.channels, strict=True):
        assert (logged.readings, logged.failures) == (live.readings, live.failures)
        assert logged.gap_s == pytest.approx(live.gap_s)
        assert logged.energy_j == pytest.approx(live.energy_j)
    assert any("not covered by readings" in w for w in rebuilt.warnings)


def test_non_finite_readings_are_logged_as_null_and_rebuilt_as_gaps(tmp_path: Path) -> None:
    clock = FakeClock()
    meter = FakeMeter.trace(lambda t: float("nan") if 3 <= t < 5 else 100.0, clock=clock)
    path = tmp_path / "run.jsonl"
    with nf.track_energy(meters=[meter], clock=clock, log=path) as tracker:
        clock.advance(10.0)
    live = tracker.report.channels[0]
    assert any('"v":[null]' in line for line in lines_of(path))
    logged = report_from_log(write_lines(tmp_path / "crashed.jsonl", lines_of(path)[:-1]))
    channel = logged.channels[0]
    assert (channel.readings, channel.failures) == (live.readings, live.failures)
    assert live.failures == 2
    assert (channel.gap_s, channel.energy_j) == pytest.approx((live.gap_s, live.energy_j))


def test_a_log_killed_before_its_first_sample_reports_nothing_measured(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    tracked_run(path)
    report = report_from_log(write_lines(tmp_path / "header.jsonl", lines_of(path)[:1]))
    assert (report.energy_j, report.duration_s, report.steps) == (0.0, 0.0, 0)
    assert report.method == "none"
    assert "did not finish cleanly" in report.warnings[0]


def test_a_gzip_log_cut_mid_stream_reads_up_to_its_last_flush(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl.gz"
    report = tracked_run(path, log_flush_s=0.0)
    data = path.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    run = load_run(cut)
    assert run.truncated
    assert not run.complete
    assert 5 < len(run.samples[0].times_s) < report.channels[0].readings
    partial = report_from_log(run)
    assert 0 < partial.energy_j < report.energy_j


def test_a_killed_process_leaves_a_log_that_reports_up_to_its_last_flush(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.jsonl"
    script = textwrap.dedent(
        f"""
        import time
        import nlpfootprint as nf
        from nlpfootprint.testing import FakeMeter
        meter = FakeMeter.constant(200.0, domain="gpu")
        with nf.track_energy(meters=[meter], log={str(path)!r}, interval_s=0.02,
                             log_flush_s=0.05):
            while True:
                time.sleep(0.01)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:

        def logged_enough() -> bool:
            if child.poll() is not None:
                _, err = child.communicate()
                pytest.fail(f"the child exited early: {err.decode()}")
            return path.exists() and path.read_bytes().count(b'"m":') >= 10

        wait_until(logged_enough, timeout_s=30.0, what="10 samples in the child's log")
    finally:
        child.kill()  # SIGKILL: no cleanup, no summary, no last flush
        child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    run = load_run(path)
    assert not run.complete
    report = nf.Report.from_log(path)
    times = run.samples[0].times_s
    assert len(times) >= 10
    assert report.duration_s == pytest.approx(times[-1] - times[0])
    assert report.duration_s > 0
    assert report.energy_j == pytest.approx(200.0 * report.duration_s, rel=1e-9)
    assert "did not finish cleanly" in report.warnings[0]


# -- files that are not (readable) run logs ---------------------------------------------

HEADER = {"schema": SCHEMA, "channels": [], "settings": {}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "does not start with a JSON object"),
        (b"epoch 1 loss 2.3\nepoch 2 loss 1.9\n", "does not start with a JSON object"),
        (b'{"epoch": 1, "loss": 2.3}\n', "has schema None"),
        (b'{"schema": "nlpfootprint.report/1", "steps": 3}\n', "is a saved report"),
        (b'{\n  "schema": "nlpfootprint.report/1"\n}\n', "first line is not a JSON object"),
        (b'{"schema": "nlpfootprint.runlog/2"}\n', "newer format"),
        (b'{"schema": "nlpfootprint.runlog/1", "channels": []}\n', "header is malformed"),
        (b'{"schema": "nlpfootprint.runl', "incomplete line"),
    ],
    ids=[
        "empty",
        "binary",
        "text",
        "json-without-schema",
        "report",
        "pretty-report",
        "future",
        "bad-header",
        "cut-header",
    ],
)
def test_a_file_that_is_not_a_run_log_gets_a_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "not-a-log.jsonl"
    path.write_bytes(content)
    with pytest.raises(ReportFormatError, match=message) as caught:
        load_run(path)
    assert str(path) in str(caught.value)
    with pytest.raises(ReportFormatError):
        nf.Report.from_log(path)


def test_a_corrupt_line_in_the_middle_is_named_by_its_number(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    tracked_run(path)
    lines = lines_of(path)
    lines[5] = lines[5][:10] + "#" + lines[5][11:]
    with pytest.raises(ReportFormatError, match=r"line 6 is corrupt"):
        load_run(write_lines(path, lines))


def test_a_sample_with_the_wrong_number_of_values_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    tracked_run(path)
    lines = lines_of(path)
    lines[2] = '{"t":0.5,"m":1,"v":[1.0]}'
    with pytest.raises(ReportFormatError, match=r"line 3 is corrupt \(1 values for meter 1"):
        load_run(write_lines(path, lines))


def test_a_missing_file_or_a_directory_is_not_a_run_log(tmp_path: Path) -> None:
    with pytest.raises(ReportFormatError, match="does not exist"):
        load_run(tmp_path / "nowhere.jsonl")
    with pytest.raises(ReportFormatError, match="is not a file"):
        load_run(tmp_path)


# -- writing ---------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_failing_disk_warns_in_the_report_and_does_not_stop_training(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    with (
        caplog.at_level(logging.WARNING, logger="nlpfootprint"),
        nf.track_energy(
            meters=[FakeMeter.constant(100.0)], clock=clock, log="/dev/full", log_flush_s=0.0
        ) as tracker,
    ):
        for _ in range(5):
            clock.advance(1.0)
            tracker.step()
    report = tracker.report
    assert report.energy_j == pytest.approx(500.0)
    assert report.steps == 5
    assert any("writing the run log /dev/full failed" in w for w in report.warnings)
    assert len([r for r in caplog.records if "run log" in r.getMessage()]) == 1


def test_writer_buffers_lines_until_flush_s_has_passed(tmp_path: Path) -> None:
    channel = nf.Channel("gpu:0", "gpu", "power")
    clock = FakeClock()
    counts = iter([(0, 0), (3, 0), (0, 0), (3, 0)])
    lazy, eager = (
        RunLogWriter(tmp_path / "a.jsonl", flush_s=3600, clock=clock, counts=counts.__next__),
        RunLogWriter(tmp_path / "b.jsonl", flush_s=0, clock=clock, counts=counts.__next__),
    )
    for writer in (lazy, eager):
        writer.header(channels=[channel], meter_names=["m"], settings={}, command=None)
        writer.on_reading(0, 1.25, [float("nan")])
        writer.on_round(1.25)  # unchanged counts are not written
        writer.on_round(1.25)
        clock.advance(60)  # less than flush_s=3600 of the writer's clock
    assert len(lines_of(tmp_path / "a.jsonl")) == 1  # only the header, written at once
    assert lines_of(tmp_path / "b.jsonl")[1:] == [
        '{"t":1.25,"m":0,"v":[null]}',
        '{"t":1.25,"steps":3,"tokens":0}',
    ]
    lazy.close()
    lazy.close()
    eager.close()
    assert len(lines_of(tmp_path / "a.jsonl")) == 3
    assert not lazy.errors


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"log": 3}, "log=3"),
        ({"log": ""}, "log=''"),
        ({"log_flush_s": -1.0}, "log_flush_s"),
        ({"log_command": "python train.py"}, "log_command"),
        ({"log_command": ["python", 3]}, "log_command"),
    ],
)
def test_log_settings_are_checked(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        nf.track_energy(meters=[FakeMeter.constant(1.0)], **kw)  # type: ignore[call-overload]


def test_a_log_that_cannot_be_opened_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "no").write_text("")  # a file where a folder should be
    tracker = nf.track_energy(
        meters=[FakeMeter.constant(1.0)], log=tmp_path / "no" / "such" / "dir.jsonl"
    )
    with pytest.raises(ConfigurationError, match="cannot write the run log"):
        tracker.start()
    assert not sampler_threads()


@pytest.mark.parametrize("index", ["-1", "7", "true", "0.5"])
def test_a_sample_for_a_meter_that_does_not_exist_is_a_corrupt_line(
    tmp_path: Path, index: str
) -> None:
    clock = FakeClock()
    path = tmp_path / "run.jsonl"
    with nf.track_energy(meters=[FakeMeter.constant(5.0)], clock=clock, log=path, log_flush_s=0):
        clock.advance(3)
    lines = path.read_text().splitlines()
    lines.insert(2, '{"t":1.5,"m":' + index + ',"v":[5.0]}')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReportFormatError, match=r"line 3 is corrupt .*meter index"):
        load_run(path)


def test_a_log_whose_times_go_backwards_is_an_error_that_names_it(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    tracked_run(path)
    lines = lines_of(path)
    assert lines[5].startswith('{"t":1.5,"m":0,')  # the ramp's third reading
    lines[5] = lines[5].replace('"t":1.5', '"t":0.25')
    with pytest.raises(RunLogError, match=r"run\.jsonl: cannot replay .*time went backwards"):
        report_from_log(write_lines(path, lines), from_samples=True)


def test_a_log_whose_step_count_goes_down_is_an_error_that_names_it(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    tracked_run(path)
    lines = lines_of(path)
    counts = [i for i, line in enumerate(lines) if '"steps":' in line and "summary" not in line]
    assert len(counts) >= 2
    last = json.loads(lines[counts[-1]])
    lines[counts[-1]] = json.dumps({**last, "steps": 0}, separators=(",", ":"))
    with pytest.raises(RunLogError, match=r"run\.jsonl: cannot replay .*only grow"):
        report_from_log(write_lines(path, lines), from_samples=True)
