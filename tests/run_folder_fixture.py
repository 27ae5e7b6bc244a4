"""Run folders written by hand, per docs/run-folder.md, for the plot and report tests.

They do not depend on ``gradstep train``: the files are written here from a real
``gradstep.fit`` so the readers are tested against the documented contract.
"""

import csv
import json
from pathlib import Path

import numpy as np

import gradstep
from gradstep.quadratic import QuadraticLoss


def write_csv(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow([repr(float(v)) if not float(v).is_integer() else int(v) for v in row])


def make_run_folder(
    folder: Path,
    true_w=(2.0,),
    names=None,
    target="y",
    epochs=60,
    steps=True,
    optional=True,
    config_extra=None,
) -> tuple[Path, gradstep.FitResult]:
    """Fit on synthetic data and write metrics.csv (+ steps.csv, quadratic.json, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = gradstep.make_data(n=120, true_w=list(true_w), seed=7)
    d = len(true_w)
    result = gradstep.fit(
        data.x_train, data.y_train, lr=0.2, epochs=epochs, batch_size=None if d == 1 else 16,
        x_val=data.x_val, y_val=data.y_val, record_steps=steps,
    )  # fmt: skip
    hist = result.history
    header = ["epoch", "b", *(f"w_{j}" for j in range(d)), "train_loss", "val_loss"]
    write_csv(folder / "metrics.csv", header, [
        [hist.first_epoch + i, hist.b[i], *hist.w[i], hist.train_loss[i], hist.val_loss[i]]
        for i in range(hist.epochs)
    ])  # fmt: skip
    if steps:
        rows = [[k, hist.step_b[k], *hist.step_w[k]] for k in range(len(hist.step_b))]
        write_csv(folder / "steps.csv", ["step", "b", *(f"w_{j}" for j in range(d))], rows)
    if optional:
        names = list(names or [f"x{j}" for j in range(d)])
        q = QuadraticLoss.from_data(data.x_train, data.y_train)
        (folder / "quadratic.json").write_text(json.dumps(q.to_dict()))
        model = {
            "feature_names": names, "target": target, "intercept": result.intercept,
            "coef": dict(zip(names, map(float, result.coef), strict=True)), "scaler": None,
        }  # fmt: skip
        (folder / "model.json").write_text(json.dumps(model))
        config = {"options": {"data": "table.csv", "target": target, "lr": 0.2,
                              "epochs": epochs}, "sources": {"lr": "command line"}}  # fmt: skip
        config.update(config_extra or {})
        (folder / "config.json").write_text(json.dumps(config))
        b_cf, w_cf = gradstep.least_squares(data.x_train, data.y_train)
        summary = {"target": target, "features": names, "epochs_run": epochs,
                   "closed_form": {"intercept": b_cf, "coef": dict(zip(names, map(float, w_cf),
                                                                       strict=True))},
                   "init": {"b": float(hist.step_b[0]) if steps else result.init_b,
                            "w": [float(v) for v in np.atleast_1d(result.init_w)]}}  # fmt: skip
        (folder / "summary.json").write_text(json.dumps(summary))
    return folder, result
