"""Shared by every test, doctest and example test: none may leave an nlpfootprint thread running."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlpfootprint.testing import sampler_threads

#: Deprecated aliases of moved modules: importing them warns (tests/test_layers.py checks).
collect_ignore = ["src/nlpfootprint/plot.py", "src/nlpfootprint/render_paper.py"]


@pytest.fixture(autouse=True)
def _no_sampler_thread_left_behind() -> Iterator[None]:
    before = set(sampler_threads())
    yield
    deadline = time.monotonic() + 5.0
    while (left := [t for t in sampler_threads() if t not in before]) and (
        time.monotonic() < deadline
    ):
        left[0].join(0.05)
    assert not left, f"test left nlpfootprint threads running: {left}"


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder an unprivileged user may enter and read, but not write (outside tmp_path,
    whose parents such a user may not enter); made writable again and removed after."""
    path = Path(tempfile.mkdtemp(prefix="nlpfootprint-shared-"))
    try:
        os.chmod(path, 0o755 if os.geteuid() == 0 else 0o555)
        yield path
    finally:
        os.chmod(path, 0o755)
        shutil.rmtree(path)
