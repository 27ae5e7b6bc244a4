"""``gradstep evaluate``: how well a trained model predicts the rows of a table."""

from __future__ import annotations

import click

from gradstep.cli.predict import FORMAT_HELP


@click.command()
@click.argument("run_dir", metavar="RUN_DIR")
@click.argument("data", metavar="DATA")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), help=FORMAT_HELP)
@click.option(
    "--drop-missing",
    is_flag=True,
    help="Skip rows with an empty, NA, NaN or infinite value in a column used (and say how "
    "many) instead of stopping with an error.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def evaluate(run_dir: str, data: str, fmt: str | None, drop_missing: bool, as_json: bool) -> None:
    """Measure the model in RUN_DIR on DATA: MSE, RMSE, MAE and R².

    DATA (CSV, Parquet, or - for CSV on standard input) needs the model's feature
    columns and its target column; other columns are ignored. The metrics are
    those of scikit-learn (mean_squared_error, its square root,
    mean_absolute_error, r2_score).
    """
    import numpy as np

    from gradstep.cli.predict import finite_predictions, model_inputs
    from gradstep.errors import GradstepError
    from gradstep.metrics import regression_metrics

    model, table, selection = model_inputs(run_dir, data, fmt, drop_missing, with_target=True)
    predictions = finite_predictions(model, selection, table)
    with np.errstate(all="ignore"):  # checked right below, and reported as an error
        metrics = regression_metrics(selection.y, predictions)
    if not all(np.isfinite(list(metrics.values()))):
        largest = float(np.max(np.abs(predictions - selection.y)))
        raise GradstepError(
            f"the metrics of {run_dir} on {table.source} overflow: an error (prediction - "
            f"target) of {largest:.3g} cannot be squared; rescale the target, or fix or drop "
            "the rows with values near 1e308"
        )
    payload = {
        "run_dir": run_dir,
        "data": table.source,
        "target": model.target,
        "rows": int(selection.rows.size),
        "dropped_rows": int(selection.dropped),
        **metrics,
    }
    if as_json:
        import json

        click.echo(json.dumps(payload, indent=2))
        return
    dropped = f", {selection.dropped} dropped for missing values" if selection.dropped else ""
    constant = bool(np.all(selection.y == selection.y[0]))  # R² is undefined, say so
    r2_note = (
        " (undefined: the target is constant on these rows; 1 for exact predictions, else 0, "
        "as scikit-learn reports it)"
        if constant
        else ""
    )
    click.echo(
        f"gradstep evaluate: {run_dir} on {table.source} ({payload['rows']} rows{dropped}), "
        f"target {model.target!r}\n"
        f"  MSE  {metrics['mse']:.6g}\n  RMSE {metrics['rmse']:.6g}\n"
        f"  MAE  {metrics['mae']:.6g}\n  R²   {metrics['r2']:.6f}{r2_note}"
    )
