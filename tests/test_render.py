"""Renderings of a report: Markdown, LaTeX (+ the paper's sentence), CSV and HTML agree."""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import nlpfootprint as nf
from helpers import measured_report
from nlpfootprint.render import (
    CSV_COLUMNS,
    figure_rows,
    markdown_escape,
    render_csv_header,
    render_csv_row,
    render_html,
    render_markdown,
)
from nlpfootprint.render.latex import latex_escape, latex_value, paper_sentence, render_latex
from nlpfootprint.report import ChannelReport, Report
from nlpfootprint.testing import FakeClock, FakeMeter
from nlpfootprint.units import format_energy_kwh, format_mass_kg, significant

TRICKY = "NVIDIA_X <script>alert(1)</script> 100% #1 & $5 {a}|b"


def tricky_report() -> Report:
    clock = FakeClock()
    meter = FakeMeter.constant(250.0, domain="gpu", labels=[TRICKY])
    with nf.track_energy(meters=[meter], clock=clock, name="my_run <b>&</b>") as t:
        clock.advance(600)
    return t.report


def paper_estimate() -> Report:
    return nf.estimate(
        hardware="V100", count=64, hours=79.2, carbon_intensity="strubell2019", price_per_kwh=0.12
    )


REPORTS: dict[str, Callable[[], Report]] = {
    "measured": lambda: measured_report(price_per_kwh=0.2),
    "estimate": paper_estimate,
    "projected": lambda: measured_report(carbon_intensity="FRA").project(hours=100),
    "tricky": tricky_report,
}


@pytest.fixture(params=sorted(REPORTS))
def report(request: pytest.FixtureRequest) -> Report:
    return REPORTS[request.param]()


def renderings(report: Report) -> dict[str, tuple[str, Callable[[str], str]]]:
    """Each format with the escape function that turns a plain figure into its form there."""
    return {
        "text": (str(report), lambda s: s),
        "markdown": (report.to_markdown(), markdown_escape),
        "html": (report._repr_html_(), html.escape),
        "latex": (report.to_latex(), latex_value),
    }


# -- every format renders the same numbers --------------------------------------------


def test_every_format_shows_every_figure_exactly_as_the_text_table(report: Report) -> None:
    for fmt, (text, escape) in renderings(report).items():
        for name, value in figure_rows(report):
            assert escape(value) in text, (fmt, name)


#: What each energy unit of a table is in kWh.
_KWH = {"kWh": 1.0, "Wh": 1e-3, "mWh": 1e-6, "uWh": 1e-9}


def test_every_format_parses_to_the_same_kwh_and_co2e_figures(report: Report) -> None:
    """Tables show 4 significant figures (half a unit in the 4th digit is at most 5e-4 of
    the figure); the CSV keeps full precision."""

    def numbers(text: str, unit: str) -> list[float]:
        return [float(x.replace(",", "")) for x in re.findall(rf"([\d.,]+) {unit}\b", text)]

    def energies(text: str) -> list[float]:
        found = re.findall(r"([\d.,]+) (kWh|Wh|mWh|uWh)\b", text)
        return [float(x.replace(",", "")) * _KWH[unit] for x, unit in found]

    text = str(report)
    expected_kwh = energies(text)[:2]
    assert expected_kwh == pytest.approx([report.energy_kwh, report.facility_energy_kwh], rel=5e-4)
    expected_lbs = numbers(text, "lbs")
    for fmt, (rendered, _) in renderings(report).items():
        assert energies(rendered)[:2] == expected_kwh, fmt
        assert numbers(rendered, "lbs")[:1] == expected_lbs[:1], fmt
    row = next(csv.DictReader(io.StringIO(f"{report.csv_header()}\n{report.to_csv_row()}")))
    assert [float(row["energy_kwh"]), float(row["facility_energy_kwh"])] == pytest.approx(
        expected_kwh, rel=5e-4
    )
    assert float(row["co2e_lbs"]) == pytest.approx(expected_lbs[0], rel=5e-4)


