"""Hostile checkpoints and paths: every load is all or nothing, every refusal one line.

Crafted files carry a *valid* checksum (it is recomputed), so what refuses them is
the check under test, not the checksum.
"""

import copy
import hashlib
import json
import math
import random
import struct

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gradstep import EarlyStopping, GradstepError, Trainer, make_data
from gradstep.checkpoint import (
    MAGIC,
    MAX_DEPTH,
    CheckpointError,
    load_state,
    load_tree,
    save_state,
    save_tree,
)
from gradstep.trainer import loop

DATA = make_data()


def one_line_error(error_type, call, *fragments):
    """Run ``call``; it must raise exactly ``error_type`` with a one-line message."""
    with pytest.raises(GradstepError) as info:
        call()
    message = str(info.value)
    assert type(info.value) is error_type, (type(info.value), message)
    assert "\n" not in message and "Traceback" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# ---------------------------------------------------------------- crafted files


def craft(path, header, data=b""):
    """Write a checkpoint with any header (dict or raw bytes) and a valid checksum."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = MAGIC + struct.pack("<Q", len(raw)) + raw + data
    path.write_bytes(body + hashlib.sha256(body).digest())
    return path


def table_file(path, entries, data, data_nbytes=None):
    header = {
        "meta": {},
        "tensors": entries,
        "data_nbytes": len(data) if data_nbytes is None else data_nbytes,
    }
    return craft(path, header, data)


def entry(offset, nbytes, shape, dtype="float32"):
    return {"dtype": dtype, "shape": shape, "offset": offset, "nbytes": nbytes}


EIGHT = np.arange(2, dtype=np.float32).tobytes()  # 8 bytes: one float32 tensor of 2

TABLES = {  # name: (entries, data, data_nbytes or None, message fragment)
    "size too large": ({"a": entry(0, 16, [2])}, EIGHT * 2, None, "declares 16 bytes"),
    "size too small": ({"a": entry(0, 4, [2])}, EIGHT[:4], None, "declares 4 bytes"),
    "past the data region": ({"a": entry(4, 8, [2])}, EIGHT, None, "outside the data region"),
    "into the digest": ({"a": entry(0, 40, [10])}, EIGHT, None, "outside the data region"),
    "overlapping": (
        {"a": entry(0, 8, [2]), "b": entry(4, 8, [2])},
        EIGHT * 2,
        None,
        "overlaps tensor 'a'",
    ),
    "gap": ({"a": entry(8, 8, [2])}, EIGHT * 2, None, "unaccounted for"),
    "negative offset": ({"a": entry(-8, 8, [2])}, EIGHT, None, "offset -8"),
    "float offset": ({"a": entry(0.0, 8, [2])}, EIGHT, None, "offset 0.0"),
    "string size": ({"a": entry(0, "8", [2])}, EIGHT, None, "size '8'"),
    "negative shape": ({"a": entry(0, 8, [-2])}, EIGHT, None, "shape [-2]"),
    "bool shape": ({"a": entry(0, 4, [True])}, EIGHT[:4], None, "shape [True]"),
    "shape not a list": ({"a": entry(0, 8, "2")}, EIGHT, None, "shape '2'"),
    "too many dims": ({"a": entry(0, 4, [1] * 65)}, EIGHT[:4], None, "at most 64"),
    "unknown dtype": ({"a": entry(0, 8, [1], "object")}, EIGHT, None, "unknown dtype 'object'"),
    "missing field": ({"a": {"dtype": "float32", "shape": [2]}}, EIGHT, None, "no offset"),
    "empty name": ({"": entry(0, 8, [2])}, EIGHT, None, "entry is invalid"),
    "table not an object": ([entry(0, 8, [2])], EIGHT, None, "not a JSON object"),
    "data_nbytes below the file": ({"a": entry(0, 4, [1])}, EIGHT, 4, "declares 4 bytes"),
    "data_nbytes negative": ({}, b"", -1, "data_nbytes=-1"),
    "data_nbytes a string": ({}, b"", "0", "data_nbytes='0'"),
}


class TestTensorTable:
    @pytest.mark.parametrize("case", list(TABLES))
    @pytest.mark.parametrize("as_numpy", [False, True])
    def test_inconsistent_table_is_refused(self, tmp_path, case, as_numpy):
        entries, data, data_nbytes, fragment = TABLES[case]
        path = table_file(tmp_path / "t.ckpt", entries, data, data_nbytes)
        before = path.read_bytes()
        one_line_error(CheckpointError, lambda: load_state(path, as_numpy=as_numpy),
                       str(path), fragment)  # fmt: skip
        assert path.read_bytes() == before

    def test_consistent_table_in_any_order_loads(self, tmp_path):
        entries = {"b": entry(8, 8, [2]), "a": entry(0, 8, [2]), "e": entry(16, 0, [0, 3])}
        path = table_file(tmp_path / "t.ckpt", entries, EIGHT * 2)
        tensors, _ = load_state(path)
        assert torch.equal(tensors["a"], torch.tensor([0.0, 1.0])) and tensors["e"].shape == (0, 3)

    def test_header_that_is_not_the_format_is_refused(self, tmp_path):
        cases = {
            "list": (b"[1, 2]", "exactly meta, tensors and data_nbytes"),
            "extra key": (b'{"meta": {}, "tensors": {}, "data_nbytes": 0, "x": 1}', "exactly"),
            "not utf-8": (b'{"meta": "\xff"}', "not UTF-8 JSON"),
            "not json": (b"{meta}", "not UTF-8 JSON"),
            "huge integer": (b'{"meta": ' + b"9" * 5000 + b"}", "not UTF-8 JSON"),
        }
        for name, (header, fragment) in cases.items():
            path = craft(tmp_path / f"{name}.ckpt", header)
            one_line_error(CheckpointError, lambda p=path: load_state(p), str(path), fragment)


class TestNesting:
    @pytest.mark.parametrize("depth", [MAX_DEPTH, 5000, 200_000])
    def test_deep_json_is_refused_not_a_recursion_error(self, tmp_path, depth):
        meta = b"[" * depth + b"]" * depth
        header = b'{"meta": ' + meta + b', "tensors": {}, "data_nbytes": 0}'
        path = craft(tmp_path / "deep.ckpt", header)
        one_line_error(CheckpointError, lambda: load_state(path), str(path), "levels deep")

    def test_depth_just_inside_the_limit_and_brackets_in_strings_load(self, tmp_path):
        inner = MAX_DEPTH - 1  # the header object itself is one level
        meta = json.loads("[" * inner + "]" * inner)
        save_state(tmp_path / "ok.ckpt", {}, {"deep": meta[0] if inner > 1 else meta,
                                              "text": "[[[[{{{{" * 1000})  # fmt: skip
        _, back = load_state(tmp_path / "ok.ckpt")
        assert back["text"] == "[[[[{{{{" * 1000

    def test_saving_what_could_not_be_loaded_is_refused(self, tmp_path):
        meta = {"x": json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)}
        one_line_error(CheckpointError, lambda: save_state(tmp_path / "a.ckpt", {}, meta),
                       "levels deep")  # fmt: skip
        assert not (tmp_path / "a.ckpt").exists()


class TestCounters:
    @pytest.mark.parametrize(
        "meta, fragment",
        [
            ({"epoch": -1}, "epoch=-1"),
            ({"epoch": 2**53}, "epoch=9007199254740992"),
            ({"epoch": 3.0}, "epoch=3.0"),
            ({"epoch": "3"}, "epoch='3'"),
            ({"epoch": True}, "epoch=True"),
            ({"seed": -1}, "seed=-1"),
            ({"seed": 2**64}, "seed=18446744073709551616"),
            ({"seed": None}, "seed=None"),
        ],
    )
    def test_negative_or_absurd_epoch_and_seed_are_refused(self, tmp_path, meta, fragment):
        path = craft(tmp_path / "c.ckpt", {"meta": meta, "tensors": {}, "data_nbytes": 0})
        one_line_error(CheckpointError, lambda: load_state(path), str(path), fragment)
        one_line_error(CheckpointError, lambda: load_state(path, as_numpy=True), fragment)

    def test_edges_of_the_ranges_load(self, tmp_path):
        meta = {"epoch": 0, "seed": 2**64 - 1}
        craft(tmp_path / "c.ckpt", {"meta": meta, "tensors": {}, "data_nbytes": 0})
        assert load_state(tmp_path / "c.ckpt")[1] == meta

    def test_counters_of_an_object_tree_are_checked(self, tmp_path):
        save_tree(tmp_path / "t.ckpt", {"epoch": -3, "seed": 1}, kind="test")
        one_line_error(CheckpointError, lambda: load_tree(tmp_path / "t.ckpt", kind="test"),
                       "epoch=-3")  # fmt: skip


class TestObjectTree:
    @pytest.mark.parametrize(
        "tree, fragment",
        [
            ({"a": {"__gs_tensor__": "t9"}}, "'t9' is not in the file"),
            ({"a": {"__gs_tensor__": "t0"}, "b": {"__gs_tensor__": "t0"}}, "'t0' is used twice"),
            ({"a": {"__gs_tensor__": ["t0"]}}, "not in the file"),
            ({"a": {"__gs_tuple__": "abc"}}, "not a list"),
            ({"a": {"__gs_dict__": [[1, 2, 3]]}}, "[key, value] pairs"),
            ({"a": {"__gs_dict__": [[[{}], 1]]}}, "unhashable"),
        ],
    )
    def test_bad_placeholders_are_refused(self, tmp_path, tree, fragment):
        path = tmp_path / "t.ckpt"
        save_state(path, {"t0": np.zeros(2)}, {"kind": "test", "tree": tree})
        one_line_error(CheckpointError, lambda: load_tree(path, kind="test"), str(path), fragment)


# ---------------------------------------------------------------- Trainer.load_checkpoint


def loader(seed):
    data = TensorDataset(torch.as_tensor(DATA.x_train, dtype=torch.float32),
                         torch.as_tensor(DATA.y_train, dtype=torch.float32))  # fmt: skip
    return DataLoader(
        data, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )


def build(seed=0, width=8, optimizer=torch.optim.Adam):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, 1))
    opt = optimizer(model.parameters(), lr=0.01)
    return Trainer(model, nn.MSELoss(), opt, seed=seed, progress=False, record_steps=True,
                   scheduler=torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
                   early_stopping=EarlyStopping(patience=50))  # fmt: skip


@pytest.fixture(scope="module")
def saved_state():
    trainer = build(seed=0)
    trainer.fit(loader(1), epochs=3)
    return trainer.state_dict()


@pytest.fixture
def target():
    """A trainer in the middle of a run of its own, with state in every part."""
    trainer = build(seed=5)
    trainer.fit(loader(6), epochs=1)
    return trainer


def snapshot(trainer):
    return {
        "model": {k: v.clone() for k, v in trainer.model.state_dict().items()},
        "optimizer": copy.deepcopy(trainer.optimizer.state_dict()),
        "scheduler": copy.deepcopy(trainer.scheduler.state_dict()),
        "early_stopping": copy.deepcopy(trainer.early_stopping.state_dict()),
        "history": (id(trainer.history), copy.deepcopy(trainer.history.state_dict())),
        "trainer": (trainer.epoch, trainer.seed, trainer._pending_generator_states),
        "loader": [g.get_state() for g in trainer._generators],
        "global": (torch.get_rng_state(), np.random.get_state(), random.getstate()),
    }


def equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(equal, a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def assert_refused_and_unchanged(trainer, path, *fragments):
    before = snapshot(trainer)
    message = one_line_error(
        CheckpointError,
        lambda: trainer.load_checkpoint(path, restore_global_rng=True),
        str(path),
        *fragments,
    )
    after = snapshot(trainer)
    changed = [part for part in before if not equal(before[part], after[part])]
    assert not changed, (changed, message)
    return message


def setitem(*keys_and_value):
    *keys, value = keys_and_value

    def damage(state):
        node = state
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value(node[keys[-1]]) if callable(value) else value

    return damage


def delitem(*keys):
    def damage(state):
        node = state
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return damage


DAMAGE = {  # kind: {case: (damage, section named in the message)}
    "sections": {
        "missing rng": (delitem("rng"), "missing: rng"),
        "unknown section": (setitem("evil", 1), "unknown: evil"),
        "other optimizer class": (setitem("classes", "optimizer", "SGD"), "optimizer=SGD"),
    },
    "model": {
        "other shape": (setitem("model", "0.weight", torch.zeros(9, 1)), "'model'"),
        "other dtype": (setitem("model", "0.bias", lambda t: t.double()), "float64"),
        "missing tensor": (delitem("model", "2.bias"), "missing: 2.bias"),
        "unexpected tensor": (setitem("model", "3.weight", torch.zeros(1)), "unexpected"),
        "not a tensor": (setitem("model", "0.bias", [0.0] * 8), "'model'"),
        "bad metadata": (setitem("model_metadata", [1]), "model_metadata"),
    },
    "optimizer": {
        "state of another shape": (
            setitem("optimizer", "state", 0, "exp_avg", torch.zeros(3)),
            "'exp_avg'",
        ),
        "step not a number": (setitem("optimizer", "state", 0, "step", "one"), "'step'"),
        "state for no parameter": (
            setitem("optimizer", "state", 99, {"step": torch.tensor(1.0)}),
            "parameter id 99",
        ),
        "lr a string": (setitem("optimizer", "param_groups", 0, "lr", "0.1"), "'lr'"),
        "betas too short": (setitem("optimizer", "param_groups", 0, "betas", (0.9,)), "'betas'"),
        "missing hyperparameter": (delitem("optimizer", "param_groups", 0, "eps"), "'eps'"),
        "extra group": (setitem("optimizer", "param_groups", lambda g: g + g), "2 parameter"),
        "fewer parameter ids": (
            setitem("optimizer", "param_groups", 0, "params", [0, 1]),
            "lists 2 parameter ids",
        ),
        "repeated parameter id": (
            setitem("optimizer", "param_groups", 0, "params", [0, 0, 1, 2]),
            "appears twice",
        ),
        "state not a dict": (setitem("optimizer", "state", [1]), "'state' is not a dict"),
    },
    "scheduler": {
        "sets the optimizer": (setitem("scheduler", "optimizer", 1), "unknown keys: optimizer"),
        "sets a method": (setitem("scheduler", "step", 1), "unknown keys: step"),
        "last_epoch a string": (setitem("scheduler", "last_epoch", "3"), "'last_epoch'"),
        "missing": (setitem("scheduler", None), "'scheduler' is None"),
    },
    "early_stopping": {
        "best_epoch after the checkpoint": (
            setitem("early_stopping", "best_epoch", 7),
            "best_epoch",
        ),
        "negative wait": (setitem("early_stopping", "wait", -1), "wait=-1"),
        "sets patience": (setitem("early_stopping", "patience", 0), "'early_stopping'"),
        "best state of another shape": (
            setitem("early_stopping", "best_state", "0.weight", torch.zeros(2, 2)),
            "best_state",
        ),
        "best is NaN": (setitem("early_stopping", "best", math.nan), "best=nan"),
    },
    "history": {
        "a list too short": (setitem("history", "train_loss", lambda v: v[:-1]), "'train_loss'"),
        "a loss not a number": (setitem("history", "lr", [0.01, "x", 0.005]), "'lr'"),
        "epochs renumbered": (setitem("history", "epoch", [1, 2, 4]), "'epoch'"),
        "steps of another width": (setitem("history", "steps", torch.zeros(4, 3)), "'steps'"),
        "other param_shapes": (setitem("history", "param_shapes", {"w": [1]}), "param_shapes"),
        "missing key": (delitem("history", "seconds"), "'history'"),
    },
    "epoch and seed": {
        "epoch beyond the history": (setitem("epoch", 4), "'history'"),
        "negative epoch": (setitem("epoch", -1), "epoch=-1"),
        "absurd epoch": (setitem("epoch", 10**30), "epoch=1000000000000000000000000000000"),
        "negative seed": (setitem("seed", -5), "seed=-5"),
        "seed beyond 64 bits": (setitem("seed", 2**64), "seed=18446744073709551616"),
    },
    "rng": {
        "torch state cut": (setitem("rng", "torch", lambda t: t[:100]), "'rng.torch'"),
        "torch state garbage": (setitem("rng", "torch", lambda t: t.fill_(255)), "'rng.torch'"),
        "cuda not a list": (setitem("rng", "cuda", 3), "'rng.cuda'"),
        "numpy position past the key": (
            setitem("rng", "numpy", lambda s: (*s[:2], 10_000, *s[3:])),
            "'rng.numpy'",
        ),
        "numpy key too short": (
            setitem("rng", "numpy", lambda s: (s[0], s[1][:10], *s[2:])),
            "'rng.numpy'",
        ),
        "python state garbage": (setitem("rng", "python", (3, (1, 2), None)), "'rng.python'"),
        "loader state cut": (setitem("rng", "loader", lambda v: [v[0][:7]]), "'rng.loader[0]'"),
        "loader not a list": (setitem("rng", "loader", "x"), "'rng.loader'"),
    },
}
CASES = [(kind, case) for kind, cases in DAMAGE.items() for case in cases]


class TestTrainerLoadIsAllOrNothing:
    @pytest.mark.parametrize("kind, case", CASES, ids=[f"{k}: {c}" for k, c in CASES])
    def test_damaged_section_changes_nothing(self, tmp_path, saved_state, target, kind, case):
        damage, fragment = DAMAGE[kind][case]
        state = copy.deepcopy(saved_state)
        damage(state)
        path = tmp_path / "damaged.ckpt"
        save_tree(path, state, kind=loop.CHECKPOINT_KIND)  # a valid checksum
        assert_refused_and_unchanged(target, path, fragment)
        save_tree(path, saved_state, kind=loop.CHECKPOINT_KIND)
        target.load_checkpoint(path)  # the same trainer still takes a good one
        assert target.epoch == 3 and equal(target.model.state_dict(), saved_state["model"])

    def test_checkpoint_of_another_models_shape(self, tmp_path, target):
        other = build(seed=0, width=16)
        other.fit(loader(1), epochs=2)
        other.save_checkpoint(tmp_path / "wide.ckpt")
        assert_refused_and_unchanged(target, tmp_path / "wide.ckpt", "'model'", "shape [16, 1]",
                                     "same way")  # fmt: skip

    def test_failure_while_restoring_is_undone(self, tmp_path, saved_state, target, monkeypatch):
        """Should torch still fail after the checks, the snapshot puts everything back."""

        def broken(*args, **kwargs):
            raise RuntimeError("the generator refused its state")

        monkeypatch.setattr(loop, "set_rng_states", broken)  # runs after model, optimizer...
        save_tree(tmp_path / "a.ckpt", saved_state, kind=loop.CHECKPOINT_KIND)
        assert_refused_and_unchanged(target, tmp_path / "a.ckpt", "refused its state")

    def test_fresh_trainer_is_unchanged_too(self, tmp_path, saved_state):
        fresh = build(seed=5)
        state = copy.deepcopy(saved_state)
        state["history"]["lr"] = state["history"]["lr"][:1]
        save_tree(tmp_path / "a.ckpt", state, kind=loop.CHECKPOINT_KIND)
        assert_refused_and_unchanged(fresh, tmp_path / "a.ckpt", "'lr'")


# ---------------------------------------------------------------- Trainer paths


def trainer_with(**paths):
    model = nn.Linear(1, 1)
    return Trainer(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                   progress=False, **paths)  # fmt: skip


class TestTrainerPaths:
    @pytest.mark.parametrize("name", ["checkpoint_dir", "tensorboard_dir"])
    def test_folder_argument_at_an_existing_file(self, tmp_path, name):
        (tmp_path / "taken").write_text("mine")
        one_line_error(GradstepError, lambda: trainer_with(**{name: tmp_path / "taken"}),
                       f"{name}=", "existing file, not a folder")  # fmt: skip
        assert (tmp_path / "taken").read_text() == "mine"

    @pytest.mark.parametrize("name", ["checkpoint_dir", "tensorboard_dir", "csv_log"])
    def test_path_inside_a_file(self, tmp_path, name):
        (tmp_path / "taken").write_text("mine")
        inside = tmp_path / "taken" / "a" / "b"
        one_line_error(GradstepError, lambda: trainer_with(**{name: inside}),
                       f"{name}=", "lies inside", "which is a file")  # fmt: skip
        assert (tmp_path / "taken").read_text() == "mine"

    def test_csv_log_at_an_existing_folder(self, tmp_path):
        one_line_error(GradstepError, lambda: trainer_with(csv_log=tmp_path),
                       "csv_log=", "existing folder, not a file")  # fmt: skip

    def test_path_of_the_wrong_type(self):
        one_line_error(GradstepError, lambda: trainer_with(csv_log=3), "csv_log=3")

    def test_good_paths_are_accepted(self, tmp_path):
        (tmp_path / "old.csv").write_text("epoch\n")  # rewritten at the next fit, as before
        trainer = trainer_with(csv_log=tmp_path / "old.csv", checkpoint_dir=tmp_path / "new" / "ck")
        assert trainer.csv_log is not None and trainer.checkpoints is not None

    def test_seed_beyond_64_bits_is_refused_at_construction(self):
        model = nn.Linear(1, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        one_line_error(GradstepError, lambda: Trainer(model, nn.MSELoss(), opt, seed=2**64),
                       "seed=18446744073709551616")  # fmt: skip
        assert Trainer(model, nn.MSELoss(), opt, seed=2**64 - 1).seed == 2**64 - 1
