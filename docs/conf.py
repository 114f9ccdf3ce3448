"""Sphinx configuration for the nlpfootprint documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
No extension here needs the network (no intersphinx).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any

# -- Project -----------------------------------------------------------------------------

project = "nlpfootprint"
author = "nlpfootprint developers"
copyright = "nlpfootprint developers"

try:
    release = _dist_version("nlpfootprint")
except PackageNotFoundError:  # documentation built from a tree that is not installed
    release = "0+unknown"
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------------------

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
nitpicky = False

myst_heading_anchors = 3
# "term\n: definition" lists, used throughout the prose pages.
myst_enable_extensions = ["deflist"]

# -- autodoc / napoleon ------------------------------------------------------------------

# The integrations' libraries are mocked, so that the pages build without them installed
# (the integrations are tested against the real libraries, not here).
autodoc_mock_imports = ["torch", "transformers", "accelerate", "lightning", "pytorch_lightning"]

autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options: dict[str, Any] = {}
# Show the accounting module's input alias by name, not expanded into numpy generics.
autodoc_type_aliases = {"ArrayLike": "ArrayLike"}

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_include_init_with_doc = False
napoleon_use_rtype = True

# -- HTML --------------------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"nlpfootprint {release}"
# _static holds the images the pages include (a plot made with `nlpfootprint report --plot`).
html_static_path = ["_static"]
html_theme_options = {
    "description": "Energy, CO2e and cost of ML/NLP training runs",
    "fixed_sidebar": True,
}


# -- Short public names ------------------------------------------------------------------
# The API pages document each object once, under the module that defines it
# (``nlpfootprint.report.Report``), or under the public module that re-exports it when
# that module is private. Docstrings also refer to the short public names that
# ``nlpfootprint/__init__.py`` re-exports (``nlpfootprint.Report``). This handler sends a
# reference to a short name to the object's documented, defining-module name.


#: Objects defined in a private module are documented under the public module that
#: re-exports them (``nlpfootprint.Region`` -> ``nlpfootprint.intensity.Region``).
_DOCUMENTED_UNDER = {
    "nlpfootprint._tables": "nlpfootprint.intensity",
    "nlpfootprint._datasources": "nlpfootprint.intensity",
}


def _canonical_name(target: str) -> str | None:
    """``nlpfootprint.Report`` -> ``nlpfootprint.report.Report``; None if not a re-export."""
    parts = target.split(".")
    if parts[0] != "nlpfootprint":
        return None
    for split in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        head = getattr(module, parts[split], None)
        defined_in = getattr(head, "__module__", None)
        qualname = getattr(head, "__qualname__", None)
        if not isinstance(defined_in, str) or not isinstance(qualname, str):
            return None
        defined_in = _DOCUMENTED_UNDER.get(defined_in, defined_in)
        canonical = ".".join([defined_in, qualname, *parts[split + 1 :]])
        return None if canonical == target else canonical
    return None


def _resolve_short_name(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    module = node.get("py:module")
    if not target.startswith("nlpfootprint.") and module:
        target = f"{module}.{target}"  # e.g. `Report` in the docstring of `nlpfootprint`
    canonical = _canonical_name(target)
    if canonical is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node.get("refdoc"), app.builder, node["reftype"], canonical, node, contnode
    )


def setup(app: Any) -> dict[str, Any]:
    app.connect("missing-reference", _resolve_short_name)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
