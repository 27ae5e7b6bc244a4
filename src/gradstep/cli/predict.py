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
                                           id_column=id_column)  # fmt: skip
    ids = None
    if id_column is not None:
        from gradstep.table import cell_texts, require_column

        require_column(table, id_column, "id")
        ids = cell_texts(table, id_column, selection.rows)
    predictions = finite_predictions(model, selection, table)
    _report_dropped(selection.dropped, id_column)
    columns = ([(id_column, ids)] if ids is not None else []) + [("prediction", predictions)]
    if out_file is None:
        for text in csv_chunks(columns):
            click.echo(text, nl=False)
        return
    try:
        write_table(Path(out_file), columns)
    except OSError as exc:
        raise write_error(out_file, exc) from None


def model_inputs(run_dir, data, fmt, drop_missing: bool, with_target: bool, id_column=None):
    """``(model, table, selection)``: the run's model and DATA's columns for it.

    Only the columns used are read: the features, the target (``with_target``) and
    ``id_column``, whose cells are kept as written (an id ``007`` stays ``007``).
    """
    from gradstep.runs.output import read_model
    from gradstep.table import read_table, require_columns, select

    model = read_model(run_dir)
    needed = [*model.features, *([model.target] if with_target else [])]
    texts = [id_column] if id_column is not None else []
    table = read_table(data, fmt, columns=needed, text_columns=texts)
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


CSV_ROWS_AT_ONCE = 1 << 16  # rows turned into text at a time, so the text never is whole


def csv_chunks(columns: list[tuple[str, object]]):
    """The CSV text of ``columns``, header first, in pieces of ``CSV_ROWS_AT_ONCE`` rows."""
    import csv
    import io

    n = len(columns[-1][1])
    for start in range(0, max(n, 1), CSV_ROWS_AT_ONCE):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if start == 0:
            writer.writerow([name for name, _ in columns])
        part = slice(start, start + CSV_ROWS_AT_ONCE)
        cells = [
            values[part] if name != "prediction" else [repr(float(v)) for v in values[part]]
            for name, values in columns
        ]
        writer.writerows(zip(*cells, strict=True))
        yield buffer.getvalue()


def csv_text(columns: list[tuple[str, object]]) -> str:
    return "".join(csv_chunks(columns))


def write_table(path, columns: list[tuple[str, object]]) -> None:
    from gradstep.files import atomic_path

    with atomic_path(path) as tmp:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table({name: pa.array(values) for name, values in columns})
            pq.write_table(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as out:
                for text in csv_chunks(columns):
                    out.write(text)
