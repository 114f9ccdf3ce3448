"""Distributed jobs (``torchrun``, ``srun``, ``mpirun``): each device measured once, one
report for the whole job on rank 0.

``track_energy(distributed="auto")`` (the default) finds the job a process belongs to
(:mod:`~nlpfootprint.distributed.context`), measures on each rank only what that rank
owns (:mod:`~nlpfootprint.distributed.select`), and at stop gathers the ranks' parts to
rank 0 through the job's own engine (:mod:`~nlpfootprint.distributed.links`), where they
merge into one :class:`~nlpfootprint.Report` whose ``job`` says which ranks and hosts it
covers and which did not report (:mod:`~nlpfootprint.distributed.merge`). Outside a job
nothing changes.
"""

from __future__ import annotations

from nlpfootprint.distributed.context import (
    DISTRIBUTED_MODES,
    Distributed,
    RankContext,
    detect,
    from_environ,
    host_name,
)

__all__ = ["DISTRIBUTED_MODES", "Distributed", "RankContext", "detect", "from_environ", "host_name"]
