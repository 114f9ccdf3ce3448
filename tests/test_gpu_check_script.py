"""scripts/gpu_check.py without a GPU: its options, verdicts, figures and JSON, and its
checks driven through a fake NVML module with the loads on the CPU."""

from __future__ import annotations

import doctest
import importlib.util
import io
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import nlpfootprint as nf
from fake_nvml import FakeGpu, make_pynvml
from nlpfootprint.clock import MonotonicClock

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gpu_check.py"
H100_BF16_PEAK = 989.4e12


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture
def fake_rig(script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The checks on the CPU, reading one fake H100 at a constant 300 W in real time."""
    pytest.importorskip("torch")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    nvml = make_pynvml([FakeGpu(power_w=300.0)], clock=MonotonicClock())
    return script.Rig(nvml=nvml, device="cpu", rest_s=0.0)


def test_importing_the_script_imports_neither_torch_nor_pynvml() -> None:
    code = textwrap.dedent(
        f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("gpu_check", {str(SCRIPT)!r})
        module = importlib.util.module_from_spec(spec)
        sys.modules["gpu_check"] = module
        spec.loader.exec_module(module)
        print(sorted(m for m in ("torch", "pynvml") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_checks_option_takes_all_or_names_and_runs_them_in_the_script_order(
    script: ModuleType,
) -> None:
    assert script.parse_args([]).checks == ("share", "comparison", "mfu", "baseline")
    assert script.parse_args(["--checks", "all"]).checks == script.CHECKS
    assert script.parse_args(["--checks", "baseline, share"]).checks == ("share", "baseline")


def test_a_bad_option_value_is_refused_naming_it_and_what_is_allowed(
    script: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        ("--checks", "mfu,bogus"): "(bogus unknown)",
        ("--checks", ","): "expected 'all' or some of share, comparison, mfu, baseline",
        ("--share-sizes", "8192"): "expected two sizes such as 8192,4096",
        ("--mfu-size", "8"): "'8': expected a matrix size from 16 to 32768",
        ("--mfu-seconds", "0"): "'0': expected seconds above 0, at most 3600",
        ("--seconds", "soon"): "'soon': expected a number of seconds",
    }
    for argv, message in cases.items():
        with pytest.raises(SystemExit) as exit_info:
            script.parse_args(list(argv))
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err, argv


def test_share_sizes_and_the_defaults_fit_a_few_minutes_on_one_gpu(script: ModuleType) -> None:
    args = script.parse_args(["--share-sizes", "4096,2048"])
    assert args.share_sizes == (4096, 2048)
    default = script.parse_args([])
    load_s = default.seconds + 2 * default.idle_seconds + default.mfu_seconds
    load_s += default.share_seconds + default.baseline_seconds + default.baseline_load_seconds
    assert load_s + script.REST_S <= 180  # the rest is start-up: under ~4 minutes in all


def test_mfu_verdict_passes_only_inside_the_plausible_range(script: ModuleType) -> None:
    assert script.mfu_verdict(0.55).passed
    assert script.mfu_verdict(0.3).passed
    assert not script.mfu_verdict(0.25).passed
    assert not script.mfu_verdict(0.85).passed
    missing = script.mfu_verdict(None, "gpu:0 ('Tesla T4') has no bf16 peak in the table")
    assert not missing.passed
    assert missing.line() == ("FAIL mfu: no MFU: gpu:0 ('Tesla T4') has no bf16 peak in the table")
    assert script.mfu_verdict(0.55).line() == "PASS mfu: MFU 0.550 (expected 0.3 to 0.8)"


def test_share_verdict_wants_the_sum_within_five_percent_both_seen_and_sm_shares(
    script: ModuleType,
) -> None:
    both, by_sm = [True, True], [0.97, 0.9]
    close = script.share_verdict([600.0, 420.0], 1000.0, both, by_sm)
    assert close.passed
    assert "= 1020.0 J against the device's 1000.0 J (+2.00%" in close.detail
    assert "split by SM utilisation: 97%, 90% (at least 50%)" in close.detail
    assert not script.share_verdict([600.0, 460.0], 1000.0, both, by_sm).passed
    assert not script.share_verdict([500.0, 440.0], 1000.0, both, by_sm).passed
    assert not script.share_verdict([600.0, 400.0], 0.0, both, by_sm).passed  # no device
    unseen = script.share_verdict([1000.0, 0.0], 1000.0, [True, False], by_sm)
    assert not unseen.passed
    assert "child(ren) [1] never among the GPU's processes" in unseen.detail
    assert not script.share_verdict([600.0, 400.0], 1000.0, [True], by_sm).passed  # one said
    by_memory = script.share_verdict([600.0, 400.0], 1000.0, both, [0.9, 0.3])
    assert not by_memory.passed  # the sum is right, but mostly by the memory fallback
    assert "90%, 30%" in by_memory.detail
    assert not script.share_verdict([600.0, 400.0], 1000.0, both, []).passed


def test_baseline_verdict_wants_a_plausible_idle_power_and_dynamic_below_total(
    script: ModuleType,
) -> None:
    assert script.baseline_verdict(70.0, 9000.0, 7600.0).passed
    assert not script.baseline_verdict(20.0, 9000.0, 8600.0).passed
    assert not script.baseline_verdict(250.0, 9000.0, 4000.0).passed
    flat = script.baseline_verdict(70.0, 9000.0, 0.0)
    assert not flat.passed
    assert "(expected 0 < dynamic < total)" in flat.detail
    assert not script.baseline_verdict(None, 9000.0, None).passed


def test_comparison_verdict_wants_a_visible_load_and_close_energies(script: ModuleType) -> None:
    assert script.comparison_verdict(42739.8, 42782.6, 77.4, 660.0).passed
    assert not script.comparison_verdict(42739.8, 46000.0, 77.4, 660.0).passed
    assert not script.comparison_verdict(900.0, 900.0, 90.0, 90.0).passed


def test_energy_between_interpolates_a_counter_trace_and_refuses_a_span_outside_it(
    script: ModuleType,
) -> None:
    trace = [(10.0, 1000.0), (10.5, 1100.0), (11.0, 1300.0), (12.0, 1400.0)]
    assert script.energy_between(trace, 10.0, 12.0) == pytest.approx(400.0)
    assert script.energy_between(trace, 10.25, 11.5) == pytest.approx(1350.0 - 1050.0)
    assert script.energy_between(trace, 10.5, 10.5) == 0.0
    with pytest.raises(ValueError, match=r"not inside the trace's 10\.000\.\.12\.000"):
        script.energy_between(trace, 9.0, 11.0)
    with pytest.raises(ValueError, match="ends before it starts"):
        script.energy_between(trace, 11.0, 10.5)
    with pytest.raises(ValueError, match="two readings or more, got 1"):
        script.energy_between(trace[:1], 10.0, 10.0)


def test_the_scripts_docstring_examples_hold(script: ModuleType) -> None:
    outcome = doctest.testmod(script)
    assert outcome.attempted >= 1
    assert outcome.failed == 0


def test_a_childs_result_is_its_last_result_line_among_other_output(script: ModuleType) -> None:
    output = 'READY\nsome warning\nRESULT {"pid": 1}\nRESULT {"pid": 2, "t0": 1.5}\nbye\n'
    assert script.parse_child_result(output) == {"pid": 2, "t0": 1.5}
    with pytest.raises(ValueError, match="no RESULT line"):
        script.parse_child_result("READY\nTraceback ...\n")
    with pytest.raises(ValueError, match="not a JSON object"):
        script.parse_child_result("RESULT [1, 2]\n")


def test_the_json_file_has_null_for_figures_that_are_not_finite(
    script: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "out" / "gpu_check.json"
    script.write_json(path, {"mfu": {"mfu": math.nan, "steps": 3, "list": [math.inf, 1.5]}})
    assert json.loads(path.read_text()) == {"mfu": {"mfu": None, "steps": 3, "list": [None, 1.5]}}


def test_a_check_that_raises_fails_with_its_reason_and_the_others_still_run(
    script: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: Any, rig: Any) -> Any:
        raise RuntimeError("NVML: Not Supported")

    def fine(args: Any, rig: Any) -> Any:
        return {"mfu": 0.6}, script.mfu_verdict(0.6)

    args = script.parse_args(["--checks", "share,mfu"])
    results, verdicts = script.run_checks(args, runners={"share": broken, "mfu": fine})
    assert [v.passed for v in verdicts] == [False, True]
    assert results["share"]["error"] == "RuntimeError: NVML: Not Supported"
    assert results["mfu"] == {"mfu": 0.6, "passed": True, "verdict": verdicts[1].line()}
    assert results["checks"] == ["share", "mfu"]
    out = capsys.readouterr().out
    assert "FAIL share: did not run: RuntimeError: NVML: Not Supported" in out
    assert "PASS mfu: MFU 0.600" in out
    lines, status = script.summary(verdicts)
    assert status == 1
    assert lines.splitlines() == [v.line() for v in verdicts]
    assert script.summary(verdicts[1:])[1] == 0
    assert script.summary([])[1] == 1  # nothing checked is no pass


def test_a_step_counts_the_flops_of_its_products(script: ModuleType) -> None:
    pytest.importorskip("torch")
    step, flops = script.Rig(device="cpu").step(16, repeats=3)
    assert flops == 3 * 2 * 16**3
    step()  # runs again, as the measured steps do


def test_mfu_check_counts_each_steps_flops_against_the_table_peak_of_the_device(
    script: ModuleType, fake_rig: Any
) -> None:
    args = script.parse_args(["--mfu-size", "32", "--mfu-seconds", "0.2"])
    figures, verdict = script.check_mfu(args, fake_rig)
    assert figures["gpu"] == "NVIDIA H100 80GB HBM3"
    assert figures["table_model"] == "H100 SXM5"
    assert figures["peak"] == "H100 SXM5, bf16 dense peak"
    assert figures["peak_flops_per_s"] == pytest.approx(H100_BF16_PEAK)
    assert figures["flops_per_step"] == 10 * 2 * 32**3
    assert figures["steps"] >= 1
    assert figures["flops"] == figures["steps"] * figures["flops_per_step"]
    rate = figures["flops"] / figures["duration_s"]
    assert figures["mfu"] == pytest.approx(rate / H100_BF16_PEAK)
    assert figures["energy_j"] == pytest.approx(300.0 * figures["duration_s"], rel=0.05)
    assert not verdict.passed  # a CPU is nowhere near an H100's peak
    assert verdict.detail.startswith("MFU 0.000")


def test_baseline_check_measures_the_idle_power_before_the_load(
    script: ModuleType, fake_rig: Any
) -> None:
    args = script.parse_args(
        ["--baseline-seconds", "0.3", "--baseline-load-seconds", "0.2", "--load-size", "32"]
    )
    figures, verdict = script.check_baseline(args, fake_rig)
    assert figures["idle_w"] == pytest.approx(300.0, rel=0.01)  # the fake draws 300 W always
    assert figures["energy_j"] == pytest.approx(300.0 * figures["duration_s"], rel=0.05)
    assert figures["dynamic_energy_j"] == pytest.approx(0.0, abs=0.05 * figures["energy_j"])
    assert figures["size"] == 32
    assert figures["products"] >= 20
    assert verdict.check == "baseline"
    assert not verdict.passed  # 300 W is no idle H100


def test_comparison_check_reads_counter_and_power_samples_per_window(
    script: ModuleType, fake_rig: Any
) -> None:
    args = script.parse_args(["--seconds", "0.2", "--idle-seconds", "0.1", "--load-size", "32"])
    figures, verdict = script.check_comparison(args, fake_rig)
    for label in ("counter", "power samples"):
        entry = figures[label]
        assert entry["energy_j"] == pytest.approx(300.0 * entry["duration_s"], rel=0.05)
        for window in ("idle", "load", "cooldown"):
            assert entry[f"{window}_mean_power_w"] == pytest.approx(300.0, rel=0.05)
    assert math.isfinite(figures["relative_difference_energy_j"])
    assert verdict.check == "comparison"


STAND_IN_CHILD = """
import argparse, json, os, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--share-child", action="store_true")
parser.add_argument("--child-size", type=int)
parser.add_argument("--child-seconds", type=float)
parser.add_argument("--child-log")
args = parser.parse_args()
print("torch says hello", flush=True)
print("READY", flush=True)
assert sys.stdin.readline() == "go\\n"
t0 = time.monotonic()
deadline = t0 + args.child_seconds
while time.monotonic() < deadline:
    time.sleep(0.01)
t1 = time.monotonic()
result = {"pid": os.getpid(), "t0": t0, "t1": t1, "attributed_j": 150.0 * (t1 - t0),
          "device_j": 300.0 * (t1 - t0), "tree_seen": True, "sm_fraction": 1.0,
          "log": args.child_log, "size": args.child_size, "products": 0, "tflops": 0.0}
print("RESULT " + json.dumps(result), flush=True)
"""


def test_share_check_starts_two_children_together_and_reads_the_device_over_their_span(
    script: ModuleType, fake_rig: Any, tmp_path: Path
) -> None:
    child = tmp_path / "child.py"
    child.write_text(STAND_IN_CHILD)
    rig = script.Rig(nvml=fake_rig.nvml, device="cpu", child=(sys.executable, str(child)))
    args = script.parse_args(
        ["--share-seconds", "0.5", "--share-sizes", "64,32", "--json", str(tmp_path / "g.json")]
    )
    started = time.monotonic()
    figures, verdict = script.check_share(args, rig)
    children = figures["children"]
    assert [c["size"] for c in children] == [64, 32]
    assert [c["log"] for c in children] == [
        str(tmp_path / "gpu-check-share-0.jsonl"),
        str(tmp_path / "gpu-check-share-1.jsonl"),
    ]
    assert all(started < c["t0"] < c["t1"] for c in children)
    span = max(c["t1"] for c in children) - min(c["t0"] for c in children)
    assert figures["span_s"] == pytest.approx(span)
    assert figures["overlap_s"] > 0  # both ran at once: they waited for the same "go"
    assert figures["device_energy_j"] == pytest.approx(300.0 * span, rel=0.02)
    assert figures["attributed_sum_j"] == pytest.approx(sum(c["attributed_j"] for c in children))
    assert figures["device_readings"] >= 3
    assert figures["all_seen"] is True
    assert figures["sm_fractions"] == [1.0, 1.0]
    difference = figures["relative_difference"]
    assert verdict.passed == (abs(difference) <= script.SHARE_TOLERANCE)


def test_a_share_child_runs_its_load_under_a_process_scope_tracker_and_prints_its_figures(
    script: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The only path the share check takes on a real GPU, here on a fake one where this
    process has 40% of the SM utilisation, its load on the CPU."""
    pytest.importorskip("torch")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    me, other = os.getpid(), 4_194_305
    gpu = FakeGpu(power_w=300.0, sm_util={me: 40, other: 60}, processes={me: 1, other: 1})
    rig = script.Rig(nvml=make_pynvml([gpu], clock=MonotonicClock()), device="cpu")
    log = tmp_path / "child.jsonl"
    monkeypatch.setattr(sys, "stdin", io.StringIO("go\n"))
    assert script.share_child(32, 0.3, log, rig) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == script.READY
    result = script.parse_child_result(out)
    assert result["pid"] == me
    assert result["t0"] < result["t1"]
    assert result["size"] == 32
    assert result["products"] >= 20
    report = nf.Report.from_log(log)
    assert report.duration_s <= result["t1"] - result["t0"]  # the tracker ran inside t0..t1
    assert result["device_j"] == pytest.approx(300.0 * report.duration_s, rel=0.01)
    assert result["attributed_j"] == pytest.approx(0.4 * result["device_j"], rel=1e-6)
    assert result["share"] == pytest.approx(0.4)
    assert result["rule_j"] == pytest.approx({"sm": result["device_j"]})
    assert result["sm_fraction"] == pytest.approx(1.0)
    assert result["tree_seen"] is True
    assert result["log"] == str(log)
    (channel,) = report.channels
    assert channel.device_energy_j == pytest.approx(result["device_j"])
    monkeypatch.setattr(sys, "stdin", io.StringIO("stop\n"))
    assert script.share_child(32, 0.3, None, rig) == 2  # anything but "go": no load


def test_a_child_that_exits_before_it_is_ready_is_reported(script: ModuleType) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "print('no GPU here')"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    try:
        with pytest.raises(RuntimeError, match="exited before it was ready"):
            script.wait_ready(child, time.monotonic() + 60)
    finally:
        child.communicate()


def test_the_script_prints_a_verdict_per_check_and_a_summary_and_writes_the_json(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gpu_check.json"
    argv = ["--checks", "mfu", "--mfu-size", "64", "--mfu-seconds", "0.2", "--json", str(path)]
    run = subprocess.run(
        [sys.executable, str(SCRIPT), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # its status is checked against the figures below
    )
    figures = json.loads(path.read_text())
    mfu = figures["mfu"]
    assert figures["checks"] == ["mfu"]
    assert run.returncode == (0 if mfu["passed"] else 1), run.stderr
    assert mfu["verdict"].startswith("PASS mfu: " if mfu["passed"] else "FAIL mfu: ")
    summary = run.stdout.split("== summary ==\n", 1)[1]
    assert summary.splitlines()[0] == mfu["verdict"]
    assert f"figures written to {path}" in run.stdout
