"""Train a small transformer language model with PyTorch and measure what it costs.

A byte-level causal transformer (embeddings, ``nn.TransformerEncoder`` under a causal
mask, a linear head; 0.67 M parameters, built from code) learns the documentation of a
few standard-library modules (nothing is downloaded). Training runs under
``nlpfootprint.track_energy``: each optimizer step is counted with the batch's token
count (a 0-d tensor, as ``attention_mask.sum()`` would give), evaluation goes into an
``eval`` window, and at the end the report, the energy per token and a projection to a
longer run are printed. It runs on the GPU when PyTorch sees one (``--device auto``),
else on the CPU.

Run it with::

    python examples/train_torch.py --steps 30
    python examples/train_torch.py --steps 500 --device cuda --log run.jsonl

Importing this file runs nothing and does not import torch (pytest collects it).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import random
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import nlpfootprint as nf

if TYPE_CHECKING:
    import torch

#: The text to learn: the documentation of these standard-library modules, as the
#: installed Python gives it (nothing is downloaded; about 26 kB).
MODULES = (
    "argparse",
    "bisect",
    "calendar",
    "collections",
    "contextlib",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "fractions",
    "functools",
    "heapq",
    "itertools",
    "json",
    "logging",
    "pathlib",
    "random",
    "re",
    "shutil",
    "statistics",
    "string",
    "textwrap",
    "typing",
)
HELD_OUT_EVERY = 10  # every 10th piece of text is held out for evaluation
CONTEXT = 64  # the longest sequence the model sees, in bytes
BATCH = 32  # pieces of text per step
VOCAB = 256  # one token per byte
PAD = 0  # the NUL byte never occurs in the text
IGNORE = -100  # the target of a padding position: no loss, not a token


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=_positive, default=30, help="optimizer steps")
    parser.add_argument(
        "--device", default="auto", help="auto (cuda when available, else cpu), cpu, cuda, ..."
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of torch and the batches")
    parser.add_argument("--log", default=None, help="write the run log (JSON lines) here")
    parser.add_argument("--eval-every", type=_positive, default=10, help="steps between evals")
    parser.add_argument(
        "--project-steps",
        type=_positive,
        default=100_000,
        help="the longer run to project the measurement to, in steps",
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: expected a positive integer")
    return value


def pieces(modules: Sequence[str] = MODULES) -> list[bytes]:
    """The modules' docstrings cut at spaces into pieces of at most ``CONTEXT + 1`` bytes:
    the examples. Most are shorter, so batches have padding."""
    text = "\n\n".join(inspect.getdoc(importlib.import_module(name)) or "" for name in modules)
    return [line.encode() for line in textwrap.wrap(text, width=CONTEXT + 1)]


def make_batch(examples: Sequence[bytes]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next-byte targets for ``examples``, right-padded to the longest one.

    Padding positions come after every real token, so under the causal mask no real
    position attends to them, and their targets are ``IGNORE``. The tensors are on the
    CPU: the tokens are counted there, so counting them does not wait for the GPU.
    """
    import torch

    width = max(len(e) for e in examples) - 1
    inputs = torch.full((len(examples), width), PAD, dtype=torch.long)
    targets = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for row, example in enumerate(examples):
        ids = torch.tensor(list(example), dtype=torch.long)
        inputs[row, : len(ids) - 1] = ids[:-1]
        targets[row, : len(ids) - 1] = ids[1:]
    return inputs, targets


def build_model(device: torch.device, d_model: int = 128, layers: int = 3) -> torch.nn.ModuleDict:
    """A small byte-level transformer LM; :func:`logits` runs it."""
    from torch import nn

    block = nn.TransformerEncoderLayer(
        d_model,
        nhead=4,
        dim_feedforward=4 * d_model,
        dropout=0.0,
        batch_first=True,
        norm_first=True,
    )
    return nn.ModuleDict(
        {
            "tokens": nn.Embedding(VOCAB, d_model),
            "positions": nn.Embedding(CONTEXT, d_model),
            "blocks": nn.TransformerEncoder(block, layers, enable_nested_tensor=False),
            "norm": nn.LayerNorm(d_model),
            "head": nn.Linear(d_model, VOCAB),
        }
    ).to(device)


