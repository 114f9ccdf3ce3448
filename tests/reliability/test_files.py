"""Hostile files and logs: crafted lines, bombs, special files, unreadable and unwritable
places, terminal escape sequences -- each read, written or printed without a hang, a raw
traceback or a number the run did not measure."""

from __future__ import annotations

import gzip
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

import nlpfootprint as nf
from nlpfootprint import cli
from nlpfootprint.errors import ConfigurationError, ReportFormatError
from nlpfootprint.render import render_csv_row, render_html, render_latex, render_markdown
from nlpfootprint.render.common import printable
from nlpfootprint.report_dict import MAX_JSON_DEPTH, MAX_WINDOW_DEPTH, json_too_deep
from nlpfootprint.runlog import RunLogError, load_run
from nlpfootprint.runlog.reader import HEADER_MAX_BYTES, LINE_MAX_BYTES
from nlpfootprint.testing import FakeClock, FakeMeter, sampler_threads

MIB = 1 << 20
#: The characters a terminal acts on: C0 but the newline, DEL, C1, the bidi controls.
_CONTROL = {*map(chr, range(0x20)), "\x7f", *map(chr, range(0x80, 0xA0))} - {"\n"}
_CONTROL |= set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Text as hostile as a log can make it: clear the screen, retitle the window, move the
#: cursor, a C1 CSI, a bell, a right-to-left override.
EVIL = "evil\x1b[2J\x1b]0;pwned\x07\x9b31m\r\x08\u202eht"


def _run(path: Path, *, steps: int = 4, **kw: object) -> Path:
    """A run with a power meter and a two-channel counter, logged line by line."""
    clock = FakeClock()
    meters = [
        FakeMeter.constant(100.0, domain="gpu"),
        FakeMeter.counter([40.0, 5.0], clock=clock, domain=["cpu", "dram"]),
    ]
    with nf.track_energy(
        meters=meters, clock=clock, log=path, log_flush_s=0, name="train", **kw
    ) as tracker:  # type: ignore[call-overload]
        for _ in range(steps):
            clock.advance(1.0)
            tracker.step(tokens=8)
    return path


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return _run(tmp_path / "run.jsonl")


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end)
    return path


def _refused(path: Path, match: str) -> RunLogError:
    """Both readers refuse ``path`` with a RunLogError that names it and matches."""
    with pytest.raises(RunLogError, match=match) as caught:
        load_run(path)
    assert str(path) in str(caught.value)
    with pytest.raises(RunLogError, match=match):
        nf.Report.from_log(path)
    return caught.value


def _peak_bytes(fn: Callable[[], object]) -> int:
    """The most memory Python held at once while ``fn`` ran (it is expected to raise)."""
    tracemalloc.start()
    try:
        fn()
    except RunLogError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


# -- crafted times -----------------------------------------------------------------------


#: A crafted line, and what its error says.
_CRAFTED = {
    "minus-1e9": ('{"t":-1e9,"m":0,"v":[100.0]}', "time"),
    "Infinity": ('{"t":Infinity,"m":0,"v":[100.0]}', "time"),
    "NaN": ('{"t":NaN,"m":0,"v":[100.0]}', "time"),
    "1e400": ('{"t":1e400,"m":0,"v":[100.0]}', "time"),
    "huge-int": ('{"t":1' + "0" * 400 + ',"m":0,"v":[100.0]}', "time"),
    "1e300": ('{"t":1e300,"m":0,"v":[100.0]}', "time"),
    "string": ('{"t":"0.0","m":0,"v":[100.0]}', "time"),
    "bool": ('{"t":false,"m":0,"v":[100.0]}', "time"),
    "missing": ('{"m":0,"v":[100.0]}', "'t'"),
    "backwards": ('{"t":0.5,"m":0,"v":[100.0]}', "time went backwards"),
    "failure-negative": ('{"t":-2.0,"m":1,"err":"boom"}', "time"),
    "counts-infinite": ('{"t":Infinity,"steps":9,"tokens":72}', "time"),
    "counts-not-integral": ('{"t":4.0,"steps":9.5,"tokens":72}', "steps"),
    "counts-string": ('{"t":4.0,"steps":"9","tokens":72}', "steps"),
    "counts-huge": ('{"t":4.0,"steps":1' + "0" * 29 + ',"tokens":72}', "steps"),
    "error-not-text": ('{"t":4.0,"m":1,"err":{"a":[1,2]}}', "error"),
}


