r"""Progress bars for every front door: ``fit(progress=True)``, ``GDRegressor(verbose=1)``,
``gradstep train`` on a terminal, and the ``Trainer``.

Where the bar is drawn. In a Jupyter kernel with ``ipywidgets`` installed the bar is
tqdm.auto's widget; everywhere else it is tqdm's text bar on standard error (a
notebook without ``ipywidgets`` shows that text in the cell's output, redrawn in
place). ``"auto"`` draws one only where someone watches: a terminal or a notebook.

What the bar counts. Without a stopping rule, epochs toward the cap. With ``tol``, the
way to convergence: the certified bound :math:`\beta` (:class:`gradstep.policies.Certificate`)
falls from :math:`\beta_0` at the start to ``tol``, and, gradient descent on a quadratic
converging linearly, :math:`\log\beta` falls about evenly per epoch, so the bar stands at

.. math:: \frac{\log(\beta_0/\beta)}{\log(\beta_0/\mathrm{tol})}

of the way (clipped to [0, 1]) and its time estimate means something; the epochs and
the bound are in the postfix. A bar that stops short of 100 % is a run that stopped
(at the cap) without converging.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable

from gradstep.errors import GradstepError

#: steps of a convergence bar (0.1 % each)
STEPS = 1000
CONVERGENCE_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (notebook, lab, VS Code, Colab).

    ``ipykernel`` is imported and its shell is the running IPython instance; IPython in a
    terminal, or ``ipykernel`` merely imported, does not count.
    """
    zmqshell, ipython = sys.modules.get("ipykernel.zmqshell"), sys.modules.get("IPython")
    if zmqshell is None or ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython too broken to answer: no notebook to draw in
        return False
    return isinstance(shell, zmqshell.ZMQInteractiveShell) and shell.kernel is not None


def wanted(setting: bool | str | None) -> bool:
    """True/False as given (None: False); ``"auto"``: on a terminal or in a notebook."""
    if isinstance(setting, str) and setting == "auto":
        return is_terminal(sys.stderr) or in_notebook()
    return bool(setting)


def check_setting(name: str, setting, allow_callable: bool = False) -> None:
    if (
        setting is None
        or isinstance(setting, bool)
        or (isinstance(setting, str) and setting == "auto")
    ):
        return
    if allow_callable and callable(setting):
        return
    also = ", a callable(done, epochs, train_loss, bound)" if allow_callable else ""
    raise GradstepError(f"{name}={setting!r} must be True, False, 'auto'{also} or None")


def bar_class():
    """tqdm.auto's widget bar in a notebook with ipywidgets, tqdm's text bar otherwise.

    Deciding here rather than letting tqdm.auto fall back keeps its "IProgress not found"
    warning out of a learner's notebook: the text bar works there as it is.
    """
    if in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm


def convergence_fraction(bound: float | None, start: float | None, tol: float) -> float | None:
    """How far ``bound`` has come from ``start`` toward ``tol`` on a log scale, in [0, 1];
    None when it cannot be said (no bound, or an infinite one: nothing certifiable)."""
    if bound is None or start is None or math.isnan(bound) or math.isinf(bound):
        return None
    if bound <= tol or start <= tol:
        return 1.0
    if math.isinf(start):
        return None
    fraction = math.log(start / bound) / math.log(start / tol)
    return min(max(fraction, 0.0), 1.0 - 1.0 / STEPS)  # 100 % only once certified


class DescentBar:
    """The driver's ``progress(done, epochs, train_loss, bound)``, drawn on a bar.

    ``cap``: the epoch the count ends at; ``offset``: the epochs already done when the
    bar starts (a resumed run). ``tol`` and ``start_bound`` (the certified bound at the
    start) make it a convergence bar; without them, or when nothing can be certified
    (an infinite bound), it counts epochs. ``make_bar(**options)`` builds the bar
    (default :func:`bar_class`); tests pass a fake one.
    """

    def __init__(
        self,
        cap: int,
        *,
        tol: float | None = None,
        start_bound: float | None = None,
        offset: int = 0,
        make_bar: Callable | None = None,
        leave: bool = True,
    ):
        self.cap, self.tol, self.start_bound = int(cap), tol, start_bound
        self.converging = tol is not None and start_bound is not None and math.isfinite(start_bound)
        make_bar = make_bar or bar_class()
        if self.converging:
            self.bar = make_bar(total=STEPS, desc=f"to tol {tol:g}", leave=leave,
                                bar_format=CONVERGENCE_FORMAT)  # fmt: skip
        else:
            self.bar = make_bar(total=self.cap, initial=int(offset), desc="epochs", unit="epoch",
                                leave=leave)  # fmt: skip

    def position(self, done: int, bound: float | None) -> int:
        if not self.converging:
            return int(done)
        fraction = convergence_fraction(bound, self.start_bound, self.tol)
        return self.bar.n if fraction is None else round(fraction * STEPS)

    def __call__(self, done: int, epochs: int, train_loss: float, bound: float | None) -> None:
        postfix = {"epoch": f"{done}/{epochs}"} if self.converging else {}
        postfix["loss"] = f"{train_loss:.6g}"
        if bound is not None:
            postfix["bound"] = f"{bound:.3g}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.n = self.position(done, bound)  # may move back: a bound can rise
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> DescentBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
