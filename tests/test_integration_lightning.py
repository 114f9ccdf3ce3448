"""The Lightning callback against the real Lightning: a tiny LightningModule trained on CPU
for a few steps, with a fake 100 W meter on a FakeClock that the model advances."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

torch = pytest.importorskip("torch")
lp = pytest.importorskip("lightning.pytorch")

from nlpfootprint.distributed import from_environ  # noqa: E402
from nlpfootprint.errors import ConfigurationTypeError, TrackerStateError  # noqa: E402
from nlpfootprint.integrations.lightning import (  # noqa: E402
    EnergyCallback,
    _launcher_variables,
    batch_tokens,
)
from nlpfootprint.testing import FakeClock, FakeMeter  # noqa: E402

pytestmark = [
    # Lightning's own advice and deprecation notes (few workers, torch pytree, tips)
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

SEQ, REAL_TOKENS, BATCH, WATTS = 8, 6, 2, 100.0
TRAIN_S, VAL_S = 1.0, 0.5  # fake seconds per training / validation batch


class TokenData(torch.utils.data.Dataset):  # type: ignore[misc]
    """Sequences of SEQ token ids of which the first REAL_TOKENS are real (the rest padding)."""

    def __init__(self, n: int) -> None:
        gen = torch.Generator().manual_seed(n)
        self.ids = torch.randint(0, 16, (n, SEQ), generator=gen)
        self.mask = (torch.arange(SEQ) < REAL_TOKENS).long().expand(n, SEQ)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "attention_mask": self.mask[i]}


def tiny_module(base: Any, clock: FakeClock) -> Any:
    """A LightningModule (of the ``base`` package) whose steps advance ``clock``."""

    class Tiny(base.LightningModule):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(16, 4)
            self.head = torch.nn.Linear(4, 16)

        def _loss(self, batch: dict[str, Any]) -> Any:
            logits = self.head(self.embed(batch["input_ids"]))
            return torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), batch["input_ids"].flatten()
            )

        def training_step(self, batch: dict[str, Any], batch_idx: int) -> Any:
            clock.advance(TRAIN_S)
            return self._loss(batch)

        def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
            clock.advance(VAL_S)
            self.log("val_loss", self._loss(batch), batch_size=BATCH)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    return Tiny()


def loader(n: int) -> Any:
    return torch.utils.data.DataLoader(TokenData(n), batch_size=BATCH)


def fit(base: Any, callback: EnergyCallback, clock: FakeClock, root: Path, **trainer: Any) -> Any:
    options = {
        "accelerator": "cpu",
        "max_steps": 4,
        "log_every_n_steps": 2,
        "limit_val_batches": 2,
        "num_sanity_val_steps": 2,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": root,
        "logger": base.loggers.CSVLogger(root),
        "callbacks": [callback],
        **trainer,
    }
    t = base.Trainer(**options)
    t.fit(tiny_module(base, clock), loader(8), loader(4))
    return t


def meter_on(clock: FakeClock) -> dict[str, Any]:
    return {"meters": [FakeMeter.constant(WATTS, domain="gpu")], "clock": clock}


def test_fit_counts_steps_tokens_and_splits_validation_into_windows(tmp_path: Path) -> None:
    clock = FakeClock()
    callback = EnergyCallback(**meter_on(clock))
    fit(lp, callback, clock, tmp_path)
    report = callback.report
    assert report.steps == 4
    assert report.tokens == 4 * BATCH * REAL_TOKENS  # the attention mask, not the padding
    windows = {w.name: w for w in report.windows}
    assert set(windows) == {"sanity_check", "validation"}
    assert windows["sanity_check"].energy_j == pytest.approx(2 * VAL_S * WATTS)
    assert windows["validation"].energy_j == pytest.approx(2 * VAL_S * WATTS)
    total_s = 4 * TRAIN_S + 2 * 2 * VAL_S
    assert report.energy_j == pytest.approx(total_s * WATTS)
    assert report.j_per_token == pytest.approx(total_s * WATTS / report.tokens)
    assert report.project(steps=8).energy_j == pytest.approx(2 * report.energy_j, rel=0.3)
    assert report.warnings == ()  # every window closed by the callback, none at stop
    assert report.name == "Tiny"
    assert not callback.measuring


def test_energy_metrics_reach_the_logger_at_its_cadence(tmp_path: Path) -> None:
    clock = FakeClock()
    callback = EnergyCallback(**meter_on(clock))
    trainer = fit(lp, callback, clock, tmp_path)
    with open(Path(trainer.log_dir) / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("energy_kwh")]
    assert len(rows) == 2  # global steps 2 and 4 with log_every_n_steps=2
    first, last = rows
    # after 2 steps: 1 s of sanity check and 2 s of training at 100 W
    assert float(first["energy_kwh"]) == pytest.approx(3 * WATTS / 3.6e6)
    assert float(first["power_w"]) == pytest.approx(WATTS)
    assert float(first["j_per_token"]) == pytest.approx(3 * WATTS / (2 * BATCH * REAL_TOKENS))
    assert float(last["energy_kwh"]) > float(first["energy_kwh"])
    assert float(last["co2e_kg"]) > 0


def test_run_log_and_report_files_are_written_into_the_log_dir(tmp_path: Path) -> None:
    clock = FakeClock()
    callback = EnergyCallback(**meter_on(clock))
    trainer = fit(lp, callback, clock, tmp_path)
    out = Path(trainer.log_dir)
    saved = json.loads((out / "nlpfootprint-report.json").read_text())
    assert saved["steps"] == 4
    assert (out / "nlpfootprint-report.md").read_text().strip()
    lines = (out / "nlpfootprint-run.jsonl").read_text().splitlines()
    assert len(lines) > 2
    assert "summary" in lines[-1]


def test_accumulated_batches_make_one_optimizer_step(tmp_path: Path) -> None:
    clock = FakeClock()
    callback = EnergyCallback(save=False, **meter_on(clock))
    fit(lp, callback, clock, tmp_path, accumulate_grad_batches=2, limit_val_batches=0)
    assert callback.report.steps == 4
    assert callback.report.tokens == 8 * BATCH * REAL_TOKENS  # 8 batches for 4 steps
    assert not list(tmp_path.rglob("nlpfootprint-*"))


def test_tokens_of_overrides_the_batch_count(tmp_path: Path) -> None:
    clock = FakeClock()
    callback = EnergyCallback(
        tokens_of=lambda batch: torch.tensor(1000), save=False, **meter_on(clock)
    )
    fit(lp, callback, clock, tmp_path)
    assert callback.report.tokens == 4 * 1000


def test_a_failing_fit_still_stops_once_and_reports(tmp_path: Path) -> None:
    clock = FakeClock()
    callback = EnergyCallback(output_dir=tmp_path / "energy", **meter_on(clock))

    class Boom(lp.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            if trainer.global_step == 3:
                raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fit(lp, callback, clock, tmp_path, callbacks=[callback, Boom()])
    assert callback.report.steps == 3
    assert any("raised RuntimeError: boom" in w for w in callback.report.warnings)
    assert json.loads((tmp_path / "energy" / "nlpfootprint-report.json").read_text())["steps"] == 3
    assert not callback.measuring
    callback.on_fit_end(None, None)  # type: ignore[arg-type]  # a second stop does nothing
    assert callback.report.steps == 3


def test_report_before_fit_and_bad_options_are_clear_errors() -> None:
    with pytest.raises(TrackerStateError, match=r"when trainer\.fit"):
        _ = EnergyCallback().report
    with pytest.raises(ConfigurationTypeError, match="tokens_of"):
        EnergyCallback(tokens_of=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationTypeError, match="unknown option"):
        EnergyCallback(pue_typo=1.5)  # type: ignore[call-arg]


def test_a_token_count_must_be_one_whole_number(tmp_path: Path) -> None:
    clock = FakeClock()
    callback = EnergyCallback(
        tokens_of=lambda batch: batch["attention_mask"], save=False, **meter_on(clock)
    )
    with pytest.raises(ConfigurationTypeError, match="expected one whole number"):
        fit(lp, callback, clock, tmp_path)
    assert callback.report.steps == 0  # stopped on the exception


def test_batch_tokens_reads_the_mask_else_the_ids_else_nothing() -> None:
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert int(batch_tokens({"input_ids": torch.zeros(2, 3), "attention_mask": mask})) == 3
    assert batch_tokens({"input_ids": torch.zeros(2, 3)}) == 6
    assert batch_tokens((torch.zeros(2, 3),)) is None


def test_file_names_end_in_the_node_only_when_each_node_measures_itself() -> None:
    name = "nlpfootprint-report.json"
    second_node: Any = SimpleNamespace(num_nodes=2, node_rank=1)
    one_node: Any = SimpleNamespace(num_nodes=1, node_rank=0)
    assert EnergyCallback()._file(name, second_node) == name  # one job report, on rank 0
    per_node = EnergyCallback(distributed=None)
    assert per_node._file(name, second_node) == "nlpfootprint-report.node1.json"
    assert per_node._file(name, one_node) == name


TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK")


def test_lightnings_own_ranks_reach_the_tracker_where_no_launcher_set_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if from_environ() is not None:
        pytest.skip("the tests run under a launcher (SLURM, MPI)")
    monkeypatch.setenv("LOCAL_RANK", "1")  # what Lightning's launcher gives its second process
    trainer: Any = SimpleNamespace(
        world_size=4, global_rank=3, local_rank=1, num_devices=2, node_rank=1
    )
    with _launcher_variables(trainer):
        context = from_environ()
    assert context is not None
    assert (context.rank, context.world_size, context.local_rank) == (3, 4, 1)
    assert (context.local_world_size, context.node) == (2, 1)
    assert from_environ() is None  # put back as it was
    assert os.environ["LOCAL_RANK"] == "1"
    assert not {"RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK"} & set(os.environ)


def test_a_launchers_own_variables_are_left_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in zip(TORCHRUN_VARIABLES, ("5", "8", "1", "4", "1"), strict=True):
        monkeypatch.setenv(name, value)
    trainer: Any = SimpleNamespace(
        world_size=2, global_rank=1, local_rank=1, num_devices=2, node_rank=0
    )
    with _launcher_variables(trainer):
        context = from_environ()
    assert context is not None
    assert (context.rank, context.world_size, context.local_world_size) == (5, 8, 4)


def test_the_pytorch_lightning_trainer_runs_the_callback(tmp_path: Path) -> None:
    pl = pytest.importorskip("pytorch_lightning")
    clock = FakeClock()
    callback = EnergyCallback(save=False, **meter_on(clock))
    fit(pl, callback, clock, tmp_path)
    assert callback.report.steps == 4
    assert {w.name for w in callback.report.windows} == {"sanity_check", "validation"}


def test_without_lightning_the_callback_subclasses_pytorch_lightning() -> None:
    pytest.importorskip("pytorch_lightning")
    script = textwrap.dedent(
        """
        import sys
        sys.modules["lightning"] = None  # as if only pytorch-lightning were installed
        import pytorch_lightning as pl
        from nlpfootprint.integrations.lightning import EnergyCallback
        print(issubclass(EnergyCallback, pl.Callback), EnergyCallback.__mro__[1].__module__)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["True", "pytorch_lightning.callbacks.callback"]


def howto_snippet() -> str:
    text = (Path(__file__).parents[1] / "docs" / "howto-lightning.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/howto-lightning.md has no python block"
    return str(blocks[0])


def test_the_howto_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "howto"}
    exec(compile(howto_snippet(), "docs/howto-lightning.md", "exec"), namespace)
    assert namespace["callback"].report.steps == 4
    assert list(tmp_path.rglob("nlpfootprint-report.json"))
