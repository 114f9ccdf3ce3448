"""A tracker's part in a distributed job: what its rank measures, and the gather at stop.

:class:`JobSession` is made at the tracker's start when :func:`~.context.detect` finds a
job of two or more ranks. It keeps, of the meters, what this rank owns
(:func:`~.select.owned_positions`), says where this rank's run log goes (rank 0 writes
the job's; the others none, unless the path names ``{rank}``), and at stop gathers the
parts to rank 0 (:mod:`~.links`), which merges them (:func:`~.merge.job_report`). Nothing
here raises once tracking runs: a gather that fails leaves each rank its own report, with
a warning that says why.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence

import attrs

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.distributed.context import Distributed, RankContext, detect, engine_at_stop
from nlpfootprint.distributed.links import Stop, link_for
from nlpfootprint.distributed.merge import Part, job_report, rank_report
from nlpfootprint.distributed.select import owned_positions
from nlpfootprint.errors import ReportFormatError
from nlpfootprint.meters.meterset import MeterSet
from nlpfootprint.report import Report
from nlpfootprint.totals import LedgerState

__all__ = ["JobSession"]

log = logging.getLogger("nlpfootprint")
Warn = Callable[[str], None]
# Process state: a tracker's stops, counted per place it is started from (see _site).
_STOPS: dict[str, int] = {}
_STOPS_LOCK = threading.Lock()


def _site(name: str | None) -> str:
    """Where the tracker is started from, the same on every rank of a job: the first
    caller outside nlpfootprint (file name, line, function) and the tracker's name, as a
    short digest. Stops are counted per site, so that a tracker some ranks run and others
    do not (an evaluation on rank 0 only) never puts the other trackers' stops out of
    step."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").partition(".")[0] in (
        "nlpfootprint",
        "contextlib",
    ):
        frame = frame.f_back
    code = frame.f_code
    where = f"{os.path.basename(code.co_filename)}:{frame.f_lineno}:{code.co_name}:{name}"
    return hashlib.sha1(where.encode(), usedforsecurity=False).hexdigest()[:16]


def _next_stop(site: str) -> tuple[str, int]:
    with _STOPS_LOCK:
        number = _STOPS[site] = _STOPS.get(site, 0) + 1
    return site, number


class JobSession:
    """One tracker's rank in a job (see the module).

    Args:
        context: Which rank of which job.
        timeout_s: How long rank 0 waits for the others' parts at stop (and how long the
            others try to hand theirs over).
    """

    def __init__(self, context: RankContext, timeout_s: float, site: str = "") -> None:
        self.context = context
        self.timeout_s = timeout_s
        self.site = site
        self.origin_unix = time.time()
        self.per_rank_logs = False  # every rank writes a run log of its own
        self._part: Part | None = None  # this rank's own part, once finish() made it

    @classmethod
    def detect(
        cls, mode: Distributed, timeout_s: float, name: str | None = None
    ) -> JobSession | None:
        """The session for ``distributed=mode`` here, or None outside a job (``name``:
        the tracker's, part of what identifies it across the ranks)."""
        context = detect(mode)
        return None if context is None else cls(context, timeout_s, _site(name))

    def restrict(self, meterset: MeterSet, warn: Warn) -> None:
        """Keep of ``meterset`` what this rank measures (each device once in the job)."""
        meterset.restrict(owned_positions(meterset.meter_channels, self.context), warn)

    def log_path(self, path: str | os.PathLike[str] | None) -> str | os.PathLike[str] | None:
        """Where this rank writes its run log: ``path`` on rank 0, ``path`` with
        ``{rank}`` filled in on every rank, else none."""
        if path is None:
            return None
        text = os.fspath(path)
        if "{rank}" in text:
            self.per_rank_logs = True
            return text.replace("{rank}", str(self.context.rank))
        return path if self.context.rank == 0 else None

    def log_summary(self, final: Report) -> Report:
        """What this rank's run log ends with: the job's report (rank 0's single log), or,
        where every rank writes its own log, this rank's own part -- so that the logs of a
        job add up (``nlpfootprint report run-*.jsonl``) to its total, each device once."""
        if not self.per_rank_logs or final.job is None or final.job.scope == "rank":
            return final
        assert self._part is not None  # finish() made the job's report
        return rank_report(self._part, final.job.engine, final.job.world_size, ())

    def mark_origin(self, seconds_since_origin: float) -> None:
        """Note the wall-clock time of the tracker's origin (now less the seconds since)."""
        self.origin_unix = time.time() - seconds_since_origin

    def finish(
        self, report: Report, state: LedgerState, end_t: float, assumptions: Assumptions
    ) -> Report:
        """This rank's report at stop: on rank 0 the whole job's, elsewhere its own part."""
        context = self.context
        part = self._part = Part(
            context.rank, context.host, context.local_rank, self.origin_unix, end_t, state, report
        )
        stop = _next_stop(self.site)
        try:
            return self._gather(part, stop, assumptions)
        except Exception as err:  # a failing gather must not fail the run
            warning = (
                f"the job's parts could not be gathered ({err!r:.200}): this report is rank "
                f"{context.rank}'s own part"
            )
            log.warning("nlpfootprint: %s", warning)
            return rank_report(part, "launcher", context.world_size, [warning])

    def _gather(self, part: Part, stop: Stop, assumptions: Assumptions) -> Report:
        context = self.context
        found = engine_at_stop(context)
        if found is None:
            warning = (
                f"rank {context.rank} of {context.world_size} (from {context.source}), but no "
                "torch.distributed process group or MPI ran at stop to gather the job: this "
                "report is this rank's own part (each device is still measured by one rank "
                "only); initialise torch.distributed, or import mpi4py, for a job report"
            )
            log.warning("nlpfootprint: %s", warning)
            return rank_report(part, "launcher", context.world_size, [warning])
        engine, module = found
        link = link_for(engine, module)
        notes = _mismatch(context, link.rank, link.world_size)
        part = attrs.evolve(part, rank=link.rank)
        if link.rank != 0:
            problem = link.send(part.to_bytes(), stop, self.timeout_s)
            if problem is not None:
                log.warning("nlpfootprint: %s", problem)
            return rank_report(part, engine, link.world_size, [*notes, *filter(None, [problem])])
        received, missing = link.receive(stop, self.timeout_s)
        parts = [part]
        for rank, payload in sorted(received.items()):
            try:
                parts.append(attrs.evolve(Part.from_bytes(payload), rank=rank))
            except ReportFormatError as err:
                missing[rank] = f"its part could not be read: {err}"
        for rank, why in sorted(missing.items()):
            log.warning("nlpfootprint: rank %d did not report to the job report: %s", rank, why)
        return job_report(
            parts,
            missing,
            engine=engine,
            world_size=link.world_size,
            assumptions=assumptions,
            warnings=notes,
        )


def _mismatch(context: RankContext, rank: int, world_size: int) -> Sequence[str]:
    if (context.rank, context.world_size) == (rank, world_size):
        return ()
    return (
        f"at start this process was rank {context.rank} of {context.world_size} (from "
        f"{context.source}); at stop the engine says rank {rank} of {world_size}, which "
        "the job report follows",
    )
