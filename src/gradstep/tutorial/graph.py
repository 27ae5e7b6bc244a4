"""The computation graph of one step's loss, drawn by ``torchviz.make_dot``.

The loss is the demo's first one: ``b`` and ``w`` from ``torch.manual_seed(42)``
(privately seeded), predictions ``b + x_train @ w`` and the batch MSE. Graphviz's
``dot`` renders it to ``graph.svg`` and ``graph.png``; without ``dot`` the graph is
written as ``graph.dot`` and a one-line note says how to get the pictures.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from gradstep.files import atomic_write_bytes, atomic_write_text

INSTALL_NOTE = (
    "Graphviz's `dot` was not found, so the computation graph was written as graph.dot "
    "only; install Graphviz to get graph.svg and graph.png (Debian/Ubuntu: "
    "sudo apt-get install graphviz; macOS: brew install graphviz; conda: conda install graphviz)"
)


class GraphFiles(NamedTuple):
    """``files``: name -> path of what was written; ``note``: one line, or None."""

    files: dict[str, Path]
    note: str | None


def loss_graph(seed: int = 42):
    """The ``graphviz.Digraph`` of the demo's first loss, with stable node names.

    ``make_dot`` names nodes by Python ``id()``s, which change from run to run;
    they are renumbered in order of appearance so the same graph gives the same file.
    """
    import warnings

    from gradstep.data import make_data
    from gradstep.torch_start import seeded_b_w
    from gradstep.tutorial.torch_walkthrough import first_loss

    with warnings.catch_warnings():
        # torchviz compares versions with the deprecated distutils.LooseVersion
        warnings.simplefilter("ignore", DeprecationWarning)
        from torchviz import make_dot

        data = make_data(seed=seed)
        b, w = seeded_b_w(seed)
        loss = first_loss(b, w, data.x_train, data.y_train)
        dot = make_dot(loss, params={"b": b, "w": w, "loss": loss})
    names: dict[str, str] = {}

    def rename(match: re.Match) -> str:
        return names.setdefault(match.group(0), f"n{len(names)}")

    dot.body = [re.sub(r"(?<![\w.])\d{6,}(?![\w.])", rename, line) for line in dot.body]
    return dot


def render_graph(out_dir, seed: int = 42) -> GraphFiles:
    """Write ``graph.svg`` and ``graph.png`` into ``out_dir`` (or ``graph.dot`` without dot)."""
    import graphviz

    out = Path(out_dir)
    dot = loss_graph(seed)
    try:
        svg = dot.pipe(format="svg")
        png_dot = dot.copy()
        png_dot.graph_attr["dpi"] = "144"  # crisper than dot's 96 for the same layout
        png = png_dot.pipe(format="png")
    except graphviz.ExecutableNotFound:
        path = out / "graph.dot"
        atomic_write_text(path, dot.source)
        _remove_stale(out, ("graph.svg", "graph.png"))
        return GraphFiles({"graph_dot": path}, INSTALL_NOTE)
    files = {"graph_svg": out / "graph.svg", "graph_png": out / "graph.png"}
    atomic_write_bytes(files["graph_svg"], svg)
    atomic_write_bytes(files["graph_png"], png)
    _remove_stale(out, ("graph.dot",))
    return GraphFiles(files, None)


def _remove_stale(out: Path, names: tuple[str, ...]) -> None:
    """Drop this function's own files from an earlier render, so a report never
    inlines a graph that this run did not draw."""
    for name in names:
        (out / name).unlink(missing_ok=True)
