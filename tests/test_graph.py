"""The computation graph: torchviz.make_dot of one step's loss, rendered by Graphviz."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from gradstep.tutorial.graph import INSTALL_NOTE, loss_graph, render_graph

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
OPERATIONS = [
    "AccumulateGrad", "MvBackward0", "AddBackward0", "SubBackward0", "PowBackward0",
    "MeanBackward0",
]  # fmt: skip


def svg_texts(path) -> list[str]:
    root = ET.parse(path).getroot()
    return [el.text.strip() for el in root.iter("{http://www.w3.org/2000/svg}text") if el.text]


def run_graph_cli(out, path_env=None):
    env = dict(os.environ)
    if path_env is not None:
        env["PATH"] = path_env
    return subprocess.run(
        [sys.executable, "-m", "gradstep", "graph", "--out", str(out)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_graph_source_has_parameters_and_operations():
    source = loss_graph().source
    for op in OPERATIONS:
        assert f"label={op}" in source
    for name in ("b", "w", "loss"):
        assert f'label="{name}\n' in source
    # stable node names: the same graph twice gives the same text
    assert loss_graph().source == source


@needs_dot
def test_render_writes_svg_and_png_naming_parameters_and_operations(tmp_path):
    files, note = render_graph(tmp_path / "g")
    assert note is None
    assert set(files) == {"graph_svg", "graph_png"}
    texts = svg_texts(files["graph_svg"])
    for expected in ["b", "w", "loss", *OPERATIONS]:
        assert expected in texts, (expected, texts)
    assert texts.count("AccumulateGrad") == 2  # one per parameter
    with Image.open(files["graph_png"]) as img:
        assert img.format == "PNG" and img.width > 200 and img.height > 400
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["graph.png", "graph.svg"]


@needs_dot
def test_render_is_reproducible(tmp_path):
    first, _ = render_graph(tmp_path / "a")
    second, _ = render_graph(tmp_path / "b")
    assert first["graph_svg"].read_bytes() == second["graph_svg"].read_bytes()


def test_without_dot_writes_graph_dot_and_one_line_note(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot
    files, note = render_graph(tmp_path / "g")
    assert set(files) == {"graph_dot"}
    assert files["graph_dot"].read_text().startswith("digraph")
    assert "MeanBackward0" in files["graph_dot"].read_text()
    assert note == INSTALL_NOTE and "\n" not in note
    assert "install Graphviz" in note and "apt-get install graphviz" in note


@needs_dot
def test_graph_command(tmp_path):
    proc = run_graph_cli(tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"graph_svg: {tmp_path / 'out' / 'graph.svg'}",
        f"graph_png: {tmp_path / 'out' / 'graph.png'}",
    ]
    assert "MvBackward0" in svg_texts(tmp_path / "out" / "graph.svg")


def test_graph_command_without_dot_carries_on(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_graph_cli(tmp_path / "out", path_env=str(empty))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"graph_dot: {tmp_path / 'out' / 'graph.dot'}"
    assert proc.stderr.strip() == f"Note: {INSTALL_NOTE}"
    assert (tmp_path / "out" / "graph.dot").exists()


@needs_dot
def test_switching_between_svg_and_dot_leaves_no_stale_graph(tmp_path, monkeypatch):
    out = tmp_path / "g"
    render_graph(out)
    assert (out / "graph.svg").exists()
    with monkeypatch.context() as patch:
        patch.setenv("PATH", str(tmp_path))  # no dot: the old SVG/PNG must go
        render_graph(out)
    assert sorted(p.name for p in out.iterdir()) == ["graph.dot"]
    render_graph(out)
    assert sorted(p.name for p in out.iterdir()) == ["graph.png", "graph.svg"]
