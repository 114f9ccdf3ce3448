"""Long logs read fast: a reading read the short way is what JSON reads, a summary is
found without a replay, and whatever the screen doubts is replayed, with its error."""

from __future__ import annotations

import gzip
import json
import math
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpfootprint as nf
from nlpfootprint.runlog import RunLogError, load_run, report_from_log
from nlpfootprint.runlog.reader import Event, LogReader
from nlpfootprint.runlog.screen import _KNOWN, _all_known
from nlpfootprint.runlog.source import lines
from nlpfootprint.testing import FakeClock, FakeMeter

MIB = 1 << 20


def _run(path: Path, rounds: int = 12) -> nf.Report:
    """A logged run: 4 GPU power channels, 2 wrapping CPU counters, a step per round."""
    clock = FakeClock()
    meters = [
        FakeMeter.constant([300.0, 301.5, 302.25, 299.125], domain="gpu"),
        FakeMeter.counter([60.0, 55.5], max_energy_j=1000.0, clock=clock, domain="cpu"),
    ]
    with nf.track_energy(
        meters=meters, clock=clock, log=path, log_flush_s=0, name="fast"
    ) as tracker:
        for _ in range(rounds):
            clock.advance(1.0)
            tracker.step(tokens=64)
    report: nf.Report = tracker.report
    return report


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return f.read().splitlines()


def _write(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def _by_json(path: Path) -> list[Event] | str:
    """The events of a log read one JSON line at a time (the long way), or the error."""
    reader = LogReader(path)
    reader.close()
    last_t = [0.0] * len(reader.widths)
    events = []
    body = _lines(path)[1:]
    try:
        for number, line in enumerate(body, 2):
            event = reader.event(number, line.encode(), False, last_t)
            if event is not None:
                events.append(event)
    except RunLogError as err:
        return str(err)
    return events


def _read(path: Path) -> list[Event] | str:
    try:
        return list(LogReader(path))
    except RunLogError as err:
        return str(err)


# -- the short way reads what JSON reads ---------------------------------------------------

_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0.0, max_value=1e6),
    st.integers(min_value=0, max_value=10**6).map(float),
    st.sampled_from([0.0, -0.0, 5e-324, 1.7976931348623157e308, 123456789.123456789]),
)


@given(
    times=st.lists(st.floats(min_value=0.0, max_value=1e9), min_size=1, max_size=20),
    rows=st.lists(st.lists(_values, min_size=4, max_size=4), min_size=20, max_size=20),
)
@settings(max_examples=60, deadline=None)
def test_readings_read_the_short_way_are_what_json_reads(
    tmp_path_factory: pytest.TempPathFactory, times: list[float], rows: list[list[float]]
) -> None:
    path = tmp_path_factory.mktemp("log") / "run.jsonl"
    _run(path, rounds=1)
    head = _lines(path)[0]
    body = [
        f'{{"t":{t!r},"m":0,"v":[{",".join(_json_value(v) for v in row)}]}}'
        for t, row in zip(sorted(times), rows, strict=False)
    ]
    _write(path, [head, *body])
    assert repr(_read(path)) == repr(_by_json(path))  # repr: NaN equals NaN


def _json_value(v: float) -> str:
    if math.isnan(v):
        return "null"
    return repr(v) if math.isfinite(v) else f'"{v!r}"'


@pytest.mark.parametrize(
    "line",
    [
        '{"t":5,"m":0,"v":[1,2,3,4]}',  # integers
        '{"t":5.0,"m":0,"v":[1E2,2e-2,3.5E+1,-0]}',  # exponents, a negative zero
        '{"t":-0.0,"m":0,"v":[1.0,2.0,3.0,4.0]}',
        '{"t":5.0,"m":0,"v":[1e400,-1e400,1.0,2.0]}',  # overflows to infinities
        '{"t":5.0,"m":0,"v":[1' + "0" * 30 + ",2.0,3.0,4.0]}",  # a long integer: 31 digits
        '{"t":5.0,"m":0,"v":[1' + "0" * 31 + ",2.0,3.0,4.0]}",  # 32: read as JSON reads it
        '{"t":5.0,"m":0,"v":[1' + "0" * 400 + ",2.0,3.0,4.0]}",  # too large for a float
        '{"t": 5.0, "m": 0, "v": [1.0, 2.0, 3.0, 4.0]}',  # spaces
        '{"m":0,"t":5.0,"v":[1.0,2.0,3.0,4.0]}',  # another key order
        '{"t":5.0,"m":0,"v":[null,"inf","-inf",4.0]}',
        '{"t":5.0,"m":0,"v":[01.0,2.0,3.0,4.0]}',  # a leading zero: not JSON
        '{"t":5.0,"m":0,"v":[1.,2.0,3.0,4.0]}',  # not JSON either
        '{"t":5.0,"m":00,"v":[1.0,2.0,3.0,4.0]}',
        '{"t":5.0,"m":0,"v":[1.0,2.0,3.0]}',  # one value short
        '{"t":5.0,"m":7,"v":[1.0,2.0,3.0,4.0]}',  # no such meter
        '{"t":1e10,"m":0,"v":[1.0,2.0,3.0,4.0]}',  # past MAX_TIME_S
        '{"t":-1.0,"m":0,"v":[1.0,2.0,3.0,4.0]}',
        '{"t":5.0,"m":1.0,"v":[1.0,2.0]}',  # a meter index that is no integer
        '{"t":5.0,"m":0,"v":[1.0,2.0,3.0,4.0]} ',  # a trailing space
        '{"t":5,"steps":3,"tokens":0}',
        '{"t":-0.0,"steps":3,"tokens":9223372036854775807}',
        '{"t":5.0,"steps":9223372036854775808,"tokens":1}',  # 2**63: no count
        '{"t":-1.0,"steps":1,"tokens":1}',
        '{"t":1e10,"steps":1,"tokens":1}',
        '{"t":5.0,"steps":-1,"tokens":1}',
        '{"t":5.0,"steps":1.0,"tokens":1}',
        '{"t":5.0,"tokens":1,"steps":1}',
        '{"t":5.0,"steps":01,"tokens":1}',
    ],
)
def test_a_reading_written_otherwise_reads_as_json_reads_it(tmp_path: Path, line: str) -> None:
    path = tmp_path / "run.jsonl"
    _run(path, rounds=1)
    first, second = _lines(path)[:2]
    _write(path, [first, second, line, '{"t":4.0,"m":0,"v":[1.0,2.0,3.0,4.0]}'])
    assert repr(_read(path)) == repr(_by_json(path))


