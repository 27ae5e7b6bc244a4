"""``gradstep compare``: several runs side by side, in a table and one figure."""

from __future__ import annotations

import click

COLUMNS = (
    ("run", "<"), ("lr", ">"), ("batch", ">"), ("epochs", ">"), ("converged", ">"),
    ("train MSE", ">"), ("val MSE", ">"), ("val R²", ">"), ("|Δ| closed form", ">"),
)  # fmt: skip


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR...")
@click.option(
    "--out",
    "out_file",
    default="compare.png",
    show_default=True,
    metavar="FILE",
    help="Where to write the figure of the overlaid loss curves (PNG). An existing FILE "
    "is an error unless --force is given.",
)
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def compare(run_dirs: tuple[str, ...], out_file: str, force: bool, as_json: bool) -> None:
    """Overlay the loss curves of the runs in RUN_DIR... and tabulate their results.

    For example the same data at three learning rates:

    \b
      gradstep train d.csv --target y --lr 0.01 --out runs/lr-0.01
      gradstep train d.csv --target y --lr 0.05 --out runs/lr-0.05
      gradstep train d.csv --target y --out runs/lr-auto
      gradstep compare runs/lr-0.01 runs/lr-0.05 runs/lr-auto
    """
    from pathlib import Path

    import numpy as np

    from gradstep.errors import GradstepError
    from gradstep.files import exists_for_writing, write_error
    from gradstep.plots import save_figure
    from gradstep.plots.compare import compare_losses
    from gradstep.runs.folder import read_run

    out = Path(out_file)
    if exists_for_writing(out) and not force:
        raise GradstepError(f"{out} already exists; pass --force to replace it, or another --out")
    runs = [read_run(path) for path in run_dirs]
    for path, run in zip(run_dirs, runs, strict=True):
        if run.summary is None:
            raise GradstepError(f"{path} has no summary.json; pass run folders of 'gradstep train'")
    labels = run_labels(run_dirs)
    named = list(zip(labels, run_dirs, runs, strict=True))
    rows = [run_row(label, path, run) for label, path, run in named]
    try:
        # ignore: read_run has checked the values; a loss near 1e308 on a log axis
        # overflows only in matplotlib's margins, which it clips.
        with np.errstate(all="ignore"):
            fig, _ = compare_losses({label: curve(run) for label, _, run in named})
            save_figure(fig, out)
    except OSError as exc:
        raise write_error(out, exc) from None
    if as_json:
        import json

        click.echo(json.dumps({"runs": rows, "figure": str(out)}, indent=2))
    else:
        click.echo(format_table(rows) + f"\n\nLoss curves: {out}")


def run_labels(run_dirs) -> list[str]:
    """Each folder's name, or its whole path where two names are the same."""
    from pathlib import Path

    names = [Path(p).resolve().name for p in run_dirs]
    return [n if names.count(n) == 1 else str(p) for n, p in zip(names, run_dirs, strict=True)]


def curve(run):
    m = run.metrics
    min_loss = run.quadratic.min_loss if run.quadratic is not None else None
    return m.index, m.train_loss, m.val_loss, min_loss


def run_row(label: str, path: str, run) -> dict:
    from pathlib import Path

    s = run.summary
    source = Path(path) / "summary.json"
    metrics = _entry(s, "metrics", dict, source) or {}
    val = _entry(metrics, "validation", dict, source, "metrics.") or {}
    return {
        "run": label,
        "run_dir": str(path),
        "lr": _entry(s, "lr", float, source),
        "batch_size": _entry(s, "batch_size", int, source),
        "epochs_run": _entry(s, "epochs_run", int, source),
        "converged": _entry(s, "converged", bool, source),
        "stopped_early": _entry(s, "stopped_early", bool, source),
        "train_loss": _entry(s, "train_loss", float, source),
        "val_loss": _entry(s, "val_loss", float, source),
        "val_r2": _entry(val, "r2", float, source, "metrics.validation."),
        "max_abs_diff_closed_form": _entry(s, "max_abs_diff_closed_form", float, source),
    }


def _entry(payload: dict, key: str, kind: type, source, prefix: str = ""):
    """``payload[key]`` if it is missing, null or of the ``kind`` the table can show.

    A damaged summary.json (a text where a number belongs, Infinity) is an error that
    names the entry, rather than a traceback in the formatting, or "Infinity" in --json.
    """
    import math

    value = payload.get(key)
    if value is None:
        return None
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        from gradstep.errors import GradstepError

        expected = {float: "a finite number", int: "a whole number", bool: "true or false",
                    dict: "an object"}[kind]  # fmt: skip
        raise GradstepError(
            f"{source}: {prefix}{key} is {json_text(value)}, expected {expected}; the file is "
            "damaged: rerun 'gradstep train'"
        )
    return value


def json_text(value) -> str:
    import json

    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _cell(value, fmt: str = ".6g") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, fmt) if isinstance(value, float) else str(value)


def format_table(rows: list[dict]) -> str:
    cells = [
        [
            r["run"], _cell(r["lr"]), "full" if r["batch_size"] is None else str(r["batch_size"]),
            _cell(r["epochs_run"]),
            "early stop" if r["stopped_early"] else _cell(r["converged"]),
            _cell(r["train_loss"]), _cell(r["val_loss"]), _cell(r["val_r2"], ".4f"),
            _cell(r["max_abs_diff_closed_form"], ".2g"),
        ]
        for r in rows
    ]  # fmt: skip
    header = [name for name, _ in COLUMNS]
    widths = [max(len(c) for c in column) for column in zip(header, *cells, strict=True)]

    def line(row: list[str]) -> str:
        return "  ".join(
            f"{c:{a}{w}}" for c, (_, a), w in zip(row, COLUMNS, widths, strict=True)
        ).rstrip()

    return "\n".join(line(row) for row in [header, *cells])
