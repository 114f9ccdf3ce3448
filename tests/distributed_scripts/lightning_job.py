"""Two tiny Lightning fits on two CPU processes (``strategy="ddp"``), with EnergyCallback.

Run by tests/test_integration_distributed.py as ``python lightning_job.py OUTDIR``:
Lightning's own launcher starts this script again for rank 1 (with ``LOCAL_RANK=1``).

Every rank gives its callback the same fake node: two GPUs of 300 W and 200 W and a CPU of
50 W, on a FakeClock that advances 1 s per training batch and 0.5 s per validation batch.
Each rank writes its callback's files under ``OUTDIR/rank{N}/{run}`` (so the test can tell
which rank wrote what) and what it saw (its reports, the figures it logged) to
``OUTDIR/seen-rank{N}.json``; the metrics that the CSV logger wrote are under
``OUTDIR/logs/{run}``. The runs: ``job`` (the default, ``distributed="auto"``) and
``per_node`` (``distributed=None``, the earlier behaviour).

Only the standard library is imported at the top: pytest's ``--doctest-modules`` imports
this file, and the test skips when torch or Lightning are missing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

SEQ, REAL_TOKENS, BATCH = 8, 6, 2
TRAIN_S, VAL_S = 1.0, 0.5  # fake seconds per training / validation batch


def main(out: Path) -> None:
    import lightning.pytorch as lp
    import torch

    from nlpfootprint.integrations.lightning import EnergyCallback
    from nlpfootprint.testing import FakeClock, FakeMeter

    class Rows(torch.utils.data.Dataset[dict[str, Any]]):
        """Token ids of which the first REAL_TOKENS of each row are real (the rest padding)."""

        def __init__(self, n: int) -> None:
            self.ids = torch.randint(0, 16, (n, SEQ), generator=torch.Generator().manual_seed(n))
            self.mask = (torch.arange(SEQ) < REAL_TOKENS).long().expand(n, SEQ)

        def __len__(self) -> int:
            return len(self.ids)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"input_ids": self.ids[i], "attention_mask": self.mask[i]}

    class Tiny(lp.LightningModule):
        def __init__(self, clock: FakeClock) -> None:
            super().__init__()
            self.clock = clock
            self.embed = torch.nn.Embedding(16, 4)
            self.head = torch.nn.Linear(4, 16)

        def _loss(self, batch: dict[str, Any]) -> Any:
            logits = self.head(self.embed(batch["input_ids"]))
            return torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), batch["input_ids"].flatten()
            )

        def training_step(self, batch: dict[str, Any], batch_idx: int) -> Any:
            self.clock.advance(TRAIN_S)
            return self._loss(batch)

        def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
            self.clock.advance(VAL_S)
            self.log("val_loss", self._loss(batch), batch_size=BATCH, sync_dist=True)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    rank = int(os.environ.get("LOCAL_RANK", "0"))  # one node: the global rank

    def fit(name: str, **options: Any) -> tuple[Any, EnergyCallback]:
        torch.manual_seed(0)
        clock = FakeClock()
        meters = [
            FakeMeter.constant([300.0, 200.0], domain="gpu"),
            FakeMeter.constant(50.0, domain="cpu"),
        ]
        callback = EnergyCallback(
            meters=meters,
            clock=clock,
            output_dir=out / f"rank{rank}" / name,
            gather_timeout_s=30,
            **options,
        )
        trainer = lp.Trainer(
            accelerator="cpu",
            devices=2,
            strategy="ddp",
            max_steps=4,  # two epochs of two batches per rank
            log_every_n_steps=2,
            limit_val_batches=1,
            num_sanity_val_steps=0,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            logger=lp.loggers.CSVLogger(out / "logs", name=name, version=0),
            callbacks=[callback],
        )
        loader = torch.utils.data.DataLoader(Rows(8), batch_size=BATCH)
        trainer.fit(Tiny(clock), loader, torch.utils.data.DataLoader(Rows(4), batch_size=BATCH))
        return trainer, callback

    seen: dict[str, Any] = {}
    for name, options in (("job", {}), ("per_node", {"distributed": None})):
        trainer, callback = fit(name, **options)
        seen[name] = {
            "report": None if callback.tracker is None else callback.report.to_dict(),
            "logged": {k: float(v) for k, v in trainer.logged_metrics.items()},
            "log_dir": trainer.log_dir,
        }
    (out / f"seen-rank{rank}.json").write_text(json.dumps(seen), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
