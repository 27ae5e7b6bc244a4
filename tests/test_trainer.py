"""The Trainer: oracles against the NumPy engine and hand-written loops, resume, controls."""

import csv
import math
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import gradstep
from gradstep import DivergenceError, EarlyStopping, GradstepError, Trainer, make_data, steps
from gradstep.checkpoint import CheckpointError

DATA = make_data()


def document_model(b=0.5, w=-0.1, dtype=torch.float32):
    model = nn.Sequential(nn.Linear(1, 1)).to(dtype)
    with torch.no_grad():
        model[0].bias.fill_(b)
        model[0].weight.fill_(w)
    return model


def dropout_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))


def params(model):
    return [p.detach().clone() for p in model.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def sgd_trainer(model, lr=0.1, **options):
    options.setdefault("progress", False)
    return Trainer(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=lr), **options)


def adam_dropout_trainer(seed=0, **options):
    model = dropout_model(seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    options.setdefault("progress", False)
    return Trainer(model, nn.MSELoss(), opt, scheduler=sched, **options)


# ---------------------------------------------------------------- oracles


@pytest.mark.parametrize("batch_size", [None, 16, 1])
def test_float64_trainer_follows_the_numpy_engine(batch_size):
    """Same start, same seed: the document's model under the Trainer takes the NumPy
    engine's steps (the batches come from the same steps.batch_indices)."""
    epochs = 30 if batch_size else 200
    model = document_model(0.49671415, -0.1382643, torch.float64)
    trainer = sgd_trainer(model, seed=7)
    history = trainer.fit(DATA.x_train, DATA.y_train, epochs=epochs, batch_size=batch_size,
                          validation_data=(DATA.x_val, DATA.y_val))  # fmt: skip
    oracle = gradstep.fit(DATA.x_train, DATA.y_train, lr=0.1, epochs=epochs,
                          batch_size=batch_size, init=(0.49671415, [-0.1382643]), seed=7,
                          x_val=DATA.x_val, y_val=DATA.y_val)  # fmt: skip
    assert model[0].bias.item() == pytest.approx(oracle.intercept, rel=1e-12, abs=1e-12)
    assert model[0].weight.item() == pytest.approx(oracle.coef[0], rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(history.train_loss, oracle.history.train_loss, rtol=1e-10)
    np.testing.assert_allclose(history.val_loss, oracle.history.val_loss, rtol=1e-10)
    assert history.epoch == list(range(1, epochs + 1))


def test_document_model_reaches_least_squares():
    model = document_model()
    sgd_trainer(model).fit(DATA.x_train, DATA.y_train, epochs=1000)
    b, w = gradstep.least_squares(DATA.x_train, DATA.y_train)
    assert model[0].bias.item() == pytest.approx(b, abs=1e-4)
    assert model[0].weight.item() == pytest.approx(w[0], abs=1e-4)


def test_trainer_equals_a_hand_written_loop_bit_for_bit():
    model = document_model()
    sgd_trainer(model, seed=3).fit(DATA.x_train, DATA.y_train, epochs=20, batch_size=16)
    hand = document_model()
    opt = torch.optim.SGD(hand.parameters(), lr=0.1)
    x = torch.as_tensor(DATA.x_train, dtype=torch.float32)
    y = torch.as_tensor(DATA.y_train, dtype=torch.float32)[:, None]
    for epoch in range(20):
        for idx in steps.batch_indices(80, 16, 3, epoch):
            idx = torch.from_numpy(idx)
            nn.functional.mse_loss(hand(x[idx]), y[idx]).backward()
            opt.step()
            opt.zero_grad()
    assert same(params(model), params(hand))


# ---------------------------------------------------------------- reproducibility


def test_two_fits_equal_one_and_seed_fixes_everything(global_rng_guard):
    split, straight, other = adam_dropout_trainer(), adam_dropout_trainer(), adam_dropout_trainer()
    other.seed = 43
    torch_state = torch.get_rng_state()
    split.fit(DATA.x_train, DATA.y_train, epochs=4, batch_size=16)
    split.fit(DATA.x_train, DATA.y_train, epochs=5, batch_size=16)
    straight.fit(DATA.x_train, DATA.y_train, epochs=9, batch_size=16)
    assert same(params(split.model), params(straight.model))
    assert split.history.train_loss == straight.history.train_loss
    other.fit(DATA.x_train, DATA.y_train, epochs=9, batch_size=16)
    assert not same(params(other.model), params(straight.model))
    assert torch.equal(torch.get_rng_state(), torch_state)  # the global state is untouched


def test_checkpoint_resume_in_process_is_bit_identical(tmp_path):
    first = adam_dropout_trainer()
    first.fit(DATA.x_train, DATA.y_train, epochs=5, batch_size=16,
              validation_data=(DATA.x_val, DATA.y_val))  # fmt: skip
    first.save_checkpoint(tmp_path / "a.ckpt")
    resumed = adam_dropout_trainer(seed=99)  # other initial weights: all overwritten
    resumed.load_checkpoint(tmp_path / "a.ckpt")
    assert resumed.epoch == 5 and len(resumed.history) == 5
    resumed.fit(DATA.x_train, DATA.y_train, epochs=5, batch_size=16,
                validation_data=(DATA.x_val, DATA.y_val))  # fmt: skip
    straight = adam_dropout_trainer()
    straight.fit(DATA.x_train, DATA.y_train, epochs=10, batch_size=16,
                 validation_data=(DATA.x_val, DATA.y_val))  # fmt: skip
    assert same(params(resumed.model), params(straight.model))
    assert resumed.history.val_loss == straight.history.val_loss
    assert resumed.optimizer.param_groups[0]["lr"] == straight.optimizer.param_groups[0]["lr"]


def loader_trainer(seed=0):
    x = torch.as_tensor(DATA.x_train, dtype=torch.float32)
    y = torch.as_tensor(DATA.y_train, dtype=torch.float32)
    generator = torch.Generator().manual_seed(5)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True, generator=generator
    )
    model = dropout_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=50)
    trainer = Trainer(model, nn.MSELoss(), opt, scheduler=sched, scheduler_interval="batch",
                      progress=False)  # fmt: skip
    return trainer, loader


