"""The descent of a saved run as an animation (GIF, or MP4 through ffmpeg).

Three panels move together: the path on the loss contours (the slice over b and
``w_j`` that ``gradstep plot`` draws), the fitted line, and the training loss
against the epoch with a moving marker. Frames are spread over the recorded epochs
on a logarithmic scale: every one of the first epochs, where the descent moves
most, then fewer and fewer.

A run folder keeps no data rows, only ``quadratic.json`` (the moments of the data
the descent sees), so the line panel draws no points. It shows what the moments
say about the data instead: a band of the least-squares line of ``y`` on ``x_j``
plus and minus two residual standard deviations (for one feature, where about 95%
of normally spread points would lie), the fitted model as a dashed line and the
mean point. With d features the line is the model's prediction along ``x_j`` with
the other features at their mean (a prediction-against-actual plot would need the
rows). Everything is in the units the descent ran in: standardised when the run
standardised, as in the report.
"""

from __future__ import annotations

import math
import numbers
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradstep.errors import GradstepError
from gradstep.files import atomic_path, write_error
from gradstep.runs.folder import RunFolder, read_run

FORMATS = (".gif", ".mp4")
DEFAULT_FRAMES = 120
DEFAULT_SECONDS = 6.0
MAX_FRAMES = 2000
MAX_SECONDS = 600.0
# Browsers and viewers show a GIF frame shorter than 2/100 s for 1/10 s instead.
MAX_FPS = 50.0
MIN_FPS = 0.1
FIGSIZE = (14.0, 4.8)
MOVING_COLORS = ("tab:orange", "tab:red", "black", "tab:blue", "tab:green", "red", "gray")


@dataclass(frozen=True)
class Timing:
    """How many frames, and for how long each is shown (``delay_ms``)."""

    frames: int
    delay_ms: float

    @property
    def seconds(self) -> float:
        return self.frames * self.delay_ms / 1000.0

    @property
    def fps(self) -> float:
        return 1000.0 / self.delay_ms


@dataclass(frozen=True)
class AnimationFile:
    """What :func:`animate_run` wrote."""

    path: Path
    frames: int
    seconds: float
    fps: float
    epochs: tuple[int, int]  # the first and last epoch shown


def resolve_timing(frames=None, seconds=None, fps=None, options: bool = False) -> tuple[int, float]:
    """``(frames, seconds)`` from any two of ``frames``, ``seconds`` and ``fps`` (the
    defaults, 120 frames over 6 s, fill in what is missing); GradstepError if they are
    out of range or the three disagree. ``options``: name them as the CLI's options."""
    _check_number("frames", frames, 2, MAX_FRAMES, options, whole=True)
    _check_number("seconds", seconds, 0.0, MAX_SECONDS, options, above=True)
    _check_number("fps", fps, MIN_FPS, MAX_FPS, options)
    if frames is not None and seconds is not None and fps is not None:
        if abs(frames - seconds * fps) >= 0.5:
            raise GradstepError(
                f"{_given('frames', frames, options)}, {_given('seconds', seconds, options)} and "
                f"{_given('fps', fps, options)} disagree ({frames} frames "
                f"at {fps:g} per second last {frames / fps:g} s); give two of them"
            )
    elif seconds is not None and fps is not None:
        frames = round(seconds * fps)
        if not 2 <= frames <= MAX_FRAMES:
            raise GradstepError(
                f"{_given('seconds', seconds, options)} at {_given('fps', fps, options)} makes "
                f"{frames} frames; choose them so there are 2 to {MAX_FRAMES}"
            )
    elif fps is not None:
        frames = DEFAULT_FRAMES if frames is None else frames
        seconds = frames / fps
    frames = DEFAULT_FRAMES if frames is None else int(frames)
    seconds = DEFAULT_SECONDS if seconds is None else float(seconds)
    if frames / seconds > MAX_FPS + 1e-9:
        raise GradstepError(
            f"{frames} frames in {seconds:g} s is {frames / seconds:g} frames per second; "
            f"players show at most {MAX_FPS:g}: give more seconds or fewer frames"
        )
    if frames / seconds < MIN_FPS:
        raise GradstepError(
            f"{frames} frames in {seconds:g} s shows each for more than {1 / MIN_FPS:g} s; "
            "give fewer seconds or more frames"
        )
    return frames, seconds


