"""Which rank of which job this process is: read from a running engine or the launcher.

A :class:`RankContext` says the rank, the world size, the rank on this machine (and how
many ranks share it) and the machine. It comes
from, in this order:

1. an initialised ``torch.distributed`` process group (rank and world size), looked up in
   ``sys.modules`` only -- torch is never imported here;
2. MPI through ``mpi4py``, when ``mpi4py.MPI`` is already imported and initialised (or
   imported here for ``distributed="mpi"``);
3. the launcher's variables: ``torchrun`` (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
   ``LOCAL_WORLD_SIZE``, ``GROUP_RANK``), Open MPI (``OMPI_COMM_WORLD_*``), MPICH and
   Intel MPI (``PMI_RANK``, ``PMI_SIZE``, ``MPI_LOCALRANKID``, ``MPI_LOCALNRANKS``), PMIx
   (``PMIX_RANK``) and SLURM's ``srun`` (``SLURM_PROCID``, ``SLURM_LOCALID``,
   ``SLURM_STEP_NUM_TASKS``, ``SLURM_NODEID``, ``SLURM_STEP_TASKS_PER_NODE``; a batch
   script's own shell, which has ``SLURM_PROCID`` and ``SLURM_NTASKS`` too, is no job).

The rank on this machine always comes from the launcher's variables (no engine is asked
at start: a collective then would wait for ranks that may never start a tracker). The
first family of variables that names a rank is used whole, so ``srun torchrun ...`` is read
as torchrun's ranks, not SLURM's tasks. The machine is ``NLPFOOTPRINT_HOST`` when set (to
simulate hosts in tests, or to name containers that share one), else the host name.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from nlpfootprint.checks import DISTRIBUTED_MODES, distributed_mode
from nlpfootprint.errors import ConfigurationError

__all__ = ["DISTRIBUTED_MODES", "Distributed", "RankContext", "detect", "from_environ", "host_name"]

Distributed = Literal["auto", "torch", "mpi"] | None

#: The launchers' variables, one family per launcher, in the order they are trusted:
#: (rank, world size, local rank, local world size, node).
_FAMILIES: tuple[tuple[str, str, str, str | None, str | None], ...] = (
    ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK"),
    (
        "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_SIZE",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "OMPI_COMM_WORLD_NODE_RANK",
    ),
    ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS", None),
    ("PMIX_RANK", "PMIX_SIZE", "PMIX_LOCAL_RANK", "PMIX_LOCAL_SIZE", "PMIX_NODEID"),
    # srun's step variables: a batch script's own shell has SLURM_PROCID=0 and the
    # allocation's SLURM_NTASKS too, but is one process, not a rank of a job
    ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", None, "SLURM_NODEID"),
)
_TASKS_PER_NODE = re.compile(r"(\d+)(?:\(x(\d+)\))?")


def host_name(environ: Mapping[str, str] | None = None) -> str:
    """This machine's name: ``NLPFOOTPRINT_HOST`` when set, else :func:`platform.node`."""
    env = os.environ if environ is None else environ
    return env.get("NLPFOOTPRINT_HOST") or platform.node() or "localhost"


@attrs.frozen
class RankContext:
    """One process's place in a distributed job.

    Attributes:
        rank: Its rank, 0 to ``world_size - 1``.
        world_size: How many ranks the job has (at least 2).
        local_rank: Its rank among the ranks on this machine (None: not known).
        local_world_size: How many ranks run on this machine (None: not known).
        host: This machine's name (see :func:`host_name`).
        source: What said so: ``"torch"``, ``"mpi"`` or the launcher's variable family
            (``"RANK"``, ``"OMPI_COMM_WORLD_RANK"``, ``"SLURM_PROCID"``, ...).
        engine: ``"torch"`` or ``"mpi"`` when that engine was asked for (or found), else
            None: the one running at stop is used.
        node: The machine's index in the job, when the launcher said.
    """

    rank: int
    world_size: int
    local_rank: int | None
    local_world_size: int | None
    host: str
    source: str
    engine: str | None = None
    node: int | None = None


def _integer(env: Mapping[str, str], name: str | None) -> int | None:
    if name is None or name not in env:
        return None
    value = env[name].strip()
    if not value.isdigit():
        raise ConfigurationError(
            f"{name}={env[name]!r}: a launcher's rank variables are whole numbers >= 0"
        )
    return int(value)


def _slurm_local_size(env: Mapping[str, str]) -> int | None:
    """This node's task count from ``SLURM_STEP_TASKS_PER_NODE`` (``"4(x2),3"``) and its
    node."""
    spec, node = env.get("SLURM_STEP_TASKS_PER_NODE"), env.get("SLURM_NODEID", "")
    if not spec or not node.isdigit():
        return None
    counts: list[int] = []
    for entry in spec.split(","):
        match = _TASKS_PER_NODE.fullmatch(entry.strip())
        if match is None:
            return None
        counts += [int(match[1])] * int(match[2] or 1)
    index = int(node)
    return counts[index] if index < len(counts) else None


