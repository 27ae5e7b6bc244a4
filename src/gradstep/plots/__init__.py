"""matplotlib figures, one module per subject. Plots draw; they never train.

Figures are built with ``matplotlib.figure.Figure`` rather than ``pyplot``, so
drawing never changes the user's backend or pyplot's global figure list.
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
