"""``gradstep plot RUN_DIR``: draw the figures that apply to a saved run."""

from __future__ import annotations

import click

FEATURE_HELP = (
    "With several features: the coefficient (name or 0-based index) shown on the "
    "surface and paths; the others are held at their optimum. [default: the first]"
)


def feature_index(run, feature: str | None) -> int:
    """The index of ``feature`` (a name or a 0-based index) in ``run``; 0 when None."""
    from gradstep.errors import GradstepError

    if feature is None:
        return 0
    names = run.feature_names or []
    if feature in names:
        return names.index(feature)
    if feature.isdigit() and int(feature) < run.d:
        return int(feature)
    choices = ", ".join(names) if names else f"0 to {run.d - 1}"
    raise GradstepError(f"--feature {feature!r} is not a feature of this run; choose {choices}")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--out", "out_dir", default=None, type=click.Path(file_okay=False),
    help="Folder for the PNG files. [default: RUN_DIR/figures]",
)  # fmt: skip
@click.option("--feature", default=None, help=FEATURE_HELP)
@click.option("--dpi", default=100, show_default=True, type=click.IntRange(30, 600),
              help="Resolution of the PNG files.")  # fmt: skip
def plot(run_dir: str, out_dir: str | None, feature: str | None, dpi: int) -> None:
    """Draw the figures that apply to the run folder RUN_DIR (written by 'gradstep train')."""
    from gradstep.files import write_error
    from gradstep.plots.run_figures import skipped_run_figures, write_run_figures
    from gradstep.runs.folder import read_run
    from gradstep.runs.safety import lock_if_inside

    with lock_if_inside(run_dir, out_dir):  # one writer per run folder, as in train
        run = read_run(run_dir)
        j = feature_index(run, feature)
        try:
            written = write_run_figures(run, out_dir, dpi=dpi, j=j)
        except OSError as exc:
            raise write_error(out_dir or run.path / "figures", exc) from None
    for name, path in written.items():
        click.echo(f"{name}: {path}")
    for name, reason in skipped_run_figures(run).items():
        click.echo(f"skipped {name}: {reason}")
