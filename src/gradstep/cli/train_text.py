"""The summary of ``gradstep train`` as readable text (the CLI prints it)."""

from __future__ import annotations

import os

from gradstep.defaults import MAX_CONDITION

METRIC_HEADER = f"{'':14}{'MSE':>14}{'RMSE':>14}{'MAE':>14}{'R²':>10}"


def format_summary(s: dict, report: bool = True) -> str:
    """The printed summary; ``report`` says whether figures/ and report.html were drawn."""
    rows = s["rows"]
    scaled = "standardised on the training rows" if s["scaled"] else "not scaled"
    batch = "full batch" if s["batch_size"] is None else f"mini-batches of {s['batch_size']}"
    lines = [
        f"gradstep train: {s['data']} -> {s['run_dir']}",
        f"  rows:    {rows['total']} ({rows['train']} training, {rows['validation']} validation)",
        f"  model:   {s['target']} from {len(s['features'])} feature(s), {scaled}",
        *_data_notes(s),
        f"  descent: {s['engine']}, {batch}, {_optimizer(s)}lr {s['lr']:.6g} ({s['lr_source']})"
        + ("" if s["tol"] is None else f", tol {s['tol']:g}"),
        f"  {_ending(s)}",
        "",
        *_coefficient_table(s),
        f"  largest difference from least squares: {s['max_abs_diff_closed_form']:.3g} "
        f"(relative {s['max_rel_diff_closed_form']:.3g})",
        "",
        METRIC_HEADER,
        *_metric_lines(s["metrics"]),
        "",
        f"Run folder: {s['run_dir']}{os.sep} (model.json, summary.json, metrics.csv, "
        + ("checkpoints/, figures/, report.html)" if report else "checkpoints/)"),
    ]
    return "\n".join(lines)


def _optimizer(s: dict) -> str:
    """``"adam (betas=0.9,0.999 eps=1e-08 amsgrad=False), "``; nothing for plain SGD."""
    optimizer = s.get("optimizer") or {"name": "sgd"}
    if optimizer["name"] == "sgd":
        return ""

    def text(v):
        return ",".join(map(str, v)) if isinstance(v, list) else str(v)

    hyper = " ".join(f"{k}={text(v)}" for k, v in optimizer.items() if k != "name")
    return f"{optimizer['name']} ({hyper}), "


def _data_notes(s: dict) -> list[str]:
    notes = []
    if s["skipped_columns"]:
        listed = ", ".join(f"{name} ({why})" for name, why in s["skipped_columns"].items())
        notes.append(f"  skipped: {listed}; not used as features")
    if s["dropped_rows"]:
        notes.append(f"  dropped: {s['dropped_rows']} row(s) with missing, NaN or inf values")
    if s["val_fraction"] > 0 and s["rows"]["validation"] == 0:
        notes.append(
            f"  no validation rows: {s['val_fraction']:g} of {s['rows']['train']} rows is "
            "fewer than 2, so all of them train"
        )
    if s["resumed_from_epoch"]:
        notes.append(f"  resumed: from epoch {s['resumed_from_epoch']}")
    return notes


def _ending(s: dict) -> str:
    epochs = s["epochs_run"]
    if s["stopped_early"]:
        return (
            f"stopped early after {epochs} epochs (validation loss not improving); "
            f"the model is epoch {s['best_epoch']}, the best"
        )
    if s["converged"]:
        bound = s.get("certified_bound")
        within = f" (certified within {bound:.2g} of least squares)" if bound is not None else ""
        return f"converged after {epochs} epochs{within}"
    if s["converged"] is None:
        return f"ran {epochs} epochs (no tolerance)"
    condition = s.get("condition_number")
    if condition is not None and condition > MAX_CONDITION:
        return (
            f"did NOT converge within the cap of {epochs} epochs, and cannot be certified: the "
            f"features are too ill-conditioned (condition number {condition:.3g}); "
            + ("drop nearly duplicate columns" if s["scaled"] else "train again with --scale")
        )
    return (
        f"did NOT converge within the cap of {epochs} epochs: continue it with --resume "
        "and a larger --epochs" + ("" if s["scaled"] else ", or train again with --scale")
    )


def _coefficient_table(s: dict) -> list[str]:
    width = max(12, *(len(name) for name in s["features"])) + 2
    lines = [f"  {'':{width}}{'gradient descent':>22}{'least squares':>22}{'difference':>12}"]
    pairs = [("intercept", s["intercept"], s["closed_form"]["intercept"])]
    pairs += [(name, s["coef"][name], s["closed_form"]["coef"][name]) for name in s["features"]]
    for name, ours, theirs in pairs:
        lines.append(f"  {name:{width}}{ours:>22.12g}{theirs:>22.12g}{abs(ours - theirs):>12.2g}")
    return lines


def _metric_lines(metrics: dict) -> list[str]:
    lines = []
    for label, key in (("training", "train"), ("validation", "validation")):
        m = metrics.get(key)
        if m is None:
            lines.append(f"{label:14}{'(no validation rows)':>14}")
            continue
        values = f"{m['mse']:>14.6g}{m['rmse']:>14.6g}{m['mae']:>14.6g}{m['r2']:>10.4f}"
        lines.append(f"{label:14}{values}")
    return lines
