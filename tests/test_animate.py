"""``gradstep animate`` and ``gradstep.plots.animate``: the descent as a GIF (or MP4).

The run folder comes from ``gradstep train`` on a tiny CSV (standardised, no
steps.csv: what users have), the three-feature one from ``run_folder_fixture``.
Frames are few and small: each costs a full matplotlib draw.
"""

import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageChops
from run_folder_fixture import make_run_folder

from gradstep.errors import GradstepError
from gradstep.plots.animate import (
    DescentScene,
    animate_run,
    descent_records,
    frame_records,
    resolve_timing,
    timing_for,
)
from gradstep.runs.folder import read_run
from gradstep.runs.safety import lock_path, run_lock

from conftest import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from gradstep.cli import main

    tmp = tmp_path_factory.mktemp("animate")
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, size=30)
    y = 4.0 + 1.5 * x + rng.normal(scale=0.5, size=30)
    csv_path = tmp / "tiny.csv"
    np.savetxt(csv_path, np.column_stack([x, y]), delimiter=",", header="dose,y", comments="")
    out = tmp / "run"
    argv = ["train", str(csv_path), "--target", "y", "--out", str(out), "--lr", "0.05",
            "--epochs", "80", "--tol", "0", "--no-report"]  # fmt: skip
    assert main(argv) == 0
    return out


def gif_frames(path):
    """``(frames as RGB images, durations in ms)`` read back with Pillow."""
    frames, durations = [], []
    with Image.open(path) as im:
        assert im.format == "GIF"
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
            frames.append(im.convert("RGB"))
    return frames, durations


def test_cli_writes_a_gif_with_the_frames_and_duration_asked(run_dir, capsys):
    from gradstep.cli import main

    assert main(["animate", str(run_dir), "--frames", "12", "--seconds", "1.2"]) == 0
    out = run_dir / "animation.gif"
    assert f"animation: {out} (12 frames, 1.2 s" in capsys.readouterr().out
    frames, durations = gif_frames(out)
    assert len(frames) == 12
    assert durations == [100] * 12 and sum(durations) == 1200
    assert frames[0].size == (1120, 384)  # 14 x 4.8 inches at --dpi 80
    assert ImageChops.difference(frames[0], frames[-1]).getbbox() is not None
    # the lock was taken beside the run folder and given back; no temporary file is left
    assert not lock_path(run_dir).exists()
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_fps_gives_the_duration_and_the_first_frame_is_the_start(run_dir, tmp_path):
    out = tmp_path / "sub" / "descent.GIF"
    seen = []
    written = animate_run(run_dir, out, frames=6, fps=20, progress=lambda k, n: seen.append(k))
    assert (written.frames, written.seconds, written.fps) == (6, 0.3, 20.0)
    assert written.epochs == (0, 80) and seen == [1, 2, 3, 4, 5, 6]
    frames, durations = gif_frames(out)
    assert len(frames) == 6 and durations == [50] * 6


def test_frames_spread_on_a_log_epoch_scale():
    idx = frame_records(7001, 120)
    assert len(idx) == 120 and idx[0] == 0 and idx[-1] == 7000
    assert np.all(np.diff(idx) > 0)
    assert list(idx[:40]) == list(range(40))  # every early epoch ...
    assert np.median(idx) < 100  # ... and half of the frames in the first 100 of 7000
    np.testing.assert_array_equal(frame_records(5, 120), np.arange(5))  # one per record
    for count, frames in [(3, 2), (61, 60), (61, 3), (1000, 999)]:
        idx = frame_records(count, frames)
        assert len(idx) == frames and idx[0] == 0 and idx[-1] == count - 1
        assert np.all(np.diff(idx) > 0)


def test_timing_from_any_two_of_frames_seconds_and_fps():
    assert resolve_timing() == (120, 6.0)
    assert resolve_timing(frames=30) == (30, 6.0)
    assert resolve_timing(seconds=3) == (120, 3.0)
    assert resolve_timing(fps=10) == (120, 12.0)
    assert resolve_timing(seconds=2, fps=25) == (50, 2.0)
    assert resolve_timing(frames=40, seconds=4, fps=10) == (40, 4.0)
    # a GIF holds delays in hundredths of a second
    assert timing_for(9, 1.0, ".gif").delay_ms == 110.0
    assert timing_for(9, 1.0, ".mp4").delay_ms == pytest.approx(1000 / 9)
    bad = [{"frames": 1}, {"frames": 2.5}, {"frames": True}, {"seconds": 0}, {"seconds": -1},
           {"seconds": float("nan")}, {"fps": 100}, {"frames": 10, "seconds": 1, "fps": 20},
           {"frames": 500, "seconds": 1}, {"frames": "12"}]  # fmt: skip
    for kwargs in bad:
        with pytest.raises(GradstepError):
            resolve_timing(**kwargs)


