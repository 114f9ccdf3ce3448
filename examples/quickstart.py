"""Quickstart: measure the energy, CO2e and cost of a (small) training run.

Wrap the training loop in ``track_energy``, count steps, put evaluation in a window, and
read the report when the block ends. The model is the demo's numpy character-level
language model; with your own framework only the three lines inside the loop change.

Run it with::

    python examples/quickstart.py
"""

from __future__ import annotations

import time

import numpy as np

import nlpfootprint as nf
from nlpfootprint.demo import Adam, CharMLP, load_corpus, windows

TRAIN_SECONDS = 10.0
BATCH = 256


def main() -> None:
    """Train for a few seconds under the tracker, then print and project the report."""
    corpus = load_corpus()  # docstrings of a few standard-library modules, 10% held out
    rng = np.random.default_rng(0)
    model = CharMLP(len(corpus.vocab), rng)
    optimizer = Adam(model.params, lr=5e-3)
    val_x, val_y = windows(corpus.val, np.arange(len(corpus.val) - model.context), model.context)

    with nf.track_energy(
        carbon_intensity=400.0,  # g CO2e/kWh of your grid; the default is the world average
        price_per_kwh=0.15,  # your electricity price; without it there is no cost
        interval_s=0.5,
        name="quickstart",
    ) as tracker:
        start = time.monotonic()
        step = 0
        while time.monotonic() - start < TRAIN_SECONDS:
            starts = rng.integers(0, len(corpus.train) - model.context, size=BATCH)
            loss, grads = model.loss_and_grads(*windows(corpus.train, starts, model.context))
            optimizer.update(grads)
            step += 1
            tracker.step(tokens=BATCH)  # per-step and per-token figures in the report
            if step % 250 == 0:
                with tracker.window("eval"):  # evaluation is reported on its own
                    val_loss = model.loss(val_x, val_y)
                print(f"step {step:5d}  train loss {loss:.3f}  val loss {val_loss:.3f}")

    report = tracker.report
    print()
    print(report)

    # The paper's move: scale the measurement to the full run (here, 84 hours of training).
    full = report.project(hours=84)
    print()
    print(
        f"projected to 84 h: {full.facility_energy_kwh:.3f} kWh with PUE, "
        f"{full.co2e_kg:.3f} kg CO2e, {full.cost_usd:.2f} USD"
    )

    # Reports are values: save them as JSON and compare runs later.
    print(f"the report as JSON has {len(report.to_json())} characters")


if __name__ == "__main__":  # importing this file (pytest collects it) runs nothing
    main()
