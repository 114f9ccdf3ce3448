"""Deprecated: moved to :mod:`nlpfootprint.render.latex` (importing this module warns).

Kept so that code written against earlier versions still runs; import from
``nlpfootprint.render.latex`` instead.
"""

import warnings

from nlpfootprint.render.latex import hardware_phrase, latex_escape, paper_sentence, render_latex

warnings.warn(
    "nlpfootprint.render_paper moved to nlpfootprint.render.latex; import from there "
    "(this alias will be removed in a later release)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["hardware_phrase", "latex_escape", "paper_sentence", "render_latex"]