def test_dataloader_with_generator_resumes_bit_identically(tmp_path):
    first, loader = loader_trainer()
    first.fit(loader, epochs=4)
    first.save_checkpoint(tmp_path / "a.ckpt")
    resumed, new_loader = loader_trainer(seed=1)
    resumed.load_checkpoint(tmp_path / "a.ckpt")
    resumed.fit(new_loader, epochs=6)
    straight, loader = loader_trainer()
    straight.fit(loader, epochs=10)
    assert same(params(resumed.model), params(straight.model))
    assert resumed.history.lr == straight.history.lr


def test_dataloader_without_generator_is_seeded_by_the_trainer():
    def run():
        x = torch.as_tensor(DATA.x_train, dtype=torch.float32)
        y = torch.as_tensor(DATA.y_train, dtype=torch.float32)[:, None]
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True
        )
        model = dropout_model()
        trainer = sgd_trainer(model, lr=0.05)
        torch.manual_seed(np.random.randint(1000))  # whatever the user's global state is
        trainer.fit(loader, epochs=3)
        return params(model)

    assert same(run(), run())


# ---------------------------------------------------------------- predict, validation


def test_predict_numpy_in_numpy_out_in_eval_mode():
    trainer = adam_dropout_trainer()
    trainer.fit(DATA.x_train, DATA.y_train, epochs=2, batch_size=16)
    trainer.model.train()
    first = trainer.predict(DATA.x_val)
    assert isinstance(first, np.ndarray) and first.shape == (20, 1)
    np.testing.assert_array_equal(first, trainer.predict(DATA.x_val[:, 0]))  # dropout off
    np.testing.assert_allclose(first, trainer.predict(DATA.x_val, batch_size=7), rtol=1e-6)
    assert trainer.model.training  # mode restored
    with torch.no_grad():
        trainer.model.eval()
        expected = trainer.model(torch.as_tensor(DATA.x_val, dtype=torch.float32)).numpy()
    np.testing.assert_array_equal(first, expected)