def test_a_time_going_back_is_refused_the_short_way_too(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    _run(path, rounds=1)
    head = _lines(path)[0]
    later, earlier = (f'{{"t":{t},"m":0,"v":[1.0,2.0,3.0,4.0]}}' for t in ("5.5", "5.25"))
    _write(path, [head, later, earlier])
    assert _read(path) == _by_json(path)
    assert "line 3: meter 0's time went backwards" in str(_read(path))


# -- a summary is found without a replay -----------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_the_summary_is_the_report_without_a_replay(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"run{suffix}"
    live = _run(path)
    # readings of the same shape but other numbers: a replay would say otherwise
    lines = [line.replace("300.0,", "900.0,") for line in _lines(path)]
    _write(path, lines)
    assert nf.Report.from_log(path) == live
    assert nf.Report.from_log(path, from_samples=True).energy_j > live.energy_j
    again = nf.Report.from_log(path, pue=1.5, carbon_intensity=100.0)
    assert again.energy_j == live.energy_j
    assert again.co2e_kg == pytest.approx(live.energy_kwh * 1.5 * 0.1)


@pytest.mark.parametrize(
    ("case", "line"),
    [
        ("time-back", '{"t":0.5,"m":0,"v":[1.0,2.0,3.0,4.0]}'),
        ("width", '{"t":99.0,"m":0,"v":[1.0,2.0]}'),
        ("meter", '{"t":99.0,"m":5,"v":[1.0,2.0]}'),
        ("grammar", '{"t":99.0,"m":0,"v":[1..0,2,3,4]}'),
    ],
)
def test_numbers_of_a_screened_reading_are_left_to_a_replay(
    tmp_path: Path, case: str, line: str
) -> None:
    """What the screen does not check (see nlpfootprint.runlog.screen): a log with a
    summary gives it; replaying the same log refuses the line."""
    path = tmp_path / "run.jsonl"
    live = _run(path)
    lines = _lines(path)
    lines.insert(len(lines) - 2, line)
    _write(path, lines)
    assert nf.Report.from_log(path) == live
    with pytest.raises(RunLogError, match=rf"line {len(lines) - 2}\b"):
        nf.Report.from_log(path, from_samples=True)


#: Lines the screen must not pass: each is read in full, and refused.
_NOT_A_LOG_LINE = {
    "numbers-only": "123",
    "two-readings": '{"t":9.0,"m":0,"v":[1.0,2.0,3.0,4.0]}{"t":9.0,"m":0,"v":[1.0,2.0,3.0,4.0]}',
    "counts-then-reading": '{"t":9.0,"steps":1,"tokens":1}{"t":9.0,"m":0,"v":[1.0,2.0,3.0,4.0]}',
    "reading-then-counts": '{"t":9.0,"m":0,"v":[1.0,2.0,3.0,4.0]}{"t":9.0,"steps":1,"tokens":1}',
    "no-brace": '{"t":9.0,"m":0,"v":[1.0,2.0,3.0,4.0]',
    "nested": '{"t":9.0,"m":0,"v":[[1.0],2.0,3.0,4.0]}',
    "array": "[1.0,2.0]",
    "prefix": 'x{"t":9.0,"m":0,"v":[1.0,2.0,3.0,4.0]}',
}


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
@pytest.mark.parametrize("case", list(_NOT_A_LOG_LINE))
def test_a_line_of_no_known_shape_is_read_in_full_and_refused(
    tmp_path: Path, case: str, suffix: str
) -> None:
    path = tmp_path / f"run{suffix}"
    _run(path)
    lines = _lines(path)
    lines.insert(3, _NOT_A_LOG_LINE[case])
    _write(path, lines)
    with pytest.raises(RunLogError, match=r"line 4 is corrupt") as caught:
        nf.Report.from_log(path)
    with pytest.raises(RunLogError) as replayed:
        nf.Report.from_log(path, from_samples=True)
    assert str(caught.value) == str(replayed.value)


def _fragment_lines() -> st.SearchStrategy[list[bytes]]:
    pieces = [*_KNOWN, b"{", b"}", b'"t"', b'"m"', b'"v"', b"[]", b'"stps"', b'"tokns"', b"x"]
    line = st.lists(st.sampled_from(pieces), max_size=3).map(b"".join)
    return st.lists(line, min_size=1, max_size=12)


@given(_fragment_lines())
@settings(max_examples=400, deadline=None)
def test_the_bulk_shape_check_agrees_with_a_line_by_line_one(lines_: list[bytes]) -> None:
    shape = b"\n".join(lines_)
    assert _all_known(shape, len(lines_)) == all(line in _KNOWN for line in lines_)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_failures_and_counts_between_do_not_hide_the_summary(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"run{suffix}"
    live = _run(path)
    lines = _lines(path)
    lines[3:3] = ['{"t":2.0,"m":1,"err":"boom"}', "", "   ", '{"t":2.0,"future":"kind"}']
    _write(path, lines)
    assert nf.Report.from_log(path) == live


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_summary_followed_by_more_lines_is_still_the_report(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"run{suffix}"
    live = _run(path)
    lines = _lines(path)
    _write(path, [*lines, lines[-2]])  # as a replay has always read it: the summary met
    assert nf.Report.from_log(path) == live


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_log_without_summary_is_replayed(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"run{suffix}"
    _run(path)
    _write(path, _lines(path)[:-1])
    crashed = nf.Report.from_log(path)
    assert "did not finish cleanly" in crashed.warnings[0]
    assert crashed.energy_j == report_from_log(load_run(path)).energy_j


def _long_log(path: Path, readings: int) -> Path:
    """A log with ``readings`` bulk reading lines (some MiB) between header and summary."""
    _run(path)
    head, *_, summary = _lines(path)
    body = "".join(
        f'{{"t":{i / 4},"m":0,"v":[300.{i % 997},301.5,302.25,299.125]}}\n' for i in range(readings)
    )
    path.write_text(f"{head}\n{body}{summary}\n")
    return path


def test_a_long_log_with_a_summary_is_read_a_block_at_a_time(tmp_path: Path) -> None:
    path = _long_log(tmp_path / "run.jsonl", 200_000)
    assert path.stat().st_size > 8 * MIB
    tracemalloc.start()
    try:
        report = nf.Report.from_log(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.name == "fast"
    assert peak < 8 * MIB, f"{peak} bytes held"


@pytest.mark.parametrize("where", [-1, 0, 1])
def test_a_bad_line_at_a_block_edge_is_found(tmp_path: Path, where: int) -> None:
    """Blocks end where a 1 MiB chunk's last newline is: a line before, across and after."""
    path = _long_log(tmp_path / "run.jsonl", 40_000)
    data = path.read_bytes()
    edge = data.count(b"\n", 0, data.rfind(b"\n", 0, MIB))  # lines before the chunk's last
    lines = data.decode().splitlines()
    number = edge + 1 + where  # the first chunk's last whole line, the next, the one after
    lines[number - 1] = lines[number - 1].replace("]}", "]}{}")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RunLogError, match=rf"line {number} is corrupt"):
        nf.Report.from_log(path)


# -- lines, many at a time ----------------------------------------------------------------


@given(
    st.lists(
        st.sampled_from([b'{"a":1}', b"", b"  ", b'{"t":1.5,"m":0,"v":[1.0]}', b"x" * 50]),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=10),
)
@settings(max_examples=200, deadline=None)
def test_lines_in_blocks_are_the_lines_of_the_file(
    body: list[bytes], newline_at_end: bool, cuts: list[int]
) -> None:
    data = b"\n".join([b'{"head":0}', *body]) + (b"\n" if newline_at_end else b"")
    chunks, start = [], 0
    for size in cuts * (len(data) // sum(cuts) + 1):
        chunks.append(data[start : start + size])
        start += size
    chunks = [c for c in chunks if c]
    naive = data.split(b"\n")
    if newline_at_end:
        naive.pop()
    expected = [
        (n, line, n == len(naive) and not newline_at_end)
        for n, line in enumerate(naive, 1)
        if line.strip()
    ]
    assert list(lines("log", chunks)) == expected


def test_a_summary_line_is_still_checked_as_json(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    _run(path)
    lines = _lines(path)
    summary = json.loads(lines[-1])
    summary["summary"]["interval_s"] = "1.0"
    lines[-1] = json.dumps(summary)
    _write(path, lines)
    with pytest.raises(RunLogError, match="summary line is malformed"):
        nf.Report.from_log(path)