def _check_number(name, value, low, high, options, whole=False, above=False) -> None:
    """GradstepError unless ``value`` is None or a number from ``low`` (or above it) to
    ``high`` (a whole one when ``whole``)."""
    if value is None:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and (value > low if above else value >= low) and value <= high
    if ok and whole:
        ok = float(value).is_integer()
    if not ok:
        kind = "a whole number" if whole else "a number"
        span = f"above {low:g}" if above else f"from {low:g}"
        raise GradstepError(f"{_given(name, value, options)}: must be {kind} {span} to {high:g}")


def _given(name: str, value, options: bool) -> str:
    return f"--{name} {value}" if options else f"{name}={value!r}"


def timing_for(frames: int, seconds: float, suffix: str) -> Timing:
    """The timing a file of type ``suffix`` can hold: a GIF stores each frame's delay in
    hundredths of a second, so it is rounded to that (the total may move slightly)."""
    delay = 1000.0 * seconds / frames
    if suffix == ".gif":
        delay = max(20.0, 10.0 * round(delay / 10.0))
    return Timing(frames, delay)


def frame_records(count: int, frames: int) -> np.ndarray:
    """Indices of ``frames`` of ``count`` records, spread evenly over the log of the record
    number (1 to ``count``): each of the first records, fewer and fewer later, the first
    and last always. All of them when ``frames >= count``."""
    if frames >= count:
        return np.arange(count)
    if frames == 1:
        return np.array([count - 1])
    idx = np.minimum(np.round(np.geomspace(1, count, frames) - 1).astype(int), count - 1)
    for i in range(1, frames):
        idx[i] = max(idx[i], idx[i - 1] + 1)
    idx[-1] = count - 1
    for i in range(frames - 2, -1, -1):
        idx[i] = min(idx[i], idx[i + 1] - 1)
    return idx


def descent_records(run: RunFolder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(epochs, b, w)`` per epoch, the start first (as epoch ``first - 1``) when known."""
    m = run.metrics
    epochs, b, w = m.index, m.b, m.w
    start = run.start
    if start is not None:
        epochs = np.concatenate([[int(m.index[0]) - 1], epochs])
        b, w = np.concatenate([[start[0]], b]), np.vstack([start[1], w])
    return epochs, b, w


def check_output(path) -> str:
    """The suffix of ``path`` (``.gif`` or ``.mp4``); GradstepError if it cannot be one."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise GradstepError(
            f"cannot tell the format of {str(target)!r} from its name; end it with .gif "
            "(always available) or .mp4 (needs ffmpeg)"
        )
    if target.is_dir():
        raise GradstepError(f"{target} is a folder; pass a file name ending in {suffix}")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise GradstepError(f"cannot write {target}: {folder} is not a folder")
    if suffix == ".mp4" and not ffmpeg_available():
        raise GradstepError(
            f"writing {target.name} (MP4) needs ffmpeg, which is not on PATH; install ffmpeg "
            "or write a .gif"
        )
    return suffix


def ffmpeg_available() -> bool:
    import matplotlib as mpl

    return shutil.which(str(mpl.rcParams["animation.ffmpeg_path"])) is not None


def animate_run(
    run: RunFolder | str | os.PathLike,
    path: str | os.PathLike | None = None,
    frames: int | None = None,
    seconds: float | None = None,
    fps: float | None = None,
    j: int = 0,
    dpi: int = 80,
    progress: Callable[[int, int], None] | None = None,
) -> AnimationFile:
    """Write the descent of ``run`` (a run folder or its path) as ``path`` (``.gif`` or
    ``.mp4``; default ``RUN_DIR/animation.gif``), atomically.

    ``frames``, ``seconds`` and ``fps``: any two (see :func:`resolve_timing`); a run with
    fewer recorded epochs than ``frames`` gets one frame per epoch over the same time.
    ``j`` is the coefficient of the contour slice and the line. ``progress(done, total)``
    is called after each frame. The caller holds the run folder's lock when ``path`` is
    inside it (``gradstep animate`` does). Returns what was written.
    """
    if not isinstance(run, RunFolder):
        run = read_run(run)
    target = Path(path) if path is not None else run.path / "animation.gif"
    suffix = check_output(target)
    frames, seconds = resolve_timing(frames, seconds, fps)
    if run.quadratic is None:
        raise GradstepError(
            f"{run.path} has no quadratic.json, which the contours and the line need; "
            "train the run again with 'gradstep train' (it writes one)"
        )
    if not 0 <= j < run.d:
        raise GradstepError(f"feature index {j} is out of range for {run.d} feature(s)")
    epochs, b, w = descent_records(run)
    shown = frame_records(len(epochs), frames)
    timing = timing_for(len(shown), seconds, suffix)
    scene = DescentScene(run, epochs, b, w, j)
    try:
        with atomic_path(target) as tmp:
            write_frames(scene, shown, tmp, suffix, timing, dpi, progress)
    except OSError as exc:
        raise write_error(target, exc) from None
    return AnimationFile(target, len(shown), timing.seconds, timing.fps,
                         (int(epochs[shown[0]]), int(epochs[shown[-1]])))  # fmt: skip


