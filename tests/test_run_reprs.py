"""Short reprs of the run objects (Trainer, its TrainingHistory, RunFolder): a few lines,
never whole arrays, the HTML escaped — as gradstep.reprs does for FitResult and History."""

import json

import pytest
import torch
from run_folder_fixture import make_run_folder
from torch import nn

import gradstep
from gradstep import Trainer
from gradstep.runs.folder import read_run
from gradstep.trainer.callbacks import EarlyStopping

DATA = gradstep.make_data()


def short(obj):
    text, page = repr(obj), obj._repr_html_()
    assert len(text) < 800 and len(page) < 1000, (len(text), len(page))
    assert text.count("\n") < 12
    assert page.startswith("<table><caption>") and page.endswith("</table>")
    return text, page


def trainer(model, **options):
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    return Trainer(model, nn.MSELoss(), opt, progress=False, **options)


def test_a_new_trainer():
    text, page = short(trainer(nn.Linear(1, 1), seed=7))
    assert text.splitlines()[0] == "Trainer: Linear, 2 parameters, torch.float32, on cpu"
    for fragment in ("loss            MSELoss", "optimizer       SGD, lr 0.05",
                     "epochs trained  0", "seed            7"):  # fmt: skip
        assert fragment in text, text
    assert "<th>optimizer</th><td>SGD, lr 0.05</td>" in page


def test_a_trained_trainer_shows_its_losses_not_its_weights():
    model = nn.Sequential(nn.Linear(1, 500), nn.Tanh(), nn.Linear(500, 1))
    fitted = trainer(model, early_stopping=EarlyStopping(patience=10))
    history = fitted.fit(DATA.x_train, DATA.y_train, epochs=4,
                         validation_data=(DATA.x_val, DATA.y_val))  # fmt: skip
    text, _ = short(fitted)
    assert "Sequential, 1501 parameters" in text and "epochs trained  4" in text
    first, last = history.train_loss[0], history.train_loss[-1]
    assert f"{first:.7g} (first epoch) -> {last:.7g} (last)" in text
    assert f"{history.val_loss[-1]:.7g} (last)" in text
    assert "early stopping  patience 10, watching" in text
    assert "tensor" not in text and "[" not in text  # no weights


def test_the_training_history():
    fitted = trainer(nn.Linear(1, 1), record_steps=True)
    history = fitted.fit(DATA.x_train, DATA.y_train, epochs=3, batch_size=16)
    text, _ = short(history)
    assert text.startswith("TrainingHistory: epochs 1-3") and "val loss" not in text
    assert f"steps recorded  {3 * 5} updates" in text  # 80 rows in batches of 16
    assert repr(type(history)()) == "TrainingHistory: no epochs"


def test_a_loss_function_name_is_escaped():
    opt_model = nn.Linear(1, 1)
    opt = torch.optim.SGD(opt_model.parameters(), lr=0.1)
    t = Trainer(opt_model, lambda p, y: ((p - y) ** 2).mean(), opt, progress=False)
    text, page = short(t)
    assert "<lambda>" in text and "&lt;lambda&gt;" in page and "<lambda>" not in page


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "a<b>&c"
    names = [f"feature_{j}" for j in range(6)]
    make_run_folder(folder, true_w=(1.0, -2.0, 0.5, 3.0, 0.0, 1.5), names=names, epochs=30)
    return folder


def test_a_run_folder(wide_run):
    run = read_run(wide_run)
    text, page = short(run)
    assert text.splitlines()[0] == f"RunFolder: {wide_run}"
    assert "epochs          1-30" in text and "target          y" in text
    assert "feature_0, feature_1, feature_2, feature_3, ... (6 names)" in text
    intercept = json.loads((wide_run / "model.json").read_text())["intercept"]
    assert f"{intercept:.10g}" in text and "(6 values)" in text
    assert "train loss" in text and "val loss" in text and "steps recorded" in text
    assert "a&lt;b&gt;&amp;c" in page and "<b>" not in page


def test_a_run_folder_without_model_json_shows_the_descents_parameters(tmp_path):
    folder, result = make_run_folder(tmp_path / "bare", optional=False, steps=False, epochs=20)
    text, _ = short(read_run(folder))
    assert "b (last epoch)" in text and f"{result.history.b[-1]:.10g}" in text
    assert "features        1 (unnamed)" in text and "files           metrics.csv" in text
