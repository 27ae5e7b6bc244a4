"""``gradstep demo`` through real processes."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from gradstep import least_squares, make_data
from gradstep.plots.demo_figures import DEMO_FIGURES
from gradstep.tutorial.torch_walkthrough import VARIANT_TITLES, run_torch_walkthrough

from conftest import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def demo_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    proc = run_cli("demo", "--json", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), out


def test_json_has_document_values(demo_json):
    payload, _ = demo_json
    assert f"{np.array([payload['init']['b']])} {np.array([payload['init']['w']])}" == (
        "[0.49671415] [-0.1382643]"
    )
    assert payload["gradients"] == {"b": -3.044811379650508, "w": -1.8337537171510832}
    first = payload["first_update"]
    assert f"{np.array([first['b']])} {np.array([first['w']])}" == "[0.80119529] [0.04511107]"
    assert payload["trained"]["epochs"] == 1000 and payload["trained"]["lr"] == 0.1
    for key in ("first_loss", "closed_form", "sklearn", "difference"):
        assert key in payload


def test_json_trained_matches_closed_form(demo_json):
    payload, _ = demo_json
    data = make_data()
    b, w = least_squares(data.x_train, data.y_train)
    assert payload["closed_form"]["b"] == pytest.approx(b, rel=1e-12)
    assert abs(payload["trained"]["b"] - b) < 1e-6
    assert abs(payload["trained"]["w"] - w[0]) < 1e-6


def test_figure1_written(demo_json):
    _, out = demo_json
    with Image.open(out / "figure1.png") as img:
        assert img.size == (1200, 600)


def test_json_torch_object(demo_json):
    walk = run_torch_walkthrough()  # oracle: the same steps in this process
    payload, out = demo_json
    t = payload["torch"]
    assert t["init"] == {"b": walk.init_b.item(), "w": walk.init_w.item()}
    assert t["gradients"] == {"b": walk.b_grad.item(), "w": walk.w_grad.item()}
    assert t["linear_init"] == {
        "weight": walk.linear_init["weight"].item(),
        "bias": walk.linear_init["bias"].item(),
    }
    assert set(t["trained"]) == set(VARIANT_TITLES)
    for variant, values in t["trained"].items():
        h = walk.trained[variant]
        assert values == {"b": h.b[-1], "w": h.w[-1, 0]}
    assert t["state_dict"]["torch-linear"]["0.weight"] == [[t["trained"]["torch-linear"]["w"]]]
    assert (t["dtype"], t["device"], t["epochs"], t["lr"]) == ("float32", "cpu", 1000, 0.1)
    # the NumPy part is still there, unchanged
    assert payload["gradients"] == {"b": -3.044811379650508, "w": -1.8337537171510832}
    if shutil.which("dot"):
        assert payload["figures"]["graph_svg"] == str(out / "graph.svg")
        assert (out / "graph.svg").exists() and (out / "graph.png").exists()


def test_text_output_and_options(tmp_path):
    proc = run_cli("demo", "--out", tmp_path, "--epochs", "10", "--lr", "0.05")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for expected in (
        "[0.49671415] [-0.1382643]",
        "-3.044811379650508 -1.8337537171510832",
        # where the other first loss comes from: the blog repost, not the book
        "loss = 2.7421577700550976\n  (the book and its notebook print this value too; "
        "only the blog repost of the\n   chapter prints 2.720278897826747",
        # the first update at lr 0.05 from randn(42) and the printed gradients
        f"{np.array([0.4967141530112327 + 0.05 * 3.044811379650508])} "
        f"{np.array([-0.13826430117118466 + 0.05 * 1.8337537171510832])}",
        "10 epochs",
        "Closed form",
    ):
        assert expected in text
    # every figure and the report, written and listed
    for name in DEMO_FIGURES:
        assert f"{name}: {tmp_path / name}.png" in text
        assert (tmp_path / f"{name}.png").is_file(), name
    assert f"report: {tmp_path / 'report.html'}" in text
    assert (tmp_path / "report.html").is_file()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["demo", "--epochs", "0"], "epochs=0"),
        (["demo", "--lr", "-1"], "lr=-1"),
        (["demo", "--lr", "abc"], "--lr"),
        (["demo", "--bogus"], "--bogus"),
        (["nope"], "nope"),
    ],
)
def test_bad_arguments_one_line_exit_2(tmp_path, args, fragment):
    proc = run_cli(*args, "--out", tmp_path / "o") if args[0] == "demo" else run_cli(*args)
    assert_one_line_error(proc, fragment)
    assert not (tmp_path / "o").exists()
