"""The four steps on every shape a learner writes: the book's columns, flat arrays, tensors.

Oracle: the document's printed values (the first loss as the book and its notebook
print it), and every shape that cannot be meant is refused in one line.
"""

import subprocess
import sys

import numpy as np
import pytest

import gradstep
from gradstep import GradstepError, gradients, mse_loss, predict, update

LOSS, B_GRAD, W_GRAD = 2.7421577700550976, -3.044811379650508, -1.8337537171510832
UPDATED = "[0.80119529] [0.04511107]"


def book_arrays():
    """The book's code, with a private RandomState: x and y are (80, 1) columns."""
    rng = np.random.RandomState(42)
    x = rng.rand(100, 1)
    y = 1 + 2 * x + 0.1 * rng.randn(100, 1)
    idx = np.arange(100)
    rng.shuffle(idx)
    x_train, y_train = x[idx[:80]], y[idx[:80]]
    start = np.random.RandomState(42)
    b, w = start.randn(1), start.randn(1)
    return b, w, x_train, y_train


def four_steps(b, w, x, y):
    y_hat = predict(b, w, x)
    loss = mse_loss(y_hat, y)
    b_grad, w_grad = gradients(x, y_hat - y)
    return y_hat, loss, b_grad, w_grad, update(b, w, b_grad, w_grad, 0.1)


def test_the_books_columns_with_a_column_w():
    b, w, x, y = book_arrays()
    y_hat, loss, b_grad, w_grad, (b_new, w_new) = four_steps(b, w.reshape(-1, 1), x, y)
    assert y_hat.shape == (80, 1) and w_grad.shape == (1, 1)
    assert (loss, b_grad, float(w_grad[0, 0])) == (LOSS, B_GRAD, W_GRAD)
    assert b_new.shape == (1,) and w_new.shape == (1, 1)
    assert f"{b_new} {w_new.reshape(-1)}" == UPDATED


def test_the_books_columns_with_the_books_w():
    """w = randn(1) gives flat predictions: the loss pairs them with the column y."""
    b, w, x, y = book_arrays()
    y_hat = predict(b, w, x)
    assert y_hat.shape == (80,)
    assert mse_loss(y_hat, y) == LOSS and mse_loss(y, y_hat) == LOSS
    b_grad, w_grad = gradients(x, y_hat - y.reshape(-1))
    assert (b_grad, float(w_grad[0])) == (B_GRAD, W_GRAD) and w_grad.shape == (1,)
    b_new, w_new = update(b, w, b_grad, w_grad, 0.1)
    assert f"{b_new} {w_new}" == UPDATED


def test_flat_arrays_and_numbers():
    b, w, x, y = book_arrays()
    y_hat, loss, b_grad, w_grad, (b_new, w_new) = four_steps(
        float(b[0]), float(w[0]), x.reshape(-1), y.reshape(-1)
    )
    assert y_hat.shape == (80,) and w_grad.shape == (1,)
    assert (loss, b_grad, float(w_grad[0])) == (LOSS, B_GRAD, W_GRAD)
    assert isinstance(b_new, float) and isinstance(w_new, float)
    assert f"{np.array([b_new])} {np.array([w_new])}" == UPDATED


@pytest.mark.parametrize("column", [False, True])
def test_torch_tensors_float64(column):
    torch = pytest.importorskip("torch")
    b, w, x, y = (torch.as_tensor(a) for a in book_arrays())
    if column:
        w = w.reshape(-1, 1)
    else:
        y = y.reshape(-1)
    b.requires_grad_()
    w.requires_grad_()
    y_hat, loss, b_grad, w_grad, (b_new, w_new) = four_steps(b, w, x, y)
    assert isinstance(loss, torch.Tensor) and loss.shape == ()
    assert loss.item() == pytest.approx(LOSS, rel=1e-15)
    assert b_grad.item() == pytest.approx(B_GRAD, rel=1e-15)
    assert w_grad.reshape(-1).item() == pytest.approx(W_GRAD, rel=1e-15)
    assert b_new.shape == b.shape and w_new.shape == w.shape
    assert b_new.requires_grad and b_new.is_leaf and w_new.requires_grad and w_new.is_leaf
    assert f"{b_new.detach().numpy()} {w_new.detach().numpy().reshape(-1)}" == UPDATED
    # autograd agrees with the formulas, and the passed tensors are left as they were
    loss.backward()
    assert b.grad.item() == pytest.approx(B_GRAD, rel=1e-14)
    assert w.grad.reshape(-1).item() == pytest.approx(W_GRAD, rel=1e-14)
    assert b.item() == pytest.approx(0.4967141530112327, rel=1e-15)


def test_torch_float32_like_the_book_and_numpy_x_mixed_in():
    torch = pytest.importorskip("torch")
    b, w, x, y = book_arrays()
    b_t, w_t = torch.as_tensor(b, dtype=torch.float32), torch.as_tensor(w, dtype=torch.float32)
    y_hat = predict(b_t, w_t, x)  # the NumPy x becomes a float32 tensor
    assert y_hat.dtype == torch.float32 and y_hat.shape == (80,)
    assert mse_loss(y_hat, y).item() == pytest.approx(LOSS, rel=1e-6)


