"""Exactly once: which of the channels a rank sees it measures, and which copy counts.

Two rules, one at each end of a run:

* **At start** (:func:`owned_positions`), each rank keeps what it owns. The host-wide
  channels (CPU packages, DRAM, anything not a GPU) belong to local rank 0. A GPU belongs
  to the rank of its number: GPU ``LOCAL_RANK`` among the GPU channels a rank sees, in
  order (the device a DDP rank uses); GPUs beyond the machine's ranks go
  round them (GPU ``i`` to local rank ``i mod L``), so each is measured. A rank that sees
  one GPU only (``CUDA_VISIBLE_DEVICES`` per rank) owns it. Where the local rank is not
  known, the rank keeps all it sees and the second rule decides.
* **At the merge** (:func:`device_key`), two copies of one device are one: a device is
  its host and its UUID when the driver gives one, else its host and channel id -- so
  ``gpu:0`` on two hosts is two devices and ``gpu:0`` seen by two ranks of one host is
  one. The copy of the lowest rank counts.

A channel that measures its own process's share (an estimate in ``scope="process"``) is
no device: every rank keeps its own, and they add up.
"""

from __future__ import annotations

from collections.abc import Sequence

from nlpfootprint.distributed.context import RankContext
from nlpfootprint.meters.base import Channel, Domain

__all__ = ["device_key", "owned_positions", "per_process"]


def per_process(channel: Channel) -> bool:
    """True for a channel that measures its own process's share (an estimate in
    ``scope="process"``): every rank keeps its own, none is another's copy."""
    return channel.basis is not None and channel.basis.scope == "process"


def device_key(host: str, channel: Channel, rank: int) -> tuple[str, str]:
    """What one physical device (or host-wide quantity) is, across the ranks of a job;
    a process's own share is its rank's alone."""
    if per_process(channel):
        return (host, f"rank:{rank}:{channel.id}")
    uuid = channel.device.uuid if channel.device is not None else None
    return (host, f"uuid:{uuid}" if uuid else f"id:{channel.id}")


def _owns_gpu(position: int, gpus: int, context: RankContext) -> bool:
    local_rank = context.local_rank
    assert local_rank is not None
    if gpus == 1:
        return True
    if position == local_rank:
        return True
    ranks = context.local_world_size
    return ranks is not None and position >= ranks and position % ranks == local_rank


def owned_positions(
    meter_channels: Sequence[Sequence[Channel]], context: RankContext
) -> list[list[int]]:
    """For each meter, the positions of the channels this rank measures (see the module)."""
    if context.local_rank is None:
        return [list(range(len(channels))) for channels in meter_channels]
    gpus = sum(
        c.domain is Domain.GPU and not per_process(c)
        for channels in meter_channels
        for c in channels
    )
    leader = context.local_rank == 0
    keep: list[list[int]] = []
    gpu = 0
    for channels in meter_channels:
        mine = []
        for position, channel in enumerate(channels):
            if per_process(channel):
                mine.append(position)
            elif channel.domain is Domain.GPU:
                if _owns_gpu(gpu, gpus, context):
                    mine.append(position)
                gpu += 1
            elif leader:
                mine.append(position)
        keep.append(mine)
    return keep