def test_validation_loss_is_the_loss_after_the_epoch():
    model = document_model()
    trainer = sgd_trainer(model)
    history = trainer.fit(DATA.x_train, DATA.y_train, epochs=3,
                          validation_data=(DATA.x_val, DATA.y_val))  # fmt: skip
    assert history.val_loss[-1] == pytest.approx(trainer.evaluate(DATA.x_val, DATA.y_val))
    pred = trainer.predict(DATA.x_val)[:, 0]
    assert history.val_loss[-1] == pytest.approx(np.mean((pred - DATA.y_val) ** 2), rel=1e-5)
    no_val = sgd_trainer(document_model()).fit(DATA.x_train, DATA.y_train, epochs=2)
    assert all(math.isnan(v) for v in no_val.val_loss)


def test_record_steps_gives_the_path():
    model = document_model()
    trainer = sgd_trainer(model, record_steps=True)
    trainer.fit(DATA.x_train, DATA.y_train, epochs=3, batch_size=40)
    path = trainer.history.step_params
    assert path["0.bias"].shape == (7, 1) and path["0.weight"].shape == (7, 1, 1)
    assert path["0.bias"][0, 0] == pytest.approx(0.5)
    assert path["0.bias"][-1, 0] == pytest.approx(model[0].bias.item())


# ---------------------------------------------------------------- controls


def test_early_stopping_restores_the_best_weights():
    # lr too high for Adam on this tiny problem: the validation loss bounces around.
    def make():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
        opt = torch.optim.Adam(model.parameters(), lr=0.3)
        stopper = EarlyStopping(patience=3)
        return Trainer(model, nn.MSELoss(), opt, early_stopping=stopper, progress=False)

    trainer = make()
    history = trainer.fit(DATA.x_train, DATA.y_train, epochs=200, batch_size=16,
                          validation_data=(DATA.x_val, DATA.y_val))  # fmt: skip
    stopper = trainer.early_stopping
    assert stopper.stopped and len(history) < 200
    assert len(history) == stopper.best_epoch + 3
    assert stopper.best == min(history.val_loss)
    assert trainer.evaluate(DATA.x_val, DATA.y_val) == pytest.approx(stopper.best, rel=1e-6)
    # the same weights as a run that simply stops at the best epoch
    reference = make()
    reference.early_stopping = None
    reference.fit(DATA.x_train, DATA.y_train, epochs=stopper.best_epoch, batch_size=16)
    assert same(params(trainer.model), params(reference.model))
    # a stopped trainer trains no further
    trainer.fit(DATA.x_train, DATA.y_train, epochs=5, batch_size=16)
    assert len(trainer.history) == len(history)


def test_early_stopping_restores_best_even_without_stopping():
    model = dropout_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    trainer = Trainer(model, nn.MSELoss(), opt, early_stopping=EarlyStopping(patience=1000),
                      progress=False)  # fmt: skip
    history = trainer.fit(DATA.x_train, DATA.y_train, epochs=15, batch_size=8,
                          validation_data=(DATA.x_val, DATA.y_val))  # fmt: skip
    assert not trainer.early_stopping.stopped
    assert trainer.evaluate(DATA.x_val, DATA.y_val) == pytest.approx(min(history.val_loss))


def test_schedulers_per_epoch_per_batch_and_on_plateau():
    trainer = adam_dropout_trainer()  # StepLR(step_size=3, gamma=0.5)
    history = trainer.fit(DATA.x_train, DATA.y_train, epochs=7, batch_size=16)
    assert history.lr == [0.01] * 3 + [0.005] * 3 + [0.0025]

    trainer, loader = loader_trainer()  # OneCycleLR stepped every batch: 5 per epoch
    trainer.fit(loader, epochs=2)
    assert trainer.scheduler.last_epoch == 10

    model = document_model()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0)
    trainer = Trainer(model, nn.MSELoss(), opt, scheduler=plateau, progress=False)
    history = trainer.fit(DATA.x_train, DATA.y_train, epochs=6)  # lr=1 overshoots
    assert history.lr[0] == 1.0 and min(history.lr) < 1.0