def write_frames(scene, shown, tmp: Path, suffix: str, timing: Timing, dpi, progress) -> None:
    """Draw each frame of ``shown`` and hand it to the writer for ``suffix``."""
    import matplotlib as mpl

    writer = _gif_writer(timing) if suffix == ".gif" else _mp4_writer(timing)
    # A user's savefig.bbox = "tight" would change the frame size from frame to frame.
    with mpl.rc_context({"savefig.bbox": "standard"}), np.errstate(all="ignore"):
        writer.setup(scene.fig, str(tmp), dpi=dpi)
        try:
            for done, i in enumerate(shown, start=1):
                scene.show(int(i))
                writer.grab_frame()
                if progress is not None:
                    progress(done, len(shown))
        except BrokenPipeError:
            raise _ffmpeg_failed(writer) from None
        except BaseException:
            _abandon(writer)
            raise
        try:
            writer.finish()
        except subprocess.CalledProcessError as exc:
            raise _ffmpeg_error(exc.returncode, exc.stderr) from None


def _gif_writer(timing: Timing):
    from matplotlib.animation import PillowWriter

    class GifWriter(PillowWriter):
        """PillowWriter with the format named (the temporary file ends in .tmp), the delay
        given in milliseconds rather than as ``int(1000 / fps)``, and one palette for all
        frames: what does not move keeps the same pixels, so each frame stores only what
        changed (about a quarter of the size of a palette per frame)."""

        def finish(self) -> None:
            palette = shared_palette(self._frames)
            frames = [im.quantize(palette=palette, dither=0) for im in self._frames]
            frames[0].save(self.outfile, format="GIF", save_all=True, append_images=frames[1:],
                           duration=round(timing.delay_ms), loop=0)  # fmt: skip

    return GifWriter(fps=timing.fps)


def shared_palette(frames):
    """A 256-colour palette from the first and last frames and swatches of the colours that
    move (a marker's few pixels would otherwise lose their colour to the contours')."""
    from matplotlib.colors import to_rgb
    from PIL import Image

    first, last = frames[0].convert("RGB"), frames[-1].convert("RGB")
    width, height = last.size
    swatch = height // 8 or 1
    sample = Image.new("RGB", (width, 2 * height + swatch), "white")
    sample.paste(first, (0, 0))
    sample.paste(last, (0, height))
    step = width // len(MOVING_COLORS)
    for k, name in enumerate(MOVING_COLORS):
        rgb = tuple(round(255 * c) for c in to_rgb(name))
        sample.paste(rgb, (k * step, 2 * height, (k + 1) * step, 2 * height + swatch))
    return sample.quantize(colors=256, method=Image.Quantize.MEDIANCUT)


def _mp4_writer(timing: Timing):
    from matplotlib.animation import FFMpegWriter

    # -f mp4: ffmpeg cannot tell the format from the temporary file's name.
    return FFMpegWriter(fps=timing.fps, codec="h264",
                        extra_args=["-pix_fmt", "yuv420p", "-f", "mp4"])  # fmt: skip


def _abandon(writer) -> None:
    proc = getattr(writer, "_proc", None)  # ffmpeg, still reading frames
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.communicate()


def _ffmpeg_failed(writer) -> GradstepError:
    proc = writer._proc
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return _ffmpeg_error(proc.returncode, err)