@pytest.mark.scenario(
    "runlog.crafted-line",
    "A log line with an impossible time (negative, infinite, NaN, huge, not a number, going "
    "back for its meter) or a count or error of the wrong type is refused with a RunLogError "
    "naming the file and the line, as the first reading or the last line alike; it never "
    "becomes a 1e9 s duration, a raw ValueError or a line taken for one cut off by a crash.",
)
@pytest.mark.parametrize(
    ("where", "case"),
    [
        *(("first-reading", case) for case in _CRAFTED if case != "backwards"),
        *(("last-line", case) for case in _CRAFTED),
    ],
)
def test_a_crafted_line_is_refused_with_its_file_and_line(log: Path, case: str, where: str) -> None:
    crafted, says = _CRAFTED[case]
    lines = [line for line in _lines(log) if '"summary"' not in line]
    if where == "first-reading":
        assert lines[1].startswith('{"t":0.0,"m":0,')
        lines[1], number = crafted, 2
    else:
        lines.append(crafted)
        number = len(lines)
    _write(log, lines)
    err = _refused(log, rf"line {number}\b")
    assert says in str(err)


def test_a_log_with_times_that_repeat_reads_as_written(log: Path) -> None:
    lines = [line for line in _lines(log) if '"summary"' not in line]
    lines.append(lines[-1])  # the same reading twice: a time may repeat, not go back
    run = load_run(_write(log, lines))
    assert run.samples[0].times_s[-1] == run.samples[0].times_s[-2] == 4.0
    assert nf.Report.from_log(log).duration_s == pytest.approx(4.0)


# -- nesting, length, bombs ---------------------------------------------------------------


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.scenario(
    "runlog.deep-nesting",
    "A log line nested deeper than a run log ever is (header, reading or summary) is "
    "refused with a RunLogError naming the line, never a RecursionError.",
)
@pytest.mark.parametrize("where", ["header", "reading", "summary", "just-over"])
def test_a_deeply_nested_line_is_refused_without_recursion(log: Path, where: str) -> None:
    lines = _lines(log)
    depth = MAX_JSON_DEPTH + 1 if where == "just-over" else 100_000
    if where == "header":
        head = json.loads(lines[0])
        head["settings"]["name"] = "@@"
        lines[0] = json.dumps(head).replace('"@@"', _deep(depth))
        number = 1
    elif where == "summary":
        lines[-1] = '{"summary":' + _deep(depth) + "}"
        number = len(lines)
    else:
        lines.insert(2, '{"t":0.0,"m":0,"v":' + _deep(depth) + "}")
        number = 3
    _write(log, lines)
    _refused(log, rf"line {number} .*nested deeper than {MAX_JSON_DEPTH}")


def test_a_line_nested_as_deep_as_allowed_is_read(log: Path) -> None:
    lines = _lines(log)
    # a summary's windows, nested as deep as a report may nest them, read back
    report = nested = nf.Report.from_log(log)
    assert not report.windows
    for _ in range(MAX_WINDOW_DEPTH):
        nested = nf.Report(1.0, report.channels, name="w", windows=(nested,))
    lines[-1] = json.dumps({"summary": nested.to_dict()}, separators=(",", ":"))
    assert not json_too_deep(lines[-1])  # the two limits agree
    depth = 0
    inner = nf.Report.from_log(_write(log, lines))
    while inner.windows:
        inner, depth = inner.windows[0], depth + 1
    assert depth == MAX_WINDOW_DEPTH


