"""Three tiny ``transformers.Trainer`` runs in a two-process job on CPU, with EnergyCallback.

Run by tests/test_integration_distributed.py as
``python -m torch.distributed.run --nproc-per-node 2 hf_job.py OUTDIR``.

Every rank gives its callback the same fake node: two GPUs of 300 W and 200 W and a CPU of
50 W, on a FakeClock that advances 1 s per training step and 0.5 s per evaluation batch.
Each rank has output directories of its own, ``OUTDIR/rank{N}/{run}``, so the test can
tell which rank wrote which file, and writes what it saw (its callbacks' reports, its log
history) to ``OUTDIR/seen-rank{N}.json``. The runs:

* ``job``: the default (``distributed="auto"``), a log every step, an evaluation every
  two steps, then ``trainer.evaluate()`` outside training;
* ``state_tokens``: tokens from the trainer's own count (``num_input_tokens_seen``);
* ``per_node``: ``distributed=None``, the earlier behaviour.

Only the standard library is imported at the top: pytest's ``--doctest-modules`` imports
this file, and the test skips when torch or transformers are missing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

SEQ, PADDED, BATCH, STEPS = 8, 2, 2, 4
TRAIN_S, EVAL_S = 1.0, 0.5  # fake seconds per training step, per evaluation batch


def main(out: Path) -> None:
    import torch
    import transformers

    from nlpfootprint.integrations.transformers import EnergyCallback
    from nlpfootprint.testing import FakeClock, FakeMeter

    class Rows(torch.utils.data.Dataset[dict[str, Any]]):
        """Token ids whose last PADDED positions are padding."""

        def __init__(self, n: int) -> None:
            self.ids = torch.randint(0, 16, (n, SEQ), generator=torch.Generator().manual_seed(n))
            self.mask = (torch.arange(SEQ) < SEQ - PADDED).long().expand(n, SEQ)

        def __len__(self) -> int:
            return len(self.ids)

        def __getitem__(self, i: int) -> dict[str, Any]:
            labels = self.ids[i].masked_fill(self.mask[i] == 0, -100)
            return {"input_ids": self.ids[i], "attention_mask": self.mask[i], "labels": labels}

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(16, 4)
            self.head = torch.nn.Linear(4, 16)

        def forward(self, input_ids: Any, attention_mask: Any, labels: Any) -> dict[str, Any]:
            logits = self.head(self.embed(input_ids))
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten())
            return {"loss": loss, "logits": logits}

    class Ticker(transformers.TrainerCallback):
        def __init__(self, clock: FakeClock) -> None:
            self.clock = clock

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.clock.advance(TRAIN_S)

        def on_prediction_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.clock.advance(EVAL_S)

    rank = int(os.environ["RANK"])

    def run(name: str, options: dict[str, Any], **args: Any) -> tuple[Any, Any]:
        torch.manual_seed(0)
        clock = FakeClock()
        meters = [
            FakeMeter.constant([300.0, 200.0], domain="gpu"),
            FakeMeter.constant(50.0, domain="cpu"),
        ]
        callback = EnergyCallback(meters=meters, clock=clock, gather_timeout_s=30, **options)
        settings: dict[str, Any] = {
            "output_dir": str(out / f"rank{rank}" / name),
            "use_cpu": True,
            "ddp_backend": "gloo",
            "report_to": [],
            "max_steps": STEPS,
            "per_device_train_batch_size": BATCH,
            "per_device_eval_batch_size": BATCH,
            "logging_steps": 1,
            "eval_strategy": "no",
            "save_strategy": "no",
            "disable_tqdm": True,
            "dataloader_num_workers": 0,
            "remove_unused_columns": False,
            **args,
        }
        trainer = transformers.Trainer(
            model=Tiny(),
            args=transformers.TrainingArguments(**settings),
            train_dataset=Rows(16),
            eval_dataset=Rows(2 * BATCH),  # one batch per rank
            callbacks=[Ticker(clock), callback],
        )
        trainer.train()
        return trainer, callback

    seen: dict[str, Any] = {}
    trainer, callback = run("job", {}, eval_strategy="steps", eval_steps=2)
    trainer.evaluate()
    seen["job"] = {
        "reports": [r.to_dict() for r in callback.reports],
        "log_history": trainer.state.log_history,
    }
    trainer, callback = run(
        "state_tokens", {"write_files": False}, include_num_input_tokens_seen="non_padding"
    )
    seen["state_tokens"] = {
        "reports": [r.to_dict() for r in callback.reports],
        "tokens_seen": trainer.state.num_input_tokens_seen,
    }
    trainer, callback = run("per_node", {"distributed": None})
    seen["per_node"] = {
        "reports": [r.to_dict() for r in callback.reports],
        "log_history": trainer.state.log_history,
    }
    (out / f"seen-rank{rank}.json").write_text(json.dumps(seen), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