@pytest.mark.parametrize(
    ("kwh", "kg", "usd", "shown"),
    [
        (
            6.52778e-07,
            2.99e-07,
            1.23767e-07,
            ["652.8 uWh", "299.0 ug", "< 0.001 lbs", "< 0.000001 USD"],
        ),
        (6.5e-4, 6.53e-5, 1.2e-4, ["650.0 mWh", "65.30 mg", "< 0.001 lbs", "0.00012 USD"]),
        (2402.61, 1039.6, 288.31, ["2,403 kWh", "1.040 t", "2,292 lbs", "288.31 USD"]),
    ],
)
def test_text_and_markdown_numbers_are_human(
    kwh: float, kg: float, usd: float, shown: list[str]
) -> None:
    """Engineering prefixes and 4 significant figures, never an exponent (issue 13, 10)."""
    channel = ChannelReport("gpu:0", "gpu", "power", "sampled", "", kwh * 3.6e6)
    report = Report(3600.0, (channel,))
    report = report.with_assumptions(
        pue=1.0, carbon_intensity=kg / kwh * 1000, price_per_kwh=usd / kwh
    )
    for text in (str(report), report.to_markdown()):
        assert "e-0" not in text
        assert "e+0" not in text
        for figure in shown:
            assert figure in text, (figure, text)


def test_the_paper_sentence_rounds_the_same_figures(report: Report) -> None:
    sentence = paper_sentence(report)
    kwh = [float(x.replace(",", "")) for x in re.findall(r"([\d.,]+) kWh", sentence)]
    assert kwh == pytest.approx([report.energy_kwh, report.facility_energy_kwh], rel=5e-3)
    match = re.search(r"\(([\d.,]+) lbs\)", sentence)
    assert match is not None
    lbs = float(match.group(1).replace(",", ""))
    assert lbs == pytest.approx(report.co2e_lbs, rel=5e-3, abs=0.5)


def test_csv_carries_every_figure_at_full_precision(report: Report) -> None:
    row = next(csv.DictReader(io.StringIO(f"{Report.csv_header()}\n{report.to_csv_row()}")))
    assert list(row) == list(CSV_COLUMNS)
    for column in ("duration_s", "energy_kwh", "facility_energy_kwh", "co2e_kg", "co2e_lbs"):
        assert float(row[column]) == getattr(report, column), column
    assert int(row["steps"]) == report.steps
    assert float(row["pue"]) == report.assumptions.pue
    assert float(row["g_per_kwh"]) == report.assumptions.intensity.g_per_kwh
    assert row["method"] == report.method
    assert row["name"] == (report.name or "")


# -- assumptions and the measured/estimated marking ------------------------------------


def test_every_format_states_the_assumptions(report: Report) -> None:
    intensity = report.assumptions.intensity
    price = report.assumptions.price_per_kwh
    for fmt, (text, escape) in renderings(report).items():
        assert "Uptime Institute" in text, fmt
        assert escape(f"{intensity.g_per_kwh:g} g/kWh") in text, fmt
        assert escape(intensity.source) in text, fmt
        assert (f"{price:g} USD/kWh" if price is not None else "no price") in text, fmt
    row = next(csv.DictReader(io.StringIO(f"{Report.csv_header()}\n{report.to_csv_row()}")))
    assert row["intensity_source"] == intensity.source
    assert row["price_per_kwh"] == ("" if price is None else repr(price))


def test_an_estimate_is_marked_estimated_everywhere() -> None:
    report = paper_estimate()
    for fmt, (text, _) in renderings(report).items():
        assert "ESTIMATED" in text, fmt
    assert "not measured" in report.to_latex()
    row = next(csv.reader(io.StringIO(report.to_csv_row())))
    assert row[CSV_COLUMNS.index("method")] == "estimated"