def logits(model: torch.nn.ModuleDict, inputs: torch.Tensor) -> torch.Tensor:
    """Next-byte logits, each position seeing only itself and the positions before it."""
    import torch
    from torch import nn

    width = inputs.shape[1]
    positions = torch.arange(width, device=inputs.device)
    hidden = model["tokens"](inputs) + model["positions"](positions)
    causal = nn.Transformer.generate_square_subsequent_mask(width, device=inputs.device)
    hidden = model["blocks"](hidden, mask=causal, is_causal=True)
    result: torch.Tensor = model["head"](model["norm"](hidden))
    return result


def loss_of(
    model: torch.nn.ModuleDict, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy over the real (not padding) target positions."""
    from torch.nn import functional

    out = logits(model, inputs)
    return functional.cross_entropy(out.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


def evaluate(model: torch.nn.ModuleDict, held_out: Sequence[bytes], device: torch.device) -> float:
    """Validation loss on the held-out pieces."""
    import torch

    model.eval()
    with torch.no_grad():
        inputs, targets = make_batch(held_out)
        loss = loss_of(model, inputs.to(device), targets.to(device)).item()
    model.train()
    return loss


def pick_device(name: str) -> torch.device:
    """``auto``: the GPU when PyTorch sees one, else the CPU."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def train(args: argparse.Namespace) -> tuple[nf.Report, int]:
    """Train under the tracker; the report and the number of tokens trained on."""
    import torch

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    data = pieces()
    held_out = data[HELD_OUT_EVERY - 1 :: HELD_OUT_EVERY]
    train_set = [p for i, p in enumerate(data) if i % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    device = pick_device(args.device)
    model = build_model(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    params = sum(p.numel() for p in model.parameters())
    print(f"{params:,} parameters on {device}, {len(train_set)} pieces of text to learn")

    seen = 0
    with nf.track_energy(name="train_torch", interval_s=0.2, log=args.log) as tracker:
        for step in range(1, args.steps + 1):
            inputs, targets = make_batch(rng.choices(train_set, k=BATCH))
            tokens = (targets != IGNORE).sum()  # a 0-d tensor, like attention_mask.sum()
            loss = loss_of(model, inputs.to(device), targets.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            tracker.step(1, tokens=tokens)
            seen += int(tokens)
            if step % args.eval_every == 0 or step == args.steps:
                with tracker.window("eval"):  # evaluation energy is reported on its own
                    val_loss = evaluate(model, held_out, device)
                print(f"step {step:4d}  train loss {loss.item():.3f}  val loss {val_loss:.3f}")
    return tracker.report, seen


def main(argv: Sequence[str] | None = None) -> None:
    """Train, then print the report, the energy per token and a projection."""
    args = parse_args(argv)
    report, seen = train(args)
    print(f"trained {report.steps} steps on {seen:,} tokens in {report.duration_s:.1f} s")
    print()
    print(report)
    print()
    assert report.j_per_token is not None  # at least one step, each with tokens
    print(f"J/token: {report.j_per_token:.4g} J per training token ({report.method})")
    for window in report.windows:
        share = window.energy_j / report.energy_j if report.energy_j else 0.0
        print(
            f"{window.name} window: {window.count} entries, {window.energy_j:.4g} J "
            f"({share:.1%} of the run's energy)"
        )
    full = report.project(steps=args.project_steps)
    print(
        f"projected to {full.steps:,} steps: {full.facility_energy_kwh:.4g} kWh with PUE, "
        f"{full.co2e_kg:.4g} kg CO2e"
    )


if __name__ == "__main__":  # importing this file (pytest collects it) runs nothing
    main()
