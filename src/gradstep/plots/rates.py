"""The same first step at different learning rates, on both cross-sections.

Along one parameter the loss is a parabola ``L(p) = L* + k (p - p*)^2``; one step
``p - lr * L'(p)`` multiplies the distance to the bottom by ``1 - 2 lr k``. With
``lr < 1/(2k)`` it stays on the same side, above that it overshoots, and above
``1/k`` it lands higher up the other side than it started: the loss goes up.
For the intercept ``k = 1`` always, so 0.2, 0.8 and 1.1 show the three cases.
"""

from __future__ import annotations

from gradstep.plots.figure import FigureAxes, NotebookFigure
from gradstep.plots.steps import _labels, section, section_low, section_range
from gradstep.plots.surface import START_STYLE, wrap_title
from gradstep.quadratic import QuadraticLoss

DEFAULT_RATES = (0.2, 0.8, 1.1)


def first_step(q: QuadraticLoss, start, which: str, lr: float, j: int = 0):
    """``(p0, p1, loss0, loss1)``: one update of ``b`` or ``w_j`` alone at rate ``lr``."""
    f, p0, grad, _ = section(q, start, which, j)
    p1 = p0 - lr * grad
    return p0, p1, float(f(p0)), float(f(p1))


def learning_rates(q: QuadraticLoss, start, rates=DEFAULT_RATES, j: int = 0, names=None):
    """One row per learning rate, one column per cross-section (b, then w_j).

    Returns ``(fig, axes)`` with ``axes`` of shape ``(len(rates), 2)``.
    """
    fig = NotebookFigure(figsize=(13, 4.2 * len(rates) + 0.6))
    axes = fig.subplots(len(rates), 2, squeeze=False)
    for col, which in enumerate(("b", "w")):
        f, *_ = section(q, start, which, j)
        p_low = section_low(q, start, which, j)
        steps = [first_step(q, start, which, lr, j) for lr in rates]
        # one x range per column, so the rows compare at a glance
        xs = section_range(p_low, [p for step in steps for p in step[:2]])
        for row, (lr, (p0, p1, loss0, loss1)) in enumerate(zip(rates, steps, strict=True)):
            ax = axes[row, col]
            ax.plot(xs, f(xs), color="tab:blue")
            ax.plot([p0], [loss0], linestyle="none", **START_STYLE)
            went_up = loss1 > loss0
            overshoot = (p1 - p_low) * (p0 - p_low) < 0
            color = "tab:red" if went_up else "tab:green"
            ax.plot([p1], [loss1], "o", color=color, markersize=8, zorder=5)
            ax.annotate("", xy=(p1, loss1), xytext=(p0, loss0),
                        arrowprops={"arrowstyle": "->", "color": color, "lw": 2})  # fmt: skip
            xlabel, title = _labels(q, which, j, names, start)
            verdict = ("overshoots, " if overshoot else "") + (
                "loss goes UP" if went_up else "loss goes down"
            )
            ax.axvline(p_low, color="gray", linestyle=":", linewidth=1)
            # Three short lines: real tables give long numbers that one line would clip.
            text = (f"lr = {lr:g} - {title}\n{xlabel}: {p0:.4g} -> {p1:.4g}\n"
                    f"loss {loss0:.4g} -> {loss1:.4g} ({verdict})")  # fmt: skip
            ax.set_title(wrap_title(text, width=70), fontsize=10)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("loss (MSE)")
    fig.tight_layout()
    return FigureAxes(fig, axes)
