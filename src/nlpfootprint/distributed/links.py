"""Getting each rank's part to rank 0 through the job's own engine, with a deadline.

The parts travel on what the job already runs: ``torch.distributed``'s store (the
rendezvous its process group was made with) or MPI (``mpi4py``'s ``COMM_WORLD``). Rank 0
takes each rank's part as it comes, in any order, within one shared deadline; a rank whose
part does not come (it stopped late, never started a tracker, or its process is gone) is
reported missing with why, and the rest are kept. A collective ``gather_object`` would do
neither: it is all or nothing, says not which rank failed, and -- on gloo, the backend it
would need -- leaves the job's connections closed after a timeout.

Every part is filed under the sender's stop number (the how-many-th distributed stop in
its process; every rank stops its trackers in the same order, as it runs collectives), so
that a part that comes after rank 0 gave up on it is never taken for a later one.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

__all__ = ["Link", "MpiLink", "TorchLink", "link_for"]

#: The MPI message tag, chosen not to meet a training script's own messages.
TAG = 0x6E6670
#: The torch store's keys begin with it.
_PREFIX = "nlpfootprint"
_POLL_S = 0.002
#: Sends rank 0 never took: kept alive, since MPI may still read their buffers.
_ABANDONED: list[object] = []


class Link(Protocol):
    """One engine's way of moving bytes to rank 0."""

    engine: str
    rank: int
    world_size: int

    def send(self, payload: bytes, seq: int, timeout_s: float) -> str | None:
        """Send this rank's part to rank 0; None once sent, else what went wrong."""
        ...

    def receive(self, seq: int, timeout_s: float) -> tuple[dict[int, bytes], dict[int, str]]:
        """On rank 0: the parts that came from the other ranks within ``timeout_s``, and
        for each rank whose did not, why."""
        ...


class TorchLink:
    """Through ``torch.distributed``: the key-value store the process group was made with.

    Each rank puts its part under a key of its own (``nlpfootprint/<stop>/<rank>``) and
    adds one to the stop's count; rank 0 waits for the count (or the deadline), then takes
    the parts there are and deletes the keys. The store is the job's rendezvous (torchrun's,
    or the ``TCPStore`` of ``env://``), the same whatever the backend (NCCL or gloo), and a
    rank that does not come costs nothing but the wait. Gloo messages would not do: a gloo
    receive that times out closes every connection of its group ("Application timeout
    caused pair closure"), losing the parts still on their way and breaking the job's
    own group for what it does next.
    """

    engine = "torch"

    def __init__(self, dist: Any) -> None:
        self.rank = int(dist.get_rank())
        self.world_size = int(dist.get_world_size())
        self._store = _default_store(dist)

    def send(self, payload: bytes, seq: int, timeout_s: float) -> str | None:
        try:
            self._store.set(f"{_PREFIX}/{seq}/{self.rank}", payload)
            self._store.add(f"{_PREFIX}/{seq}/count", 1)
        except Exception as err:  # a failing gather must not fail the run
            return f"could not hand this rank's part to rank 0: {err!r:.200}"
        return None

    def receive(self, seq: int, timeout_s: float) -> tuple[dict[int, bytes], dict[int, str]]:
        store, others = self._store, self.world_size - 1
        count = f"{_PREFIX}/{seq}/count"
        deadline = time.monotonic() + timeout_s
        pause = _POLL_S
        while store.add(count, 0) < others and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        parts: dict[int, bytes] = {}
        missing: dict[int, str] = {}
        for r in range(1, self.world_size):
            key = f"{_PREFIX}/{seq}/{r}"
            if store.check([key]):
                parts[r] = bytes(store.get(key))
                store.delete_key(key)
            else:
                missing[r] = self._why_missing(r, seq, timeout_s)
        store.delete_key(count)
        return parts, missing

    def _why_missing(self, rank: int, seq: int, timeout_s: float) -> str:
        """No part of ``rank`` for this stop: say so, and whether one of a later stop is
        there (the ranks do not start and stop the same trackers in the same order)."""
        ahead = [
            later
            for later in range(seq + 1, seq + 9)
            if self._store.check([f"{_PREFIX}/{later}/{rank}"])
        ]
        if ahead:
            return (
                f"its part is filed as its stop #{ahead[0]}, this is rank 0's #{seq}: the "
                "ranks did not start and stop the same trackers in the same order (a tracker "
                "on some ranks only needs distributed=None)"
            )
        return f"no part within {timeout_s:g} s (gather_timeout_s)"


def _default_store(dist: Any) -> Any:
    """The store of the default process group."""
    from torch.distributed import distributed_c10d

    get = getattr(distributed_c10d, "_get_default_store", None)
    if get is None:
        raise RuntimeError(
            f"this torch ({getattr(sys.modules.get('torch'), '__version__', '?')}) does not "
            "give the default process group's store"
        )
    return get()


class MpiLink:
    """Through MPI (``mpi4py``): non-blocking messages on ``COMM_WORLD``, polled."""

    engine = "mpi"

    def __init__(self, mpi: Any) -> None:
        self._mpi = mpi
        self._comm = mpi.COMM_WORLD
        self.rank = int(self._comm.Get_rank())
        self.world_size = int(self._comm.Get_size())

    def send(self, payload: bytes, seq: int, timeout_s: float) -> str | None:
        try:
            request = self._comm.isend((seq, payload), dest=0, tag=TAG)
            deadline = time.monotonic() + timeout_s
            while not request.Test():
                if time.monotonic() > deadline:
                    _ABANDONED.append(request)
                    return (
                        "could not send this rank's part to rank 0: not taken within "
                        f"{timeout_s:g} s (gather_timeout_s)"
                    )
                time.sleep(_POLL_S)
        except Exception as err:
            return f"could not send this rank's part to rank 0: {err!r:.200}"
        return None

    def receive(self, seq: int, timeout_s: float) -> tuple[dict[int, bytes], dict[int, str]]:
        comm, status = self._comm, self._mpi.Status()
        waiting = set(range(1, self.world_size))
        parts: dict[int, bytes] = {}
        stale: dict[int, str] = {}
        deadline = time.monotonic() + timeout_s
        while waiting and time.monotonic() < deadline:
            if not comm.iprobe(source=self._mpi.ANY_SOURCE, tag=TAG, status=status):
                time.sleep(_POLL_S)
                continue
            source = status.Get_source()
            sent_seq, payload = comm.recv(source=source, tag=TAG)
            if sent_seq != seq:
                stale[source] = f"it sent the part of another stop (its #{sent_seq}, not #{seq})"
            elif source in waiting:
                parts[source] = payload
                waiting.discard(source)
        missing = {
            r: stale.get(r, f"no part within {timeout_s:g} s (gather_timeout_s)")
            for r in sorted(waiting)
        }
        return parts, missing


def link_for(engine: str, module: Any) -> Link:
    """The link of ``engine`` (``"torch"``: ``module`` is ``torch.distributed``;
    ``"mpi"``: ``mpi4py.MPI``)."""
    return TorchLink(module) if engine == "torch" else MpiLink(module)