def test_a_projection_is_marked_projected_everywhere() -> None:
    report = measured_report().project(runs=10)
    for fmt, (text, _) in renderings(report).items():
        assert "PROJECTED x10" in text, fmt
    assert "is projected, from a 64.0 min measurement" in report.to_latex()
    row = next(csv.DictReader(io.StringIO(f"{Report.csv_header()}\n{report.to_csv_row()}")))
    assert float(row["projection_factor"]) == 10.0


def test_a_measured_report_says_how_each_part_was_measured() -> None:
    sentence = paper_sentence(measured_report())
    assert "2 fake power meter GPUs (measured by sampling power)" in sentence
    assert "the CPU (measured with energy counters)" in sentence
    assert "DRAM (estimated, not measured)" in sentence
    assert "(partly estimated)" in sentence


def test_the_sentence_names_nvml_gpus_from_their_device_fields() -> None:
    label = "NVIDIA A100-SXM4-80GB (GPU-1234, limit 400 W): NVML energy counter"
    channels = tuple(
        ChannelReport(
            f"gpu:{i}",
            "gpu",
            "energy",
            "counter",
            label,
            3.6e6,
            readings=10,
            backend="nvml",
            device=nf.Device(name="NVIDIA A100-SXM4-80GB", index=i, uuid=f"GPU-123{i}"),
        )
        for i in range(4)
    )
    sentence = paper_sentence(Report(7200.0, channels))
    assert sentence.startswith(
        "Training took 2.00 hours on 4 NVIDIA A100-SXM4-80GB GPUs "
        "(measured with NVML energy counters). It drew 4 kWh,"
    )
    assert "the default world average" in sentence


def test_the_paper_estimate_reads_like_the_paper() -> None:
    sentence = paper_sentence(paper_estimate())
    assert sentence == (
        "Training took 79.2 hours on 64 Tesla V100 SXM2 GPUs (estimated from rated power, "
        "not measured). It drew an estimated 1,520.6 kWh, or 2,402.6 kWh including a "
        "data-centre PUE of 1.58, and emitted an estimated 1,039.7 kg CO$_2$e (2,292 lbs) at "
        "432.7 g/kWh (US EPA (2018) average, as used by Strubell, Ganesh \\& McCallum "
        "(ACL 2019), Eq. 2); the electricity cost \\$288.31 at \\$0.12/kWh. Figures from "
        f"nlpfootprint {nf.__version__} following Strubell et al. (2019)."
    )


def test_without_a_price_no_format_invents_a_cost() -> None:
    report = measured_report()
    assert "electricity cost" not in paper_sentence(report)
    for fmt, (text, _) in renderings(report).items():
        assert "no price" in text, fmt
    row = next(csv.DictReader(io.StringIO(f"{Report.csv_header()}\n{report.to_csv_row()}")))
    assert row["cost_usd"] == row["price_per_kwh"] == row["currency"] == ""


def test_the_default_intensity_is_flagged_in_latex() -> None:
    latex = measured_report().to_latex()
    assert "% NOTE: the carbon intensity is the default world average" in latex
    assert "NOTE" not in paper_estimate().to_latex()


# -- escaping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("gpu:0", "gpu:0"),
        ("NVIDIA_X", r"NVIDIA\_X"),
        ("50% & #1 $5", r"50\% \& \#1 \$5"),
        ("{a} ~ ^ \\", r"\{a\} \textasciitilde{} \textasciicircum{} \textbackslash{}"),
        ("a\nb", "a b"),
    ],
)
def test_latex_escape_makes_labels_safe(raw: str, escaped: str) -> None:
    assert latex_escape(raw) == escaped


def test_latex_escapes_labels_and_names_from_the_report() -> None:
    latex = tricky_report().to_latex()
    assert r"NVIDIA\_X \textless{}script\textgreater{}" in latex
    assert r"100\% \#1 \& \$5 \{a\}\textbar{}b" in latex
    assert r"my\_run \textless{}b\textgreater{}\&" in latex
    body = "\n".join(line for line in latex.splitlines() if not line.startswith("%"))
    body = body.replace("CO$_2$e", "CO2e")
    assert not re.search(r"(?<!\\)[%#_]", body)


