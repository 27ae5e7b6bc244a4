"""The document's walkthrough as data: every step's values, computed, never printed.

The CLI's ``demo`` turns this into text or JSON; the report and figures read it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gradstep import steps
from gradstep.api import fit, initial_params
from gradstep.closed_form import least_squares, sklearn_least_squares
from gradstep.data import SyntheticData, make_data
from gradstep.result import FitResult

# The first loss as printed in the blog repost of the chapter (the document gradstep
# follows) and nowhere else: the book and its notebook print 2.7421577700550976, which is
# what the repost's own code gives on its own data and what gradstep computes (the
# repost's printed gradients follow from that code too). This constant only lets the demo
# and the report point the difference out.
DOCUMENT_PRINTED_FIRST_LOSS = 2.720278897826747


@dataclass
class Walkthrough:
    data: SyntheticData
    lr: float
    epochs: int
    init_b: float
    init_w: np.ndarray
    first_predictions: np.ndarray
    first_loss: float
    b_grad: float
    w_grad: np.ndarray
    updated_b: float
    updated_w: np.ndarray
    trained: FitResult
    closed_form: tuple[float, np.ndarray]
    sklearn: tuple[float, np.ndarray]
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Nested plain-Python values (full-precision floats) for ``--json``."""
        trained = self.trained
        cf_b, cf_w = self.closed_form
        sk_b, sk_w = self.sklearn
        return {
            "data": {
                "n": int(len(self.data.y)),
                "n_train": int(len(self.data.train_idx)),
                "n_val": int(len(self.data.val_idx)),
                "true_b": self.data.true_b,
                "true_w": float(self.data.true_w[0]),
            },
            "init": {"b": self.init_b, "w": float(self.init_w[0])},
            "first_predictions": [float(v) for v in self.first_predictions[:5]],
            "first_loss": self.first_loss,
            "gradients": {"b": self.b_grad, "w": float(self.w_grad[0])},
            "first_update": {"b": self.updated_b, "w": float(self.updated_w[0])},
            "trained": {
                "b": trained.intercept,
                "w": float(trained.coef[0]),
                "epochs": trained.epochs,
                "lr": trained.lr,
                "train_loss": float(trained.history.train_loss[-1]),
                "val_loss": float(trained.history.val_loss[-1]),
            },
            "closed_form": {"b": cf_b, "w": float(cf_w[0])},
            "sklearn": {"b": sk_b, "w": float(sk_w[0])},
            "difference": {
                "b": abs(trained.intercept - cf_b),
                "w": float(abs(trained.coef[0] - cf_w[0])),
            },
            **self.extra,
        }


def run_walkthrough(epochs: int = 1000, lr: float = 0.1, seed: int = 42) -> Walkthrough:
    """Run the document from top to bottom on its own data."""
    data = make_data(seed=seed)
    x_train, y_train = data.x_train, data.y_train
    b, w = initial_params("random", d=1, seed=seed)
    y_hat = steps.predict(b, w, x_train)
    error = y_hat - y_train
    loss = steps.mse_loss(y_hat, y_train)
    b_grad, w_grad = steps.gradients(x_train, error)
    b_new, w_new = steps.update(b, w, b_grad, w_grad, lr)
    trained = fit(
        x_train, y_train, lr=lr, epochs=epochs, init=(b, w), seed=seed,
        x_val=data.x_val, y_val=data.y_val,
    )  # fmt: skip
    return Walkthrough(
        data=data, lr=lr, epochs=epochs, init_b=b, init_w=w,
        first_predictions=y_hat, first_loss=loss, b_grad=b_grad, w_grad=w_grad,
        updated_b=b_new, updated_w=w_new, trained=trained,
        closed_form=least_squares(x_train, y_train),
        sklearn=sklearn_least_squares(x_train, y_train),
    )  # fmt: skip
