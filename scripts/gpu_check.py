"""GPU check: the counter-based energy of a real NVIDIA GPU against integrated power samples.

Runs a bf16 matrix-multiply load for ``--seconds`` (default 60) with two trackers around
the same block: one reads the GPU's NVML energy counter every second, the other samples
NVML power every 0.1 s and integrates it. Prints both energies, the mean power, and how
far apart they are, with idle and load windows; writes the figures as JSON.

Needs torch with CUDA and nvidia-ml-py. Run: ``scripts/gpu_check.sh`` (or ``nox -s gpu``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nlpfootprint as nf
from nlpfootprint.meters.nvml import NvmlMeter, parse_visible_devices


def matmul_load(seconds: float, size: int = 8192) -> dict[str, float]:
    import torch

    a = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    torch.cuda.synchronize()
    products = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        for _ in range(20):
            torch.matmul(a, b)
        torch.cuda.synchronize()
        products += 20
    elapsed = time.monotonic() - start
    return {"products": products, "tflops": 2 * size**3 * products / elapsed / 1e12}


def idle(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    # the GPU that CUDA calls device 0, which is where the load runs
    visible = parse_visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES"))
    first: list[int | str] = [visible[0] if visible else 0]
    counter = NvmlMeter(gpus=first, mode="counter")
    power = NvmlMeter(gpus=first, mode="power")
    gpu = counter.gpus[0]
    print(f"GPU 0: {gpu.name} ({gpu.uuid}), power limit {gpu.power_limit_w} W")
    by_counter = nf.track_energy(meters=[counter], interval_s=1.0, name="counter")
    by_power = nf.track_energy(meters=[power], interval_s=0.1, name="power samples")
    with by_counter, by_power:
        with by_counter.window("idle"), by_power.window("idle"):
            idle(args.idle_seconds)
        with by_counter.window("load"), by_power.window("load"):
            load = matmul_load(args.seconds)
        with by_counter.window("cooldown"), by_power.window("cooldown"):
            idle(args.idle_seconds)
    counter.close()
    power.close()

    rows = []
    results: dict[str, object] = {"gpu": gpu.name, "uuid": gpu.uuid, **load}
    for label, tracker in (("counter", by_counter), ("power samples", by_power)):
        report = tracker.report
        windows = {w.name: w for w in report.windows}
        entry = {
            "energy_j": report.energy_j,
            "duration_s": report.duration_s,
            "mean_power_w": report.mean_power_w.get("gpu", 0.0),
            "readings": report.channels[0].readings,
            **{f"{name}_energy_j": w.energy_j for name, w in windows.items()},
            **{
                f"{name}_mean_power_w": w.mean_power_w.get("gpu", 0.0)
                for name, w in windows.items()
            },
        }
        results[label] = entry
        rows.append((label, entry))
    c, p = rows[0][1], rows[1][1]
    for key in ("energy_j", "load_energy_j", "idle_energy_j"):
        results[f"relative_difference_{key}"] = (p[key] - c[key]) / c[key]

    print(f"\nload: {load['products']} bf16 {8192}^3 products, {load['tflops']:.0f} TFLOP/s")
    print(f"\n{'':16}{'energy J':>12}{'mean W':>9}{'idle W':>9}{'load W':>9}{'reads':>7}")
    for label, e in rows:
        print(
            f"{label:<16}{e['energy_j']:>12.1f}{e['mean_power_w']:>9.1f}"
            f"{e['idle_mean_power_w']:>9.1f}{e['load_mean_power_w']:>9.1f}{e['readings']:>7}"
        )
    print(
        f"\npower samples vs counter: {100 * results['relative_difference_energy_j']:+.2f}% "
        f"overall, {100 * results['relative_difference_load_energy_j']:+.2f}% under load"
    )
    print("\n" + str(by_counter.report))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
