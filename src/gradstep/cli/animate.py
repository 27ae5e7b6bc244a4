"""``gradstep animate RUN_DIR``: the descent of a saved run as a GIF (or MP4)."""

from __future__ import annotations

import contextlib
import sys

import click

from gradstep.cli.plot import FEATURE_HELP


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--out", "out_file", default=None, type=click.Path(dir_okay=False),
    help="The file to write: .gif, or .mp4 when ffmpeg is on PATH. "
         "[default: RUN_DIR/animation.gif]",
)  # fmt: skip
@click.option("--frames", type=int, default=None, metavar="N",
              help="Number of frames, spread over the epochs on a log scale (2 to 2000; at "
                   "most one per recorded epoch). [default: 120]")  # fmt: skip
@click.option("--seconds", type=float, default=None, metavar="S",
              help="How long the animation lasts. [default: 6]")  # fmt: skip
@click.option("--fps", type=float, default=None, metavar="F",
              help="Frames per second (at most 50), instead of --seconds or --frames; "
                   "give at most two of the three.")  # fmt: skip
@click.option("--feature", default=None, help=FEATURE_HELP)
@click.option("--dpi", default=80, show_default=True, type=click.IntRange(30, 300),
              help="Resolution of the frames (80 gives 1120 x 384 pixels).")  # fmt: skip
def animate(run_dir: str, out_file: str | None, frames: int | None, seconds: float | None,
            fps: float | None, feature: str | None, dpi: int) -> None:  # fmt: skip
    """Animate the descent of the run folder RUN_DIR as a GIF (or MP4).

    Three panels move together: the path on the loss contours, the fitted line (drawn
    from the data's moments in quadratic.json: a run folder keeps no rows) and the loss
    per epoch. The frames are spread over the epochs on a log scale, where the descent
    moves most.
    """
    from gradstep.cli.plot import feature_index
    from gradstep.plots.animate import animate_run, check_output, resolve_timing
    from gradstep.runs.folder import read_run
    from gradstep.runs.safety import lock_if_inside

    # Options first: a bad --frames or a missing ffmpeg is reported before any work.
    resolve_timing(frames, seconds, fps, options=True)
    if out_file is not None:
        check_output(out_file)
    with lock_if_inside(run_dir, out_file):  # one writer per run folder, as in train
        run = read_run(run_dir)
        j = feature_index(run, feature)
        with progress_bar() as progress:
            written = animate_run(run, out_file, frames=frames, seconds=seconds, fps=fps,
                                  j=j, dpi=dpi, progress=progress)  # fmt: skip
    first, last = written.epochs
    click.echo(
        f"animation: {written.path} ({written.frames} frames, {written.seconds:g} s at "
        f"{written.fps:.3g} frames per second, epochs {first} to {last})"
    )


@contextlib.contextmanager
def progress_bar():
    """A tqdm bar over the frames on standard error when it is a terminal; else None."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(unit="frame", file=sys.stderr, leave=False, desc="animate") as bar:

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield update