def test_multi_feature_shapes():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    w = np.array([0.1, -0.2, 0.5])
    flat = predict(0.3, w, x)
    column = predict(np.array([0.3]), w.reshape(3, 1), x)
    assert flat.shape == (30,) and column.shape == (30, 1)
    np.testing.assert_array_equal(flat, column[:, 0])
    b_grad, w_grad = gradients(x, flat - y)
    b_col, w_col = gradients(x, column - y[:, None])
    assert w_grad.shape == (3,) and w_col.shape == (3, 1) and b_grad == b_col
    np.testing.assert_array_equal(w_grad, w_col[:, 0])
    # a (d,) gradient updates a (d, 1) w and the other way round, shapes kept
    assert update(0.3, w.reshape(3, 1), b_grad, w_grad, 0.1)[1].shape == (3, 1)
    assert update(0.3, w, b_col, w_col, 0.1)[1].shape == (3,)


@pytest.mark.parametrize(
    "call, fragments",
    [
        (lambda: predict(0.0, np.ones(2), np.ones((5, 1))), ["w has shape (2,)", "(5, 1)"]),
        (lambda: predict(0.0, 1.0, np.ones((5, 2))), ["w has shape ()", "(2,) or (2, 1)"]),
        (lambda: predict(0.0, np.ones((1, 2)), np.ones((5, 2))), ["w has shape (1, 2)"]),
        (lambda: predict(np.ones(2), 1.0, np.ones(5)), ["b has shape (2,)", "shape (1,)"]),
        (lambda: predict(0.0, 1.0, np.ones((5, 1, 1))), ["x has shape (5, 1, 1)", "(n, d)"]),
        (lambda: predict(0.0, 1.0, np.ones((0, 1))), ["x has shape (0, 1)"]),
        (lambda: predict(0.0, 1.0, ["a", "b"]), ["x must hold real numbers"]),
        (lambda: mse_loss(np.ones(5), np.ones(4)), ["y_hat has 5 values", "y has 4"]),
        (lambda: mse_loss(np.ones((5, 5)), np.ones(5)), ["y_hat has shape (5, 5)"]),
        (lambda: mse_loss(np.ones(5), np.ones((1, 5))), ["y has shape (1, 5)", "(n, 1)"]),
        (lambda: mse_loss(np.ones(5), 1.0), ["y has shape ()"]),
        (lambda: gradients(np.ones((5, 1)), np.ones((5, 5))), ["(5, 5)", "broadcast"]),
        (lambda: gradients(np.ones((5, 1)), np.ones(4)), ["error has 4 values", "5 rows"]),
        (lambda: gradients(np.ones(5), np.ones((5, 2, 1))), ["error has shape (5, 2, 1)"]),
        (lambda: update(0.0, np.ones(2), 0.0, np.ones(3), 0.1), ["w_grad has shape (3,)"]),
        (lambda: update(0.0, np.ones((1, 2)), 0.0, np.ones(2), 0.1), ["w has shape (1, 2)"]),
        (lambda: update(0.0, 1.0, np.ones(2), 1.0, 0.1), ["b_grad has shape (2,)"]),
        (lambda: update(0.0, 1.0, 0.0, 1.0, -0.1), ["lr=-0.1", "positive"]),
        (lambda: update(0.0, 1.0, 0.0, 1.0, "fast"), ["lr='fast'"]),
        (lambda: update(0.0, 1.0, None, 1.0, 0.1), ["b_grad must hold real numbers"]),
    ],
)
def test_shapes_that_cannot_be_meant_are_refused_in_one_line(call, fragments):
    with pytest.raises(GradstepError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_the_books_subtraction_with_the_books_w_is_refused_not_broadcast():
    """yhat (80,) - y (80, 1) is an (80, 80) table: the gradients say so."""
    b, w, x, y = book_arrays()
    with pytest.raises(GradstepError, match=r"error has shape \(80, 80\)"):
        gradients(x, predict(b, w, x) - y)


def test_torch_dtype_and_device_mismatches_are_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(GradstepError, match="x is torch.float64 but b is torch.float32"):
        predict(torch.zeros(1), torch.zeros(1), torch.zeros(5, 1, dtype=torch.float64))


def test_public_at_the_top_level_and_torch_not_imported_for_arrays():
    assert gradstep.predict is gradstep.steps.predict
    code = (
        "import sys, numpy as np, gradstep; "
        "x = np.ones(3); e = gradstep.predict(0.0, 1.0, x) - np.arange(3.0); "
        "g = gradstep.gradients(x, e); gradstep.update(0.0, 1.0, *g, 0.1); "
        "gradstep.mse_loss(e, 0 * e); print('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_readme_steps_example_runs_on_the_books_arrays():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\nfrom gradstep import gradients", 1)[1].split("```", 1)[0]
    b, w, x_train, y_train = book_arrays()
    names = {"b": b, "w": w, "x_train": x_train, "y_train": y_train}
    exec("from gradstep import gradients" + code, names)
    assert names["loss"] == LOSS and names["b_grad"] == B_GRAD
    assert f"{names['b']} {names['w'].reshape(-1)}" == UPDATED
