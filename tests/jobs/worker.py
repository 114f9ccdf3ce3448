"""One rank of a test job: run by ``torchrun`` or ``mpirun`` from tests/test_distributed_jobs.py.

Each rank tracks a simulated machine with fake meters: as many GPUs as ``--gpus`` (GPU
``i`` draws ``300 + 10 i`` W, plus 100 W on a host whose name ends in ``b``) and one
100 W CPU package; every rank sees all of them, as a rank sees every GPU of its node.
With ``--clock fake`` every rank advances a FakeClock by one hour, in ten steps of 512
tokens and an ``eval`` window of a minute, so each figure is exact. The rank writes its
report (and what it knew) to ``OUT/rank<N>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _engine(name: str, *, hide_rank: bool) -> int:
    """Start the job's engine; return this rank (``hide_rank``: then leave only
    ``LOCAL_RANK`` of the launcher's variables, as Lightning's own launcher does)."""
    if name == "torch":
        import torch.distributed as dist

        dist.init_process_group("gloo")
        if hide_rank:
            for variable in ("RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK"):
                os.environ.pop(variable, None)
        return int(dist.get_rank())
    if name == "mpi":
        from mpi4py import MPI

        return int(MPI.COMM_WORLD.Get_rank())
    return int(os.environ["RANK"])  # the launcher's variables only


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--engine", choices=("torch", "mpi", "none"), default="torch")
    parser.add_argument("--clock", choices=("fake", "real"), default="fake")
    parser.add_argument("--gpus", type=int, default=4)
    parser.add_argument("--exit-early", type=int, default=-1, help="this rank leaves at once")
    parser.add_argument("--idle", type=int, default=-1, help="this rank never tracks")
    parser.add_argument("--gather-timeout", type=float, default=60.0)
    parser.add_argument("--run-log", default=None)
    parser.add_argument("--hide-rank", action="store_true", help="leave only LOCAL_RANK")
    parser.add_argument("--solo-first", action="store_true", help="rank 0 tracks alone first")
    args = parser.parse_args()

    import nlpfootprint as nf
    from nlpfootprint.distributed import host_name
    from nlpfootprint.testing import FakeClock, FakeMeter

    rank = _engine(args.engine, hide_rank=args.hide_rank)
    if rank == args.exit_early:
        sys.exit(0)
    if rank == args.idle:  # alive, but never tracks: until rank 0 is done
        deadline = time.monotonic() + args.gather_timeout + 120
        while not Path(args.out, "rank0.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        sys.exit(0)
    solo_missing = None
    if args.solo_first and rank == 0:  # a tracker of rank 0's own, before the job's
        solo_clock = FakeClock()
        with nf.track_energy(
            meters=[FakeMeter.constant(1.0, domain="other")], clock=solo_clock, gather_timeout_s=3
        ) as solo:
            solo_clock.advance(1)
        assert solo.report.job is not None
        solo_missing = [m.rank for m in solo.report.job.missing]
    extra = 100.0 if host_name().endswith("b") else 0.0
    gpus = FakeMeter.constant([300.0 + 10 * i + extra for i in range(args.gpus)], domain="gpu")
    meters = [gpus, FakeMeter.constant(100.0, domain="cpu")]
    clock = FakeClock() if args.clock == "fake" else None
    started = time.monotonic()
    started_wall = time.time()
    with nf.track_energy(
        meters=meters,
        clock=clock,
        interval_s=0.05,
        gather_timeout_s=args.gather_timeout,
        log=args.run_log,
    ) as tracker:
        with tracker.window("train"):
            for _ in range(10):
                if clock is not None:
                    clock.advance(354)
                else:
                    time.sleep(0.05)
                tracker.step(tokens=512)
        with tracker.window("eval"):
            if clock is not None:
                clock.advance(60)
            else:
                time.sleep(0.1)
    report = tracker.report
    out = {
        "rank": rank,
        "host": host_name(),
        "stop_s": time.monotonic() - started,
        "wall": [started_wall, time.time()],
        "report": report.to_dict(),
        "text": str(report),
        "solo_missing": solo_missing,
    }
    Path(args.out, f"rank{rank}.json").write_text(json.dumps(out))


if __name__ == "__main__":
    main()
