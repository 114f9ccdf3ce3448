"""The benchmark harness: statistics, rows, rendering and the docs update (no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from benchmarks import _stats, render, run
from benchmarks.figures import process
from benchmarks.figures._child import CHILDREN, Tools, peer_row
from benchmarks.figures._slowdown import judged
from benchmarks.peers import PEERS, prepare, prepare_one


def summary_of(median: float, low: float, high: float, n: int = 5) -> dict[str, Any]:
    return {"median": median, "low": low, "high": high, "n": n}


def peer_figure(**changes: Any) -> dict[str, Any]:
    row = {
        "id": "import",
        "figure": "import the package",
        "unit": "ms",
        "target": "< 1/3 of CodeCarbon's",
        "met": True,
        "tools": {
            "nlpfootprint": summary_of(40.0, 38.0, 41.5),
            "codecarbon": summary_of(320.0, 310.0, 330.0),
            "carbontracker": {"error": "not installed: pip failed (no | network)"},
        },
        "ratio": {"codecarbon": summary_of(8.0, 7.5, 8.5)},
        "note": "wall time",
        "module": "process",
    }
    return {**row, **changes}


def test_summary_gives_the_median_and_inclusive_quartiles() -> None:
    assert _stats.summary([5, 1, 3, 2, 4]) == {"median": 3, "low": 2, "high": 4, "n": 5}


def test_summary_of_fewer_than_four_values_spans_them_all() -> None:
    assert _stats.summary([2.0, 9.0, 4.0]) == {"median": 4.0, "low": 2.0, "high": 9.0, "n": 3}


def test_summary_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        _stats.summary([])


def test_ratio_summary_divides_pair_by_pair_and_skips_zero_denominators() -> None:
    got = _stats.ratio_summary([10.0, 30.0, 5.0], [5.0, 10.0, 0.0])
    assert got == {"median": 2.5, "low": 2.0, "high": 3.0, "n": 2}


def test_ratio_summary_refuses_unpaired_lists() -> None:
    with pytest.raises(ValueError, match="paired"):
        _stats.ratio_summary([1.0, 2.0], [1.0])


def test_alternate_interleaves_the_measures() -> None:
    calls: list[str] = []

    def measure(name: str) -> Any:
        return lambda: calls.append(name) or len(calls)

    got = _stats.alternate({"a": measure("a"), "b": measure("b")}, 3)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert got == {"a": [1, 3, 5], "b": [2, 4, 6]}


@pytest.mark.parametrize(
    ("value", "text"),
    [(1234.5, "1,234"), (12.345, "12.3"), (1.2345, "1.23"), (0.01234, "0.0123"), (0.0, "0")],
)
def test_numbers_keep_about_three_significant_figures(value: float, text: str) -> None:
    assert render.number(value) == text


def test_a_cell_shows_median_and_quartiles_or_the_reason() -> None:
    assert render.cell(summary_of(3.0, 2.0, 4.0)) == "3.00 [2.00\N{EN DASH}4.00]"
    assert render.cell(summary_of(3.0, 3.0, 3.0, n=1)) == "3.00"
    assert render.cell({"error": "not run (--no-peers)"}) == "not run (--no-peers)"
    assert render.cell(None) == "\N{EN DASH}"


def test_a_table_row_shows_every_tool_the_ratios_and_whether_the_target_is_met() -> None:
    lines = render.table([peer_figure()]).splitlines()
    assert len(lines) == 3
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[0] == "import the package (ms)"
    assert cells[1] == "40.0 [38.0\N{EN DASH}41.5]"
    assert cells[3] == "not installed: pip failed (no / network)"  # a pipe would split the cell
    assert cells[4] == "CodeCarbon 8.00\N{MULTIPLICATION SIGN} [7.50\N{EN DASH}8.50]"
    assert cells[5:] == ["< 1/3 of CodeCarbon's", "yes"]


def test_a_missed_target_is_marked_and_a_figure_without_one_shows_a_dash() -> None:
    missed = render.table([peer_figure(met=False)]).splitlines()[2]
    assert missed.rstrip(" |").endswith("**no**")
    unjudged = render.table([peer_figure(met=None)]).splitlines()[2]
    assert unjudged.rstrip(" |").endswith("?")
    untargeted = render.table([peer_figure(met=None, target=None)]).splitlines()[2]
    assert untargeted.rstrip(" |").endswith("\N{EN DASH}")


@pytest.mark.parametrize(
    ("median", "low", "high", "verdict"),
    [(0.1, 0.0, 0.2, True), (1.0, 0.9, 1.1, False), (0.3, -5.0, 5.0, None)],
)
def test_a_slowdown_is_judged_on_the_interval_of_its_median(
    median: float, low: float, high: float, verdict: bool | None
) -> None:
    assert judged(summary_of(median, low, high, n=16), 0.5) is verdict


def test_an_error_row_shows_the_error_in_place_of_the_values() -> None:
    row = render.error_row("replay", "replay figures", "ImportError: no module")
    line = render.table([row]).splitlines()[2]
    assert "error: ImportError: no module" in line
    assert row["id"] == "replay:error"


def test_render_names_the_machine_and_the_peers_and_groups_the_tables() -> None:
    meta = {
        "quick": False,
        "machine": {"cpu": "Test CPU 9000", "logical_cpus": 2, "commit": "abc123"},
        "peers": {
            "codecarbon": {"version": "3.3.2", "error": None},
            "carbontracker": {"version": None, "error": "not installed: pip failed"},
        },
    }
    scale = peer_figure(id="rounds", module="scale", ratio=None, note="")
    text = render.render([scale, peer_figure()], meta)
    assert "Test CPU 9000: 2 logical CPUs" in text
    assert "commit abc123" in text
    assert "CodeCarbon 3.3.2, carbontracker: not installed: pip failed" in text
    assert text.index("### Process figures") < text.index("### Scale")
    assert "- `import`: wall time" in text


def test_update_doc_replaces_only_what_lies_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Title\n\nprose\n{run.BEGIN}\nold table\n{run.END}\nmore prose\n")
    run.update_doc("new table\n", doc)
    assert doc.read_text() == f"# Title\n\nprose\n{run.BEGIN}\nnew table\n{run.END}\nmore prose\n"


def test_update_doc_adds_the_markers_under_the_title_when_missing(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text("# Title\nprose\n")
    run.update_doc("table\n", doc)
    assert doc.read_text() == f"# Title\n\n{run.BEGIN}\ntable\n{run.END}\nprose\n"


def test_only_selects_a_module_by_name_or_by_the_figures_it_declares() -> None:
    assert run.wanted("scale", (), None)
    assert run.wanted("scale", (), {"scale"})
    assert not run.wanted("scale", (), {"import"})
    assert run.wanted("process", process.FIGURES, {"import"})
    assert run.wanted("process", process.FIGURES, {"slowdown_loop_default"})
    assert process.selected({"first_track", "scale"}) == {"first_track"}
    assert process.selected(None) == set(process.FIGURES)


def test_peer_row_pairs_only_the_repeats_both_tools_have() -> None:
    tools = Tools({})
    tools.errors["carbontracker"] = "not installed"
    values = {"nlpfootprint": [10.0, None, 20.0], "codecarbon": [30.0, 50.0, None]}
    row = peer_row("first_track", "first start", "ms", values, tools, limit=20.0)
    assert row["tools"]["nlpfootprint"]["n"] == 2
    assert row["ratio"] == {"codecarbon": {"median": 3.0, "low": 3.0, "high": 3.0, "n": 1}}
    assert row["tools"]["carbontracker"] == {"error": "not installed"}
    assert row["met"] is True  # median 15 < 20


def test_peers_can_be_left_out_and_are_then_columns_with_a_reason(tmp_path: Path) -> None:
    left_out = prepare(enabled=False, root=tmp_path)
    assert set(left_out) == {spec.name for spec in PEERS}
    assert all(peer.python is None and peer.error for peer in left_out.values())
    absent = prepare_one(PEERS[0], tmp_path, install=False)
    assert absent.python is None
    assert "installing was turned off" in (absent.error or "")


def test_the_measuring_child_prints_one_json_line() -> None:
    done = subprocess.run(
        [sys.executable, str(CHILDREN / "track.py"), "sampler", "bare", "default", "0"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["tool"] == "bare"
    assert set(result) == {"tool", "cpu_ms", "wall_s", "maxrss_kb"}
    assert result["maxrss_kb"] > 0