def test_latex_uses_booktabs_and_says_so() -> None:
    latex = paper_estimate().to_latex()
    assert "% requires \\usepackage{booktabs}" in latex
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert latex.count(rule) == 1


def test_html_keeps_a_script_label_as_text() -> None:
    page = tricky_report()._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "my_run &lt;b&gt;&amp;&lt;/b&gt;" in page


def test_markdown_escapes_so_a_pipe_in_a_label_cannot_split_a_cell() -> None:
    md = tricky_report().to_markdown()
    rows = [line for line in md.splitlines() if line.startswith("| gpu:0")]
    assert len(rows) == 1
    assert len(re.findall(r"(?<!\\)\|", rows[0])) == 8  # 7 cells (coverage among them)
    assert "<script>" not in md


def test_csv_quotes_names_with_commas_and_quotes() -> None:
    report = measured_report(name='a, "quoted" run')
    rows = list(csv.reader(io.StringIO(f"{Report.csv_header()}\n{report.to_csv_row()}")))
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1][0] == 'a, "quoted" run'
    assert len(rows[1]) == len(CSV_COLUMNS)


def test_csv_rows_of_many_runs_make_one_file() -> None:
    reports = [paper_estimate(), measured_report(), tricky_report()]
    text = "\n".join([Report.csv_header(), *(r.to_csv_row() for r in reports)]) + "\n"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["method"] for r in rows] == ["estimated", "mixed", "measured"]
    assert rows[0]["j_per_step"] == ""  # None is an empty cell


def test_report_methods_delegate_to_the_renderers() -> None:
    report = measured_report()
    assert report.to_markdown() == render_markdown(report)
    assert report.to_latex() == render_latex(report)
    assert report.to_csv_row() == render_csv_row(report)
    assert Report.csv_header() == report.csv_header() == render_csv_header()
    assert report._repr_html_() == render_html(report)


def test_markdown_lists_channels_windows_assumptions_and_warnings() -> None:
    md = measured_report().project(hours=10).to_markdown()
    for needle in ("| gpu:0 |", "| counter |", "**Assumptions**", "**Warnings**", "projected"):
        assert needle in md, needle
    md = measured_report().to_markdown()
    assert "- train x4: 60.0 min" in md


# -- the LaTeX compiles ------------------------------------------------------------------


