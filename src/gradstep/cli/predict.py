"""``gradstep predict``: the trained model's predictions for the rows of a table."""

from __future__ import annotations

import click

from gradstep.errors import GradstepError

FORMAT_HELP = "Read DATA as this format. [default: from the extension; '-' is CSV]"


@click.command()
@click.argument("run_dir", metavar="RUN_DIR")
@click.argument("data", metavar="DATA")
@click.option(
    "--out",
    "out_file",
    metavar="FILE",
    help="Write the predictions to FILE (Parquet for .parquet/.pq, else CSV) instead of "
    "standard output. An existing FILE is an error unless --force is given.",
)
@click.option(
    "--id-column",
    metavar="COL",
    help="Copy this column of DATA (e.g. a row id) into the output, before the prediction.",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), help=FORMAT_HELP)
@click.option(
    "--drop-missing",
    is_flag=True,
    help="Skip rows with an empty, NA, NaN or infinite feature value (and say how many) "
    "instead of stopping with an error; use --id-column to tell the rows apart.",
)
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
def predict(
    run_dir: str, data: str, out_file: str | None, id_column: str | None, fmt: str | None,
    drop_missing: bool, force: bool,
) -> None:  # fmt: skip
    """Predict the target of the run in RUN_DIR for every row of DATA.

    DATA (CSV, Parquet, or - for CSV on standard input) needs the model's feature
    columns; other columns are ignored. The output has a column 'prediction'
    (after the --id-column, if asked for), one row per row of DATA.
    """
    from pathlib import Path

    from gradstep.files import exists_for_writing, write_error

    if out_file is not None and exists_for_writing(out_file) and not force:
        raise GradstepError(
            f"{out_file} already exists; pass --force to replace it, or choose another --out"
        )
    model, table, selection = model_inputs(run_dir, data, fmt, drop_missing, with_target=False,
                                           precise=id_column is not None)  # fmt: skip
    ids = None
    if id_column is not None:
        from gradstep.table import cell_texts, require_column

        require_column(table, id_column, "id")
        ids = cell_texts(table, id_column, selection.rows)
    predictions = finite_predictions(model, selection, table)
    _report_dropped(selection.dropped, id_column)
    columns = ([(id_column, ids)] if ids is not None else []) + [("prediction", predictions)]
    if out_file is None:
        click.echo(csv_text(columns), nl=False)
        return
    try:
        write_table(Path(out_file), columns)
    except OSError as exc:
        raise write_error(out_file, exc) from None


def model_inputs(run_dir, data, fmt, drop_missing: bool, with_target: bool, precise=False):
    """``(model, table, selection)``: the run's model and DATA's columns for it.

    ``precise``: keep every CSV cell as written (an id column ``007`` stays ``007``).
    """
    from gradstep.runs.output import read_model
    from gradstep.table import read_table, require_columns, select

    model = read_model(run_dir)
    table = read_table(data, fmt, precise=precise)
    needed = [*model.features, *([model.target] if with_target else [])]
    require_columns(table, needed, f"the model in {run_dir}")
    selection = select(table, model.features, model.target if with_target else None,
                       drop_missing)  # fmt: skip
    return model, table, selection


def finite_predictions(model, selection, table):
    """The model's predictions for the selected rows; an error if one overflows.

    A feature near 1e308 times its coefficient is inf: writing "inf" (or an MSE of inf)
    with a RuntimeWarning and exit 0 would pass garbage on. Say which row instead.
    """
    import numpy as np

    with np.errstate(all="ignore"):  # checked right below, and reported as an error
        predictions = model.predict(selection.x)
    bad = ~np.isfinite(predictions)
    if bad.any():
        i = int(np.argmax(bad))
        raise GradstepError(
            f"the prediction for {table.where(int(selection.rows[i]))} of {table.source} "
            f"overflows ({float(predictions[i])!r}): its "
            f"feature values are too large for this model (largest there: "
            f"{float(np.max(np.abs(selection.x[i]))):.3g}); fix or drop that row"
        )
    return predictions


def _report_dropped(dropped: int, id_column: str | None) -> None:
    if dropped:
        hint = "" if id_column else " (pass --id-column to tell the rows apart)"
        click.echo(f"gradstep: dropped {dropped} row(s) with missing values{hint}", err=True)


def csv_text(columns: list[tuple[str, object]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([name for name, _ in columns])
    cells = [
        values if name != "prediction" else [repr(float(v)) for v in values]
        for name, values in columns
    ]
    writer.writerows(zip(*cells, strict=True))
    return buffer.getvalue()


def write_table(path, columns: list[tuple[str, object]]) -> None:
    from gradstep.files import atomic_path, atomic_write_text

    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({name: pa.array(list(values)) for name, values in columns})
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    else:
        atomic_write_text(path, csv_text(columns))