def _ffmpeg_error(code, stderr) -> GradstepError:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else str(stderr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    why = f": {lines[-1]}" if lines else ""
    return GradstepError(f"ffmpeg failed (exit {code}) while writing the MP4{why}; write a .gif")


class DescentScene:
    """The figure of the three panels, drawn once; :meth:`show` moves it to one record."""

    def __init__(self, run: RunFolder, epochs, b, w, j: int) -> None:
        from matplotlib.figure import Figure

        self.q, self.j = run.quadratic, j
        self.epochs = np.asarray(epochs)
        self.b, self.w = np.asarray(b, dtype=np.float64), np.asarray(w, dtype=np.float64)
        self.loss = self.q.loss_theta(np.column_stack([self.b, self.w]))
        self.names = run.feature_names
        self.has_start = run.start is not None
        self.fig = Figure(figsize=FIGSIZE, layout="constrained")
        axes = self.fig.subplots(1, 3, width_ratios=[1.0, 1.0, 1.1])
        self.ax_path, self.ax_line, self.ax_loss = axes
        self._draw_path_panel()
        self._draw_line_panel(run)
        self._draw_loss_panel(run)
        self.title = self.fig.suptitle(" ", fontsize=12)
        self.show(len(self.b) - 1)
        # Lay out once, then freeze: a title whose width changes per frame must not move
        # the panels (and the frames are drawn faster without the layout engine).
        import matplotlib as mpl

        self.fig.draw_without_rendering()
        # None, not "none": "none" leaves a placeholder engine that makes savefig draw
        # every frame twice.
        with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
            self.fig.set_layout_engine(None)

    # -- the panels, drawn once ----------------------------------------------------
    def _draw_path_panel(self) -> None:
        from gradstep.plots.paths import paths_half_width
        from gradstep.plots.surface import draw_contours, slice_note

        ax, q, j = self.ax_path, self.q, self.j
        half = paths_half_width(q, {"run": (self.b, self.w)}, j=j)
        draw_contours(ax, q, j=j, start=(self.b[0], self.w[0]), half_width=half,
                      names=self.names, colorbar=False)  # fmt: skip
        if half[0] == half[1]:
            ax.set_aspect("equal", adjustable="box")
        many = len(self.b) > 200
        (self.path_line,) = ax.plot([], [], color="tab:red", linewidth=1.0 if many else 1.5,
                                    marker=None if many else ".", markersize=4,
                                    label="path so far", zorder=4)  # fmt: skip
        (self.path_point,) = ax.plot([], [], "o", color="tab:orange", markeredgecolor="black",
                                     markersize=9, label="now", zorder=6)  # fmt: skip
        ax.legend(loc="upper right", fontsize=8, framealpha=0.85)
        note = slice_note(q, j)
        ax.set_title("Descent on the loss contours" + ("\n" + _short_note(note) if note else ""),
                     fontsize=10)  # fmt: skip

    def _draw_line_panel(self, run: RunFolder) -> None:
        from gradstep.plots.surface import tex_safe

        ax, q, j = self.ax_line, self.q, self.j
        m = _moments(q, j)
        self.x_ends = np.array([m["x_mean"] - 2.5 * m["x_sd"], m["x_mean"] + 2.5 * m["x_sd"]])
        xs = np.linspace(*self.x_ends, 2)
        trend = m["y_mean"] + m["slope"] * (xs - m["x_mean"])
        spread = 2.0 * m["resid_sd"]
        band_label = "data: trend ± 2 sd"
        ax.fill_between(xs, trend - spread, trend + spread, color="tab:blue", alpha=0.15,
                        linewidth=0, label=band_label)  # fmt: skip
        ax.plot([m["x_mean"]], [m["y_mean"]], "o", color="tab:blue", markersize=6,
                label="data mean")  # fmt: skip
        b_star, w_star = q.minimum()
        self.other_means = m["means"]
        ax.plot(xs, self._line(b_star, w_star, xs), color="tab:green", linestyle="--",
                linewidth=1.5, label="least squares")  # fmt: skip
        (self.start_line,) = ax.plot(xs, self._line(self.b[0], self.w[0], xs), color="gray",
                                     linestyle=":", linewidth=1.2, label="start")  # fmt: skip
        (self.now_line,) = ax.plot([], [], color="black", linewidth=2.2, label="model now")
        lines = np.array([self._line(bb, ww, xs) for bb, ww in zip(self.b, self.w, strict=True)])
        low = min(float(np.min(lines)), float(np.min(trend - spread)))
        high = max(float(np.max(lines)), float(np.max(trend + spread)))
        pad = 0.06 * (high - low or 1.0)
        ax.set_xlim(*self.x_ends)
        ax.set_ylim(low - pad, high + pad)
        ax.legend(loc="best", fontsize=8, framealpha=0.85)
        name = tex_safe(self.names[j]) if self.names else ("x" if q.d == 1 else f"x_{j}")
        target = tex_safe((run.model or {}).get("target") or "y")
        scaled = run.scaled
        ax.set_xlabel(name + (" (standardised)" if scaled else ""))
        ax.set_ylabel(target + (" (standardised)" if _target_scaled(run) else ""))
        title = "The fitted line" if q.d == 1 else f"Prediction along {name}"
        if q.d > 1:
            title += "\nother features at their mean"
        ax.set_title(title, fontsize=10)

    def _draw_loss_panel(self, run: RunFolder) -> None:
        ax, q = self.ax_loss, self.q
        ax.plot(self.epochs, self.loss, color="tab:blue", label="training MSE")
        m = run.metrics
        if m.val_loss is not None and np.isfinite(m.val_loss).any():
            ax.plot(m.index, m.val_loss, color="tab:red", linestyle="--", linewidth=1.0,
                    label="validation MSE")  # fmt: skip
        ax.axhline(q.min_loss, color="tab:green", linestyle=":", linewidth=1.2,
                   label="least squares")  # fmt: skip
        (self.loss_point,) = ax.plot([], [], "o", color="tab:orange", markeredgecolor="black",
                                     markersize=9, zorder=6, clip_on=False)  # fmt: skip
        self.loss_rule = ax.axvline(self.epochs[0], color="gray", linewidth=0.8, alpha=0.6)
        if np.all(self.loss > 0) and q.min_loss > 0:
            ax.set_yscale("log")
        if self.epochs[-1] - self.epochs[0] >= 50:
            ax.set_xscale("symlog", linthresh=1.0, linscale=0.3)
            ax.set_xlabel("epoch (log scale)")
        else:
            ax.set_xlabel("epoch")
        ax.set_xlim(self.epochs[0], self.epochs[-1])
        ax.set_ylabel("loss (MSE)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.85)
        ax.set_title("Loss per epoch", fontsize=10)

    def _line(self, b, w, xs) -> np.ndarray:
        """The model's prediction along ``x_j``, the other features at their mean."""
        w = np.atleast_1d(np.asarray(w, dtype=np.float64))
        others = float(w @ self.other_means - w[self.j] * self.other_means[self.j])
        return b + others + w[self.j] * xs

    # -- one frame -----------------------------------------------------------------
    def show(self, i: int) -> None:
        """Move every panel to record ``i``."""
        j = self.j
        self.path_line.set_data(self.b[: i + 1], self.w[: i + 1, j])
        self.path_point.set_data([self.b[i]], [self.w[i, j]])
        self.now_line.set_data(self.x_ends, self._line(self.b[i], self.w[i], self.x_ends))
        self.loss_point.set_data([self.epochs[i]], [self.loss[i]])
        self.loss_rule.set_xdata([self.epochs[i], self.epochs[i]])
        w_name = "w" if self.q.d == 1 else f"w_{j}"
        start = " (start)" if i == 0 and self.has_start else ""
        self.title.set_text(
            f"epoch {int(self.epochs[i])}{start} of {int(self.epochs[-1])}    "
            f"b = {self.b[i]:.4g}    {w_name} = {self.w[i, j]:.4g}    "
            f"training MSE = {self.loss[i]:.4g}"
        )


def _moments(q, j: int) -> dict:
    """Means and spreads of ``x_j`` and ``y`` from the quadratic form (``[1,X]^T[1,X]/n``
    holds the means and mean squares), and the least-squares line of ``y`` on ``x_j``."""
    means = np.asarray(q.gram[0, 1:], dtype=np.float64)
    x_mean = float(means[j])
    x_var = max(float(q.gram[1 + j, 1 + j]) - x_mean**2, 0.0)
    y_mean = float(q.xty[0])
    y_var = max(float(q.yty) - y_mean**2, 0.0)
    cov = float(q.xty[1 + j]) - x_mean * y_mean
    tiny = 1e-12 * max(1.0, x_mean**2)
    slope = cov / x_var if x_var > tiny else 0.0
    resid_var = max(y_var - slope * cov, 0.0)
    x_sd = math.sqrt(x_var) if x_var > tiny else 1.0  # a constant feature: any span will do
    return {"means": means, "x_mean": x_mean, "x_sd": x_sd, "y_mean": y_mean, "slope": slope,
            "resid_sd": math.sqrt(resid_var)}  # fmt: skip


def _target_scaled(run: RunFolder) -> bool:
    scaler = (run.model or {}).get("scaler")
    if not isinstance(scaler, dict):
        return False
    return scaler.get("target_scale", 1.0) != 1.0 or scaler.get("target_mean", 0.0) != 0.0


def _short_note(note: str) -> str:
    return note.replace("; the other", ";\nthe other")
