"""Progress bars and reprs in a real Jupyter kernel (nbclient), as a learner sees them.

``fit(..., progress=True)`` and a ``Trainer`` with ``progress="auto"`` must show a bar in
the cell's output: a widget when ipywidgets is installed, else tqdm's text bar on the
cell's standard error, without tqdm's "IProgress not found" warning. Nothing is shown
unless asked, and the Trainer's value shows as a short table.
"""

import importlib.util

import pytest
from test_notebook import kernel_manager

nbformat = pytest.importorskip("nbformat", reason="nbformat (requirements/dev.txt)")
nbclient = pytest.importorskip("nbclient", reason="nbclient (requirements/dev.txt)")

WIDGET = "application/vnd.jupyter.widget-view+json"
CELLS = [
    "import gradstep, torch\nfrom torch import nn\ndata = gradstep.make_data()",
    "result = gradstep.fit(data.x_train, data.y_train, epochs=100_000, tol=1e-10, progress=True)",
    "quiet = gradstep.fit(data.x_train, data.y_train, epochs=100_000, tol=1e-10)",
    "model = nn.Linear(1, 1)\n"
    "trainer = gradstep.Trainer(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1),"
    " progress='auto')\n"
    "_ = trainer.fit(data.x_train, data.y_train, epochs=3)",
    "trainer",
]


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    folder = tmp_path_factory.mktemp("progress-notebook")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(
        nb, km=kernel_manager(folder), timeout=120, record_timing=False,
        resources={"metadata": {"path": str(folder)}},
    )  # fmt: skip
    client.execute()
    return nb.cells


def shown(cell) -> tuple[str, list[dict]]:
    """What the cell wrote to stderr, and its displayed data (widgets, values)."""
    err = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
    data = [o.data for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
    return err, data


def a_bar(cell, text: str) -> None:
    err, data = shown(cell)
    assert "IProgress" not in err and "Warning" not in err, err
    if importlib.util.find_spec("ipywidgets") is not None:  # the kernel runs this interpreter
        assert any(WIDGET in d for d in data), cell.outputs
    else:
        assert text in err, err
    assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]


def test_fit_progress_true_shows_a_bar(cells):
    a_bar(cells[1], "to tol 1e-10: 100%")


def test_fit_shows_nothing_unless_asked(cells):
    assert cells[2].outputs == []


def test_trainer_auto_shows_a_bar_in_the_notebook(cells):
    a_bar(cells[3], "training: 100%")
    err, _ = shown(cells[3])
    assert importlib.util.find_spec("ipywidgets") is not None or "3/3" in err


def test_the_trainer_shows_as_a_short_table(cells):
    (data,) = shown(cells[4])[1]
    assert data["text/plain"].startswith("Trainer: Linear, 2 parameters")
    assert data["text/html"].startswith("<table><caption>Trainer: Linear")
    assert "epochs trained" in data["text/plain"] and len(data["text/plain"]) < 800
