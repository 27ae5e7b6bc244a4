"""matplotlib figures, one module per subject. Plots draw; they never train.

Figures are built as ``matplotlib.figure.Figure`` objects rather than through
``pyplot``, so drawing never changes the user's backend or pyplot's global figure list
(a loop drawing many figures keeps none of them alive). Every figure function returns a
``FigureAxes`` ``(fig, axes)`` pair that a notebook shows as the figure, and the
single-panel ones draw on an existing Axes given as ``ax=`` (``gradstep.plots.figure``).
"""

from __future__ import annotations

import os

from gradstep.files import atomic_path


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """Write ``fig`` as PNG atomically."""
    import numpy as np

    # The readers reject non-finite and absurd values; what is left near the ends of the
    # float range (a loss of 1e308 on a log axis) overflows only in matplotlib's own
    # margins and ticks, which it clips: the figure is right, the warning is noise.
    with atomic_path(path) as tmp, np.errstate(all="ignore"):
        fig.savefig(tmp, format="png", dpi=dpi)
