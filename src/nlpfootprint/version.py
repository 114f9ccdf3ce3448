"""The installed version of nlpfootprint (a leaf: imports nothing of the package).

Read from the package metadata, so it is what ``pip`` installed; a source tree that was
never installed reports ``0+unknown``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__: str = version("nlpfootprint")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"
