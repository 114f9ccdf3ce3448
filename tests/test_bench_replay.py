"""The replay benchmark's bulk logs are logs a tracker could have written: every line in
its format, replayed without a refusal, to the energy the bulk lines hold. No timing."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.figures import replay

import nlpfootprint as nf
from nlpfootprint.runlog.reader import _LINES


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_bulk_log_replays_to_the_energy_its_lines_hold(tmp_path: Path, suffix: str) -> None:
    header, summary = replay.real_lines(tmp_path)
    rounds = 2 * replay.BLOCK
    path = tmp_path / f"bulk{suffix}"
    replay.write_log(path, rounds, header, summary)
    assert nf.Report.from_log(path).name == "bulk"  # the summary of the short real run
    report = nf.Report.from_log(path, from_samples=True)
    assert report.warnings[1:] == ()  # no value refused, no counter reset
    assert report.steps == rounds - 1
    assert report.tokens == 100 * (rounds - 1)
    per_second = replay.TURNS * replay.WRAP_J / replay.BLOCK  # each CPU counter's rise
    for channel in report.channels:
        assert channel.readings == rounds
        assert channel.failures == 0
        if channel.domain == "cpu":
            assert channel.energy_j == pytest.approx((rounds - 1) * per_second, rel=1e-9)


def test_every_bulk_line_is_in_the_trackers_exact_format() -> None:
    first, later = replay._template()
    for block in (first, later.replace(b"@", b"7")):
        lines = _LINES.findall(block.rstrip(b"\n"))
        assert len(lines) == block.count(b"\n")
        assert all(groups[0] or groups[3] for groups in lines)  # a reading or a count line