def _engine() -> list[str] | None:
    for name in ("pdflatex", "lualatex", "xelatex"):
        path = shutil.which(name)
        if path:
            return [path, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"]
    return None


def test_the_latex_compiles(tmp_path: Path) -> None:
    engine = _engine()
    if engine is None:
        pytest.skip("no TeX engine (pdflatex, lualatex, xelatex) on PATH")
    reports = [paper_estimate(), measured_report().project(hours=50), tricky_report()]
    body = "\n\\clearpage\n".join(
        render_latex(r, label=f"tab:run{i}") for i, r in enumerate(reports)
    )
    preamble = "\\documentclass{article}\n\\usepackage{booktabs}\n"
    doc = f"{preamble}\\begin{{document}}\n{body}\n\\end{{document}}\n"
    (tmp_path / "doc.tex").write_text(doc, encoding="utf-8")
    done = subprocess.run(
        [*engine, "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


@pytest.mark.parametrize(
    ("hours", "words"),
    [(0.5, "30.0 minutes"), (1.5, "1.50 hours"), (7199 / 3600, "2.00 hours"), (84, "84.0 hours")],
)
def test_the_sentence_gives_a_run_of_an_hour_or_more_in_hours(hours: float, words: str) -> None:
    sentence = paper_sentence(nf.estimate(hardware="V100", count=8, hours=hours))
    assert sentence.startswith(f"Training took {words} on 8 Tesla V100 SXM2 GPUs")


def test_the_sentence_says_a_stated_power_is_not_a_rated_one() -> None:
    sentence = paper_sentence(nf.estimate(power_w=1515.43, hours=84))
    assert "(estimated from the power stated for it, not measured)" in sentence
    assert "rated power" not in sentence


# -- LaTeX typesetting (issue 13, point 11) -----------------------------------------------


def _projected(name: str, price: float = 0.12, watts: float = 250.0) -> Report:
    clock = FakeClock()
    with nf.track_energy(
        meters=[FakeMeter.constant(watts)], clock=clock, name=name, price_per_kwh=price
    ) as tracker:
        for i in range(20):
            clock.advance(30 + (i % 2) * 20)  # uneven steps: a J/step spread and a band
            tracker.step()
    return tracker.report.project(steps=1000)


def test_latex_typesets_plus_minus_subscripts_and_ranges() -> None:
    tex = _projected("gpt2").to_latex()
    table = tex.split(r"\begin{tabular}")[1].split(r"\end{tabular}")[0]
    assert r"$\pm$" in table
    assert "CO$_2$e" in table
    assert re.search(r"kWh--\d", table)  # the band's range, with an en dash
    assert "+-" not in tex
    assert "CO2e" not in tex
    assert not re.search(r"[^.]\.\.[^.]", table)


def test_latex_labels_come_from_the_run_name_and_can_be_set() -> None:
    assert (
        r"\label{tab:nlpfootprint-gpt-2-small-lr-3e-4}"
        in _projected("GPT-2 small, lr 3e-4").to_latex()
    )
    assert r"\label{tab:mine}" in _projected("x").to_latex(label="tab:mine")
    assert r"\label{tab:nlpfootprint}" in measured_report(name=None).to_latex()


def test_the_sentence_never_says_zero_dollars() -> None:
    tiny = _projected("tiny", watts=0.01)
    assert tiny.cost_usd is not None
    assert 1e-6 < tiny.cost_usd < 0.005
    sentence = paper_sentence(tiny)
    assert r"\$0.00 " not in sentence
    assert rf"\${significant(tiny.cost_usd, 2)}" in sentence
    nothing = _projected("nothing", watts=1e-6)
    assert nothing.cost_usd is not None
    assert nothing.cost_usd < 1e-6
    assert "cost" not in paper_sentence(nothing)


def test_two_default_labelled_tables_compile_in_one_document(tmp_path: Path) -> None:
    engine = _engine()
    if engine is None:
        pytest.skip("no TeX engine (pdflatex, lualatex, xelatex) on PATH")
    body = "\n".join(_projected(name).to_latex() for name in ("run a", "run b"))
    doc = (
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        f"{body}\nSee Tables \\ref{{tab:nlpfootprint-run-a}} and \\ref{{tab:nlpfootprint-run-b}}.\n"
        "\\end{document}\n"
    )
    (tmp_path / "doc.tex").write_text(doc, encoding="utf-8")
    for _ in range(2):  # twice, so that the references resolve
        done = subprocess.run(
            [*engine, "doc.tex"], cwd=tmp_path, capture_output=True, text=True,
            timeout=240, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:]
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "multiply defined" not in log
    assert "undefined" not in log.lower()


def test_latex_ranges_leave_paths_alone() -> None:
    report = _projected("python scripts/../train.py")
    tex = report.to_latex()
    assert "scripts/../train.py" in tex
    assert "scripts/--/train.py" not in tex


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        (format_energy_kwh(0.99996), "1.000 kWh"),  # rounded before its unit is chosen
        (format_mass_kg(0.99999), "1.000 kg"),
        (format_energy_kwh(9.99996), "10.00 kWh"),  # 4 significant figures, not 5
        (format_mass_kg(1e-12), "0.001000 ug"),
    ],
)
def test_rounding_never_crosses_a_unit(shown: str, expected: str) -> None:
    assert shown == expected
