"""examples/walkthrough.ipynb, run from top to bottom in a real Jupyter kernel.

The committed notebook keeps its outputs so it reads on its own (on GitHub too). The test
runs a copy in a temporary folder and checks the fresh outputs: the chapter's numbers, no
error, one PNG per figure cell; then that the committed text outputs are still what the
code gives. After changing the notebook or what it shows, refresh the committed copy with
``GRADSTEP_UPDATE_NOTEBOOK=1 .venv/bin/python -m pytest tests/test_notebook.py``.
"""

import ast
import base64
import io
import json
import os
import re
import sys
from pathlib import Path

import pytest
from PIL import Image

import gradstep

pytest.importorskip("ipykernel", reason="ipykernel (requirements/dev.txt; needs Python 3.11)")
nbformat = pytest.importorskip("nbformat", reason="nbformat (requirements/dev.txt)")
nbclient = pytest.importorskip("nbclient", reason="nbclient (requirements/dev.txt)")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "walkthrough.ipynb"
# a cell that draws calls one of these; every other cell must show no image
FIGURE_CALLS = ("figure1(", "fitted_line(", "one_update(", "loss_surface(", "descent_paths(",
                "loss_curves(", "plt.subplots(")  # fmt: skip


def kernel_manager(folder: Path):
    """A kernel of this very interpreter and this very gradstep, whatever kernels the
    machine has registered: its spec is written to ``folder`` and found only there."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = folder / "kernels" / "gradstep-test"
    spec_dir.mkdir(parents=True)
    src = str(Path(gradstep.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "gradstep tests",
        "language": "python",
        # what ipykernel chooses when nothing is set, whatever MPLBACKEND the tests run with
        "env": {"PYTHONPATH": path, "MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(folder / "kernels")])
    return KernelManager(kernel_spec_manager=specs, kernel_name="gradstep-test")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, km=kernel_manager(folder), timeout=120, record_timing=False,
        resources={"metadata": {"path": str(folder)}},
    )  # fmt: skip
    client.execute()  # raises CellExecutionError, with the cell and traceback, if one fails
    if os.environ.get("GRADSTEP_UPDATE_NOTEBOOK"):
        nbformat.write(nb, NOTEBOOK)
    return nb


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def value_of(nb, fragment: str):
    """The value (``text/plain``, as a Python literal) of the one cell whose source holds
    ``fragment``."""
    cells = [cell for cell in code_cells(nb) if fragment in cell.source]
    assert len(cells) == 1, fragment
    results = [o for o in cells[0].outputs if o.output_type == "execute_result"]
    assert len(results) == 1, fragment
    return ast.literal_eval(results[0].data["text/plain"])


def pngs(cell) -> list[bytes]:
    return [
        base64.b64decode(o.data["image/png"])
        for o in cell.outputs
        if o.output_type in ("display_data", "execute_result") and "image/png" in o.get("data", {})
    ]


NUMBER = re.compile(r"-?\d+\.\d*(?:e[-+]?\d+)?")


def text_outputs(cell) -> list[tuple[str, list[float]]]:
    """What a cell printed or returned as text, unlike PNG bytes the same on every machine:
    the words exactly, the numbers as floats (another BLAS may move a last digit)."""
    texts = []
    for o in cell.outputs:
        if o.output_type == "stream":
            text = o.text
        elif o.output_type in ("display_data", "execute_result"):
            text = o.data.get("text/plain", "")
        else:
            continue
        texts.append((NUMBER.sub("#", text), [float(n) for n in NUMBER.findall(text)]))
    return texts


def test_no_cell_raised(executed):
    for cell in code_cells(executed):
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source


def test_the_documents_numbers(executed):
    assert value_of(executed, "loss = steps.mse_loss") == 2.7421577700550976
    assert value_of(executed, "steps.gradients(") == (-3.044811379650508, -1.8337537171510832)
    b, w = value_of(executed, "epochs=1000")
    assert b == pytest.approx(1.0235, abs=5e-5) and w == pytest.approx(1.9690, abs=5e-5)
    b_exact, w_exact = value_of(executed, "gradstep.least_squares(")
    assert abs(b - b_exact) < 1e-6 and abs(w - w_exact) < 1e-6
    b_model, w_model, n_iter = value_of(executed, "GDRegressor()")
    assert n_iter == 1, "the notebook says one epoch: one standardised feature, a round bowl"
    assert b_model == pytest.approx(b_exact, abs=1e-7) and w_model == pytest.approx(
        w_exact, abs=1e-7
    )


def test_each_figure_cell_shows_one_image(executed):
    figure_cells = 0
    for cell in code_cells(executed):
        images = pngs(cell)
        if any(call in cell.source for call in FIGURE_CALLS):
            figure_cells += 1
            assert len(images) == 1, cell.source  # shown by itself, and not twice
        else:
            assert images == [], cell.source
    assert figure_cells == 7


def test_a_figure_shows_as_the_png_the_cli_writes(executed):
    """No pyplot yet: the figure's own display hook, at the CLI's 100 dpi, nothing cropped."""
    (cell,) = [c for c in code_cells(executed) if "loss_surface(" in c.source]
    (png,) = pngs(cell)
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.size == (1300, 580)  # figsize (13, 5.8) at 100 dpi
        colors = img.convert("RGB").getcolors(maxcolors=1_000_000)
    assert len(colors) > 1000  # a drawn surface, not a blank canvas


def test_the_committed_notebook_shows_what_the_code_gives(executed):
    committed = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(committed)
    fresh, kept = code_cells(executed), code_cells(committed)
    assert [c.source for c in kept] == [c.source for c in fresh]
    assert [c.execution_count for c in kept] == list(range(1, len(kept) + 1)), "not executed"
    for old, new in zip(kept, fresh, strict=True):
        was, now = text_outputs(old), text_outputs(new)
        assert [words for words, _ in was] == [words for words, _ in now], old.source
        for (_, numbers_was), (_, numbers_now) in zip(was, now, strict=True):
            assert numbers_was == pytest.approx(numbers_now, rel=1e-9, abs=1e-12), old.source
        assert len(pngs(old)) == len(pngs(new)), old.source
