"""matplotlib figures, one module per subject. Plots draw; they never train.

Figures are built with ``matplotlib.figure.Figure`` rather than ``pyplot``, so
drawing never changes the user's backend or pyplot's global figure list.
"""

from __future__ import annotations

import os

from gradstep.files import atomic_path


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """Write ``fig`` as PNG atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