@pytest.mark.parametrize("clip", ["value", "norm"])
def test_gradient_clipping_matches_torch_utilities(clip):
    option = {"clip_value": 0.05} if clip == "value" else {"clip_norm": 0.05}
    model = document_model()
    sgd_trainer(model, **option).fit(DATA.x_train, DATA.y_train, epochs=5)
    hand = document_model()
    opt = torch.optim.SGD(hand.parameters(), lr=0.1)
    x = torch.as_tensor(DATA.x_train, dtype=torch.float32)
    y = torch.as_tensor(DATA.y_train, dtype=torch.float32)[:, None]
    for _ in range(5):
        nn.functional.mse_loss(hand(x), y).backward()
        if clip == "value":
            nn.utils.clip_grad_value_(hand.parameters(), 0.05)
        else:
            nn.utils.clip_grad_norm_(hand.parameters(), 0.05)
        opt.step()
        opt.zero_grad()
    assert same(params(model), params(hand))
    unclipped = document_model()
    sgd_trainer(unclipped).fit(DATA.x_train, DATA.y_train, epochs=5)
    assert not same(params(model), params(unclipped))


# ---------------------------------------------------------------- divergence


def first_bad_step(lr, batch_size, seed=42):
    """(epoch, step) of the first non-finite loss of a plain loop: the oracle."""
    hand = document_model()
    opt = torch.optim.SGD(hand.parameters(), lr=lr)
    x = torch.as_tensor(DATA.x_train * 1e3, dtype=torch.float32)
    y = torch.as_tensor(DATA.y_train, dtype=torch.float32)[:, None]
    for epoch in range(100):
        for step, idx in enumerate(steps.batch_indices(80, batch_size, seed, epoch), 1):
            loss = nn.functional.mse_loss(hand(x[idx]), y[idx])
            if not math.isfinite(loss.item()):
                return epoch + 1, step
            loss.backward()
            opt.step()
            opt.zero_grad()
    raise AssertionError("no divergence")


def test_divergence_raises_at_the_first_non_finite_loss():
    epoch, step = first_bad_step(lr=0.1, batch_size=16)
    model = document_model()
    trainer = sgd_trainer(model)
    with pytest.raises(DivergenceError) as info:
        trainer.fit(DATA.x_train * 1e3, DATA.y_train, epochs=100, batch_size=16)
    message = str(info.value)
    assert f"at epoch {epoch}, step {step}" in message
    assert "smaller learning rate" in message and "scale the features" in message
    assert "\n" not in message
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert trainer.epoch == epoch - 1 and len(trainer.history) == epoch - 1


class PoisonSGD(torch.optim.SGD):
    """SGD that makes an unused parameter infinite at update number ``at``; the loss
    never sees it, so only the parameter check can catch it. The count lives in the
    optimizer's state, as any optimizer's step count does."""

    def __init__(self, params, at, **kw):
        super().__init__(params, **kw)
        self.at = at

    def step(self, closure=None):
        super().step(closure)
        unused = self.param_groups[0]["params"][-1]
        count = self.state[unused]["updates"] = self.state[unused].get("updates", 0) + 1
        if count == self.at:
            with torch.no_grad():
                unused.fill_(math.inf)


def test_divergence_of_a_parameter_names_the_step_and_keeps_finite_values():
    model = document_model()
    model.unused = nn.Parameter(torch.zeros(2))
    opt = PoisonSGD(model.parameters(), at=13, lr=0.1)  # 5 updates per epoch: epoch 3, step 3
    trainer = Trainer(model, nn.MSELoss(), opt, progress=False)
    with pytest.raises(DivergenceError, match="a parameter became non-finite at epoch 3, step 3"):
        trainer.fit(DATA.x_train, DATA.y_train, epochs=5, batch_size=16)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert trainer.epoch == 2


# ---------------------------------------------------------------- checkpoints, logs


def test_periodic_checkpoints_keep_last_and_best(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / ".last.ckpt.abc.tmp").write_bytes(b"left by a crash")
    trainer = adam_dropout_trainer(checkpoint_dir=folder, checkpoint_every=2, keep_last=2,
                                   keep_best=True)  # fmt: skip
    trainer.fit(DATA.x_train, DATA.y_train, epochs=7, batch_size=16,
                validation_data=(DATA.x_val, DATA.y_val))  # fmt: skip
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["best.ckpt", "epoch-000006.ckpt", "epoch-000007.ckpt", "last.ckpt"]
    last = adam_dropout_trainer()
    last.load_checkpoint(folder / "last.ckpt")
    assert last.epoch == 7 and same(params(last.model), params(trainer.model))
    best = adam_dropout_trainer()
    best.load_checkpoint(folder / "best.ckpt")
    best_epoch = int(np.argmin(trainer.history.val_loss)) + 1
    assert best.epoch == best_epoch


