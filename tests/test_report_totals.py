"""`nlpfootprint report A B ...`: the total over several logs, run as a real subprocess.

Runs whose wall-clock spans overlap are still added up, with a warning naming them and
the overlap; runs of which only some have a price are added up too, with the cost of the
priced ones given apart and the others named.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import nlpfootprint as nf
from helpers import run_cli
from nlpfootprint.meters.base import Channel
from nlpfootprint.provenance import Device
from nlpfootprint.testing import FakeClock, FakeMeter


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd)


def write_log(
    path: Path,
    *,
    seconds: float,
    started_at: str,
    price: float | None = None,
    host: str | None = None,
) -> str:
    """A clean run of a 100 W meter lasting ``seconds``, whose log says it started at
    ``started_at`` (the header and the summary both carry the start time)."""
    clock = FakeClock()
    meter = FakeMeter.constant(100.0)
    if host is not None:
        channel = Channel("gpu:0", "gpu", "power", "fake gpu", device=Device("fake", host=host))
        meter = FakeMeter([channel], lambda: [100.0])
    with nf.track_energy(meters=[meter], clock=clock, log=path, price_per_kwh=price):
        clock.advance(seconds)
    text = path.read_text()
    written = json.loads(text.splitlines()[0])["started_at"]
    assert text.count(written) == 2  # the header's and the summary's
    path.write_text(text.replace(written, started_at))
    return path.name


def test_overlapping_runs_are_summed_with_a_warning_naming_them_and_the_overlap(
    tmp_path: Path,
) -> None:
    outer = write_log(
        tmp_path / "outer.jsonl", seconds=3600, started_at="2024-05-01T12:00:00+00:00"
    )
    inner = write_log(
        tmp_path / "inner.jsonl", seconds=1800, started_at="2024-05-01T12:10:00+00:00"
    )
    result = cli("report", outer, inner, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    total = result.stdout[result.stdout.index("total over 2 runs") :]
    assert "150.0 Wh" in total  # 100 W x 1.5 h: still summed
    assert (
        "outer.jsonl and inner.jsonl overlap in time for 30.0 min "
        "(2024-05-01 12:10:00 to 12:40:00 UTC)"
    ) in total
    assert "counted twice in this total; summed anyway" in total

    data = json.loads(cli("report", outer, inner, "--format", "json", cwd=tmp_path).stdout)
    assert data["total"]["overlaps"] == [
        {
            "runs": ["outer.jsonl", "inner.jsonl"],
            "from": "2024-05-01T12:10:00+00:00",
            "to": "2024-05-01T12:40:00+00:00",
            "overlap_s": 1800.0,
        }
    ]


def test_runs_one_after_the_other_or_on_other_machines_do_not_overlap(tmp_path: Path) -> None:
    # the second starts as the first ends (to the second the start is written to)
    first = write_log(tmp_path / "a.jsonl", seconds=600.5, started_at="2024-05-01T12:00:00+00:00")
    second = write_log(tmp_path / "b.jsonl", seconds=600, started_at="2024-05-01T12:10:00+00:00")
    # at the same time, but measuring other machines
    node1 = write_log(
        tmp_path / "n1.jsonl", seconds=600, started_at="2024-05-01T13:00:00+00:00", host="node1"
    )
    node2 = write_log(
        tmp_path / "n2.jsonl", seconds=600, started_at="2024-05-01T13:00:00+00:00", host="node2"
    )
    for logs in ((first, second), (node1, node2)):
        result = cli("report", *logs, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "total over 2 runs" in result.stdout
        assert "overlap" not in result.stdout
        data = json.loads(cli("report", *logs, "--format", "json", cwd=tmp_path).stdout)
        assert data["total"]["overlaps"] == []


def test_runs_of_which_some_have_no_price_get_a_total_and_the_cost_of_those_priced(
    tmp_path: Path,
) -> None:
    at = "2024-05-01T{}:00:00+00:00"
    a = write_log(tmp_path / "a.jsonl", seconds=3600, started_at=at.format(10), price=0.25)
    b = write_log(tmp_path / "b.jsonl", seconds=3600, started_at=at.format(12))
    c = write_log(tmp_path / "c.jsonl", seconds=3600, started_at=at.format(14), price=0.25)
    result = cli("report", a, b, c, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no total" not in result.stdout
    total = result.stdout[result.stdout.index("total over 3 runs") :]
    assert "300.0 Wh" in total  # energy of all three
    # 2 x 0.1 kWh x PUE 1.58 x 0.25 USD/kWh
    assert (
        "cost 0.08 USD is of 2 of the 3 runs only (a.jsonl, c.jsonl, at their own prices); "
        "no price for b.jsonl"
    ) in total

    data = json.loads(cli("report", a, b, c, "--format", "json", cwd=tmp_path).stdout)
    assert data["total"]["cost_usd"] is None  # the total itself has no price
    partial = data["total"]["partial_cost"]
    assert partial["priced_runs"] == ["a.jsonl", "c.jsonl"]
    assert partial["unpriced_runs"] == ["b.jsonl"]
    assert abs(partial["cost"] - 2 * 0.1 * 1.58 * 0.25) < 1e-12
    assert partial["cost"] == sum(r["cost_usd"] or 0.0 for r in data["runs"])

    # one price for all on the command line: an ordinary total, no note
    priced = cli("report", a, b, c, "--price-per-kwh", "0.25", "--format", "json", cwd=tmp_path)
    total_priced = json.loads(priced.stdout)["total"]
    assert total_priced["partial_cost"] is None
    assert abs(total_priced["cost_usd"] - 3 * 0.1 * 1.58 * 0.25) < 1e-12


def test_runs_at_different_prices_add_their_costs_each_at_its_own_price(tmp_path: Path) -> None:
    a = write_log(
        tmp_path / "a.jsonl", seconds=3600, started_at="2024-05-01T10:00:00+00:00", price=0.1
    )
    b = write_log(
        tmp_path / "b.jsonl", seconds=3600, started_at="2024-05-01T12:00:00+00:00", price=0.3
    )
    result = cli("report", a, b, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # 0.1 kWh x 1.58 x (0.1 + 0.3)
    assert "cost 0.06 USD: the 2 runs at their own prices, added up" in result.stdout
    partial = json.loads(cli("report", a, b, "--format", "json", cwd=tmp_path).stdout)["total"][
        "partial_cost"
    ]
    assert abs(partial["cost"] - 0.1 * 1.58 * 0.4) < 1e-12
    assert partial["unpriced_runs"] == []


def test_latex_and_csv_totals_say_their_warnings_on_stderr(tmp_path: Path) -> None:
    outer = write_log(
        tmp_path / "outer.jsonl", seconds=3600, started_at="2024-05-01T12:00:00+00:00", price=0.2
    )
    inner = write_log(
        tmp_path / "inner.jsonl", seconds=1800, started_at="2024-05-01T12:10:00+00:00"
    )
    for fmt in ("latex", "csv"):
        result = cli("report", outer, inner, "--format", fmt, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "overlap" not in result.stdout  # the document stays a document
        lines = result.stderr.splitlines()
        assert len(lines) == 2
        assert lines[0].startswith(
            "warning: total over 2 runs: outer.jsonl and inner.jsonl overlap"
        )
        assert lines[1].startswith("warning: total over 2 runs: cost ")
        assert "no price for inner.jsonl" in lines[1]


def test_a_total_with_a_failed_run_in_it_is_headed_failed_and_names_it(tmp_path: Path) -> None:
    write_log(tmp_path / "ok.jsonl", seconds=60, started_at="2024-05-01T12:00:00+00:00")
    clock = FakeClock()

    def crashed() -> None:  # its block raised: its log's summary says so
        with nf.track_energy(
            meters=[FakeMeter.constant(100.0)], clock=clock, log=tmp_path / "crashed.jsonl"
        ):
            clock.advance(30)
            raise MemoryError("CUDA out of memory")

    with pytest.raises(MemoryError):
        crashed()
    result = cli("report", "ok.jsonl", "crashed.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    total = result.stdout.split("nlpfootprint report: total over 2 runs", 1)[1]
    assert total.splitlines()[0].lstrip().startswith("[FAILED: raised MemoryError")
    assert "crashed.jsonl did not end cleanly (raised MemoryError: CUDA out of memory)" in total
    as_json = json.loads(
        cli("report", "ok.jsonl", "crashed.jsonl", "--format", "json", cwd=tmp_path).stdout
    )
    assert as_json["runs"][0]["outcome"]["ok"] is True
    assert as_json["total"]["outcome"]["ok"] is False
