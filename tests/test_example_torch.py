"""examples/train_torch.py and docs/howto-torch.md run as a user would run them."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import nlpfootprint as nf

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "train_torch.py"
HOWTO = ROOT / "docs" / "howto-torch.md"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        # One thread: these tests check behaviour, not speed, and one thread stays quick
        # when other work shares the cores. No GPU: the same run everywhere.
        env={
            **os.environ,
            "PYTHONWARNINGS": "error",
            "CUDA_VISIBLE_DEVICES": "",
            "OMP_NUM_THREADS": "1",
        },
        check=False,
    )


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_torch_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_trains_and_reports_steps_tokens_j_per_token_and_eval(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    result = _run([str(EXAMPLE), "--steps", "4", "--eval-every", "2", "--log", str(log)], ROOT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^ +steps +4 \([\d.]+ m?J/step\)$", out, re.MULTILINE), out
    assert re.search(r"^ +tokens +[\d,]+ \([\d.]+ [mµ]?J/token\)$", out, re.MULTILINE), out
    assert re.search(r"^ +eval x2: ", out, re.MULTILINE), out
    assert "eval window: 2 entries" in out
    assert re.search(r"^J/token: [\d.e+-]+ J per training token", out, re.MULTILINE), out
    assert "projected to 100,000 steps: " in out
    # What the run log holds is what the script counted.
    trained = re.search(r"^trained 4 steps on ([\d,]+) tokens", out, re.MULTILINE)
    assert trained, out
    seen = int(trained[1].replace(",", ""))
    logged = nf.Report.from_log(log)
    assert logged.steps == 4
    assert logged.tokens == seen
    assert 0 < seen <= 4 * 32 * 64  # steps x batch x context, less the padding
    assert [(w.name, w.count) for w in logged.windows] == [("eval", 2)]
    assert logged.j_per_token == pytest.approx(logged.energy_j / seen)


def test_example_refuses_a_step_count_below_one() -> None:
    result = _run([str(EXAMPLE), "--steps", "0"], ROOT)
    assert result.returncode == 2
    assert "--steps: 0: expected a positive integer" in result.stderr


def test_example_batches_pad_after_the_text_and_count_only_real_tokens() -> None:
    example = _load_example()
    pieces = [b"abcde", b"xy", b"hello world"]
    inputs, targets = example.make_batch(pieces)
    assert inputs.shape == targets.shape == (3, 10)
    assert bytes(inputs[1, :1].tolist()) == b"x"
    assert bytes(targets[1, :1].tolist()) == b"y"
    assert targets[1, 1:].eq(example.IGNORE).all()
    assert inputs[1, 1:].eq(example.PAD).all()
    assert int((targets != example.IGNORE).sum()) == sum(len(p) - 1 for p in pieces)
    assert all(len(p) <= example.CONTEXT + 1 for p in example.pieces())


def test_example_model_is_causal() -> None:
    example = _load_example()
    torch.manual_seed(0)
    model = example.build_model(torch.device("cpu"), d_model=16, layers=1).eval()
    a = torch.tensor([list(b"the cat sat")])
    b = a.clone()
    b[0, -1] = ord("x")  # change only the last input byte
    with torch.no_grad():
        same = example.logits(model, a)[0, :-1]
        changed = example.logits(model, b)[0, :-1]
    assert torch.allclose(same, changed, atol=1e-5)


def test_howto_torch_snippet_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", HOWTO.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1
    script = tmp_path / "snippet.py"
    script.write_text(blocks[0], encoding="utf-8")
    result = _run([str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^20 steps, 5120 tokens, [\d.e+-]+ J/token$", result.stdout, re.MULTILINE)
    assert re.search(r"^eval: 1 entry, [\d.e+-]+ J$", result.stdout, re.MULTILINE)
