"""EnergyCallback against the real transformers.Trainer: a tiny GPT-2 on CPU, a few steps."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate")

from nlpfootprint.errors import ConfigurationTypeError, TrackerStateError  # noqa: E402
from nlpfootprint.integrations.transformers import EnergyCallback  # noqa: E402
from nlpfootprint.report import Report  # noqa: E402
from nlpfootprint.testing import FakeClock, FakeMeter  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
SEQ, PADDED, BATCH, STEPS = 8, 2, 2, 4
ENERGY_KEYS = {"energy_kwh", "power_w", "co2e_kg", "j_per_token"}


class TinyTokens(torch.utils.data.Dataset):  # type: ignore[misc]
    """Random token ids; the last PADDED positions of each row are padding."""

    def __init__(self, rows: int, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 64, (rows, SEQ), generator=generator)
        self.mask = torch.ones(rows, SEQ, dtype=torch.long)
        self.mask[:, SEQ - PADDED :] = 0

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        labels = self.ids[i].clone()
        labels[self.mask[i] == 0] = -100
        return {"input_ids": self.ids[i], "attention_mask": self.mask[i], "labels": labels}


class Recorder(transformers.TrainerCallback):  # type: ignore[misc]
    """Stands for a report_to backend: keeps the logs it is given."""

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        self.logs.append(dict(logs or {}))


def make_trainer(tmp_path: Path, callbacks: list[Any], **args: Any) -> Any:
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64, n_positions=SEQ)
    options: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "use_cpu": True,
        "max_steps": STEPS,
        "per_device_train_batch_size": BATCH,
        "per_device_eval_batch_size": BATCH,
        "logging_steps": 1,
        "eval_strategy": "steps",
        "eval_steps": 2,
        "report_to": [],
        "save_strategy": "no",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        **args,
    }
    return transformers.Trainer(
        model=transformers.GPT2LMHeadModel(config),
        args=transformers.TrainingArguments(**options),
        train_dataset=TinyTokens(16),
        eval_dataset=TinyTokens(4, seed=1),
        callbacks=callbacks,
    )


def gpu_callback(**options: Any) -> EnergyCallback:
    return EnergyCallback(meters=[FakeMeter.constant(100.0, domain="gpu")], **options)


def test_training_run_reports_steps_tokens_eval_window_and_writes_files(tmp_path: Path) -> None:
    callback = gpu_callback(interval_s=0.05)
    trainer = make_trainer(tmp_path, [callback])
    trainer.train()
    report = callback.report
    assert report.steps == STEPS
    assert report.tokens == STEPS * BATCH * (SEQ - PADDED)  # attention-mask sums
    assert report.j_per_token == pytest.approx(report.energy_j / report.tokens)
    assert report.energy_j > 0
    assert report.project(steps=100).energy_j == pytest.approx(report.energy_j * 25, rel=0.01)
    (window,) = report.windows
    assert (window.name, window.count, window.steps) == ("eval", 2, 0)
    assert 0 < window.energy_j < report.energy_j
    out = tmp_path / "out"
    saved = Report.from_json((out / "nlpfootprint-train-report.json").read_text())
    assert saved.energy_j == pytest.approx(report.energy_j)
    assert "eval" in (out / "nlpfootprint-train-report.md").read_text()
    assert Report.from_log(out / "nlpfootprint-train.jsonl").steps == STEPS
    assert callback.reports == (report,)


def test_every_log_carries_the_energy_so_far(tmp_path: Path) -> None:
    clock = FakeClock()

    class Ticker(transformers.TrainerCallback):  # type: ignore[misc]
        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            clock.advance(1.0)  # each training step takes one (fake) second

    callback = gpu_callback(clock=clock)
    trainer = make_trainer(tmp_path, [Ticker(), callback])
    trainer.train()
    train_logs = [e for e in trainer.state.log_history if "loss" in e]
    eval_logs = [e for e in trainer.state.log_history if "eval_loss" in e]
    assert len(train_logs) == STEPS
    assert len(eval_logs) == 2
    for step, entry in enumerate(train_logs, start=1):
        assert set(entry) >= ENERGY_KEYS
        assert entry["power_w"] == pytest.approx(100.0)
        assert entry["energy_kwh"] == pytest.approx(100.0 * step / 3.6e6)
        assert entry["j_per_token"] == pytest.approx(100.0 / (BATCH * (SEQ - PADDED)))
        assert entry["co2e_kg"] > 0
    assert eval_logs[1]["energy_kwh"] == pytest.approx(train_logs[3]["energy_kwh"])
    assert callback.report.energy_kwh == pytest.approx(100.0 * STEPS / 3.6e6)


def test_backends_listed_before_the_callback_still_get_the_figures(tmp_path: Path) -> None:
    backend = Recorder()  # report_to callbacks come before the user's in the Trainer's list
    callback = gpu_callback(write_files=False)
    trainer = make_trainer(tmp_path, [backend, callback])
    trainer.train()
    assert [type(cb).__name__ for cb in trainer.callback_handler.callbacks][:2] == [
        "DefaultFlowCallback",
        "EnergyCallback",
    ]
    assert len(backend.logs) == STEPS + 3  # 4 training logs, 2 evaluations, the summary
    assert all(set(logs) >= ENERGY_KEYS for logs in backend.logs[:STEPS])
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("nlpfootprint*"))


def test_tokens_come_from_the_trainer_when_it_counts_them(tmp_path: Path) -> None:
    callback = gpu_callback(write_files=False)
    trainer = make_trainer(tmp_path, [callback], include_num_input_tokens_seen="non_padding")
    trainer.train()
    assert trainer.state.num_input_tokens_seen == STEPS * BATCH * (SEQ - PADDED)
    assert callback.report.tokens == trainer.state.num_input_tokens_seen
    assert "training_step" not in vars(trainer)  # nothing wrapped in that case


def test_gradient_accumulation_counts_optimizer_steps(tmp_path: Path) -> None:
    callback = gpu_callback(write_files=False)
    trainer = make_trainer(tmp_path, [callback], gradient_accumulation_steps=2, eval_strategy="no")
    trainer.train()
    assert callback.report.steps == STEPS
    assert callback.report.tokens == 2 * STEPS * BATCH * (SEQ - PADDED)


def test_predict_and_evaluate_outside_training_are_measured_on_their_own(tmp_path: Path) -> None:
    callback = gpu_callback()
    trainer = make_trainer(tmp_path, [callback], eval_strategy="no")
    trainer.train()
    output = trainer.predict(TinyTokens(4, seed=2))
    assert output.predictions.shape[:2] == (4, SEQ)
    trained, predicted = callback.reports
    assert trained is callback.report
    assert trained.windows == ()
    (window,) = predicted.windows
    assert window.name == "predict"
    assert window.energy_j > 0
    assert (tmp_path / "out" / "nlpfootprint-predict-report.json").is_file()
    metrics = trainer.evaluate()
    assert "eval_loss" in metrics
    assert metrics["energy_kwh"] > 0  # evaluate() logs, and its log gets the figures
    assert [w.name for w in callback.reports[-1].windows] == ["eval"]
    assert callback.report is trained


def test_a_failing_run_still_ends_its_measurement(tmp_path: Path) -> None:
    class Boom(transformers.TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == 2:
                raise RuntimeError("boom")

    callback = gpu_callback()
    trainer = make_trainer(tmp_path, [callback, Boom()], eval_strategy="no")
    with pytest.raises(RuntimeError, match="boom"):
        trainer.train()
    report = callback.report
    assert report.steps == 2
    assert any("RuntimeError" in w for w in report.warnings)
    assert "training_step" not in vars(trainer)


def test_with_distributed_none_only_the_local_main_process_measures(tmp_path: Path) -> None:
    callback = gpu_callback(distributed=None)
    trainer = make_trainer(tmp_path, [callback], eval_strategy="no", max_steps=1)
    trainer.is_local_process_zero = lambda: False  # what a non-zero local rank sees
    trainer.state.is_local_process_zero = False
    callback.on_train_begin(trainer.args, trainer.state, trainer.control)
    callback.on_step_end(trainer.args, trainer.state, trainer.control)
    callback.on_train_end(trainer.args, trainer.state, trainer.control)
    trainer.predict(TinyTokens(2))
    assert callback.reports == ()
    with pytest.raises(TrackerStateError):
        _ = callback.report


def test_a_process_other_than_the_world_main_one_measures_but_writes_no_files(
    tmp_path: Path,
) -> None:
    callback = gpu_callback()
    trainer = make_trainer(tmp_path, [callback], eval_strategy="no")
    trainer.is_local_process_zero = lambda: False  # what rank 1 of a job sees
    trainer.is_world_process_zero = lambda: False  # train() copies both into its state
    trainer.train()
    assert not trainer.state.is_world_process_zero
    trainer.predict(TinyTokens(2))
    trained, predicted = callback.reports
    assert trained.steps == STEPS
    assert trained.energy_j > 0
    assert [w.name for w in predicted.windows] == ["predict"]
    assert not list((tmp_path / "out").glob("nlpfootprint*"))


def test_bad_options_fail_when_the_callback_is_made() -> None:
    with pytest.raises(ConfigurationTypeError, match="unknown option"):
        EnergyCallback(intervl_s=1.0)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationTypeError, match="write_files"):
        EnergyCallback(write_files="yes")  # type: ignore[arg-type]


def test_the_howto_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (DOCS / "howto-transformers.md").read_text(encoding="utf-8")
    (snippet,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "howto-transformers.md", "exec"), namespace)
    report = json.loads((tmp_path / "tiny-gpt2" / "nlpfootprint-train-report.json").read_text())
    assert report["steps"] == namespace["trainer"].state.global_step > 0
