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
# Process state (a gather spans processes, so it cannot live in one tracker):
#: MPI sends rank 0 had not taken by the timeout: kept alive, MPI may still read them.
_PENDING: list[object] = []
#: On rank 0, MPI parts that came for another stop than the one gathered, by (stop, rank).
_MAILBOX: dict[tuple[tuple[str, int], int], bytes] = {}


#: One stop of one tracker across the job: where the tracker was started (the same
#: line of the same program on every rank) and how many stops there came before it.
Stop = tuple[str, int]


class Link(Protocol):
    """One engine's way of moving bytes to rank 0."""

    engine: str
    rank: int
    world_size: int

    def send(self, payload: bytes, stop: Stop, timeout_s: float) -> str | None:
        """Hand this rank's part of ``stop`` to rank 0; None once handed, else why not."""
        ...

    def receive(self, stop: Stop, timeout_s: float) -> tuple[dict[int, bytes], dict[int, str]]:
        """On rank 0: the parts of ``stop`` that came from the other ranks within
        ``timeout_s``, and for each rank whose did not, why."""
        ...


def _missing(timeout_s: float) -> str:
    return f"no part within {timeout_s:g} s (gather_timeout_s)"


def _out_of_step(later: int, stop: Stop) -> str:
    return (
        f"its part is filed as its stop #{later} of this tracker, this is rank 0's "
        f"#{stop[1]}: the ranks did not start and stop this tracker the same number of "
        "times (a tracker on some ranks only needs distributed=None)"
    )


class TorchLink:
    """Through ``torch.distributed``: the key-value store the process group was made with.

    Each rank puts its part under a key of its own (``nlpfootprint/<site>/<stop>/<rank>``)
    and adds one to the stop's count; rank 0 waits for the count (or the deadline), then
    takes the parts there are and deletes their keys. The store is the job's rendezvous
    (torchrun's, or the ``TCPStore`` of ``env://``), the same whatever the backend (NCCL or
    gloo); a sender never waits, and a rank that does not come costs nothing but the wait.
    Gloo messages would not do: a gloo receive that times out closes every connection of
    its group ("Application timeout caused pair closure"), losing the parts still on their
    way (and, were the group the job's own, breaking it for what the job does next); and a
    group of its own would have to be made by every rank together.
    """

    engine = "torch"

    def __init__(self, dist: Any) -> None:
        self.rank = int(dist.get_rank())
        self.world_size = int(dist.get_world_size())
        self._store = _default_store(dist)

    @staticmethod
    def _key(stop: Stop, rank: int | str) -> str:
        return f"{_PREFIX}/{stop[0]}/{stop[1]}/{rank}"

    def send(self, payload: bytes, stop: Stop, timeout_s: float) -> str | None:
        try:
            self._store.set(self._key(stop, self.rank), payload)
            self._store.add(self._key(stop, "count"), 1)
        except Exception as err:  # a failing gather must not fail the run
            return f"could not hand this rank's part to rank 0: {err!r:.200}"
        return None

    def receive(self, stop: Stop, timeout_s: float) -> tuple[dict[int, bytes], dict[int, str]]:
        store, others = self._store, self.world_size - 1
        count = self._key(stop, "count")
        deadline = time.monotonic() + timeout_s
        pause = _POLL_S
        while store.add(count, 0) < others and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        parts: dict[int, bytes] = {}
        missing: dict[int, str] = {}
        for r in range(1, self.world_size):
            key = self._key(stop, r)
            if store.check([key]):
                parts[r] = bytes(store.get(key))
                store.delete_key(key)
            else:
                missing[r] = self._why_missing(r, stop, timeout_s)
        store.delete_key(count)
        return parts, missing

    def _why_missing(self, rank: int, stop: Stop, timeout_s: float) -> str:
        """No part of ``rank`` for this stop: say so, and whether it filed one under a
        later stop of the same tracker (it ran the tracker more often than rank 0)."""
        site, number = stop
        for later in range(number + 1, number + 9):
            if self._store.check([self._key((site, later), rank)]):
                return _out_of_step(later, stop)
        return _missing(timeout_s)


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
    """Through MPI (``mpi4py``): non-blocking messages on ``COMM_WORLD``, polled.

    A part that comes for another stop (another tracker's, or this one's at another
    time) is kept for that stop rather than dropped. A sender waits until rank 0 has
    taken its part (MPI delivers larger messages only then), at most the timeout.
    """

    engine = "mpi"

    def __init__(self, mpi: Any) -> None:
        self._mpi = mpi
        self._comm = mpi.COMM_WORLD
        self.rank = int(self._comm.Get_rank())
        self.world_size = int(self._comm.Get_size())

    def send(self, payload: bytes, stop: Stop, timeout_s: float) -> str | None:
        try:
            request = self._comm.isend((stop, payload), dest=0, tag=TAG)
            deadline = time.monotonic() + timeout_s
            while not request.Test():
                if time.monotonic() > deadline:
                    _PENDING.append(request)  # MPI may still read its buffer
                    return (
                        f"rank 0 had not taken this rank's part after {timeout_s:g} s "
                        "(gather_timeout_s); it still can, when it stops: its job report "
                        "lists the ranks whose parts it took"
                    )
                time.sleep(_POLL_S)
        except Exception as err:
            return f"could not send this rank's part to rank 0: {err!r:.200}"
        return None

    def receive(self, stop: Stop, timeout_s: float) -> tuple[dict[int, bytes], dict[int, str]]:
        comm, status = self._comm, self._mpi.Status()
        parts = {
            r: _MAILBOX.pop((stop, r)) for r in range(1, self.world_size) if (stop, r) in _MAILBOX
        }
        deadline = time.monotonic() + timeout_s
        while len(parts) < self.world_size - 1 and time.monotonic() < deadline:
            if not comm.iprobe(source=self._mpi.ANY_SOURCE, tag=TAG, status=status):
                time.sleep(_POLL_S)
                continue
            source = status.Get_source()
            (site, number), payload = comm.recv(source=source, tag=TAG)
            if (site, number) == stop:
                parts[source] = payload
            else:
                _MAILBOX[((site, number), source)] = payload  # for the stop it belongs to
        missing = {}
        for r in range(1, self.world_size):
            if r in parts:
                continue
            ahead = [
                n
                for (st, sender) in _MAILBOX
                if sender == r and st[0] == stop[0] and (n := st[1]) > stop[1]
            ]
            missing[r] = _out_of_step(min(ahead), stop) if ahead else _missing(timeout_s)
        return parts, missing


def link_for(engine: str, module: Any) -> Link:
    """The link of ``engine`` (``"torch"``: ``module`` is ``torch.distributed``;
    ``"mpi"``: ``mpi4py.MPI``)."""
    return TorchLink(module) if engine == "torch" else MpiLink(module)
