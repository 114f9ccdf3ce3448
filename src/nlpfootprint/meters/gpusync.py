"""Waiting for a GPU's queued work before a reading: what NVML and amdsmi meters share.

A reading taken while kernels are still queued would charge their energy to whatever
comes after the boundary (a window, the stop). PyTorch drives NVIDIA and AMD (ROCm) GPUs
alike through ``torch.cuda``, so one function serves both meters.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["cuda_sync_job"]


def _nothing() -> None:
    """A sync with nothing to wait for."""


def cuda_sync_job(enabled: bool) -> Callable[[], None]:
    """What a sync does, bound here to the calling thread's device.

    The tracker calls this in the user's thread and runs the result on a worker thread
    (so that a hung device cannot hang the user); ``torch.cuda.synchronize()`` waits for
    the *current* device's queue, and a worker thread's current device is GPU 0, not the
    one this process (a DDP rank, after ``set_device``) works on. Nothing to wait for
    when ``enabled`` is false, torch is not imported, or it has not initialised a GPU.
    """
    torch = sys.modules.get("torch") if enabled else None
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not (cuda.is_available() and cuda.is_initialized()):
        return _nothing
    device = cuda.current_device()
    return lambda: cuda.synchronize(device)
