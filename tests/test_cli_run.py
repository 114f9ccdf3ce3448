"""`nlpfootprint run` and `nlpfootprint report` as real processes, with real signals."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

import nlpfootprint as nf
from helpers import wait_until
from nlpfootprint.report import Outcome
from nlpfootprint.runlog import load_run


def cli(
    *args: str, timeout: float = 120.0, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nlpfootprint", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


def start_run(log: Path, child_code: str, *extra: str) -> subprocess.Popen[bytes]:
    """Start `nlpfootprint run` with output to files (a killed parent's orphaned child
    would hold pipes open)."""
    with log.with_suffix(".out").open("wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [
                sys.executable, "-m", "nlpfootprint", "run", "--log", str(log),
                "--interval-s", "0.05", "--log-flush-s", "0.05", *extra,
                "--", sys.executable, "-c", child_code,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip


def sample_lines(log: Path) -> int:
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if line.startswith('{"t"'))


def test_exit_status_and_output_pass_through_and_the_log_is_complete(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    result = cli(
        "run", "--log", str(log), "--interval-s", "0.05", "--",
        sys.executable, "-c", "print('hello from the child'); raise SystemExit(7)",
    )  # fmt: skip
    assert result.returncode == 7
    assert result.stdout.strip() == "hello from the child"  # the report goes to stderr
    assert "nlpfootprint report" in result.stderr
    run = load_run(log)
    assert run.complete
    assert run.header["command"][-1] == "print('hello from the child'); raise SystemExit(7)"


def test_sigterm_reaches_the_child_and_the_log_is_completed(tmp_path: Path) -> None:
    log, marker = tmp_path / "run.jsonl", tmp_path / "child-saw-sigterm"
    child = (
        "import signal, sys, time\n"
        f"def bye(*_): open({str(marker)!r}, 'w').write('yes'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "while True: time.sleep(0.01)\n"
    )
    proc = start_run(log, child)
    wait_until(lambda: sample_lines(log) >= 3, timeout_s=60, what="the run to start logging")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert marker.read_text() == "yes"
    assert proc.returncode == 0, log.with_suffix(".out").read_text()
    assert load_run(log).complete


def test_child_killed_by_a_signal_gives_128_plus_its_number(tmp_path: Path) -> None:
    result = cli(
        "run", "--log", str(tmp_path / "r.jsonl"), "--",
        sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    )  # fmt: skip
    assert result.returncode == 128 + signal.SIGKILL


def test_sigkill_mid_run_leaves_a_log_that_report_reads(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    proc = start_run(log, "import time\nwhile True: time.sleep(0.01)\n")
    wait_until(lambda: sample_lines(log) >= 10, timeout_s=60, what="ten logged samples")
    orphans = psutil.Process(proc.pid).children(recursive=True)
    proc.kill()  # SIGKILL: no summary, no last flush
    proc.wait(timeout=60)
    for child in orphans:  # the training command would run on; end it
        child.kill()
    run = load_run(log)
    assert not run.complete
    result = cli("report", str(log), "--format", "json", "--carbon-intensity", "FRA")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["energy_j"] > 0
    assert data["assumptions"]["intensity"]["key"] == "FRA"
    assert "did not finish" in data["warnings"][0]


def test_report_formats_agree_and_several_logs_are_summed(tmp_path: Path) -> None:
    from nlpfootprint.testing import FakeClock, FakeMeter

    logs = []
    for i, watts in enumerate((100.0, 300.0)):
        clock = FakeClock()
        log = tmp_path / f"run{i}.jsonl"
        with nf.track_energy(meters=[FakeMeter.constant(watts)], clock=clock, log=log):
            clock.advance(3600)
        logs.append(str(log))
    one = {
        fmt: cli("report", logs[0], "--format", fmt, "--pue", "1.2").stdout
        for fmt in ("text", "markdown", "latex", "json", "csv")
    }
    assert "120.0 Wh" in one["text"]  # 0.12 kWh, to 4 significant figures
    assert "120.0 Wh" in one["markdown"]
    assert "0.12" in one["latex"]
    assert json.loads(one["json"])["facility_energy_kwh"] == pytest.approx(0.12)
    assert one["csv"].splitlines()[0].startswith("name,")
    both = cli("report", *logs, "--format", "json")
    total = json.loads(both.stdout)["total"]
    assert total["runs"] == 2
    assert total["energy_kwh"] == pytest.approx(0.4)
    projected = cli("report", logs[0], "--project-hours", "10", "--format", "json")
    assert json.loads(projected.stdout)["energy_kwh"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\x00\x01garbage", "not"), (b"", "empty"), (b'{"hello": 1}\n', "schema")],
)
def test_report_of_a_file_that_is_not_a_log_is_one_clear_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    result = cli("report", str(bad))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_without_a_command_or_with_a_missing_one_fails_clearly(tmp_path: Path) -> None:
    result = cli("run", "--log", str(tmp_path / "r.jsonl"))
    assert result.returncode == 2
    assert "no command given" in result.stderr
    missing = cli("run", "--log", str(tmp_path / "r.jsonl"), "--", "no-such-program-xyz")
    assert missing.returncode == 127  # as a shell says it
    assert "no-such-program-xyz: command not found" in missing.stderr
    assert not (tmp_path / "r.jsonl").exists()  # nothing ran, so nothing is logged


def test_report_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from nlpfootprint.testing import FakeClock, FakeMeter

    clock = FakeClock()
    log = tmp_path / "run.jsonl"
    with nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock, log=log):
        clock.advance(600)
    png = tmp_path / "power.png"
    result = cli("report", str(log), "--plot", str(png))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_status_line_shows_on_a_terminal_and_not_in_logs(tmp_path: Path) -> None:
    import pty

    child = "import time; time.sleep(2.5)"
    args = [
        sys.executable, "-m", "nlpfootprint", "run", "--log", str(tmp_path / "t.jsonl"),
        "--interval-s", "0.2", "--", sys.executable, "-c", child,
    ]  # fmt: skip
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the terminal closed: the process ended
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=60)
    finally:
        os.close(master)
    on_terminal = b"".join(chunks).decode(errors="replace")
    assert "\r[nlpfootprint]" in on_terminal
    assert "kWh" in on_terminal
    piped = cli("run", "--log", str(tmp_path / "p.jsonl"), "--", sys.executable, "-c", child)
    assert "[nlpfootprint]" not in piped.stderr  # no status spam without a terminal


def test_report_totals_runs_only_when_they_are_accounted_alike(tmp_path: Path) -> None:
    from nlpfootprint.testing import FakeClock, FakeMeter

    logs = []
    for i, pue in enumerate((1.1, 1.5)):
        clock = FakeClock()
        log = tmp_path / f"run{i}.jsonl"
        with nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=clock, log=log, pue=pue):
            clock.advance(3600)
        logs.append(str(log))
    apart = cli("report", *logs)
    assert apart.returncode == 0
    assert "no total: the runs were recorded under different assumptions" in apart.stdout
    alike = cli("report", *logs, "--pue", "1.2", "--format", "markdown")
    assert "no total" not in alike.stdout
    assert "total over 2 runs" in alike.stdout
    assert "240.0 Wh" in alike.stdout  # 2 x 0.1 kWh x PUE 1.2, in the same table as a run
    lines = cli("report", *logs, "--pue", "1.2", "--format", "csv").stdout.splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["", "", "total over 2 runs"]


def test_under_srun_each_node_run_measures_its_whole_node_and_writes_its_log(
    tmp_path: Path,
) -> None:
    """`nlpfootprint run` is no rank, even where SLURM says "task 2 of 4" (one run per
    node under srun): it measures the whole machine and writes its own log."""
    log = tmp_path / "node.jsonl"
    env = {**os.environ, "SLURM_PROCID": "2", "SLURM_NTASKS": "4", "SLURM_LOCALID": "0",
           "SLURM_NODEID": "2", "SLURM_STEP_NUM_TASKS": "4"}  # fmt: skip
    alone = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "run", "--log", str(tmp_path / "alone.jsonl"),
         "--", sys.executable, "-c", "pass"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    under_srun = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "run", "--log", str(log),
         "--", sys.executable, "-c", "pass"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert under_srun.returncode == 0, under_srun.stderr
    report = nf.Report.from_log(log)
    assert report.job is None
    expected = [c.id for c in nf.Report.from_log(tmp_path / "alone.jsonl").channels]
    assert [c.id for c in report.channels] == expected
    assert alone.returncode == 0


@pytest.mark.parametrize(
    ("code", "status", "says"),
    [
        ("raise SystemExit(3)", 3, "the command exited with status 3"),
        (
            "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
            128 + 9,
            "ended by SIGKILL (signal 9)",
        ),
    ],
)
def test_a_failed_command_is_said_so_in_the_report_and_the_log(
    tmp_path: Path, code: str, status: int, says: str
) -> None:
    log = tmp_path / "run.jsonl"
    result = cli("run", "--log", str(log), "--", sys.executable, "-c", code)
    assert result.returncode == status
    assert says in result.stderr  # the report printed at the end
    logged = nf.Report.from_log(log)  # the log's summary
    assert any(says in w for w in logged.warnings), logged.warnings
    # in fields, not only in words: the heading says FAILED, the JSON and CSV have the status
    assert logged.outcome is not None
    assert not logged.outcome.ok
    signal_number = status - 128 if status > 128 else None
    assert logged.outcome.signal == signal_number
    assert logged.outcome.exit_status == (None if signal_number else status)
    heading = result.stderr.split("nlpfootprint report", 1)[1].splitlines()[0]
    assert "FAILED" in heading
    assert says in heading
    as_json = json.loads(cli("report", str(log), "--format", "json").stdout)
    assert as_json["outcome"]["ok"] is False
    assert as_json["outcome"]["signal"] == signal_number
    rows = list(csv.DictReader(io.StringIO(cli("report", str(log), "--format", "csv").stdout)))
    assert rows[0]["ended_ok"] == "False"
    assert rows[0]["exit_status"] == ("" if signal_number else str(status))


def test_a_command_that_succeeds_has_no_such_warning(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    result = cli("run", "--log", str(log), "--", sys.executable, "-c", "pass")
    assert result.returncode == 0
    logged = nf.Report.from_log(log)
    assert not any("the command" in w for w in logged.warnings)
    assert logged.outcome == Outcome(True, "the command exited with status 0", exit_status=0)
    assert "FAILED" not in result.stderr
    assert "the command exited with status 0" in result.stderr  # the 'ended' row


def test_run_makes_the_logs_folder(tmp_path: Path) -> None:
    log = tmp_path / "runs" / "gpt2" / "run.jsonl"
    result = cli("run", "--log", str(log), "--", sys.executable, "-c", "pass")
    assert result.returncode == 0, result.stderr
    assert log.is_file()
    assert nf.Report.from_log(log).channels  # a complete log, with its channels


def test_run_keeps_the_commands_status_when_stderr_is_gone(tmp_path: Path) -> None:
    """The report goes to stderr; a reader of it that has gone must not turn the command's
    status into a broken pipe's (a scheduler reads the status)."""
    read, write = os.pipe()
    os.close(read)  # no one reads stderr
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nlpfootprint", "run", "--log", str(tmp_path / "r.jsonl"),
             "--", sys.executable, "-c", "raise SystemExit(5)"],
            stdout=subprocess.DEVNULL, stderr=write, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    assert done.returncode == 5
