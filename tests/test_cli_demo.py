"""``gradstep demo`` through real processes."""

import json

import numpy as np
import pytest
from PIL import Image

from gradstep import least_squares, make_data

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


def test_text_output_and_options(tmp_path):
    proc = run_cli("demo", "--out", tmp_path, "--epochs", "10", "--lr", "0.05")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for expected in (
        "[0.49671415] [-0.1382643]",
        "-3.044811379650508 -1.8337537171510832",
        # the first update at lr 0.05 from randn(42) and the printed gradients
        f"{np.array([0.4967141530112327 + 0.05 * 3.044811379650508])} "
        f"{np.array([-0.13826430117118466 + 0.05 * 1.8337537171510832])}",
        "10 epochs",
        "Closed form",
    ):
        assert expected in text
    assert (tmp_path / "figure1.png").exists()


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
