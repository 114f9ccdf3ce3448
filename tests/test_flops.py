"""FLOPs, FLOP/J, tokens/J and MFU: the helpers (exact on known models), the counts through
the tracker, ledger, run log, windows, projections and job merges, the peak table, and how
every renderer shows them."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

import nlpfootprint as nf
from nlpfootprint.distributed.merge import Part, job_report
from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError
from nlpfootprint.hardware import load_hardware_table
from nlpfootprint.integrations._figures import logged_figures
from nlpfootprint.meters.base import Channel
from nlpfootprint.peaks import (
    PRECISIONS,
    Efficiency,
    device_peak,
    find_peak,
    load_peak_table,
    parse_peak_table,
)
from nlpfootprint.provenance import Device
from nlpfootprint.render.csv_row import CSV_COLUMNS
from nlpfootprint.report import Report
from nlpfootprint.runlog import load_run
from nlpfootprint.runlog.reader import LogReader
from nlpfootprint.runlog.replay import replay
from nlpfootprint.runlog.schema import RunLogError
from nlpfootprint.runlog.screen import logged_summary
from nlpfootprint.settings import TrackerSettings
from nlpfootprint.testing import FakeClock, FakeMeter
from nlpfootprint.totals import LedgerState
from nlpfootprint.windows import merge_entries

H100 = "NVIDIA H100 80GB HBM3"  # what NVML calls an H100 SXM5
H100_BF16 = 989.4e12


def gpu(name: str = H100, watts: float = 700.0, *, index: int = 0, count: int = 1) -> FakeMeter:
    """A GPU power meter whose device is named as NVML names it."""
    channel = Channel(
        f"gpu:{index}", "gpu", "power", device=Device(name=name, index=index, count=count)
    )
    return FakeMeter([channel], lambda: [watts])


def run(
    meters: list[Any],
    *,
    steps: int = 4,
    seconds: float = 10.0,
    tokens: int | None = 1000,
    flops: float | None = 1e15,
    **options: Any,
) -> Report:
    """A run of ``steps`` steps of ``seconds`` each on a FakeClock."""
    clock = FakeClock()
    with nf.track_energy(meters=meters, clock=clock, **options) as tracker:
        for _ in range(steps):
            clock.advance(seconds)
            tracker.step(tokens=tokens, flops=flops)
    return tracker.report


# -- the helpers -----------------------------------------------------------------------


def test_training_flops_is_six_times_parameters_times_tokens() -> None:
    assert nf.training_flops(parameters=124e6, tokens=1e9) == 6 * 124e6 * 1e9
    assert nf.training_flops(7e9, 1e12) == pytest.approx(4.2e22)  # past 2**53: a float
    assert nf.training_flops(0, 1e9) == 0.0


def test_training_flops_adds_kaplans_attention_term_when_the_shape_is_given() -> None:
    with_attention = nf.training_flops(124e6, 1e9, layers=12, context=1024, d_model=768)
    assert with_attention == 6 * 124e6 * 1e9 + 6 * 12 * 1024 * 768 * 1e9


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"parameters": -1, "tokens": 1}, ConfigurationError, "parameters=-1"),
        ({"parameters": 1, "tokens": math.nan}, ConfigurationError, "tokens=nan"),
        ({"parameters": "7B", "tokens": 1}, ConfigurationTypeError, "parameters='7B'"),
        ({"parameters": 1, "tokens": 1, "layers": 12}, ConfigurationError, "context, d_model"),
        ({"parameters": 1e30, "tokens": 1e30}, ConfigurationError, "training_flops="),
    ],
)
def test_training_flops_refuses_what_is_no_count(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        nf.training_flops(**kwargs)


def test_count_step_flops_is_exact_for_a_small_network() -> None:
    torch = pytest.importorskip("torch")
    batch, d0, d1, d2 = 3, 8, 5, 4
    net = torch.nn.Sequential(
        torch.nn.Linear(d0, d1), torch.nn.ReLU(), torch.nn.Linear(d1, d2, bias=False)
    )
    x = torch.randn(batch, d0)

    def step() -> None:
        net(x).sum().backward()

    forward = 2 * batch * (d0 * d1 + d1 * d2)  # 2 M N K per product (a bias add is not one)
    assert nf.count_step_flops(net, x) == forward
    # backward: each weight's gradient (2 M N K), and the second layer's input gradient;
    # the first layer's input needs none (x does not require grad)
    assert nf.count_step_flops(step) == forward + 2 * batch * (d0 * d1 + d1 * d2) + (
        2 * batch * d1 * d2
    )


# -- the tracker and the report --------------------------------------------------------


def test_steps_add_up_their_flops_and_the_report_divides_them_by_energy() -> None:
    report = run([gpu()], steps=4, seconds=10.0, tokens=1000, flops=2.5e14)
    assert report.flops == 4 * 2.5e14
    assert report.energy_j == pytest.approx(700.0 * 40)
    assert report.flops_per_j == pytest.approx(1e15 / 28_000)
    assert report.tokens_per_j == pytest.approx(4000 / 28_000)
    assert report.j_per_token == pytest.approx(7.0)


def test_a_report_without_flops_has_none_of_the_figures() -> None:
    report = run([gpu()], flops=None, tokens=None, precision="bf16")
    assert (report.flops, report.flops_per_j, report.tokens_per_j, report.mfu) == (
        None,
        None,
        None,
        None,
    )
    text = str(report) + report.to_markdown() + report.to_latex() + report._repr_html_()
    assert "FLOP" not in text
    assert "MFU" not in text
    assert "tokens/J" not in text


def test_flops_take_any_number_and_0d_tensors_and_refuse_the_rest() -> None:
    np = pytest.importorskip("numpy")
    clock = FakeClock()
    with nf.track_energy(meters=[gpu()], clock=clock) as tracker:
        tracker.step(flops=10**30)  # an int past a float's exact range
        tracker.step(flops=np.float64(1.5))
        tracker.step(0, flops=np.array(2.5))
        for bad, error in [
            (-1.0, ConfigurationError),
            (math.inf, ConfigurationError),
            (math.nan, ConfigurationError),
            (1e41, ConfigurationError),
            (True, ConfigurationTypeError),
            ("1e15", ConfigurationTypeError),
        ]:
            with pytest.raises(error, match="flops="):
                tracker.step(flops=bad)  # type: ignore[arg-type]
        clock.advance(1)
    assert tracker.report.flops == pytest.approx(1e30)
    assert tracker.report.steps == 2


def test_mfu_is_the_achieved_rate_over_the_gpus_bf16_peak_from_the_table() -> None:
    report = run([gpu(), gpu(index=1)], steps=5, seconds=2.0, flops=1e15, precision="bf16")
    peak = report.peak
    assert peak is not None
    assert (peak.flops_per_s, peak.basis, peak.devices) == (
        2 * H100_BF16,
        "table",
        (("H100 SXM5", 2),),
    )
    assert report.mfu == pytest.approx(5e15 / 10.0 / (2 * H100_BF16))


def test_a_channel_of_many_devices_counts_each_one_in_the_peak() -> None:
    report = run([gpu("A100-SXM4-40GB", count=8)], flops=1e15, precision="tf32")
    assert report.peak is not None
    assert report.peak.flops_per_s == 8 * 156e12
    assert report.peak.describe() == "8 x A100 40GB SXM4, tf32 dense peak"


def test_a_given_peak_wins_over_the_table() -> None:
    report = run([gpu()], steps=2, seconds=5.0, flops=1e15, precision="bf16", peak_flops_per_s=4e14)
    assert report.peak is not None
    assert (report.peak.basis, report.peak.flops_per_s) == ("given", 4e14)
    assert report.mfu == pytest.approx(2e15 / 10.0 / 4e14)


@pytest.mark.parametrize(
    ("meter", "precision", "why"),
    [
        (gpu(), None, "no precision given"),
        (gpu("Tesla V100-SXM2-16GB"), "bf16", "no bf16 peak"),  # the V100 has no BF16
        (gpu("GeForce GTX 480"), "fp32", "no fp32 peak"),  # not in the table
        (FakeMeter.constant(50.0, domain="gpu"), "fp32", "an unnamed device"),
        (FakeMeter.constant(50.0, domain="cpu"), "fp32", "no GPU channel"),
    ],
)
def test_without_a_known_peak_there_is_no_mfu_and_the_report_says_why(
    meter: Any, precision: str | None, why: str
) -> None:
    report = run([meter], flops=1e15, precision=precision)
    assert report.mfu is None
    assert why in find_peak(report.efficiency, report.channels)[1]
    assert "MFU            not computed: " in str(report)
    assert why in str(report)


def test_the_precision_and_the_peak_are_checked_when_given() -> None:
    with pytest.raises(ConfigurationError, match="precision='bf17': expected one of fp32"):
        TrackerSettings(precision="bf17")
    with pytest.raises(ConfigurationTypeError, match="precision=16"):
        TrackerSettings(precision=16)
    with pytest.raises(ConfigurationError, match="peak_flops_per_s=0"):
        TrackerSettings(peak_flops_per_s=0)
    with pytest.raises(ConfigurationError, match="peak_flops_per_s=1e\\+30"):
        TrackerSettings(peak_flops_per_s=1e30)
    with pytest.raises(ConfigurationError, match="flops_method='measured'"):
        TrackerSettings(flops_method="measured")  # type: ignore[arg-type]


def test_the_report_reads_back_its_flops_and_a_report_of_before_reads_without() -> None:
    report = run([gpu()], flops=3e14, precision="fp8", flops_method="estimated")
    again = Report.from_json(report.to_json())
    assert again == report
    assert again.efficiency == Efficiency("estimated", "fp8", None)
    data = report.to_dict()
    assert data["mfu"] == report.mfu
    assert data["peak"]["flops_per_s"] == 1978.9e12
    older = {k: v for k, v in data.items() if k not in ("flops", "efficiency", "peak", "mfu")}
    old = Report.from_dict(older)
    assert (old.flops, old.efficiency, old.mfu) == (None, Efficiency(), None)


def test_a_report_dict_with_impossible_flops_is_refused() -> None:
    data = run([gpu()]).to_dict()
    for bad in (-1.0, "many", {"precision": "bf17"}):
        broken = {**data, "efficiency": bad} if isinstance(bad, dict) else {**data, "flops": bad}
        with pytest.raises(nf.ReportFormatError, match="malformed report dict"):
            Report.from_dict(broken)


def test_a_projection_by_steps_scales_the_flops_and_keeps_the_mfu() -> None:
    report = run([gpu()], steps=4, flops=1e15, precision="bf16")
    projected = report.project(steps=400)
    assert projected.flops == pytest.approx(100 * report.flops)  # type: ignore[operator]
    assert projected.mfu == pytest.approx(report.mfu)
    assert projected.flops_per_j == pytest.approx(report.flops_per_j)


def test_windows_count_their_own_flops_and_entries_of_one_name_add_up() -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[gpu()], clock=clock, precision="bf16") as tracker:
        for n in range(2):
            with tracker.window("epoch"):
                clock.advance(10)
                tracker.step(flops=1e15 * (n + 1))
        with tracker.window("eval"):
            clock.advance(5)
    report = tracker.report
    epoch, evaluation = report.windows
    assert (epoch.count, epoch.flops, evaluation.flops) == (2, 3e15, 0.0)
    assert epoch.efficiency == report.efficiency
    assert epoch.mfu == pytest.approx(3e15 / 20 / H100_BF16)


def test_merging_runs_adds_flops_and_keeps_a_peak_only_when_both_had_it() -> None:
    a = run([gpu()], flops=1e15, precision="bf16")
    b = run([gpu()], flops=2e15, precision="bf16")
    assert merge_entries(a, b).flops == pytest.approx(a.flops + b.flops)  # type: ignore[operator]
    assert merge_entries(a, b).efficiency == a.efficiency
    c = run([gpu()], flops=None, precision="fp16")
    mixed = merge_entries(a, c)
    assert (mixed.flops, mixed.efficiency.precision, mixed.mfu) == (a.flops, None, None)


# -- the ledger's state and a job ------------------------------------------------------


def _part(rank: int, flops: float | None, peak: float | None = None, name: str = H100) -> Part:
    clock = FakeClock()
    options: dict[str, Any] = {"precision": "bf16", "peak_flops_per_s": peak}
    with (
        nf.track_energy(
            meters=[gpu(name, index=rank)], clock=clock, distributed=None, **options
        ) as tracker,
        tracker.window("train"),
    ):
        clock.advance(100)
        tracker.step(10, tokens=100, flops=flops)
    report = tracker.report
    assert tracker._ledger is not None
    state = tracker._ledger.state(report.duration_s)
    return Part(rank, "host", rank, 1_000_000.0, report.duration_s, state, report)


def test_a_ledger_state_sends_its_flops_and_merges_them() -> None:
    a, b = _part(0, 1e15).state, _part(1, 2e15).state
    assert LedgerState.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    assert a.merge(b).totals.flops == 3e15
    assert a.merge(_part(1, None).state).totals.flops == 1e15
    data = a.to_dict()
    del data["flops"]  # a part from an earlier version
    assert LedgerState.from_dict(data).totals.flops is None


def test_a_job_report_sums_the_ranks_flops_and_peaks() -> None:
    parts = [_part(0, 1e15), _part(1, 3e15)]
    job = job_report(
        parts, {}, engine="torch", world_size=2, assumptions=parts[0].report.assumptions
    )
    assert job.flops == 4e15
    assert job.windows[0].flops == 4e15
    assert job.peak is not None
    assert job.peak.flops_per_s == 2 * H100_BF16  # both ranks' GPUs
    assert job.mfu == pytest.approx(4e15 / 100 / (2 * H100_BF16))
    given = [_part(0, 1e15, peak=5e14), _part(1, 1e15, peak=5e14)]
    job = job_report(
        given, {}, engine="torch", world_size=2, assumptions=given[0].report.assumptions
    )
    assert job.peak is not None
    assert (job.peak.basis, job.peak.flops_per_s) == ("given", 1e15)  # each rank's own


@pytest.mark.parametrize("given_on", [0, 1])
def test_a_job_adds_the_given_peaks_to_the_tables_for_the_ranks_that_gave_none(
    given_on: int,
) -> None:
    parts = [_part(rank, 1e15, peak=5e14 if rank == given_on else None) for rank in (0, 1)]
    job = job_report(
        parts, {}, engine="torch", world_size=2, assumptions=parts[0].report.assumptions
    )
    assert job.peak is not None
    assert job.peak.flops_per_s == pytest.approx(5e14 + H100_BF16)  # not 2 table peaks
    assert job.windows[0].peak is not None
    assert job.windows[0].peak.flops_per_s == pytest.approx(5e14 + H100_BF16)
    (note,) = [w for w in job.warnings if "the job's MFU peak adds" in w]
    assert f"given on rank(s) {given_on} to the table's" in note
    assert f"rank {1 - given_on}: H100 SXM5, bf16 dense peak" in note


def test_a_job_whose_rank_without_a_peak_has_no_table_peak_uses_no_given_peak() -> None:
    parts = [_part(0, 1e15, peak=5e14), _part(1, 1e15, name="Mystery Accelerator 9000")]
    job = job_report(
        parts, {}, engine="torch", world_size=2, assumptions=parts[0].report.assumptions
    )
    assert (job.peak, job.mfu) == (None, None)
    (note,) = [w for w in job.warnings if "gave no peak_flops_per_s" in w]
    assert "rank 1 gave no peak_flops_per_s and the table has no peak for its GPUs" in note
    assert "'Mystery Accelerator 9000'" in note


def test_the_logged_figures_carry_flop_per_joule_and_mfu() -> None:
    report = run([gpu()], steps=2, seconds=5.0, flops=1e15, precision="bf16")
    figures = logged_figures(report, 700.0)
    assert figures["flops_per_j"] == pytest.approx(report.flops_per_j)
    assert figures["mfu"] == pytest.approx(report.mfu)
    assert "mfu" not in logged_figures(run([gpu()], flops=None), None)


def test_a_job_s_logged_figures_sum_the_ranks_flops_and_peaks() -> None:
    torch = pytest.importorskip("torch")
    report = run([gpu()], steps=2, seconds=5.0, flops=1e15, precision="bf16")
    figures = logged_figures(report, 700.0, reduce=lambda row: row * 2, ranks=2)
    assert isinstance(figures["mfu"], float)
    assert figures["mfu"] == pytest.approx(report.mfu)  # twice the FLOPs on twice the peak
    assert figures["flops_per_j"] == pytest.approx(report.flops_per_j)
    halves = logged_figures(report, 700.0, reduce=lambda row: row * torch.tensor(
        [2.0] * 8 + [1.0]), ranks=2)  # fmt: skip
    assert "mfu" not in halves  # one rank of two knows no peak


# -- the run log -----------------------------------------------------------------------


def _logged(tmp_path: Path, **options: Any) -> tuple[Report, Path]:
    log = tmp_path / "run.jsonl"
    clock = FakeClock()
    with nf.track_energy(meters=[gpu()], clock=clock, log=log, interval_s=1.0, **options) as t:
        for i in range(6):
            clock.advance(1.0)
            t.step(tokens=7, flops=0.1 + i * 1e20 / 3)  # no round figures
    return t.report, log


def test_the_run_log_records_the_flops_and_a_replay_gives_the_very_figure(tmp_path: Path) -> None:
    live, log = _logged(tmp_path, precision="bf16")
    lines = log.read_text().splitlines()
    assert any('"flops":' in line and '"steps":' in line for line in lines)
    replayed = replay(log)
    assert replayed.flops == live.flops  # exactly: the log's figure, not a sum of differences
    assert replayed.efficiency == live.efficiency
    assert replayed.mfu == pytest.approx(live.mfu)
    run_log = load_run(log)
    assert run_log.counts.shape == (len(run_log.flops), 3)
    assert run_log.flops[-1] == live.flops


def test_a_crashed_runs_log_keeps_its_flops(tmp_path: Path) -> None:
    live, log = _logged(tmp_path)
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-1]) + "\n")  # no summary: the run never stopped
    rebuilt = Report.from_log(log)
    assert rebuilt.flops == live.flops
    assert "did not finish cleanly" in rebuilt.warnings[0]


def test_a_log_with_flops_gives_its_summary_without_a_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, log = _logged(tmp_path)
    parsed: list[bytes] = []
    event = LogReader.event

    def parse(self: LogReader, number: int, line: bytes, cut: bool, last_t: list[float]) -> Any:
        parsed.append(line)
        return event(self, number, line, cut, last_t)

    monkeypatch.setattr(LogReader, "event", parse)
    summary = logged_summary(LogReader(log))
    assert summary is not None
    assert Report.from_dict(summary) == live
    assert [line[:11] for line in parsed] == [b'{"summary":']  # counts screened, not parsed


def test_a_count_line_without_flops_still_reads_and_a_bad_one_is_named(tmp_path: Path) -> None:
    _, log = _logged(tmp_path)
    head = log.read_text().splitlines()[0]
    log.write_text(f'{head}\n{{"t":1.0,"steps":1,"tokens":2}}\n')
    run_log = load_run(log)
    assert run_log.counts.tolist() == [[1.0, 1.0, 2.0]]
    assert math.isnan(run_log.flops[0])
    assert Report.from_log(log).flops is None
    log.write_text(f'{head}\n{{"t":1.0,"steps":1,"tokens":2,"flops":-5.0}}\n')
    with pytest.raises(RunLogError, match=r"line 2 is corrupt.*flops=-5"):
        load_run(log)


# -- renderers -------------------------------------------------------------------------


def test_the_text_rows_give_flops_flop_per_joule_tokens_per_joule_and_mfu() -> None:
    report = run([gpu()], steps=4, seconds=10.0, tokens=1000, flops=1e15, precision="bf16")
    text = str(report)
    assert "FLOPs          4.00e15 FLOP (142.9 GFLOP/J, given with tracker.step(flops=...))" in text
    assert "tokens/J       0.1429 tokens/J" in text
    assert "MFU            10.1% of 989.4 TFLOP/s (H100 SXM5, bf16 dense peak)" in text
    assert "MFU" in report.to_markdown()
    assert "MFU" in report._repr_html_()


def test_the_csv_row_has_the_efficiency_columns() -> None:
    report = run([gpu()], flops=1e15, precision="bf16", flops_method="counted")
    row = next(csv.DictReader(io.StringIO(f"{Report.csv_header()}\n{report.to_csv_row()}")))
    assert list(row) == list(CSV_COLUMNS)
    assert float(row["flops"]) == report.flops
    assert float(row["mfu"]) == report.mfu
    assert float(row["peak_flops_per_s"]) == H100_BF16
    assert (row["precision"], row["flops_method"]) == ("bf16", "counted")
    none = run([gpu()], flops=None, precision="bf16")
    empty = next(csv.DictReader(io.StringIO(f"{Report.csv_header()}\n{none.to_csv_row()}")))
    assert [empty[c] for c in ("flops", "mfu", "peak_flops_per_s", "precision")] == [""] * 4


def test_the_latex_sentence_gains_the_flops_and_the_mfu() -> None:
    report = run(
        [gpu()], steps=4, seconds=10.0, flops=1e15, precision="bf16", flops_method="counted"
    )
    latex = report.to_latex()
    assert (
        r"It performed $4.00 \times 10^{15}$ floating-point operations (counted with PyTorch's "
        "FlopCounterMode on the first training step; 142.9 GFLOP per joule of IT energy), a model "
        r"FLOPs utilisation (MFU) of 10.1\% of a peak of 989.4 TFLOP/s (H100 SXM5, bf16 dense "
        "peak)."
    ) in latex
    estimated = run([gpu()], flops=1e15, flops_method="estimated").to_latex()
    assert r"estimated as 6 $\times$ parameters $\times$ tokens, Kaplan et al. (2020)" in estimated
    assert "model FLOPs utilisation" not in estimated  # no precision: no peak
    projected = report.project(runs=2).to_latex()
    assert r"It would perform $8.00 \times 10^{15}$" in projected


# -- the peak table --------------------------------------------------------------------


def test_every_row_of_the_peak_table_is_a_part_of_the_power_table() -> None:
    models = {spec.model for spec in load_hardware_table()}
    table = load_peak_table()
    assert table
    for spec in table:
        assert spec.model in models
        assert spec.source
        assert spec.verification
        assert set(spec.tflops) <= set(PRECISIONS)
        # tensor rates are at least the plain FP32 rate, and each narrower format's at
        # least its wider one's: a sparse rate halved wrongly would break the order
        rates = [spec.tflops.get(p) for p in PRECISIONS]
        known = [r for r in rates if r is not None]
        assert known == sorted(known), spec.model


@pytest.mark.parametrize(
    ("name", "precision", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", "bf16", ("H100 SXM5", 989.4e12)),
        ("NVIDIA H100 PCIe", "fp8", ("H100 PCIe", 1513e12)),
        ("NVIDIA A100-SXM4-80GB", "fp32", ("A100 80GB SXM4", 19.5e12)),
        ("A100 PCIe", "bf16", ("A100 40GB PCIe", 312e12)),  # ambiguous, but one peak
        ("NVIDIA L4", "fp8", ("L4", 242.5e12)),  # half the brief's with-sparsity figure
        ("AMD Instinct MI300X", "fp16", ("Instinct MI300X", 1307.4e12)),
        ("Tesla V100-SXM2-16GB", "fp16", ("Tesla V100 SXM2", 125e12)),
        ("Tesla V100-SXM2-16GB", "tf32", None),
        ("Tesla P100-PCIE-16GB", "fp16", ("Tesla P100 PCIe", 18.7e12)),
        ("Tesla P100-SXM2-16GB", "fp32", ("Tesla P100 SXM2", 10.6e12)),
        ("Tesla P100-PCIE-16GB", "bf16", None),  # no tensor cores
        ("NVIDIA RTX A6000", "bf16", ("RTX A6000", 154.8e12)),  # dense: half of 309.7
        ("NVIDIA RTX A6000", "fp32", ("RTX A6000", 38.7e12)),
        ("NVIDIA H100 NVL", "bf16", None),  # left out, with the reason
        ("NVIDIA GH200 480GB", "bf16", None),
        ("Tesla K80", "fp32", None),
        ("no such GPU", "fp32", None),
    ],
)
def test_a_device_name_finds_its_peak(
    name: str, precision: str, expected: tuple[str, float] | None
) -> None:
    assert device_peak(name, precision) == expected


def test_every_part_of_the_power_table_has_a_peak_row_or_a_reason_to_have_none() -> None:
    readme = (Path(nf.__file__).parent / "data" / "README.md").read_text()
    section = readme.split("## gpu_peak_flops.csv", 1)[1].split("\n## ", 1)[0]
    header = re.search(r"## gpu_peak_flops.csv \((\d+) rows\)", readme)
    assert header is not None
    assert int(header.group(1)) == len(load_peak_table())
    left_out = section.split("- **Left out on purpose:**", 1)[1].split("\n- **", 1)[0]
    named = set(re.findall(r"^  - (.+?):", left_out, re.MULTILINE))
    reasons = {name for line in named for name in re.findall(r"`([^`]+)`", line)}
    without = {spec.model for spec in load_hardware_table()} - {
        spec.model for spec in load_peak_table()
    }
    assert reasons == without


def test_a_bad_peak_table_row_is_named() -> None:
    head = "model,fp32,tf32,bf16,fp16,fp8,source,verification,notes\n"
    with pytest.raises(ConfigurationError, match="line 2: bf16='fast' is not a number"):
        parse_peak_table(head + "X,1,,fast,,,s,v,\n")
    with pytest.raises(ConfigurationError, match="line 2: fp32='-1' must be > 0"):
        parse_peak_table(head + "X,-1,,,,,s,v,\n")
    with pytest.raises(ConfigurationError, match="line 2: a row needs a model"):
        parse_peak_table(head + ",1,,,,,s,v,\n")


def test_efficiency_reads_back_and_ignores_keys_it_does_not_know() -> None:
    efficiency = Efficiency("counted", "bf16", 1e15)
    assert Efficiency.from_dict(efficiency.to_dict()) == efficiency
    assert Efficiency.from_dict({**efficiency.to_dict(), "later": 1}) == efficiency
    assert attrs.evolve(efficiency, precision=None).precision is None


# -- the training callbacks (count_flops=True) -----------------------------------------


def test_the_transformers_callback_counts_the_first_step_and_gives_it_to_every_step(
    tmp_path: Path,
) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate")
    from nlpfootprint.integrations.transformers import EnergyCallback
    from test_integration_transformers import BATCH, STEPS, TinyTokens, make_trainer

    callback = EnergyCallback(meters=[gpu()], interval_s=0.05, count_flops=True)
    trainer = make_trainer(tmp_path, [callback])
    trainer.train()
    report = callback.report
    # one step counted apart: the model's forward and backward on a batch of that shape
    data = TinyTokens(BATCH)
    batch = torch.utils.data.default_collate([data[i] for i in range(BATCH)])
    model = trainer.model.train()

    def step() -> None:
        model(**batch).loss.backward()

    per_step = nf.count_step_flops(step)
    assert per_step > 0
    assert report.flops == STEPS * per_step  # evaluation's forward passes not counted
    assert report.efficiency == Efficiency("counted", "fp32", None)  # CPU, float32
    assert report.mfu == pytest.approx(report.flops / report.duration_s / 67e12)
    assert "counted with PyTorch's FlopCounterMode on the first training step" in str(report)
    assert Report.from_log(tmp_path / "out" / "nlpfootprint-train.jsonl").flops == report.flops
    logged = [e for e in trainer.state.log_history if "loss" in e]
    assert all(e["flops_per_j"] > 0 and e["mfu"] > 0 for e in logged)


def test_the_transformers_callback_counts_no_flops_unless_asked(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate")
    from nlpfootprint.integrations.transformers import EnergyCallback
    from test_integration_transformers import make_trainer

    callback = EnergyCallback(meters=[gpu()], interval_s=0.05, precision="bf16")
    make_trainer(tmp_path, [callback], include_num_input_tokens_seen="all").train()
    report = callback.report
    assert (report.flops, report.efficiency.precision) == (None, "bf16")  # given: kept
    with pytest.raises(ConfigurationTypeError, match="count_flops='yes'"):
        EnergyCallback(count_flops="yes")  # type: ignore[arg-type]


def _lightning_fit(tmp_path: Path, **trainer: Any) -> Report:
    pytest.importorskip("torch")
    lp = pytest.importorskip("lightning.pytorch")
    from nlpfootprint.integrations.lightning import EnergyCallback
    from test_integration_lightning import fit

    clock = FakeClock()
    callback = EnergyCallback(meters=[gpu()], clock=clock, save=False, count_flops=True)
    fit(lp, callback, clock, tmp_path, **trainer)
    return callback.report


#: The tiny Lightning module's one product per batch, forward and backward: its head maps
#: 2 x 8 tokens from 4 to 16 features (2 x 16 x 4 x 16 FLOP), the backward pass takes the
#: weight's gradient and the input's (the embedding needs it): 6 N D with N = 64 weights
#: and D = 16 tokens.
LIGHTNING_BATCH_FLOPS = 6 * 64 * 16


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_the_lightning_callback_counts_the_first_batch_and_gives_it_to_every_batch(
    tmp_path: Path,
) -> None:
    report = _lightning_fit(tmp_path)
    assert report.flops == 4 * LIGHTNING_BATCH_FLOPS  # validation's forward passes not counted
    assert report.efficiency == Efficiency("counted", "fp32", None)
    accumulated = _lightning_fit(tmp_path / "acc", accumulate_grad_batches=2, limit_val_batches=0)
    assert (accumulated.steps, accumulated.flops) == (4, 8 * LIGHTNING_BATCH_FLOPS)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_the_lightning_callback_takes_the_precision_from_the_trainer(tmp_path: Path) -> None:
    report = _lightning_fit(tmp_path, precision="bf16-mixed")
    assert report.efficiency.precision == "bf16"
    assert report.mfu == pytest.approx(report.flops / report.duration_s / H100_BF16)  # type: ignore[operator]
