"""``%load_ext nlpfootprint``: the ``%%track_energy`` and ``%track_energy`` magics, run
through IPython's own shell (``IPython.testing.globalipapp``), on fake meters and a fake
clock; and the Report's plain display in IPython."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("IPython")

from IPython.core.error import UsageError
from IPython.lib.pretty import pretty
from IPython.testing import globalipapp
from IPython.utils.capture import CapturedIO, capture_output

import nlpfootprint as nf
from nlpfootprint.integrations.ipython import magic_parser, split_line
from nlpfootprint.testing import FakeClock, FakeMeter

DOC = Path(__file__).resolve().parent.parent / "docs" / "howto-notebooks.md"
FAKES = "--meters-var gpu --clock-var clock"


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """IPython's test shell with the extension loaded, a 100 W fake GPU (``gpu``) and a
    fake clock (``clock``) in its namespace; the names a test adds are removed after it."""
    ip = globalipapp.get_ipython()  # started once; later calls give the same shell
    if "nlpfootprint" not in ip.extension_manager.loaded:
        ip.run_line_magic("load_ext", "nlpfootprint")
    monkeypatch.chdir(tmp_path)
    before = set(ip.user_ns)
    ip.user_ns.update(clock=FakeClock(), gpu=[FakeMeter.constant(100.0, domain="gpu")])
    yield ip
    for name in set(ip.user_ns) - before:
        del ip.user_ns[name]


def run(shell: Any, source: str) -> tuple[Any, CapturedIO]:
    """Run ``source`` as a cell typed by the user; return the result and what it showed."""
    with capture_output() as captured:
        result = shell.run_cell(source)
    return result, captured


def test_load_ext_registers_the_line_and_the_cell_magic(shell: Any) -> None:
    assert "nlpfootprint" in shell.extension_manager.loaded
    assert shell.find_line_magic("track_energy") is not None
    assert shell.find_cell_magic("track_energy") is not None


def test_a_cell_is_measured_on_the_named_meters_and_clock(shell: Any) -> None:
    result, _ = run(
        shell,
        f"%%track_energy {FAKES} --report-var report\n"
        "import nlpfootprint as nf\n"
        "tracker = nf.current_tracker()\n"
        "for _ in range(10):\n"
        "    clock.advance(6)\n"
        "    tracker.step(tokens=512)\n"
        "with tracker.window('eval'):\n"
        "    clock.advance(30)\n",
    )
    assert result.success, result.error_in_exec
    report = shell.user_ns["report"]
    assert report.duration_s == pytest.approx(90.0)
    assert report.energy_j == pytest.approx(100.0 * 90.0)
    assert (report.steps, report.tokens) == (10, 5120)
    (evals,) = report.windows
    assert (evals.name, evals.energy_j) == ("eval", pytest.approx(3000.0))
    assert shell.user_ns["tracker"].running is False  # the cell's tracker ended with it
    assert nf.current_tracker() is None


def test_the_report_is_displayed_as_html_and_as_a_one_line_summary(
    shell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a terminal asks for text only; Jupyter's kernel asks for every format, HTML included
    monkeypatch.setattr(shell.display_formatter, "active_types", ["text/plain", "text/html"])
    result, captured = run(
        shell,
        f"%%track_energy {FAKES} --name cell --report-var report\n"
        "import nlpfootprint as nf\n"
        "clock.advance(60)\n"
        "nf.current_tracker().step(tokens=100)\n",
    )
    assert result.success, result.error_in_exec
    (shown,) = captured.outputs
    report = shell.user_ns["report"]
    assert shown.data["text/html"] == report._repr_html_()
    assert shown.data["text/plain"].startswith("<Report 'cell': 6.000 kJ (measured) in 60.00 s, ")
    assert shown.data["text/plain"].endswith(" CO2e, 1 step, 60.000 J/token>")


def test_the_last_line_s_value_is_the_output_and_quiet_displays_no_report(shell: Any) -> None:
    result, captured = run(shell, f"%%track_energy {FAKES} --quiet\nclock.advance(1)\n6 * 7\n")
    assert result.success, result.error_in_exec
    assert result.result == 42
    assert captured.outputs == []  # the value goes to Out[], no report is displayed
    assert "42" in captured.stdout


def test_the_line_form_measures_one_statement_kept_as_typed(shell: Any) -> None:
    result, captured = run(
        shell,
        f"value = %track_energy {FAKES} --report-var r clock.advance(2); print('a  {{b}}'); 7",
    )
    assert result.success, result.error_in_exec
    assert shell.user_ns["value"] == 7
    assert shell.user_ns["r"].energy_j == pytest.approx(200.0)
    assert "a  {b}" in captured.stdout  # quotes, blanks and braces as typed: no expansion


def test_options_reach_the_tracker_settings(shell: Any) -> None:
    result, _ = run(
        shell,
        f"%%track_energy {FAKES} --pue 1.2 --carbon-intensity FRA --price-per-kwh 0.25 "
        "--interval-s 30 --name 'two words' --report-var r --quiet\n"
        "clock.advance(3600)\n",
    )
    assert result.success, result.error_in_exec
    r = shell.user_ns["r"]
    assert r.energy_kwh == pytest.approx(0.1)
    assert r.assumptions.pue == 1.2
    assert r.assumptions.intensity.key == "FRA"
    assert r.cost_usd == pytest.approx(0.1 * 1.2 * 0.25)
    assert (r.interval_s, r.name) == (30.0, "two words")
    run(shell, f"%track_energy {FAKES} --carbon-intensity=50 --report-var n --quiet x = 1")
    assert shell.user_ns["n"].assumptions.intensity.g_per_kwh == 50.0


def test_the_log_option_writes_a_run_log_that_reads_back(shell: Any, tmp_path: Path) -> None:
    result, _ = run(
        shell,
        f"%%track_energy {FAKES} --log run.jsonl --report-var r --quiet\n"
        "import nlpfootprint as nf\n"
        "clock.advance(10)\n"
        "nf.current_tracker().step(tokens=64)\n",
    )
    assert result.success, result.error_in_exec
    logged = nf.Report.from_log(tmp_path / "run.jsonl")
    assert logged.energy_j == pytest.approx(shell.user_ns["r"].energy_j)
    assert logged.energy_j == pytest.approx(1000.0)
    assert logged.tokens == 64


def test_a_failing_cell_reports_its_energy_then_fails(shell: Any) -> None:
    result, captured = run(
        shell, f"%%track_energy {FAKES} --report-var r\nclock.advance(5)\n1 / 0\nran_on = True\n"
    )
    assert isinstance(result.error_in_exec, ZeroDivisionError)  # the cell failed
    assert "ran_on" not in shell.user_ns
    r = shell.user_ns["r"]
    assert r.energy_j == pytest.approx(500.0)
    assert any("ZeroDivisionError" in w for w in r.warnings)
    assert len(captured.outputs) == 1  # the report was shown, before the traceback
    assert captured.stdout.count("ZeroDivisionError: division by zero") == 1


def test_a_syntax_error_stops_the_cell_before_anything_is_measured(shell: Any) -> None:
    result, captured = run(shell, f"%%track_energy {FAKES} --report-var r\nclock.advance(1)\n)\n")
    assert isinstance(result.error_in_exec, SyntaxError)
    assert "r" not in shell.user_ns
    assert captured.outputs == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("%%track_energy --pue 9\nran = True", "pue=9.0"),
        ("%%track_energy --interval-s fast\nran = True", "'fast'"),
        ("%%track_energy --carbon-intensity Narnia\nran = True", "'Narnia'"),
        ("%%track_energy --bogus 1\nran = True", "unrecognized arguments: --bogus"),
        ("%%track_energy --meters-var nope\nran = True", "no variable 'nope'"),
        ("%%track_energy --report-var 1x\nran = True", "'1x' is not a variable name"),
        ("%%track_energy ran = True\nran = True", "options only"),
        ("%track_energy --pue 1.2", "nothing to measure"),
    ],
)
def test_bad_options_are_usage_errors_that_name_the_value(
    shell: Any, source: str, message: str
) -> None:
    result, _ = run(shell, source)
    assert isinstance(result.error_in_exec, UsageError)
    assert message in str(result.error_in_exec)
    assert "ran" not in shell.user_ns  # nothing ran


@pytest.mark.parametrize(
    ("line", "words", "statement"),
    [
        ("--quiet train(3)", ["--quiet"], "train(3)"),
        ("--pue=1.2  print('a  b')", ["--pue=1.2"], "print('a  b')"),
        (
            '--name "my run" --log run.jsonl x = 1',
            ["--name", "my run", "--log", "run.jsonl"],
            "x = 1",
        ),
        ("--carbon-intensity -5 -- -x + 1", ["--carbon-intensity", "-5"], "-x + 1"),
        ("--name='a b' --quiet", ["--name=a b", "--quiet"], ""),
        ("", [], ""),
    ],
)
def test_split_line_takes_the_options_and_keeps_the_statement_as_typed(
    line: str, words: list[str], statement: str
) -> None:
    assert split_line(line, magic_parser()) == (words, statement)


def test_a_report_s_plain_display_in_ipython_is_a_one_line_summary() -> None:
    clock = FakeClock()
    gpu = FakeMeter.constant(100.0, domain="gpu")
    options: dict[str, Any] = {"clock": clock, "pue": 1.5, "carbon_intensity": 400.0}
    with nf.track_energy(meters=[gpu], name="train", **options) as tracker:
        clock.advance(60)
        tracker.step(10, tokens=6000)
    assert pretty(tracker.report) == (
        "<Report 'train': 6.000 kJ (measured) in 60.00 s, 1.000 g CO2e, 10 steps, 1.000 J/token>"
    )
    with nf.track_energy(meters=[gpu], **options) as tracker:
        clock.advance(30)
    assert pretty(tracker.report) == (
        "<Report: 3.000 kJ (measured) in 30.00 s, 500.0 mg CO2e, 0 steps>"
    )


def notebook_blocks() -> list[str]:
    """The code blocks of the notebook part of the how-to, in order."""
    notebook_part = DOC.read_text(encoding="utf-8").split("\n## Test training code")[0]
    return re.findall(r"^```(?:ipython|python)\n(.*?)^```$", notebook_part, re.M | re.S)


def test_the_notebook_how_to_runs_as_written(shell: Any, tmp_path: Path) -> None:
    blocks = notebook_blocks()
    assert len(blocks) == 6
    for block in blocks:
        result, _ = run(shell, block)
        assert result.success, (block, result.error_in_exec)
    report = shell.user_ns["report"]
    assert report.tokens == 20 * 512
    assert report.j_per_token is not None
    assert report.j_per_token > 0
    assert report.assumptions.intensity.key == "FRA"
    assert nf.Report.from_log(tmp_path / "run.jsonl").tokens == 20 * 512
    assert shell.user_ns["squares"] == sum(i * i for i in range(100_000))
    assert shell.user_ns["one"].duration_s > 0
    assert shell.user_ns["fake"].energy_kwh == pytest.approx(0.3)


def test_neither_the_package_nor_this_module_imports_ipython_until_loaded() -> None:
    code = (
        "import sys, nlpfootprint, nlpfootprint.integrations.ipython; "
        "nlpfootprint.load_ipython_extension; print('IPython' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