def test_checkpoints_keep_the_global_random_states_restored_only_on_request(tmp_path):
    trainer = adam_dropout_trainer(checkpoint_dir=tmp_path)
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
    trainer.fit(DATA.x_train, DATA.y_train, epochs=2, batch_size=16)  # saves during the fit
    assert torch.equal(torch.get_rng_state(), saved[0])
    fresh, other = adam_dropout_trainer(), adam_dropout_trainer()  # (these seed the model)
    torch.manual_seed(8)
    np.random.seed(8)
    random.seed(8)
    mine = torch.get_rng_state(), np.random.get_state(), random.getstate()
    fresh.load_checkpoint(tmp_path / "last.ckpt")  # leaves mine alone
    assert torch.equal(torch.get_rng_state(), mine[0])
    assert np.array_equal(np.random.get_state()[1], mine[1][1])
    assert random.getstate() == mine[2]
    other.load_checkpoint(tmp_path / "last.ckpt", restore_global_rng=True)
    assert torch.equal(torch.get_rng_state(), saved[0])
    assert np.array_equal(np.random.get_state()[1], saved[1][1])
    assert random.getstate() == saved[2]


def test_checkpoint_refuses_other_models_and_pickles(tmp_path):
    trainer = adam_dropout_trainer()
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    with pytest.raises(CheckpointError, match="built this trainer the same way|same way"):
        sgd_trainer(document_model()).load_checkpoint(tmp_path / "a.ckpt")
    bigger = nn.Sequential(nn.Linear(1, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 1))
    opt = torch.optim.Adam(bigger.parameters())
    other = Trainer(bigger, nn.MSELoss(), opt,
                    scheduler=torch.optim.lr_scheduler.StepLR(opt, 3), progress=False)  # fmt: skip
    with pytest.raises(CheckpointError, match="cannot restore"):
        other.load_checkpoint(tmp_path / "a.ckpt")
    marker = tmp_path / "pwned"
    torch.save({"model": _Payload(marker)}, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="refused"):
        trainer.load_checkpoint(tmp_path / "evil.ckpt")
    assert not marker.exists()
    torch.load(tmp_path / "evil.ckpt", weights_only=False)  # the payload does work when run
    assert marker.exists()


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_csv_log_and_progress_bar(tmp_path, capsys):
    log = tmp_path / "metrics.csv"
    trainer = sgd_trainer(document_model(), csv_log=log, progress=True)
    trainer.fit(DATA.x_train, DATA.y_train, epochs=3, validation_data=(DATA.x_val, DATA.y_val))
    trainer.fit(DATA.x_train, DATA.y_train, epochs=2)
    rows = list(csv.DictReader(log.open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    assert float(rows[0]["train_loss"]) == trainer.history.train_loss[0]
    assert rows[3]["val_loss"] == "" and rows[0]["val_loss"] != ""
    err = capsys.readouterr().err
    assert "val_loss" in err and "epoch" in err
    sgd_trainer(document_model(), progress="auto").fit(DATA.x_train, DATA.y_train, epochs=2)
    assert capsys.readouterr().err == ""  # not a terminal: no bar


def test_tensorboard_needs_its_package(tmp_path, monkeypatch):
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(GradstepError, match="tensorboard"):
            sgd_trainer(document_model(), tensorboard_dir=tmp_path / "tb")
        return
    trainer = sgd_trainer(document_model(), tensorboard_dir=tmp_path / "tb")
    trainer.fit(DATA.x_train, DATA.y_train, epochs=2)
    assert any((tmp_path / "tb").iterdir())


def test_lr_range_test_returns_curve_and_plot_and_leaves_the_trainer_alone():
    trainer = adam_dropout_trainer()
    trainer.fit(DATA.x_train, DATA.y_train, epochs=1, batch_size=16)
    before = params(trainer.model)
    opt_before = trainer.optimizer.state_dict()["param_groups"][0]["lr"]
    result = trainer.lr_range_test(DATA.x_train, DATA.y_train, batch_size=16, num_iter=60)
    assert len(result.losses) == len(result.lrs) <= 60 and result.suggested_lr is not None
    fig, ax = result.plot()
    assert ax.get_xscale() == "log" and len(ax.lines) >= 2
    assert same(params(trainer.model), before)
    assert trainer.optimizer.param_groups[0]["lr"] == opt_before
    trainer.fit(DATA.x_train, DATA.y_train, epochs=1, batch_size=16)
    straight = adam_dropout_trainer()
    straight.fit(DATA.x_train, DATA.y_train, epochs=2, batch_size=16)
    assert same(params(trainer.model), params(straight.model))


def test_lr_range_test_on_the_document_model_finds_a_sane_lr():
    trainer = sgd_trainer(document_model())
    result = trainer.lr_range_test(DATA.x_train, DATA.y_train, start_lr=1e-4, end_lr=10.0)
    assert result.lrs[0] == pytest.approx(1e-4) and np.all(np.diff(result.lrs) > 0)
    assert result.diverged and len(result.lrs) < 100  # SGD blows up well before lr=10
    assert 1e-3 < result.suggested_lr < 1.0


# ---------------------------------------------------------------- inputs


def twin_trainers(make_model, loss_a, loss_b, opt_lr=0.1, **options):
    """Two trainers on identical copies of a model, differing only in the loss."""
    trainers = []
    for loss in (loss_a, loss_b):
        torch.manual_seed(11)
        model = make_model()
        opt = torch.optim.SGD(model.parameters(), lr=opt_lr)
        trainers.append(Trainer(model, loss, opt, progress=False, **options))
    return trainers


def test_multiple_outputs_follow_a_hand_written_loop():
    rng = np.random.RandomState(0)
    x = rng.randn(50, 3).astype(np.float32)
    y = (x @ rng.randn(3, 2) + 0.1 * rng.randn(50, 2)).astype(np.float32)
    torch.manual_seed(1)
    model = nn.Linear(3, 2)
    hand = nn.Linear(3, 2)
    hand.load_state_dict(model.state_dict())
    sgd_trainer(model, seed=4).fit(x, y, epochs=6, batch_size=8)
    opt = torch.optim.SGD(hand.parameters(), lr=0.1)
    for epoch in range(6):
        for idx in steps.batch_indices(50, 8, 4, epoch):
            idx = torch.from_numpy(idx)
            nn.functional.mse_loss(
                hand(torch.from_numpy(x)[idx]), torch.from_numpy(y)[idx]
            ).backward()
            opt.step()
            opt.zero_grad()
    assert same(params(model), params(hand))
    assert sgd_trainer(model).predict(x).shape == (50, 2)


def test_integer_targets_and_plain_function_losses():
    make = lambda: nn.Sequential(nn.Linear(1, 1))  # noqa: E731
    y_int = np.round(DATA.y_train * 3).astype(np.int64)
    # integer regression targets are numbers; a plain function is the same loss as nn.MSELoss
    plain, module = twin_trainers(make, lambda p, t: ((p - t) ** 2).mean(), nn.MSELoss())
    plain.fit(DATA.x_train, y_int, epochs=5, batch_size=16)
    module.fit(DATA.x_train, y_int.astype(np.float64), epochs=5, batch_size=16)
    assert same(params(plain.model), params(module.model))
    assert plain.history.train_loss == module.history.train_loss
    # integer class labels stay labels, for nn.CrossEntropyLoss and for a plain function
    x = np.random.RandomState(0).randn(60, 2)
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    make = lambda: nn.Linear(2, 3)  # noqa: E731
    plain, module = twin_trainers(make, nn.functional.cross_entropy, nn.CrossEntropyLoss())
    plain.fit(x, labels, epochs=5, batch_size=16, validation_data=(x, labels))
    module.fit(x, labels, epochs=5, batch_size=16, validation_data=(x, labels))
    assert same(params(plain.model), params(module.model))
    assert plain.history.val_loss[-1] < plain.history.val_loss[0]


def test_validation_through_a_dataloader_equals_arrays():
    x_val = torch.as_tensor(DATA.x_val, dtype=torch.float32)
    y_val = torch.as_tensor(DATA.y_val, dtype=torch.float32)  # (n,): reshaped like arrays
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_val, y_val), batch_size=7)
    make = lambda: nn.Sequential(nn.Linear(1, 1))  # noqa: E731
    with_loader, with_arrays = twin_trainers(make, nn.MSELoss(), nn.MSELoss())
    with_loader.fit(DATA.x_train, DATA.y_train, epochs=3, validation_data=loader)
    with_arrays.fit(DATA.x_train, DATA.y_train, epochs=3, validation_data=(DATA.x_val, DATA.y_val))
    np.testing.assert_allclose(
        with_loader.history.val_loss, with_arrays.history.val_loss, rtol=1e-6
    )
    assert with_loader.evaluate(loader) == pytest.approx(with_arrays.history.val_loss[-1], rel=1e-6)


