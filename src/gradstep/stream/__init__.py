"""Training on tables streamed from disk, on one process or several (``gradstep train
--stream``, ``--distributed``, ``--workers``): see ``docs/guide.md``, "Beyond memory".

:func:`fit_table` is the library call; :mod:`.source` finds and reads a table's units,
:mod:`.sums` gathers their statistics, :mod:`.fit` runs the passes and the descent,
:mod:`.group` shares the work between processes and :mod:`.launch` starts local ones.
"""

from __future__ import annotations


def fit_table(*args, **kwargs):
    from gradstep.stream.fit import fit_table as fit

    return fit(*args, **kwargs)


fit_table.__doc__ = "See :func:`gradstep.stream.fit.fit_table`."
__all__ = ["fit_table"]
