"""The demo's walkthrough as readable text (the CLI prints it)."""

from __future__ import annotations

import numpy as np

from gradstep.walkthrough import DOCUMENT_PRINTED_FIRST_LOSS, Walkthrough


def _arr(value) -> str:
    """Print like the document's ``print(b, w)`` of one-element arrays."""
    return str(np.atleast_1d(np.asarray(value, dtype=np.float64)))


def format_walkthrough(walk: Walkthrough, figures: dict) -> str:
    data, trained = walk.data, walk.trained
    cf_b, cf_w = walk.closed_form
    sk_b, sk_w = walk.sklearn
    x_first = ", ".join(f"{v:.4f}" for v in data.x_train[:3, 0])
    y_first = ", ".join(f"{v:.4f}" for v in data.y_train[:3])
    yhat_first = ", ".join(f"{v:.4f}" for v in walk.first_predictions[:3])
    hist = trained.history
    lines = [
        "gradstep demo: linear regression by gradient descent, step by step",
        "",
        "Data generation",
        f"  y = {data.true_b:g} + {data.true_w[0]:g}*x + 0.1*noise, N = {len(data.y)}, seed 42",
        f"  shuffled split: {len(data.train_idx)} train, {len(data.val_idx)} validation",
        f"  first train points: x = [{x_first}, ...]  y = [{y_first}, ...]",
        "",
        "Step 0 - random initialisation (seed 42, b = randn(1), then w = randn(1))",
        f"  b, w = {_arr(walk.init_b)} {_arr(walk.init_w)}",
        "",
        "Step 1 - predictions (forward pass): yhat = b + w*x_train",
        f"  first predictions: [{yhat_first}, ...]",
        "",
        "Step 2 - loss: MSE = mean((yhat - y_train)**2) over all 80 points (batch)",
        f"  loss = {walk.first_loss!r}",
        f"  (the document prints {DOCUMENT_PRINTED_FIRST_LOSS!r} here, a value its own code",
        "   does not give; its gradients below do follow from the code. See README.)",
        "",
        "Step 3 - gradients: b_grad = 2*mean(error), w_grad = 2*mean(x*error)",
        f"  b_grad, w_grad = {walk.b_grad!r} {float(walk.w_grad[0])!r}",
        "",
        f"Step 4 - update with lr = {walk.lr:g}: b -= lr*b_grad, w -= lr*w_grad",
        f"  before: {_arr(walk.init_b)} {_arr(walk.init_w)}",
        f"  after:  {_arr(walk.updated_b)} {_arr(walk.updated_w)}",
        "",
        f"Rinse and repeat - {trained.epochs} epochs of batch gradient descent, "
        f"lr = {trained.lr:g}",
        f"  b = {trained.intercept!r}  w = {float(trained.coef[0])!r}",
        f"  train MSE = {hist.train_loss[-1]:.6f}  validation MSE = {hist.val_loss[-1]:.6f}",
        "",
        "Closed form (least squares on the same 80 training points)",
        f"  numpy lstsq:      b = {cf_b!r}  w = {float(cf_w[0])!r}",
        f"  scikit-learn:     b = {sk_b!r}  w = {float(sk_w[0])!r}",
        f"  |descent - lstsq|: b {abs(trained.intercept - cf_b):.3e}  "
        f"w {abs(trained.coef[0] - cf_w[0]):.3e}",
        "",
        "Figures",
    ]
    lines += [f"  {name}: {path}" for name, path in figures.items()]
    return "\n".join(lines)