def from_environ(environ: Mapping[str, str] | None = None) -> RankContext | None:
    """The context the launcher's variables give, or None outside a job of two or more.

    Raises:
        ConfigurationError: A variable of the family in use is not a whole number, or
            the rank is not below the world size.
    """
    env = os.environ if environ is None else environ
    for rank_var, size_var, local_var, local_size_var, node_var in _FAMILIES:
        if rank_var not in env or size_var not in env:
            continue
        rank, size = _integer(env, rank_var), _integer(env, size_var)
        assert rank is not None
        assert size is not None
        if size < 2:
            return None
        if rank >= size:
            raise ConfigurationError(
                f"{rank_var}={rank} with {size_var}={size}: a rank is below the world size"
            )
        local_rank = _integer(env, local_var)
        local_size = _integer(env, local_size_var)
        if local_size is None and rank_var == "SLURM_PROCID":
            local_size = _slurm_local_size(env)
        return RankContext(
            rank=rank,
            world_size=size,
            local_rank=local_rank,
            local_world_size=local_size,
            host=host_name(env),
            source=rank_var,
            node=_integer(env, node_var),
        )
    return None


def _torch_group() -> Any | None:
    """``torch.distributed`` when it is imported and has a process group, else None."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def _mpi(*, load: bool) -> Any | None:
    """``mpi4py.MPI`` when imported (or, with ``load``, importable) and MPI is running."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None and load:
        try:
            from mpi4py import MPI as mpi  # noqa: N811 - mpi4py's spelling
        except ImportError as err:
            raise ConfigurationError(
                f"distributed='mpi' needs mpi4py ({err}): pip install 'nlpfootprint[mpi]'"
            ) from err
    if mpi is None or not mpi.Is_initialized() or mpi.Is_finalized():
        return None
    return mpi


def engine_at_stop(context: RankContext) -> tuple[str, Any] | None:
    """The engine to gather through now: ``("torch", torch.distributed)``,
    ``("mpi", mpi4py.MPI)`` or None (nothing runs that could gather). An engine whose
    world is not the job's (a singleton MPI that a library's import started) is none."""
    if context.engine in (None, "torch"):
        dist = _torch_group()
        if dist is not None and dist.get_world_size() == context.world_size:
            return "torch", dist
    if context.engine in (None, "mpi"):
        mpi = _mpi(load=context.engine == "mpi")
        if mpi is not None and mpi.COMM_WORLD.Get_size() == context.world_size:
            return "mpi", mpi
    return None


def detect(mode: Distributed, environ: Mapping[str, str] | None = None) -> RankContext | None:
    """The rank context for ``track_energy(distributed=mode)``, or None outside a job.

    ``"auto"`` takes a running torch.distributed group, then running MPI, then the
    launcher's variables, and is None when none says there are two ranks or more;
    ``"torch"`` and ``"mpi"`` take that engine (or, for torch, the launcher's variables
    when the group is made later) and raise when there is none.

    Raises:
        ConfigurationError: ``mode`` is not one of :data:`DISTRIBUTED_MODES`; the engine
            asked for is not there; a launcher variable is not a whole number.
    """
    distributed_mode(mode)
    if mode is None:
        return None
    env = os.environ if environ is None else environ
    launcher = from_environ(env)
    rank = size = None
    source = launcher.source if launcher is not None else ""
    engine = None if mode == "auto" else mode
    if mode in ("auto", "torch") and (dist := _torch_group()) is not None:
        rank, size, source, engine = dist.get_rank(), dist.get_world_size(), "torch", "torch"
    elif mode in ("auto", "mpi") and (mpi := _mpi(load=mode == "mpi")) is not None:
        comm = mpi.COMM_WORLD
        rank, size, source, engine = comm.Get_rank(), comm.Get_size(), "mpi", "mpi"
    elif mode == "mpi":
        raise ConfigurationError("distributed='mpi': MPI is not running in this process")
    elif launcher is None:
        if mode == "torch":
            raise ConfigurationError(
                "distributed='torch': no torch.distributed process group is initialised "
                "and no launcher variables (RANK, WORLD_SIZE) are set"
            )
        return None
    if rank is None or size is None:
        assert launcher is not None
        return attrs.evolve(launcher, engine=engine)
    if size < 2:
        # a singleton engine (mpi4py imported by a library, MPI not launched by mpirun)
        # does not unmake the launcher's job: under torchrun its variables still hold
        if mode == "auto" and launcher is not None:
            return attrs.evolve(launcher, engine=None)
        return None
    if launcher is not None and (launcher.rank, launcher.world_size) == (rank, size):
        return attrs.evolve(launcher, source=source, engine=engine)
    # a launcher of its own (Lightning's, mp.spawn) may still say the local rank
    local_rank, local_size = _integer(env, "LOCAL_RANK"), _integer(env, "LOCAL_WORLD_SIZE")
    return RankContext(rank, size, local_rank, local_size, host_name(env), source, engine)
