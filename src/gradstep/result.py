"""What every engine returns: the fitted parameters and the history of the descent."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gradstep import reprs


@dataclass
class History:
    """Per-epoch record of a descent.

    ``b[i]`` and ``w[i]`` are the parameters *after* epoch ``i + 1``;
    ``train_loss[i]`` is the mean of the mini-batch losses computed during that
    epoch, before each update (for full batch: the loss at the start of the
    epoch), as the book's training loop records it; ``val_loss[i]`` is the
    validation MSE at the parameters after the epoch. ``step_b``/``step_w``
    (only when asked for) hold the start and the parameters after every update.
    ``converged`` is None when no tolerance was given, else whether it was met;
    ``first_epoch`` is the number of the first epoch recorded (1 unless resumed).
    """

    b: np.ndarray
    w: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray | None = None
    step_b: np.ndarray | None = None
    step_w: np.ndarray | None = None
    converged: bool | None = None
    first_epoch: int = 1

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def head(self, epochs: int) -> History:
        """The first ``epochs`` epochs (and the steps taken in them, when recorded)."""
        steps = None
        if self.step_b is not None:
            per_epoch = (len(self.step_b) - 1) // max(1, self.epochs)
            steps = slice(0, epochs * per_epoch + 1)
        return History(
            self.b[:epochs], self.w[:epochs], self.train_loss[:epochs],
            None if self.val_loss is None else self.val_loss[:epochs],
            None if steps is None else self.step_b[steps],
            None if steps is None else self.step_w[steps],
            converged=self.converged, first_epoch=self.first_epoch,
        )  # fmt: skip

    @classmethod
    def concat(cls, parts: list[History]) -> History:
        """Consecutive histories as one (steps joined without repeating a start)."""
        if len(parts) == 1:
            return parts[0]
        has_val = all(h.val_loss is not None for h in parts)
        has_steps = all(h.step_b is not None for h in parts)
        return cls(
            np.concatenate([h.b for h in parts]),
            np.concatenate([h.w for h in parts]),
            np.concatenate([h.train_loss for h in parts]),
            np.concatenate([h.val_loss for h in parts]) if has_val else None,
            np.concatenate([parts[0].step_b[:1], *(h.step_b[1:] for h in parts)])
            if has_steps else None,
            np.concatenate([parts[0].step_w[:1], *(h.step_w[1:] for h in parts)])
            if has_steps else None,
            converged=parts[-1].converged,
            first_epoch=parts[0].first_epoch,
        )  # fmt: skip

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        if self.epochs == 0:
            return "History: no epochs", []
        last = self.first_epoch + self.epochs - 1
        rows = [
            ("b", reprs.number(self.b[-1], 10)),
            ("w", reprs.vector(self.w[-1], 10)),
            ("train loss", f"{reprs.number(self.train_loss[0])} (first epoch) -> "
                           f"{reprs.number(self.train_loss[-1])} (last)"),
        ]  # fmt: skip
        if self.val_loss is not None:
            rows.append(("val loss", f"{reprs.number(self.val_loss[-1])} (last epoch)"))
        if self.converged is not None:
            rows.append(("converged", "yes" if self.converged else "no"))
        if self.step_b is not None:
            rows.append(("steps recorded", f"{len(self.step_b) - 1} updates"))
        title = f"History: epochs {self.first_epoch}-{last}, {self.w.shape[1]} feature(s)"
        return title, rows

    def __repr__(self) -> str:
        return reprs.text(*self._summary())

    def _repr_html_(self) -> str:
        return reprs.html_table(*self._summary())

    def rows(self) -> list[dict[str, float]]:
        """One dict per epoch (epoch, b, w_0.., train_loss, val_loss), e.g. for CSV."""
        out = []
        for i in range(self.epochs):
            row: dict[str, float] = {"epoch": self.first_epoch + i, "b": float(self.b[i])}
            row.update({f"w_{j}": float(v) for j, v in enumerate(self.w[i])})
            row["train_loss"] = float(self.train_loss[i])
            if self.val_loss is not None:
                row["val_loss"] = float(self.val_loss[i])
            out.append(row)
        return out


@dataclass
class FitResult:
    """A finished descent: ``intercept`` (b), ``coef`` (w, shape (d,)) and ``history``."""

    intercept: float
    coef: np.ndarray
    history: History
    init_b: float
    init_w: np.ndarray
    engine: str
    lr: float
    epochs: int
    batch_size: int | None
    extra: dict = field(default_factory=dict)

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        hist, extra = self.history, self.extra
        batch = "full batch" if self.batch_size is None else f"batch_size {self.batch_size}"
        ran = f"{self.epochs}" if hist.epochs == self.epochs else f"{hist.epochs} of {self.epochs}"
        rows = [
            ("b", reprs.number(self.intercept, 10)),
            ("w", reprs.vector(self.coef, 10)),
        ]
        if hist.epochs:
            rows.append(("train loss", f"{reprs.number(hist.train_loss[-1])} (last epoch)"))
            if hist.val_loss is not None:
                rows.append(("val loss", f"{reprs.number(hist.val_loss[-1])} (last epoch)"))
        if hist.converged is not None:
            rows.append(("converged", "yes" if hist.converged else "no"))
        if extra.get("bound") is not None:
            rows.append(("certified bound", reprs.number(extra["bound"], 3)))
        if extra.get("condition_number") is not None:
            rows.append(("condition number", reprs.number(extra["condition_number"], 3)))
        if "stop_reason" in extra:
            rows.append(("stopped by", str(extra["stop_reason"])))
        rows.append(("start", f"b {reprs.number(self.init_b)}, w {reprs.vector(self.init_w)}"))
        title = f"FitResult: engine {self.engine}, {ran} epochs, lr {self.lr:g}, {batch}"
        return title, rows

    def __repr__(self) -> str:
        return reprs.text(*self._summary())

    def _repr_html_(self) -> str:
        return reprs.html_table(*self._summary())

    def predict(self, x) -> np.ndarray:
        x_arr = np.asarray(x, dtype=np.float64)
        if x_arr.ndim == 1:
            x_arr = x_arr[:, None]
        return self.intercept + x_arr @ self.coef
