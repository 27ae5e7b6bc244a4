"""Short reprs for notebooks: a few key values as text and as an escaped HTML table."""

import numpy as np
import pytest

import gradstep
from gradstep import FitResult, History, make_data

DATA = make_data()


@pytest.fixture(scope="module")
def long_fit():
    """10^5 epochs asked for, with tol: the certificate's values are in the repr."""
    return gradstep.fit(DATA.x_train, DATA.y_train, x_val=DATA.x_val, y_val=DATA.y_val,
                        epochs=100_000, tol=1e-10)  # fmt: skip


@pytest.fixture(scope="module")
def plain_fit():
    return gradstep.fit(DATA.x_train, DATA.y_train, epochs=100_000, engine="stats")


def short(obj):
    text, page = repr(obj), obj._repr_html_()
    assert len(text) < 800 and len(page) < 800, (len(text), len(page))
    assert text.count("\n") < 12
    return text, page


def test_fit_result_with_tol(long_fit):
    text, page = short(long_fit)
    extra = long_fit.extra
    assert text.startswith(f"FitResult: engine {long_fit.engine}, ")
    assert f"{long_fit.history.epochs} of 100000 epochs" in text
    for fragment in (
        f"{long_fit.intercept:.10g}",
        f"[{long_fit.coef[0]:.10g}]",
        f"{long_fit.history.train_loss[-1]:.7g}",
        f"{long_fit.history.val_loss[-1]:.7g}",
        "converged         yes",
        f"{extra['bound']:.3g}",
        f"{extra['condition_number']:.3g}",
        "stopped by        tol",
    ):
        assert fragment in text, (fragment, text)
        assert fragment.split("  ")[-1].strip() in page
    assert page.startswith("<table>") and page.endswith("</table>")


def test_fit_result_without_tol_runs_every_epoch(plain_fit):
    text, _ = short(plain_fit)
    assert "100000 epochs, lr 0.1, full batch" in text
    assert "converged" not in text and "bound" not in text
    assert f"{plain_fit.history.train_loss[-1]:.7g}" in text


def test_history(long_fit):
    hist = long_fit.history
    text, page = short(hist)
    assert text.startswith(f"History: epochs 1-{hist.epochs}, 1 feature(s)")
    assert f"{hist.train_loss[0]:.7g}" in text and f"{hist.train_loss[-1]:.7g}" in text
    assert "converged" in text and "yes" in page
    assert repr(hist.head(0)) == "History: no epochs"


def test_synthetic_data():
    text, page = short(DATA)
    assert text.startswith("SyntheticData: 100 points, 1 feature(s)")
    assert "80 train, 20 validation" in text and "true w" in text and "[2]" in page


def test_many_features_show_a_few_values():
    data = make_data(n=50, true_w=np.arange(1.0, 201.0))
    text, _ = short(data)
    assert "(200 values)" in text
    result = gradstep.fit(data.x_train, data.y_train, epochs=3, lr=1e-4, record_steps=True)
    text, _ = short(result)
    assert "(200 values)" in text
    assert "steps recorded  3 updates" in repr(result.history)


def test_html_is_escaped():
    hist = History(np.zeros(1), np.zeros((1, 1)), np.zeros(1))
    result = FitResult(0.0, np.zeros(1), hist, 0.0, np.zeros(1), "<b>&", 0.1, 1, None)
    page = result._repr_html_()
    assert "<b>&" not in page and "&lt;b&gt;&amp;" in page