@pytest.mark.scenario(
    "runlog.long-line",
    "A log line longer than a run log ever writes (header over 4 MiB, other lines over "
    "1 MiB) is refused with a RunLogError naming the line, holding no more than about the "
    "limit in memory; a summary of many windows (several MiB) still reads.",
)
@pytest.mark.parametrize("where", ["header", "reading", "last-line-cut"])
def test_an_overlong_line_is_refused_in_bounded_memory(log: Path, where: str) -> None:
    lines = _lines(log)
    size = 24 * MIB
    end = "\n"
    if where == "header":
        head = json.loads(lines[0])
        head["settings"]["name"] = "x" * size
        lines[0], number, limit = json.dumps(head), 1, HEADER_MAX_BYTES
    elif where == "reading":
        lines.insert(2, '{"t":0.5,"m":0,"v":[' + "1," * (size // 2) + "1]}")
        number, limit = 3, LINE_MAX_BYTES
    else:  # a cut-off last line is forgiven; one this long was never cut off
        lines[-1] = '{"t":9.0,"m":0,"v":[' + "1," * (size // 2)
        number, limit, end = len(lines), LINE_MAX_BYTES, ""
    _write(log, lines, end)
    _refused(log, rf"line {number} is longer than {limit // MIB} MiB")
    assert _peak_bytes(lambda: load_run(log)) < limit + 8 * MIB


def test_a_summary_of_many_windows_is_longer_than_a_reading_and_still_reads(log: Path) -> None:
    lines = _lines(log)
    summary = json.loads(lines[-1])
    summary["summary"]["warnings"] = ["w" * 1000] * 3000  # 3 MB: many windows would be
    lines[-1] = json.dumps(summary, separators=(",", ":"))
    assert len(lines[-1]) > 2 * LINE_MAX_BYTES
    assert len(nf.Report.from_log(_write(log, lines)).warnings) == 3000


def _gzip_bomb(path: Path, header: str, size: int) -> Path:
    """A small .gz whose second line decompresses to ``size`` bytes with no newline."""
    out = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [out.compress(header.encode() + b'\n{"t":1.0,"m":0,"v":[')]
    block = b"1," * (MIB // 2)
    parts += [out.compress(block) for _ in range(size // MIB)]
    parts.append(out.flush())
    path.write_bytes(b"".join(parts))
    return path


@pytest.mark.scenario(
    "runlog.gzip-bomb",
    "A small .gz log that decompresses to a huge line is refused with a RunLogError naming "
    "the line, decompressing in bounded steps: memory stays near the line limit, not the "
    "decompressed size.",
)
def test_a_gzip_bomb_is_refused_in_bounded_memory(log: Path, tmp_path: Path) -> None:
    bomb = _gzip_bomb(tmp_path / "bomb.jsonl.gz", _lines(log)[0], 192 * MIB)
    assert bomb.stat().st_size < 2 * MIB
    _refused(bomb, rf"line 2 is longer than {LINE_MAX_BYTES // MIB} MiB")
    assert _peak_bytes(lambda: load_run(bomb)) < LINE_MAX_BYTES + 8 * MIB


def test_a_gzip_log_of_many_members_still_reads(log: Path, tmp_path: Path) -> None:
    lines = _lines(log)
    members = b"".join(gzip.compress((line + "\n").encode()) for line in lines)
    (tmp_path / "run.jsonl.gz").write_bytes(members)
    assert nf.Report.from_log(tmp_path / "run.jsonl.gz") == nf.Report.from_log(log)


@pytest.mark.scenario(
    "files.huge",
    "A huge file (a sparse 64 GiB one) is streamed: reading it stops at the first line "
    "over the limit, with a RunLogError naming it, in bounded memory and without reading "
    "the rest.",
)
def test_a_huge_file_is_streamed_and_refused_at_its_first_overlong_line(
    log: Path, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.jsonl"
    huge.write_text(_lines(log)[0] + "\n")
    try:
        os.truncate(huge, 64 << 30)  # a hole of NUL bytes: no disk used
    except OSError as err:
        pytest.skip(f"this file system has no sparse files: {err}")
    _refused(huge, rf"line 2 is longer than {LINE_MAX_BYTES // MIB} MiB")
    assert _peak_bytes(lambda: load_run(huge)) < LINE_MAX_BYTES + 8 * MIB


#: A header field set to what no tracker writes: (where, value).
_HEADER_CASES = {
    "meter-index-1e308": (("channels", -1, "meter"), 1e308),
    "meter-index-2**63": (("channels", -1, "meter"), 2**63),
    "meter-index-float": (("channels", -1, "meter"), 1.0),
    "channels-not-objects": (("channels",), "x"),
    "label-not-text": (("channels", 0, "label"), ["a"]),
    "max-energy-10**400": (("channels", 1, "max_energy_j"), 10**400),
    "name-not-text": (("settings", "name"), {"a": 1}),
    "meters-not-text": (("meters",), [1, 2]),
    "command-not-text": (("command",), "python train.py"),
    "interval-1e-320": (("settings", "interval_s"), 1e-320),
    "interval-10**29": (("settings", "interval_s"), 10**29),
    "interval-text": (("settings", "interval_s"), "1"),
    "trace-points-10**12": (("settings", "trace_points"), 10**12),
}


@pytest.mark.scenario(
    "runlog.hostile-header",
    "A header field no tracker writes (a meter index of 1e308, channels that are not "
    "objects, a label or name that is not text, a sampling interval of 1e-320 s, 10**12 "
    "trace points) is refused with a RunLogError naming the file, in bounded memory; never "
    "a MemoryError, an AttributeError or an OverflowError.",
)
@pytest.mark.parametrize("case", list(_HEADER_CASES))
def test_a_hostile_header_is_refused_in_bounded_memory(log: Path, case: str) -> None:
    where, value = _HEADER_CASES[case]
    lines = [line for line in _lines(log) if '"summary"' not in line]  # replayed
    head = json.loads(lines[0])
    inner = head
    for key in where[:-1]:
        inner = inner[key]
    inner[where[-1]] = value
    lines[0] = json.dumps(head)
    _refused(_write(log, lines), "header is malformed")
    assert _peak_bytes(lambda: nf.Report.from_log(log)) < 64 * MIB


# -- files that are not regular files ------------------------------------------------------


def _within_deadline(fn: Callable[[], object], unblock: Callable[[], None]) -> object:
    """What ``fn`` returns or raises, run in a thread; fail if it blocks (then ``unblock``
    it, so that no thread is left behind)."""
    caught: list[object] = []

    def call() -> None:
        try:
            caught.append(fn())
        except BaseException as err:  # handed to the test
            caught.append(err)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(30.0)
    if thread.is_alive():
        unblock()
        thread.join(5.0)
        pytest.fail(f"{fn} blocked")
    return caught[0]


def _unblock_fifo(path: Path) -> Callable[[], None]:
    def unblock() -> None:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))

    return unblock


def _special(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A path that is not a readable regular file, and what the error says about it."""
    path = tmp_path / f"{kind}.jsonl"
    if kind == "fifo":
        os.mkfifo(path)
        return path, "is a FIFO"
    if kind == "fifo-via-symlink":
        os.mkfifo(tmp_path / "pipe")
        path.symlink_to(tmp_path / "pipe")
        return path, "is a FIFO"
    if kind == "dev-zero":
        return Path("/dev/zero"), "is a character device"
    if kind == "directory":
        path.mkdir()
        return path, "is a directory"
    if kind == "missing":
        return path, "does not exist"
    if kind == "dangling-symlink":
        path.symlink_to(tmp_path / "gone.jsonl")
        return path, "is a symbolic link to .*gone.jsonl, which does not exist"
    if kind == "symlink-loop":
        path.symlink_to(tmp_path / "loop.jsonl")
        (tmp_path / "loop.jsonl").symlink_to(path)
        return path, "symbolic links"
    raise AssertionError(kind)


_SPECIAL = [
    "fifo",
    "fifo-via-symlink",
    "dev-zero",
    "directory",
    "missing",
    "dangling-symlink",
    "symlink-loop",
]


@pytest.mark.scenario(
    "files.not-a-regular-file",
    "A FIFO, a device such as /dev/zero, a directory, a missing file, a dangling symbolic "
    "link or a loop of them is refused before it is read, with a RunLogError that says "
    "what it is; nothing blocks.",
)
@pytest.mark.parametrize("kind", _SPECIAL)
def test_what_is_not_a_regular_file_is_refused_without_blocking(tmp_path: Path, kind: str) -> None:
    if kind == "dev-zero" and not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    path, what = _special(tmp_path, kind)
    for read in (load_run, nf.Report.from_log):
        err = _within_deadline(lambda read=read: read(path), _unblock_fifo(path))
        assert isinstance(err, RunLogError), repr(err)
        assert str(path) in str(err)
        assert _matches(what, str(err)), str(err)


def _matches(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


@pytest.mark.scenario(
    "files.symlink-to-log",
    "A symbolic link to a run log (or a chain of them) reads like the log itself.",
)
def test_a_symlink_to_a_log_reads_like_the_log(log: Path, tmp_path: Path) -> None:
    (tmp_path / "link1.jsonl").symlink_to(log)
    (tmp_path / "link2.jsonl").symlink_to(tmp_path / "link1.jsonl")
    assert nf.Report.from_log(tmp_path / "link2.jsonl") == nf.Report.from_log(log)


# -- as an unprivileged user ---------------------------------------------------------------


_WHY_NOT: list[str] = []


def _unprivileged() -> list[str] | None:
    """A command prefix that runs as a user who is not root (empty when we are not root),
    or None when there is no way to (why is kept in ``_WHY_NOT``)."""
    if os.geteuid() != 0:
        return []
    for prefix in (
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
        ["runuser", "-u", "nobody", "--"],
    ):
        if shutil.which(prefix[0]) is None:
            continue
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import os, nlpfootprint; print(os.geteuid())"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() != "0":
            return prefix
        _WHY_NOT.append(f"{prefix[0]}: {(probe.stderr.strip().splitlines() or ['?'])[-1]}")
    return None


@pytest.fixture(scope="module")
def as_user() -> list[str]:
    prefix = _unprivileged()
    if prefix is None:
        why = "; ".join(_WHY_NOT) or "no setpriv or runuser"
        pytest.skip(f"cannot run Python as a user who is not root ({why})")
    return prefix


def _as(prefix: list[str], code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [*prefix, sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )


def _cli_as(prefix: list[str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "nlpfootprint", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], result.stderr


@pytest.mark.scenario(
    "files.unreadable",
    "A run log the user may not read gets a RunLogError naming it and saying so, and "
    "'nlpfootprint report' prints one clear line and exits non-zero, never a traceback.",
)
def test_an_unreadable_log_is_one_clear_error(
    as_user: list[str], shared_dir: Path, tmp_path: Path
) -> None:
    os.chmod(shared_dir, 0o755)
    secret = shared_dir / "secret.jsonl"
    shutil.copy(_run(tmp_path / "run.jsonl"), secret)
    os.chmod(secret, 0)
    if os.geteuid() != 0:
        os.chmod(shared_dir, 0o555)
    result = _as(
        as_user,
        f"""
        from nlpfootprint.runlog import RunLogError, load_run
        try:
            load_run({str(secret)!r})
        except RunLogError as err:
            print("refused:", err)
        """,
        shared_dir,
    )
    assert result.returncode == 0, result.stderr
    assert f"refused: {secret}" in result.stdout
    assert "ermission denied" in result.stdout
    _one_clear_line(
        _cli_as(as_user, shared_dir, "report", str(secret)), str(secret), "ermission denied"
    )


@pytest.mark.scenario(
    "runlog.write-unwritable",
    "log= in a folder the user may not write fails at start, before the block runs, with a "
    "ConfigurationError naming the path and why; no thread is left running, and "
    "'nlpfootprint run --log' there prints one clear line.",
)
def test_a_log_that_may_not_be_written_fails_at_start(as_user: list[str], shared_dir: Path) -> None:
    target = shared_dir / "run.jsonl"
    result = _as(
        as_user,
        f"""
        import nlpfootprint as nf
        from nlpfootprint.errors import ConfigurationError
        from nlpfootprint.testing import FakeMeter, sampler_threads
        ran = False
        try:
            with nf.track_energy(meters=[FakeMeter.constant(1.0)], log={str(target)!r}):
                ran = True
        except ConfigurationError as err:
            print("refused:", err)
        print("block ran:", ran, "threads:", len(sampler_threads()))
        """,
        shared_dir,
    )
    assert result.returncode == 0, result.stderr
    assert f"refused: log='{target}'" in result.stdout
    assert "ermission denied" in result.stdout
    assert "block ran: False threads: 0" in result.stdout
    assert not target.exists()
    run = _cli_as(as_user, shared_dir, "run", "--log", str(target), "--", "true")
    _one_clear_line(run, str(target), "ermission denied")


@pytest.mark.scenario(
    "runlog.write-missing-folder",
    "log= in folders that do not exist yet creates them; log= under a file where a folder "
    "should be fails at start, before the block runs, with a ConfigurationError naming the "
    "path and why; no thread is left running.",
)
def test_a_log_in_a_missing_folder_is_made_and_an_unusable_one_fails_at_start(
    tmp_path: Path,
) -> None:
    made = tmp_path / "no" / "such" / "run.jsonl"
    with nf.track_energy(meters=[FakeMeter.constant(1.0)], log=made, clock=FakeClock()):
        pass
    assert nf.Report.from_log(made).channels[0].id == "gpu:0"
    (tmp_path / "file").write_text("")
    target = tmp_path / "file" / "run.jsonl"
    ran = False
    with (
        pytest.raises(ConfigurationError, match=r"log=.*run\.jsonl.*cannot write.*not a folder"),
        nf.track_energy(meters=[FakeMeter.constant(1.0)], log=target),
    ):
        ran = True
    assert not ran
    assert not sampler_threads()


@pytest.mark.scenario(
    "runlog.write-fifo",
    "log= naming a FIFO never hangs: with no reader it fails at start with a clear error; "
    "with a reader that stops reading, the tracker keeps measuring, drops the log and "
    "says so in the report.",
)
@pytest.mark.parametrize("reader", [False, True], ids=["no-reader", "stalled-reader"])
def test_a_fifo_as_the_log_never_hangs(tmp_path: Path, *, reader: bool) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    read_end = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK) if reader else None
    clock = FakeClock()

    def track() -> nf.Report:
        with nf.track_energy(
            meters=[FakeMeter.constant([100.0] * 8)], clock=clock, log=fifo, log_flush_s=0
        ) as tracker:
            for _ in range(5000):  # far more than a pipe holds
                clock.advance(1.0)
        report: nf.Report = tracker.report
        return report

    try:
        report = _within_deadline(track, _unblock_fifo(fifo))
    finally:
        if read_end is not None:
            os.close(read_end)
    if not reader:
        assert isinstance(report, ConfigurationError), repr(report)
        assert "a FIFO with no reader" in str(report)
        return
    assert isinstance(report, nf.Report), repr(report)
    assert report.energy_j == pytest.approx(5000 * 800.0)
    assert any(f"writing the run log {fifo} failed" in w for w in report.warnings)


_FULL_DISK = """
import resource, signal, sys
import nlpfootprint as nf
from nlpfootprint.testing import FakeClock, FakeMeter
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
clock = FakeClock()
with nf.track_energy(
    meters=[FakeMeter.constant(100.0)], clock=clock, log=sys.argv[1], log_flush_s=0
) as tracker:
    for _ in range(1000):
        clock.advance(1.0)
        tracker.step()
r = tracker.report
print(r.energy_j, r.steps, [w for w in r.warnings if "run log" in w])
"""


@pytest.mark.scenario(
    "runlog.write-disk-full",
    "A disk that fills up mid-run (a file size limit; /dev/full) never raises into the "
    "block: the tracker keeps measuring, the report warns that the log failed, and the log "
    "written so far still reads.",
)
@pytest.mark.parametrize("target", ["fills-mid-run", "/dev/full"])
def test_a_full_disk_warns_and_measuring_goes_on(tmp_path: Path, target: str) -> None:
    path = tmp_path / "run.jsonl" if target == "fills-mid-run" else Path(target)
    if not hasattr(resource, "RLIMIT_FSIZE") or not path.parent.exists():
        pytest.skip(f"no {target} here")
    result = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    energy, steps, warnings = result.stdout.split(" ", 2)
    assert float(energy) == pytest.approx(100_000.0)
    assert int(steps) == 1000
    assert f"writing the run log {path} failed" in warnings
    if target == "fills-mid-run":
        assert path.stat().st_size <= 8192
        partial = nf.Report.from_log(path)  # up to the last whole line
        assert 0 < partial.duration_s < 1000
        assert "did not finish cleanly" in partial.warnings[0]


# -- the command line ------------------------------------------------------------------------


def _cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nlpfootprint", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )


@pytest.mark.scenario(
    "cli.file-errors",
    "'nlpfootprint report' given a missing file, a directory, a FIFO, /dev/zero, a dangling "
    "link, a corrupt log, or a --plot path it cannot write prints one clear line naming the "
    "path and exits non-zero, without a traceback or a hang.",
)
@pytest.mark.parametrize(
    "case", ["fifo", "dev-zero", "directory", "missing", "dangling-symlink", "corrupt", "plot"]
)
def test_the_report_command_reports_file_errors_in_one_line(
    tmp_path: Path, log: Path, case: str
) -> None:
    args: list[str]
    if case == "corrupt":
        path, what = log, "line 3 is corrupt"
        _write(log, [*_lines(log)[:2], '{"t":1.0,"m":0,"v":[[[[[[["', *_lines(log)[3:]])
        args = [str(log)]
    elif case == "plot":
        pytest.importorskip("matplotlib")
        path, what = tmp_path / "no" / "such" / "power.png", "does not exist"
        args = [str(log), "--plot", str(path)]
    else:
        if case == "dev-zero" and not os.path.exists("/dev/zero"):
            pytest.skip("no /dev/zero")
        path, what = _special(tmp_path, case)
        args = [str(path)]
    result = _cli("report", *args)
    _one_clear_line(result, str(path))
    assert _matches(what, result.stderr), result.stderr


# -- terminal escapes -----------------------------------------------------------------------


def _hostile_log(path: Path) -> Path:
    """A log whose run name, meter names, channel ids and labels, command and error texts
    all carry terminal escape sequences; no summary, so it is replayed."""
    _run(path, log_command=["python", f"train{EVIL}.py"])
    lines = _lines(path)[:-1]
    head = json.loads(lines[0])
    head["settings"]["name"] = f"run {EVIL}"
    head["meters"] = [f"meter {EVIL}" for _ in head["meters"]]
    for channel in head["channels"]:
        channel["label"] = f"label {EVIL}"
        channel["id"] = f"{channel['id']}{EVIL}"
    lines[0] = json.dumps(head)
    lines.insert(3, json.dumps({"t": 1.0, "m": 1, "err": f"failed {EVIL}\nforged line"}))
    return _write(path, lines)


def _clean(text: str) -> None:
    raw = sorted({hex(ord(c)) for c in text if c in _CONTROL})
    assert not raw, f"raw control characters {raw} in:\n{text!r}"


def test_printable_escapes_what_a_terminal_would_act_on() -> None:
    assert printable("a\x1b[2Jb\x9b\x7f\u202e\tc\nd") == "a\\x1b[2Jb\\x9b\\x7f\\u202e\\tc\\nd"
    assert printable("a\tb\nc", keep="\n\t") == "a\tb\nc"
    assert (
        printable("GPU 0 \u00b7 A100 \u2013 80 GB \u2713")
        == "GPU 0 \u00b7 A100 \u2013 80 GB \u2713"
    )
    assert printable(printable(EVIL)) == printable(EVIL)


@pytest.mark.scenario(
    "terminal.escape-sequences",
    "Text from a log or a report (run name, meter names, channel ids and labels, error "
    "texts, window names, warnings) is rendered with control characters, escape sequences "
    "and bidi overrides shown as visible escapes, in every format and in the CLI's output "
    "and error lines.",
)
def test_escape_sequences_from_a_log_are_shown_never_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _hostile_log(tmp_path / "run.jsonl")
    report = nf.Report.from_log(path)
    assert report.name == f"run {EVIL}"  # kept as logged; neutralised when shown
    assert any(EVIL in w for w in report.warnings)
    windowed = nf.Report.from_dict(
        {
            **report.to_dict(),
            "windows": [{**report.to_dict(), "name": f"window {EVIL}", "windows": []}],
        }
    )
    outputs = {
        "text": str(windowed),
        "markdown": render_markdown(windowed),
        "latex": render_latex(windowed),
        "html": render_html(windowed),
        "csv": render_csv_row(windowed),
    }
    for fmt, text in outputs.items():
        _clean(text)
        assert "x1b" in text, fmt  # shown, not dropped
    assert "\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\r\\x08\\u202eht" in outputs["text"]
    assert "forged line" in outputs["text"]
    assert not any(line.startswith("forged line") for line in outputs["text"].splitlines())
    for fmt in ("text", "markdown", "latex", "csv", "json"):
        assert cli.main(["report", str(path), "--format", fmt]) == 0
        out, err = capsys.readouterr()
        _clean(out + err)
        assert ("\\u001b" if fmt == "json" else "x1b") in out, fmt
    # an error line that quotes hostile text: the path of a missing file
    assert cli.main(["report", str(tmp_path / f"missing{EVIL}.jsonl")]) == 2
    out, err = capsys.readouterr()
    _clean(out + err)
    assert "missingevil\\x1b[2J" in err


# -- reports as JSON ------------------------------------------------------------------------


@pytest.fixture
def report_dict() -> dict[str, object]:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(50.0)], clock=clock, name="r") as t:
        clock.advance(2.0)
    return t.report.to_dict()


@pytest.mark.scenario(
    "report.deep-json",
    "Report.from_json and Report.from_dict refuse text or dicts nested deeper than a "
    "report ever is (a JSON array 100,000 deep, windows nested past the limit) with a "
    "ReportFormatError, never a RecursionError.",
)
@pytest.mark.parametrize("case", ["brackets", "windows-json", "windows-dict", "name"])
def test_deep_nesting_is_a_report_format_error(case: str, report_dict: dict[str, object]) -> None:
    nested: dict[str, object] = dict(report_dict)
    if case == "brackets":
        with pytest.raises(ReportFormatError, match=f"nested deeper than {MAX_JSON_DEPTH}"):
            nf.Report.from_json("[" * 100_000)
        return
    depth = 100_000 if case == "windows-dict" else MAX_WINDOW_DEPTH + 1
    if case == "name":
        nested["name"] = json.loads(_deep(MAX_JSON_DEPTH - 5))
        with pytest.raises(ReportFormatError, match="name"):
            nf.Report.from_json(json.dumps(nested))
        return
    for _ in range(depth):
        nested = {**report_dict, "windows": [nested]}
    if case == "windows-dict":
        with pytest.raises(ReportFormatError, match=f"nested deeper than {MAX_WINDOW_DEPTH}"):
            nf.Report.from_dict(nested)
    else:
        text = json.dumps(nested)
        with pytest.raises(ReportFormatError, match="nested deeper than"):
            nf.Report.from_json(text)


@pytest.mark.scenario(
    "report.wrong-types",
    "Report.from_dict refuses text fields of the wrong type (a name, a start time, a "
    "warning that is not a string; an interval that is not a number) and JSON with "
    "numbers of 5,000 digits, with a ReportFormatError naming the field.",
)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ["a", "list"]),
        ("started_at", {"a": 1}),
        ("warnings", ["fine", 3]),
        ("warnings", "not a list"),
        ("interval_s", "1.0"),
        ("interval_s", float("nan")),
        ("windows", ["not a dict"]),
    ],
)
def test_wrong_types_in_a_report_dict_are_refused(
    report_dict: dict[str, object], field: str, value: object
) -> None:
    with pytest.raises(ReportFormatError, match=field):
        nf.Report.from_dict({**report_dict, field: value})


def test_a_number_too_long_to_read_is_a_report_format_error(
    report_dict: dict[str, object],
) -> None:
    text = json.dumps(report_dict).replace('"count": 1', '"count": 1' + "0" * 5000)
    with pytest.raises(ReportFormatError, match="JSON"):
        nf.Report.from_json(text)