def test_predict_takes_tensors_lists_and_1d_input():
    model = document_model(b=1.0, w=2.0)
    trainer = sgd_trainer(model)
    expected = model(torch.tensor([[0.5], [1.5]])).detach().numpy()
    for x in (torch.tensor([[0.5], [1.5]]), [[0.5], [1.5]], [0.5, 1.5], np.array([0.5, 1.5])):
        out = trainer.predict(x)
        assert isinstance(out, np.ndarray) and np.array_equal(out, expected), x
    assert np.array_equal(
        trainer.predict(np.arange(10.0), batch_size=3), 1 + 2 * np.arange(10.0)[:, None]
    )


def test_bad_inputs_get_one_line_errors():
    trainer = sgd_trainer(document_model())
    cases = [
        (lambda: trainer.fit(DATA.x_train, DATA.y_train[:10]), "one row of y per row"),
        (lambda: trainer.fit(DATA.x_train, DATA.y_train, batch_size=500), "larger than the 80"),
        (lambda: trainer.fit(DATA.x_train, DATA.y_train, epochs=0), "epochs=0"),
        (lambda: trainer.fit(np.full((4, 1), np.nan), np.ones(4)), "NaN or inf"),
        (lambda: trainer.fit(DATA.x_train, np.ones((80, 2))), "shape"),
        (lambda: trainer.fit(DATA.x_train), "pass both x and y"),
        (lambda: trainer.fit(DATA.x_train, DATA.y_train, batch_size=0), "batch_size=0"),
        (lambda: trainer.fit(np.ones((80, 3)), DATA.y_train), "cannot take training x of shape"),
        (lambda: trainer.predict(np.ones((4, 3))), "cannot take x of shape \\(3,\\)"),
        (lambda: trainer.predict(0.5), "single number"),
        (lambda: trainer.predict(DATA.x_val, batch_size=0), "batch_size=0"),
        (lambda: sgd_trainer(document_model(), device="tpu"), "device='tpu' is not known"),
        (lambda: EarlyStopping(patience=-1), "patience=-1"),
        (lambda: EarlyStopping(patience=2.5), "patience=2.5"),
        (lambda: EarlyStopping(min_delta="a"), "min_delta='a'"),
        (lambda: EarlyStopping(min_delta=-0.1), "min_delta=-0.1"),
    ]
    for call, fragment in cases:
        with pytest.raises(GradstepError, match=fragment) as info:
            call()
        assert "\n" not in str(info.value)
    with pytest.raises(GradstepError, match="none of the model's parameters"):
        Trainer(document_model(), nn.MSELoss(), torch.optim.SGD(document_model().parameters()))
    with pytest.raises(GradstepError, match="seed"):
        sgd_trainer(document_model(), seed=-1)
    with pytest.raises(GradstepError, match="before training"):
        sgd_trainer(document_model(b=math.nan)).fit(DATA.x_train, DATA.y_train)


def test_import_gradstep_does_not_import_torch():
    code = (
        "import sys, gradstep; print('torch' in sys.modules); "
        "gradstep.Trainer; print('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["False", "True"], proc.stderr
