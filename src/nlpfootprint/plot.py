"""Deprecated: moved to :mod:`nlpfootprint.render.plot` (importing this module warns).

Kept so that code written against earlier versions still runs; import from
``nlpfootprint.render.plot`` instead.
"""

import warnings

from nlpfootprint.render.plot import plot_power, plot_report

warnings.warn(
    "nlpfootprint.plot moved to nlpfootprint.render.plot; import from there "
    "(this alias will be removed in a later release)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["plot_power", "plot_report"]
