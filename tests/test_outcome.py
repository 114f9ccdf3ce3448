"""How a run ended is a field of its report (``Report.outcome``), not only a warning: a
crashed block or command is headed FAILED in every rendering and kept in the run log."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import signal
import subprocess
from pathlib import Path

import pytest

import nlpfootprint as nf
from nlpfootprint.report import Outcome
from nlpfootprint.testing import FakeClock, FakeMeter


def _run(body: BaseException | None = None, *, log: Path | None = None) -> nf.EnergyTracker:
    clock = FakeClock()
    tracker = nf.track_energy(
        meters=[FakeMeter.constant(50.0)], clock=clock, distributed=None, log=log
    )
    with pytest.raises(type(body)) if body is not None else contextlib.nullcontext(), tracker:
        clock.advance(2.0)
        if body is not None:
            raise body
    return tracker


def test_a_clean_block_completed() -> None:
    report = _run().report
    assert report.outcome == Outcome.completed()
    assert "FAILED" not in str(report)
    assert "ended" not in str(report)  # no row for a plain clean block


def test_a_block_that_raised_is_failed_in_every_rendering(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    report = _run(ValueError("loss is nan"), log=log).report
    assert report.outcome == Outcome(False, "raised ValueError: loss is nan")
    heading = "FAILED: raised ValueError: loss is nan"
    assert heading in str(report).splitlines()[0]
    assert heading in report.to_markdown()
    assert heading in report._repr_html_()
    assert "FAILED" in report.to_latex()
    assert "the tracked block raised ValueError: loss is nan" in " ".join(report.warnings)
    data = json.loads(report.to_json())
    assert data["outcome"] == {
        "ok": False,
        "detail": "raised ValueError: loss is nan",
        "exit_status": None,
        "signal": None,
    }
    assert nf.Report.from_json(report.to_json()) == report
    row = next(csv.DictReader(io.StringIO(f"{report.csv_header()}\n{report.to_csv_row()}")))
    assert row["ended_ok"] == "False"
    assert nf.Report.from_log(log).outcome == report.outcome  # the log's summary keeps it


def test_sys_exit_zero_is_a_clean_end_and_a_status_is_kept() -> None:
    assert _run(SystemExit(0)).report.outcome == Outcome(
        True, "completed (SystemExit: status 0)", exit_status=0
    )
    failed = _run(SystemExit(2)).report.outcome
    assert failed == Outcome(False, "exited with status 2 (SystemExit)", exit_status=2)


def test_a_called_process_error_gives_its_commands_status_and_signal() -> None:
    outcome = _run(subprocess.CalledProcessError(-signal.SIGTERM, ["x"])).report.outcome
    assert outcome is not None
    assert outcome.signal == signal.SIGTERM
    assert outcome.exit_status is None
    assert (
        outcome.detail == "raised CalledProcessError: the command was ended by SIGTERM (signal 15)"
    )


@pytest.mark.parametrize(
    ("returncode", "ok", "detail"),
    [
        (0, True, "the command exited with status 0"),
        (3, False, "the command exited with status 3"),
        (-9, False, "the command was ended by SIGKILL (signal 9)"),
        (-200, False, "the command was ended by an unknown signal (signal 200)"),
    ],
)
def test_record_exit_reads_a_return_code(returncode: int, ok: bool, detail: str) -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(5.0)], clock=clock) as tracker:
        clock.advance(1.0)
        tracker.record_exit(returncode)
    outcome = tracker.report.outcome
    assert outcome is not None
    assert (outcome.ok, outcome.detail) == (ok, detail)
    assert ("FAILED" in str(tracker.report)) is not ok
    assert detail in str(tracker.report)  # the 'ended' row names the status, 0 included


def test_a_commands_failure_is_kept_when_the_block_then_raises() -> None:
    clock = FakeClock()
    tracker = nf.track_energy(meters=[FakeMeter.constant(5.0)], clock=clock)

    def block() -> None:
        with tracker:
            tracker.record_exit(4)
            raise RuntimeError("cleanup failed")

    with pytest.raises(RuntimeError):
        block()
    assert tracker.report.outcome is not None
    assert tracker.report.outcome.exit_status == 4


def test_record_exit_refuses_what_is_not_a_return_code() -> None:
    with nf.track_energy(meters=[FakeMeter.constant(5.0)], clock=FakeClock()) as tracker:
        with pytest.raises(nf.ConfigurationTypeError, match=r"record_exit\(returncode='1'\)"):
            tracker.record_exit("1")  # type: ignore[arg-type]
        with pytest.raises(nf.ConfigurationTypeError, match="expected an integer"):
            tracker.record_exit(True)
    assert tracker.report.outcome == Outcome.completed()


def test_stop_without_a_block_leaves_the_outcome_unknown() -> None:
    tracker = nf.track_energy(meters=[FakeMeter.constant(5.0)], clock=FakeClock()).start()
    report = tracker.stop()
    assert report.outcome is None
    assert "FAILED" not in str(report)


def test_an_old_report_dict_without_an_outcome_still_reads() -> None:
    data = json.loads(_run().report.to_json())
    del data["outcome"]
    assert nf.Report.from_dict(data).outcome is None


def test_a_malformed_outcome_is_refused() -> None:
    data = json.loads(_run().report.to_json())
    data["outcome"] = {"ok": "yes", "detail": "x"}
    with pytest.raises(nf.ReportFormatError, match="ok"):
        nf.Report.from_dict(data)


def test_record_exit_outside_a_running_tracker_is_refused() -> None:
    tracker = nf.track_energy(meters=[FakeMeter.constant(5.0)], clock=FakeClock())
    with pytest.raises(nf.TrackerStateError, match="while the tracker runs"):
        tracker.record_exit(0)  # not started
    with tracker:
        pass
    with pytest.raises(nf.TrackerStateError, match="before it stops"):
        tracker.record_exit(3)  # the report is final
    assert tracker.report.outcome == Outcome.completed()
