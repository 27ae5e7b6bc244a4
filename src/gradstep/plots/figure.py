"""Figures that show themselves in Jupyter without pyplot.

A plain ``matplotlib.figure.Figure`` is invisible to a notebook until pyplot's
inline backend is loaded (it registers the PNG formatter for ``Figure``). Going
through pyplot instead would keep every figure in its global list: a loop that
draws a thousand figures would keep a thousand. So the figures here stay outside
pyplot, as the documented ``Figure()`` objects, and carry IPython's display hook
themselves, the way seaborn's ``Plot`` does:

- ``NotebookFigure`` is a ``Figure`` with ``_repr_png_``: the cell's value shows
  as the PNG that ``save_figure`` writes. Where the inline backend registered its
  own formatter, IPython uses that one instead; either way one image.
- ``FigureAxes`` is the ``(fig, axes)`` pair every figure function returns. It
  unpacks as before and shows as its figure, unless pyplot owns that figure (an
  ``ax=`` from ``plt.subplots()``): pyplot's backend shows those, and a second
  image would be a duplicate.

Nothing here imports IPython unless IPython itself asks to display something.
"""

from __future__ import annotations

import io
import sys
from typing import Any, NamedTuple

import numpy as np
from matplotlib.figure import Figure

# The resolution of the PNG a notebook shows: ``save_figure``'s (and the CLI's) default.
DISPLAY_DPI = 100


def figure_png(fig, dpi: int = DISPLAY_DPI) -> bytes:
    """``fig`` as PNG bytes, drawn exactly as ``save_figure`` writes it."""
    buffer = io.BytesIO()
    # ignore: see save_figure (matplotlib's own margins overflow near the float range's ends)
    with np.errstate(all="ignore"):
        fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


class NotebookFigure(Figure):
    """A ``matplotlib.figure.Figure`` that a notebook displays as a PNG by itself."""

    def _repr_png_(self) -> bytes:
        return figure_png(self)


def root_figure(fig):
    """The top-level figure of ``fig`` (itself, or the figure a subfigure sits in)."""
    get = getattr(fig, "get_figure", None)
    if get is not None:
        try:
            return get(root=True)
        except TypeError:  # matplotlib < 3.10: no ``root``
            pass
    parent = getattr(fig, "figure", None)
    return parent if parent is not None else fig


def owned_by_pyplot(fig) -> bool:
    """Whether pyplot manages ``fig`` (and its backend will show it)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return False
    manager = getattr(root_figure(fig).canvas, "manager", None)
    return manager is not None and pyplot.fignum_exists(manager.num)


class FigureAxes(NamedTuple):
    """``(fig, axes)``: what every figure function returns; a notebook shows the figure."""

    fig: Any
    axes: Any

    def _ipython_display_(self) -> None:
        if owned_by_pyplot(self.fig):
            return
        from IPython.display import display

        display(root_figure(self.fig))


def new_figure(ax=None, **figure_kw):
    """``(fig, ax, own)``: a new one-Axes ``NotebookFigure`` (``own`` True), or ``ax``
    and the figure it is in (``own`` False: the caller's layout is left alone)."""
    if ax is not None:
        return ax.figure, ax, False
    fig = NotebookFigure(**figure_kw)
    return fig, fig.subplots(), True
