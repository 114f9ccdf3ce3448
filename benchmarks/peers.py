"""The peers nlpfootprint is compared with, each in a virtual environment of its own.

``prepare()`` makes (or reuses) ``benchmarks/.peers/<name>/`` for CodeCarbon and
carbontracker, installs the peer there with pip, and returns, for each, the interpreter to run
it with or the reason it could not. Nothing here raises: a peer that cannot be installed is a
column that says why, never a failed benchmark run.

Run ``python benchmarks/peers.py`` to install both and print what happened (and how long it
took).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["PEERS", "PEERS_DIR", "Peer", "PeerSpec", "prepare"]

PEERS_DIR = Path(__file__).resolve().parent / ".peers"

#: pip may take long on a slow index; a peer not installed in this time is reported, not awaited
INSTALL_TIMEOUT_S = 900.0
PROBE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class PeerSpec:
    """What to install (a pip requirement) and which module proves it is installed."""

    name: str
    requirement: str
    module: str
    distribution: str


PEERS = (
    PeerSpec("codecarbon", "codecarbon==3.*", "codecarbon", "codecarbon"),
    PeerSpec("carbontracker", "carbontracker==2.*", "carbontracker", "carbontracker"),
)


@dataclass(frozen=True)
class Peer:
    """A peer ready to run (``python`` set) or not (``error`` says why)."""

    name: str
    python: str | None = None
    version: str | None = None
    error: str | None = None
    install_s: float | None = None  # None: an existing environment was reused

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _python_in(env_dir: Path) -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return env_dir / scripts / ("python.exe" if os.name == "nt" else "python")


def _probe(python: Path, spec: PeerSpec) -> tuple[str | None, str | None]:
    """(version, None) when ``spec.module`` imports in that interpreter, else (None, why)."""
    code = f"import {spec.module}, importlib.metadata as m; print(m.version({spec.distribution!r}))"
    try:
        done = subprocess.run(
            [str(python), "-c", code],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
            env=_quiet_env(),
        )
    except (OSError, subprocess.SubprocessError) as err:
        return None, f"cannot run its interpreter: {err}"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return None, f"does not import: {lines[-1] if lines else done.returncode}"
    return done.stdout.strip().splitlines()[-1], None


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def _install(env_dir: Path, spec: PeerSpec) -> str | None:
    """Make the environment and pip-install the peer; None on success, else why not."""
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    except Exception as err:  # venv raises a variety of OSError/CalledProcessError
        return f"not installed: venv failed ({type(err).__name__}: {err})"
    command = [str(_python_in(env_dir)), "-m", "pip", "install", "--quiet", spec.requirement]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
            env=_quiet_env(),
        )
    except subprocess.TimeoutExpired:
        return f"not installed: pip took over {INSTALL_TIMEOUT_S:.0f} s"
    except OSError as err:
        return f"not installed: pip failed ({err})"
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return f"not installed: pip failed ({lines[-1] if lines else done.returncode})"
    return None


def prepare_one(spec: PeerSpec, root: Path = PEERS_DIR, *, install: bool = True) -> Peer:
    """Reuse ``root/<name>`` when the peer imports there; otherwise (re)install it."""
    env_dir = root / spec.name
    python = _python_in(env_dir)
    why = "no environment"
    if python.exists():
        version, why_not = _probe(python, spec)
        if version is not None:
            return Peer(spec.name, python=str(python), version=version)
        why = why_not or why
    if not install:
        return Peer(spec.name, error=f"not installed ({why}; installing was turned off)")
    start = time.perf_counter()
    failure = _install(env_dir, spec)
    took_s = time.perf_counter() - start
    if failure is not None:
        return Peer(spec.name, error=failure, install_s=took_s)
    version, why_not = _probe(python, spec)
    if version is None:
        return Peer(spec.name, error=f"installed but {why_not}", install_s=took_s)
    return Peer(spec.name, python=str(python), version=version, install_s=took_s)


def _prepare_safely(spec: PeerSpec, root: Path, install: bool) -> Peer:
    try:
        return prepare_one(spec, root, install=install)
    except Exception as err:  # installing must never fail the run
        return Peer(spec.name, error=f"not installed: {type(err).__name__}: {err}")


def prepare(
    enabled: bool = True, root: Path = PEERS_DIR, *, install: bool = True
) -> dict[str, Peer]:
    """Every peer, ready or with the reason it is not (``enabled=False``: none are run).
    The peers are installed concurrently (pip mostly waits on the network)."""
    if not enabled:
        return {spec.name: Peer(spec.name, error="not run (--no-peers)") for spec in PEERS}
    with ThreadPoolExecutor(max_workers=len(PEERS)) as pool:
        ready = pool.map(lambda spec: _prepare_safely(spec, root, install), PEERS)
        return {peer.name: peer for peer in ready}


if __name__ == "__main__":  # python benchmarks/peers.py [FOLDER]
    started = time.perf_counter()
    ready = prepare(root=Path(sys.argv[1]) if len(sys.argv) > 1 else PEERS_DIR)
    print(json.dumps({name: peer.to_dict() for name, peer in ready.items()}, indent=2))
    print(f"peers ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
