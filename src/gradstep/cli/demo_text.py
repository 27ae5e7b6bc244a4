"""The demo's walkthrough as readable text (the CLI prints it)."""

from __future__ import annotations

import numpy as np

from gradstep.tutorial.walkthrough import DOCUMENT_PRINTED_FIRST_LOSS, Walkthrough


def _arr(value) -> str:
    """Print like the document's ``print(b, w)`` of one-element arrays."""
    return str(np.atleast_1d(np.asarray(value, dtype=np.float64)))


def format_walkthrough(
    walk: Walkthrough, figures: dict, torch_walk=None, notes: tuple[str, ...] = ()
) -> str:
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
        "  (the book and its notebook print this value too; only the blog repost of the",
        f"   chapter prints {DOCUMENT_PRINTED_FIRST_LOSS!r}, which its code does not give. "
        "See README.)",
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
    ]
    if torch_walk is not None:
        lines += ["", *format_torch_part(torch_walk)]
    lines += ["", "Figures"]
    lines += [f"  {name}: {path}" for name, path in figures.items()]
    lines += [f"  Note: {note}" for note in notes]
    return "\n".join(lines)


def format_torch_part(tw) -> list[str]:
    """The PyTorch part (``tutorial.torch_walkthrough.TorchWalkthrough``), line by line."""
    from gradstep.tutorial.torch_walkthrough import VARIANT_TITLES

    b, w = tw.init_b.clone().requires_grad_(), tw.init_w.clone().requires_grad_()
    numpy_ref = tw.numpy_same_start
    lines = [
        "The PyTorch part (float32 on the CPU, the same 80 training points)",
        "",
        "Step 0 - torch.manual_seed(42), then b = torch.randn(1), then w = torch.randn(1)",
        f"  b, w = {b} {w}",
        "",
        "Steps 1-3 - forward pass, loss, then loss.backward(): autograd finds the gradients",
        f"  loss = {tw.loss!r}",
        f"  b.grad, w.grad = {tw.b_grad} {tw.w_grad}",
        f"  (the NumPy formulas at the same b and w, in float64: {tw.numpy_gradients[0]:.7f} "
        f"{tw.numpy_gradients[1]:.7f})",
        "",
        "Gradients accumulate, so they are zeroed after each update: b.grad.zero_()",
        f"  b.grad, w.grad = {tw.zeroed_b_grad} {tw.zeroed_w_grad}",
        "",
        "nn.Linear(1, 1) after torch.manual_seed(42), as PyTorch initialises it",
        f"  {tw.linear_init}",
        "",
        f"Rinse and repeat - {tw.epochs} epochs of batch gradient descent, lr = {tw.lr:g}, "
        "four ways",
    ]
    width = max(map(len, VARIANT_TITLES))
    for name, history in tw.trained.items():
        lines.append(
            f"  {name:<{width}}  b = {float(history.b[-1]):.7f}  w = {float(history.w[-1, 0]):.7f}"
            f"  {VARIANT_TITLES[name]}"
        )
    lines += [
        f"  {'numpy':<{width}}  b = {float(numpy_ref.b[-1]):.7f}  "
        f"w = {float(numpy_ref.w[-1, 0]):.7f}  float64, from the same b and w as torch-autograd",
        "  (torch-linear starts from nn.Linear's own initial weight and bias)",
        "",
        "state_dict() of the module variants after training",
    ]
    lines += [f"  {name}: {state}" for name, state in tw.state_dicts.items()]
    return lines
