"""``gradstep report RUN_DIR``: the self-contained interactive HTML report of a run."""

from __future__ import annotations

import click


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--out", "out_file", default=None, type=click.Path(dir_okay=False),
    help="The HTML file to write. [default: RUN_DIR/report.html]",
)  # fmt: skip
@click.option(
    "--feature", default=None,
    help="With several features: the coefficient (name or 0-based index) shown against b "
    "on the surface and paths; the others are held at their optimum. [default: the two "
    "coordinates the descent moved most]",
)  # fmt: skip
def report(run_dir: str, out_file: str | None, feature: str | None) -> None:
    """Write one HTML file (works offline) showing the run folder RUN_DIR."""
    from gradstep.cli.plot import feature_index
    from gradstep.files import write_error
    from gradstep.report import write_run_report
    from gradstep.runs.folder import read_run
    from gradstep.runs.safety import lock_if_inside

    with lock_if_inside(run_dir, out_file):  # one writer per run folder, as in train
        run = read_run(run_dir)
        j = None if feature is None else feature_index(run, feature)
        try:
            path = write_run_report(run, out_file, j=j)
        except OSError as exc:
            raise write_error(out_file or run.path / "report.html", exc) from None
    click.echo(f"report: {path}")