def test_three_features_the_line_is_along_the_chosen_feature(tmp_path, capsys):
    folder, _ = make_run_folder(tmp_path / "three", true_w=(2.0, -1.0, 0.5),
                                names=["age", "bmi", "dose $"], epochs=20)  # fmt: skip
    run = read_run(folder)
    written = animate_run(run, tmp_path / "three.gif", frames=4, seconds=0.4, j=2)
    assert written.frames == 4 and capsys.readouterr() == ("", "")  # the library never prints
    epochs, b, w = descent_records(run)
    scene = DescentScene(run, epochs, b, w, j=2)
    q = run.quadratic
    b_star, w_star = q.minimum()
    x_mean = q.gram[0, 3]
    # the least-squares prediction along x_2 (the others at their mean) passes the data mean
    assert scene._line(b_star, w_star, np.array([x_mean]))[0] == pytest.approx(q.xty[0])
    assert "dose \\$" in scene.ax_line.get_xlabel()
    scene.show(len(b) - 1)
    np.testing.assert_allclose(scene.path_point.get_data(), [[b[-1]], [w[-1, 2]]])


def test_bad_options_are_one_line_and_exit_2(run_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cases = [
        (["--frames", "0"], "--frames 0"),
        (["--frames", "many"], "--frames"),
        (["--seconds", "-2"], "--seconds -2"),
        (["--frames", "400", "--seconds", "1"], "frames per second"),
        (["--out", str(blocker / "x.gif")], "is not a folder"),
        (["--out", str(tmp_path / "x.png")], ".gif"),
    ]
    for extra, fragment in cases:
        proc = run_cli("animate", run_dir, *extra)
        assert_one_line_error(proc, fragment)
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_one_line(run_dir, tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        proc = run_cli("animate", run_dir, "--frames", "2", "--out", locked / "x.gif")
        assert_one_line_error(proc, "cannot write")
    finally:
        locked.chmod(stat.S_IRWXU)


def test_mp4_without_ffmpeg_is_one_line(run_dir, tmp_path):
    env = dict(os.environ, PATH="")
    proc = subprocess.run([sys.executable, "-m", "gradstep", "animate", str(run_dir), "--out",
                           str(tmp_path / "x.mp4")], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip
    assert_one_line_error(proc, "needs ffmpeg", "not on PATH")
    assert not list(tmp_path.iterdir())


def fake_ffmpeg(folder, script):
    """An ``ffmpeg`` on PATH that runs ``script`` (sh) with the output file as $out."""
    folder.mkdir()
    exe = folder / "ffmpeg"
    exe.write_text(f'#!/bin/sh\nfor a; do out="$a"; done\necho "$@" > "{folder}/args"\n{script}\n')
    exe.chmod(0o755)
    return folder


def test_mp4_goes_through_ffmpeg_into_place(run_dir, tmp_path, monkeypatch):
    """With a stand-in ffmpeg: frames are piped to it, the output is renamed into place."""
    bin_dir = fake_ffmpeg(tmp_path / "bin", 'cat > "$out"')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "descent.mp4"
    written = animate_run(run_dir, out, frames=3, fps=10)
    assert written.frames == 3 and written.seconds == pytest.approx(0.3)
    args = (bin_dir / "args").read_text()
    assert "-framerate 10" in args and "-f mp4" in args and "yuv420p" in args
    assert out.stat().st_size == 3 * 1120 * 384 * 4  # three raw RGBA frames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "descent.mp4"]


@pytest.mark.parametrize("reads", [True, False], ids=["after-reading", "at-once"])
def test_failing_ffmpeg_is_one_line_and_leaves_nothing(run_dir, tmp_path, monkeypatch, reads):
    script = ("cat > /dev/null; " if reads else "") + 'echo "Unknown encoder" >&2; exit 1'
    bin_dir = fake_ffmpeg(tmp_path / "bin", script)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(GradstepError, match="ffmpeg failed .*Unknown encoder"):
        animate_run(run_dir, tmp_path / "x.mp4", frames=2, seconds=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]


def test_a_run_folder_being_written_is_refused(run_dir, tmp_path):
    with run_lock(run_dir):
        proc = run_cli("animate", run_dir, "--frames", "2")
        assert_one_line_error(proc, "being written by another gradstep process")
        # writing elsewhere only reads the folder: no lock needed
        proc = run_cli("animate", run_dir, "--frames", "2", "--seconds", "0.2",
                       "--out", tmp_path / "elsewhere.gif")  # fmt: skip
        assert proc.returncode == 0, proc.stderr


def test_force_still_replaces_a_run_folder_holding_its_animation(tmp_path):
    """animation.gif is gradstep's own file: --force may replace the folder holding it."""
    import numpy as np

    from gradstep.cli import main

    csv = tmp_path / "d.csv"
    x = np.linspace(0, 1, 30)
    csv.write_text("x,y\n" + "".join(f"{a!r},{1 + 2 * a!r}\n" for a in x.tolist()))
    out = tmp_path / "run"
    args = ["train", str(csv), "--target", "y", "--out", str(out), "--no-report"]
    assert main([*args, "--epochs", "20"]) == 0
    assert main(["animate", str(out), "--frames", "4", "--seconds", "1"]) == 0
    assert (out / "animation.gif").exists()
    assert main([*args, "--epochs", "30", "--force"]) == 0
    assert not (out / "animation.gif").exists()
