"""Processes and signals: a tracker across ``fork()``, worker pools, Ctrl-C and kill.

Real processes, real threads, real torch. A forked child gets an inert copy of the tracker:
no sampler thread, no meter read, no line in the parent's run log, no wait on a lock the
parent's threads held at the fork. Workers of a fork- or spawn-started pool (a DataLoader's
too) see no tracker of their own until they start one. A tracked process that is
interrupted, terminated or killed -- directly or under ``nlpfootprint run`` -- leaves a run
log that reads; a clean stop, even one cut short by Ctrl-C, ends it with its summary.

Every wait on another process has a deadline and every child is ended in ``finally``;
readiness is a marker file or logged lines, never a fixed sleep.
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import importlib.util
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import psutil
import pytest

import nlpfootprint as nf
from helpers import wait_until
from nlpfootprint.meters.discovery import Detection
from nlpfootprint.runlog import load_run
from nlpfootprint.testing import FakeClock, FakeMeter

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="processes and signals of POSIX"),
    # Python 3.12+ warns when a process with threads forks: forking under a running sampler
    # thread is exactly what these scenarios do
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

#: The longest any other process may take to do what it was asked (a hang fails the test).
DEADLINE_S = 30.0


# -- helpers -------------------------------------------------------------------------------


def counting_meter(
    watts: float = 100.0, *, sleep_s: float = 0.0
) -> tuple[FakeMeter, collections.Counter[int]]:
    """A constant power meter and a count of its reads by process id (a read may sleep)."""
    reads: collections.Counter[int] = collections.Counter()

    def read() -> list[float]:
        reads[os.getpid()] += 1
        if sleep_s:
            time.sleep(sleep_s)
        return [watts]

    return FakeMeter(FakeMeter.constant(watts).channels, read, name="CountingMeter"), reads


def wait_child(pid: int, timeout_s: float = DEADLINE_S) -> int | None:
    """The exit code of the forked child ``pid``; None (and the child killed) when it has
    not ended within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def log_records(path: Path) -> list[dict[str, Any]]:
    """Every line of a run log (plain or gzip) as a dict; fails on a corrupt gzip stream or
    a line that is not JSON (what a second writer leaves in a file)."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            pytest.fail(f"{path.name} is not one intact gzip stream: {err}")
    records = []
    for number, line in enumerate(data.decode(errors="replace").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{path.name} line {number} is not JSON: {line[:100]!r}")
    return records


def assert_one_run(path: Path, *, pid: int, energy_j: float, steps: int) -> None:
    """``path`` holds one run of process ``pid``: one header first, one summary last, and
    it reports (from its summary and from its readings) ``energy_j`` and ``steps``."""
    records = log_records(path)
    headers = [i for i, r in enumerate(records) if "schema" in r]
    summaries = [i for i, r in enumerate(records) if "summary" in r]
    assert (headers, summaries) == ([0], [len(records) - 1]), "one header first, one summary last"
    assert records[0]["pid"] == pid
    for report in (nf.Report.from_log(path), nf.Report.from_log(path, from_samples=True)):
        assert report.energy_j == pytest.approx(energy_j, rel=1e-9)
        assert report.steps == steps


def sample_lines(path: Path) -> int:
    """Readings logged so far (0 before the file exists; a gzip log's cut tail is fine)."""
    if not path.exists():
        return 0
    if path.name.endswith(".gz"):
        out = zlib.decompressobj(wbits=31)
        try:
            data = out.decompress(path.read_bytes())
        except zlib.error:
            return 0
        return data.count(b'"m":')
    return path.read_bytes().count(b'"m":')


class _Keep(logging.Handler):
    """Keeps the messages of the records it gets (the child's log warnings)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _watch_child() -> tuple[list[warnings.WarningMessage], _Keep]:
    """In a forked child: record every warning (pytest's filter would raise them) and every
    log warning from then on, for the child's whole life."""
    caught = warnings.catch_warnings(record=True).__enter__()
    warnings.simplefilter("always")
    keep = _Keep()
    logging.getLogger("nlpfootprint").addHandler(keep)
    return caught, keep


def _exit_child(out: Path, seen: dict[str, Any]) -> None:
    """End a forked child at once, after writing what it saw (it never returns to pytest)."""
    code = 0
    try:
        out.write_text(json.dumps(seen, default=repr))
    except BaseException:
        code = 3
    finally:
        os._exit(code)


# -- fork ----------------------------------------------------------------------------------


@pytest.mark.scenario(
    "process.fork-inert-child",
    "A child forked inside a tracked block gets an inert tracker: current_tracker() is None, "
    "running is False, step() counts nothing and warns once, leaving the block raises "
    "nothing, reads no meter and writes no line; the parent's log holds its run alone.",
)
@pytest.mark.parametrize(
    ("clock_kind", "suffix"),
    [("real", "jsonl"), ("real", "jsonl.gz"), ("fake", "jsonl")],
    ids=["real-clock", "real-clock-gz", "fake-clock"],
)
def test_a_forked_child_gets_an_inert_tracker_and_leaves_the_parents_log_alone(
    tmp_path: Path, clock_kind: str, suffix: str
) -> None:
    path, out = tmp_path / f"run.{suffix}", tmp_path / "child.json"
    meter, reads = counting_meter(100.0)
    clock = FakeClock() if clock_kind == "fake" else None
    parent = os.getpid()
    pid, code, seen = -1, None, {}
    try:
        with nf.track_energy(
            meters=[meter], clock=clock, log=path, interval_s=0.01, log_flush_s=60.0,
            read_timeout_s=1.0,
        ) as t:  # fmt: skip
            if clock is not None:
                clock.advance(5.0)
            else:
                wait_until(lambda: reads[parent] >= 5, what="five readings")
            t.step(2)
            pid = os.fork()
            if pid == 0:
                caught, keep = _watch_child()
                seen = {"current_tracker": repr(nf.current_tracker()), "running": t.running}
                t.step(1000)
                t.step(1000, tokens=99)
                seen["log_warnings_at_step"] = len(keep.messages)
            else:
                code = wait_child(pid)
            # the rest of the block, run by both processes
            t.step(3)
            if clock is not None:
                clock.advance(30.0)
            elif pid != 0:
                wait_until(lambda: reads[parent] >= 15, what="ten more readings")
    except BaseException as err:
        if pid != 0:
            raise
        seen["leaving_raised"] = repr(err)
    finally:
        if pid == 0:
            seen["reads_in_child"] = reads[os.getpid()]
            seen["runtime_warnings"] = sum(issubclass(w.category, RuntimeWarning) for w in caught)
            _exit_child(out, seen)
    assert code is not None, "the forked child hung (killed after its deadline)"
    assert code == 0
    assert t.report.steps == 5
    assert_one_run(path, pid=parent, energy_j=t.report.energy_j, steps=5)
    assert json.loads(out.read_text()) == {
        "current_tracker": "None",
        "running": False,
        "runtime_warnings": 1,  # step() warns, once
        "log_warnings_at_step": 1,
        "reads_in_child": 0,
    }


FORKING_SCRIPT = """
import json, logging, os, sys, time, warnings
import nlpfootprint as nf
from nlpfootprint.testing import FakeMeter

log_path, out = sys.argv[1], sys.argv[2]
caught = warnings.catch_warnings(record=True).__enter__()
warnings.simplefilter("always")
log_warnings = []
class Keep(logging.Handler):
    def emit(self, record):
        log_warnings.append(record.getMessage())
logging.getLogger("nlpfootprint").addHandler(Keep(logging.WARNING))

reads = {}
def read():
    reads[os.getpid()] = reads.get(os.getpid(), 0) + 1
    return [100.0]

def wait_for(predicate):
    deadline = time.monotonic() + 30
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.005)

parent = os.getpid()
meter = FakeMeter(FakeMeter.constant(100.0).channels, read)
with nf.track_energy(meters=[meter], log=log_path, interval_s=0.01, log_flush_s=60.0,
                     read_timeout_s=1.0) as t:
    wait_for(lambda: reads.get(parent, 0) >= 5)
    t.step(2)
    pid = os.fork()
    if pid == 0:
        seen = {"current_tracker": repr(nf.current_tracker()), "running": t.running}
        t.step(1000)
    else:
        deadline, done = time.monotonic() + 30, 0
        while not done and time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            time.sleep(0.005)
        if not done:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        child_exit = os.waitstatus_to_exitcode(status) if done else "hung"
        wait_for(lambda: reads[parent] >= 15)
    t.step(3)
if pid == 0:
    seen["reads_in_child"] = reads.get(os.getpid(), 0)
    seen["runtime_warnings"] = sum(issubclass(w.category, RuntimeWarning) for w in caught)
    seen["log_warnings"] = len(log_warnings)
    with open(os.path.join(out, "child.json"), "w") as f:
        json.dump(seen, f)
    # and the child falls off the end: atexit, then the garbage collector closes its objects
else:
    with open(os.path.join(out, "parent.json"), "w") as f:
        json.dump({"pid": parent, "child_exit": child_exit, "report": t.report.to_dict()}, f)
"""


@pytest.mark.scenario(
    "process.fork-child-exits",
    "A child forked inside a tracked block that leaves it and exits the interpreter normally "
    "(atexit, garbage collection) writes nothing to the parent's run log, plain or gzip.",
)
@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.gz"])
def test_a_forked_child_exiting_normally_writes_nothing_to_the_parents_log(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"run.{suffix}"
    result = subprocess.run(
        [sys.executable, "-c", FORKING_SCRIPT, str(path), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parent = json.loads((tmp_path / "parent.json").read_text())
    assert parent["child_exit"] == 0, result.stderr
    report = parent["report"]
    assert report["steps"] == 5
    assert_one_run(path, pid=parent["pid"], energy_j=report["energy_j"], steps=5)
    assert json.loads((tmp_path / "child.json").read_text()) == {
        "current_tracker": "None",
        "running": False,
        "reads_in_child": 0,
        "runtime_warnings": 1,
        "log_warnings": 1,
    }


@pytest.mark.scenario(
    "process.fork-busy-sampler",
    "Fifty children forked while the sampler thread is mid-read and mid-write each see no "
    "tracker, step and leave the block; none hangs on a lock the parent's threads held.",
)
def test_children_forked_under_a_busy_sampler_never_deadlock(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    meter, reads = counting_meter(100.0, sleep_s=0.002)
    parent = os.getpid()
    codes: list[int | None] = []
    pid, current_ok, left_ok = -1, False, False
    try:
        with nf.track_energy(
            meters=[meter], log=path, interval_s=0.001, log_flush_s=0.0, read_timeout_s=1.0
        ) as t:
            wait_until(lambda: reads[parent] >= 5, what="five readings")
            for _ in range(50):
                pid = os.fork()
                if pid == 0:
                    _watch_child()
                    current_ok = nf.current_tracker() is None
                    t.step()
                    break  # and out of the block
                t.step()
                codes.append(wait_child(pid, timeout_s=15.0))
                if codes[-1] != 0:
                    break
        left_ok = True
    finally:
        if pid == 0:
            os._exit((0 if current_ok else 1) | (0 if left_ok else 2))
    # 1: current_tracker() was not None; 2: leaving the block raised; None: hung
    assert codes == [0] * 50
    assert_one_run(path, pid=parent, energy_j=t.report.energy_j, steps=50)


POOL_JOBS = '''
"""Jobs for a worker pool (written by tests/reliability/test_processes.py)."""
import os

import nlpfootprint as nf
from nlpfootprint.testing import FakeMeter


def inherited(_):
    """What a worker sees before it starts a tracker of its own."""
    return repr(nf.current_tracker())


@nf.track_energy(meters=[FakeMeter.constant(50.0, domain="cpu")], interval_s=0.01)
def _job(n):
    nf.current_tracker().step(n)
    return os.getpid()


def tracked(n):
    """A tracked function run in the worker: its pid and report."""
    pid = _job(n)
    return pid, _job.last_report.to_dict()
'''


@pytest.mark.scenario(
    "process.pool-workers",
    "Workers of a fork- or spawn-started multiprocessing pool made inside a tracked block see "
    "no tracker, and their own @track_energy functions measure and return their own reports.",
)
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_see_no_tracker_and_run_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    name = f"nlpf_pool_jobs_{method}"
    source = tmp_path / f"{name}.py"
    source.write_text(POOL_JOBS)
    monkeypatch.syspath_prepend(str(tmp_path))  # where spawned workers import it from
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None
    assert spec.loader is not None
    jobs = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, jobs)  # gone again after the test
    spec.loader.exec_module(jobs)
    path = tmp_path / "run.jsonl"
    meter, _ = counting_meter(100.0)
    with nf.track_energy(meters=[meter], log=path, interval_s=0.01) as t:
        with multiprocessing.get_context(method).Pool(2) as pool:
            seen = pool.map_async(jobs.inherited, range(4)).get(timeout=DEADLINE_S * 2)
            results = pool.map_async(jobs.tracked, [1, 2, 3, 4]).get(timeout=DEADLINE_S * 2)
        t.step()
    assert seen == ["None"] * 4
    for n, (pid, report) in zip([1, 2, 3, 4], results, strict=True):
        assert pid != os.getpid()
        assert report["steps"] == n
        assert report["duration_s"] > 0
        assert report["energy_j"] == pytest.approx(50.0 * report["duration_s"], rel=1e-9)
    assert_one_run(path, pid=os.getpid(), energy_j=t.report.energy_j, steps=1)


class TokenData:
    """A map-style dataset whose items say whether their worker saw a running tracker."""

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int) -> tuple[Any, Any, bool]:
        import torch

        x = torch.full((4,), float(i) / 64)
        return x, x.sum().reshape(1), nf.current_tracker() is None


@pytest.mark.slow
@pytest.mark.scenario(
    "process.dataloader-workers",
    "A torch DataLoader with two forked workers iterated inside a tracked block: workers see "
    "no tracker, every batch's step is counted, the log is one intact run, nothing hangs.",
)
def test_a_dataloader_with_forked_workers_inside_a_tracked_block(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    path = tmp_path / "run.jsonl"
    meter, _ = counting_meter(100.0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loader: Any = DataLoader(
        cast(Any, TokenData()), batch_size=8, num_workers=2, multiprocessing_context="fork",
        timeout=DEADLINE_S,
    )  # fmt: skip
    fresh: list[bool] = []
    batches = 0
    with nf.track_energy(meters=[meter], log=path, interval_s=0.01, log_flush_s=0.05) as t:
        for x, y, no_tracker in loader:
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            fresh += no_tracker.tolist()
            t.step(tokens=int(x.numel()))
            batches += 1
    assert batches == 8
    assert fresh == [True] * 64, "a DataLoader worker saw the parent's tracker as running"
    assert (t.report.steps, t.report.tokens) == (8, 256)
    assert_one_run(path, pid=os.getpid(), energy_j=t.report.energy_j, steps=8)


# -- signals -------------------------------------------------------------------------------


@contextlib.contextmanager
def started(args: list[str], out: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``args`` in its own session, output to ``out``; kill it and whatever it
    started when the block ends (a killed parent's orphan holds no pipe and outlives nothing)."""
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            args, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    family: list[psutil.Process] = []
    try:
        yield proc
    finally:
        with contextlib.suppress(psutil.Error):
            family = psutil.Process(proc.pid).children(recursive=True)
        # a command orphaned by a killed wrapper (it runs in a session of its own): found by
        # this test's own directory on its command line
        here = str(out.parent)
        for other in psutil.process_iter(["cmdline"]):
            if other.pid != proc.pid and any(here in arg for arg in other.info["cmdline"] or ()):
                family.append(other)
        for member in family:
            with contextlib.suppress(psutil.Error):
                member.kill()
        proc.kill()
        proc.wait(timeout=DEADLINE_S)


def alive(process: psutil.Process) -> bool:
    """True while ``process`` runs (a zombie has ended)."""
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def readiness(proc: subprocess.Popen[bytes], out: Path, ready: Callable[[], bool]) -> bool:
    """``ready()``, failing the test at once if ``proc`` has already ended."""
    if proc.poll() is not None:
        pytest.fail(f"the process ended early ({proc.returncode}): {out.read_text()[-2000:]}")
    return ready()


TRACKED_LOOP = """
import signal, sys, time
import nlpfootprint as nf
from nlpfootprint.testing import FakeMeter

# Ctrl-C as in a terminal (a CI job may start us with SIGINT ignored)
signal.signal(signal.SIGINT, signal.default_int_handler)
if sys.argv[2] == "exit-handler":  # what a training script does to save and go on SIGTERM
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
with nf.track_energy(meters=[FakeMeter.constant(200.0)], log=sys.argv[1], interval_s=0.02,
                     log_flush_s=0.05) as t:
    while True:
        time.sleep(0.005)
        t.step()
"""


@pytest.mark.scenario(
    "signal.tracked-process",
    "A tracked Python process stopped by Ctrl-C (SIGINT) or by its own SIGTERM handler ends "
    "its log with a summary; killed by SIGTERM or SIGKILL, its log reads up to its last flush.",
)
@pytest.mark.parametrize(
    ("sig", "handler", "returncode", "complete"),
    [
        (signal.SIGINT, "default", -signal.SIGINT, True),
        (signal.SIGTERM, "exit-handler", 143, True),
        (signal.SIGTERM, "default", -signal.SIGTERM, False),
        (signal.SIGKILL, "default", -signal.SIGKILL, False),
    ],
    ids=["sigint", "sigterm-handled", "sigterm-default", "sigkill"],
)
def test_a_signalled_tracked_process_leaves_a_log_that_reads(
    tmp_path: Path, sig: int, handler: str, returncode: int, complete: bool
) -> None:
    path, out = tmp_path / "run.jsonl", tmp_path / "out.txt"
    with started([sys.executable, "-c", TRACKED_LOOP, str(path), handler], out) as proc:
        wait_until(
            lambda: readiness(proc, out, lambda: sample_lines(path) >= 10),
            timeout_s=DEADLINE_S,
            what="ten logged readings",
        )
        proc.send_signal(sig)
        proc.wait(timeout=DEADLINE_S)
    assert proc.returncode == returncode, out.read_text()
    run = load_run(path)
    assert run.complete is complete
    report = nf.Report.from_log(path)
    assert report.duration_s > 0
    assert report.energy_j == pytest.approx(200.0 * report.duration_s, rel=1e-9)
    if complete:
        assert report.steps > 0
        ended = (
            "raised KeyboardInterrupt"
            if sig == signal.SIGINT
            else f"exited with status {returncode} (SystemExit)"
        )
        assert any(ended in w for w in report.warnings), report.warnings
        assert report.outcome is not None
        assert not report.outcome.ok
        assert ended in report.outcome.detail
        assert_one_run(path, pid=proc.pid, energy_j=report.energy_j, steps=report.steps)
    else:
        assert "did not finish cleanly" in report.warnings[0]


def run_command(log: Path, child: str, *child_args: str) -> list[str]:
    """``nlpfootprint run`` of ``python -c child child_args...``, sampling fast."""
    return [
        sys.executable, "-m", "nlpfootprint", "run", "--log", str(log), "--interval-s", "0.05",
        "--log-flush-s", "0.05", "--", sys.executable, "-c", child, *child_args,
    ]  # fmt: skip


CHILD_LOOP = """
import pathlib, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
if sys.argv[2] == "exit-3":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
pathlib.Path(sys.argv[1]).write_text("ready")
while True:
    time.sleep(0.01)
"""


@pytest.mark.scenario(
    "signal.run-forwards",
    "SIGTERM or SIGINT sent to `nlpfootprint run` reaches the command, the log is completed "
    "with a summary, and the exit status is the command's (128 + N when signal N ended it).",
)
@pytest.mark.parametrize(
    ("sig", "mode", "status"),
    [
        (signal.SIGTERM, "default", 128 + signal.SIGTERM),
        (signal.SIGINT, "default", 128 + signal.SIGINT),
        (signal.SIGTERM, "exit-3", 3),
    ],
    ids=["sigterm", "sigint", "sigterm-handled"],
)
def test_signals_to_nlpfootprint_run_reach_the_command_and_the_log_is_completed(
    tmp_path: Path, sig: int, mode: str, status: int
) -> None:
    log, marker, out = tmp_path / "run.jsonl", tmp_path / "ready", tmp_path / "out.txt"
    with started(run_command(log, CHILD_LOOP, str(marker), mode), out) as proc:
        wait_until(
            lambda: readiness(proc, out, lambda: marker.exists() and sample_lines(log) >= 3),
            timeout_s=DEADLINE_S,
            what="the command to start and three logged readings",
        )
        command = psutil.Process(proc.pid).children()
        proc.send_signal(sig)
        proc.wait(timeout=DEADLINE_S)
        assert not [c for c in command if alive(c)], "the command outlived nlpfootprint run"
    assert proc.returncode == status, out.read_text()
    run = load_run(log)
    assert run.complete
    assert run.header["pid"] == proc.pid


@pytest.mark.scenario(
    "signal.run-killed",
    "`nlpfootprint run` killed by SIGKILL leaves a run log, plain or gzip, that reads and "
    "reports the energy up to its last flush, saying the run did not finish.",
)
@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.gz"])
def test_nlpfootprint_run_killed_leaves_a_log_that_reads(tmp_path: Path, suffix: str) -> None:
    log, marker, out = tmp_path / f"run.{suffix}", tmp_path / "ready", tmp_path / "out.txt"
    with started(run_command(log, CHILD_LOOP, str(marker), "default"), out) as proc:
        wait_until(
            lambda: readiness(proc, out, lambda: marker.exists() and sample_lines(log) >= 10),
            timeout_s=DEADLINE_S,
            what="ten logged readings",
        )
        proc.kill()
        proc.wait(timeout=DEADLINE_S)
    assert proc.returncode == -signal.SIGKILL
    run = load_run(log)
    assert not run.complete
    assert sum(len(meter.times_s) for meter in run.samples) >= 10
    report = nf.Report.from_log(log)
    assert report.energy_j > 0
    assert report.duration_s > 0
    assert "did not finish cleanly" in report.warnings[0]


# -- Ctrl-C (and exit()) during stop -------------------------------------------------------


class Interrupting:
    """A constant 100 W meter whose ``where`` call (``"sync"``, ``"read"`` or ``"close"``)
    goes wrong once, when armed.

    ``"ctrl-c"``: a real SIGINT for the user's thread while stop() waits on that call -- raised
    there at once when the call runs on it; else sent to it, the call then taking a moment
    (up to :attr:`release`), as a CUDA sync does. ``"exit"``: the call raises SystemExit.
    """

    def __init__(self, where: str, fault: str) -> None:
        self.channels = FakeMeter.constant(100.0).channels
        self.where, self.fault = where, fault
        self.armed = False
        self.release = threading.Event()
        self.reads = 0

    def _maybe_fail(self, where: str) -> None:
        if not self.armed or where != self.where:
            return
        self.armed = False
        if self.fault == "exit":
            raise SystemExit(f"exit() from {where}()")
        if threading.current_thread() is threading.main_thread():
            signal.raise_signal(signal.SIGINT)  # the handler raises KeyboardInterrupt here
        else:
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            self.release.wait(0.5)

    def read(self) -> list[float]:
        self._maybe_fail("read")
        self.reads += 1
        return [100.0]

    def sync(self) -> None:
        self._maybe_fail("sync")

    def close(self) -> None:
        self._maybe_fail("close")


def run_block_until_stop(
    meter: Interrupting, clock_kind: str, path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[nf.EnergyTracker, BaseException | None]:
    """Run a tracked block with ``meter`` as the one auto-detected meter (so the tracker
    closes it), arming it as the block ends; return the tracker and what leaving raised.

    With the real clock, ``interval_s`` is an hour: the meter is read at start and at stop
    only, so the armed read is the last one, taken by stop()."""
    monkeypatch.setattr(
        "nlpfootprint.meters.discovery.detect",
        lambda backends=None: Detection(meters=(meter,), used=("interrupting",), skipped={}),
    )
    clock = FakeClock() if clock_kind == "fake" else None
    tracker = nf.track_energy(
        meters="auto", clock=clock, log=path, interval_s=0.01 if clock else 3600.0,
        log_flush_s=60.0,
    )  # fmt: skip
    raised: BaseException | None = None
    # Ctrl-C raises KeyboardInterrupt, as in a terminal (a CI job may run us with it ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with tracker as t:
            if clock is not None:
                clock.advance(100.0)
            t.step(5)
            meter.armed = True
    except (KeyboardInterrupt, SystemExit) as err:
        raised = err
        assert not tracker.running, "stop() was cut short: the tracker still runs"
        assert tracker.result is not None, "stop() was cut short: no report"
    finally:
        signal.signal(signal.SIGINT, previous)
        meter.release.set()
        if tracker.running:  # the stop the test checks failed: end the sampler anyway
            meter.armed = False
            with contextlib.suppress(BaseException):
                tracker.stop()
    return tracker, raised


def assert_stopped_cleanly(t: nf.EnergyTracker, path: Path, clock_kind: str) -> nf.Report:
    """``t`` stopped: its report is ready, its log ends with that report's summary."""
    assert not t.running
    assert t.result is not None, "no report after stop() was cut short"
    report = t.report
    assert report.steps == 5, "steps counted in the block are lost"
    assert load_run(path).complete
    assert_one_run(path, pid=os.getpid(), energy_j=report.energy_j, steps=5)
    if clock_kind == "fake":
        assert report.energy_j == pytest.approx(100.0 * 100.0, rel=1e-9)
    return report


@pytest.mark.scenario(
    "signal.ctrl-c-during-stop",
    "Ctrl-C landing while stop() syncs, takes the last reading or closes the meters still "
    "reaches the user, but only once the log is closed with its summary and the report, "
    "which says stop was interrupted, is ready.",
)
@pytest.mark.parametrize("where", ["sync", "read", "close"])
@pytest.mark.parametrize("clock_kind", ["real", "fake"])
def test_ctrl_c_during_stop_still_finishes_the_log_and_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, clock_kind: str
) -> None:
    path = tmp_path / "run.jsonl"
    meter = Interrupting(where, "ctrl-c")
    t, raised = run_block_until_stop(meter, clock_kind, path, monkeypatch)
    assert isinstance(raised, KeyboardInterrupt), "Ctrl-C must reach the user"
    report = assert_stopped_cleanly(t, path, clock_kind)
    assert any("interrupted" in w for w in report.warnings), report.warnings


@pytest.mark.scenario(
    "stop.meter-calls-exit",
    "A meter whose sync(), last read() or close() calls exit() during stop() ends nothing: "
    "the failure is a warning in the report, the log ends with its summary.",
)
@pytest.mark.parametrize("where", ["sync", "read", "close"])
@pytest.mark.parametrize("clock_kind", ["real", "fake"])
def test_a_meter_calling_exit_during_stop_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, clock_kind: str
) -> None:
    path = tmp_path / "run.jsonl"
    meter = Interrupting(where, "exit")
    t, raised = run_block_until_stop(meter, clock_kind, path, monkeypatch)
    assert raised is None
    report = assert_stopped_cleanly(t, path, clock_kind)
    assert any("SystemExit" in w for w in report.warnings), report.warnings
