"""The installed version of nlpfootprint (a leaf: imports nothing of the package).

Read from the package metadata, so it is what ``pip`` installed; a source tree that was
never installed reports ``0+unknown``. ``importlib.metadata`` is slow to import (some
50 ms), so it is read on first use: :func:`package_version`, or the module attribute
``__version__`` (which calls it).
"""

from __future__ import annotations

import functools

__all__ = ["package_version"]  # and __version__, read on first access (below)


@functools.cache
def package_version() -> str:
    """The installed version, read once from the package metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nlpfootprint")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return package_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
