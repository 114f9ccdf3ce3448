"""Data-parallel training under the tracker: every rank tracks, rank 0 prints the job's report.

Run it with two processes on CPU (gloo) -- or on GPUs, with ``"nccl"`` and a model on
``cuda:LOCAL_RANK``, as in any DDP script::

    torchrun --nproc-per-node 2 examples/train_ddp.py

Each rank measures what it owns (local rank 0 the machine's CPU and memory, each rank its
GPU), and at the end of the ``with`` block rank 0's report is the whole job's, each device
once, with the ranks and hosts it covers (``report.job``).

Importing this file runs nothing and does not import torch (pytest collects it).
"""

from __future__ import annotations

import nlpfootprint as nf

STEPS, BATCH, WIDTH = 200, 32, 64


def main() -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)  # the same initial weights on every rank
    model = DistributedDataParallel(
        torch.nn.Sequential(torch.nn.Linear(WIDTH, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    data = torch.Generator().manual_seed(rank)  # each rank its own batches
    with nf.track_energy(interval_s=0.1, carbon_intensity="FRA", name="ddp") as tracker:
        for _ in range(STEPS):
            x = torch.randn(BATCH, WIDTH, generator=data)
            loss = torch.nn.functional.mse_loss(model(x), x.sum(dim=1, keepdim=True))
            optimizer.zero_grad()
            loss.backward()  # DDP averages the gradients over the ranks here
            optimizer.step()
            tracker.step(tokens=BATCH)  # samples stand in for tokens in this toy model
        with tracker.window("eval"), torch.no_grad():
            model(torch.randn(4 * BATCH, WIDTH, generator=data))
    if rank == 0:
        print(tracker.report)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
