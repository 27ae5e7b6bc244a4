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

    from gradstep.errors import GradstepError
    from gradstep.plots import save_figure
    from gradstep.plots.compare import compare_losses
    from gradstep.runs.folder import read_run

    out = Path(out_file)
    if out.exists() and not force:
        raise GradstepError(f"{out} already exists; pass --force to replace it, or another --out")
    runs = [read_run(path) for path in run_dirs]
    for path, run in zip(run_dirs, runs, strict=True):
        if run.summary is None:
            raise GradstepError(f"{path} has no summary.json; pass run folders of 'gradstep train'")
    labels = run_labels(run_dirs)
    named = list(zip(labels, run_dirs, runs, strict=True))
    rows = [run_row(label, path, run) for label, path, run in named]
    fig, _ = compare_losses({label: curve(run) for label, _, run in named})
    try:
        save_figure(fig, out)
    except OSError as exc:
        raise GradstepError(f"cannot write {out}: {exc.strerror or exc}") from None
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
    s = run.summary
    val = (s.get("metrics") or {}).get("validation") or {}
    return {
        "run": label,
        "run_dir": str(path),
        "lr": s.get("lr"),
        "batch_size": s.get("batch_size"),
        "epochs_run": s.get("epochs_run"),
        "converged": s.get("converged"),
        "stopped_early": s.get("stopped_early"),
        "train_loss": s.get("train_loss"),
        "val_loss": s.get("val_loss"),
        "val_r2": val.get("r2"),
        "max_abs_diff_closed_form": s.get("max_abs_diff_closed_form"),
    }


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
