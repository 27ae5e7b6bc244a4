"""The checkpoint format: round trips, refusal of pickles, damaged files, atomic writes."""

import os
import pickle
import random
import zipfile

import numpy as np
import pytest
import torch

from gradstep import GradstepError
from gradstep import checkpoint as ckpt
from gradstep.checkpoint import CheckpointError, load_state, load_tree, save_state, save_tree


def sample_tree():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.rand(4, 3)).sum().backward()
    opt.step()
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),  # int keys, tensors, tuples (betas), floats
        "numpy_rng": np.random.RandomState(3).get_state(),
        "python_rng": random.Random(3).getstate(),
        "torch_rng": torch.Generator().manual_seed(3).get_state(),
        "specials": [float("nan"), float("inf"), -0.0, None, True, 2**70, "text"],
        "odd_keys": {(1, 2): "tuple key", 3.5: "float key", "__gs_tensor__": "looks like a tag"},
        "empty": torch.empty(0, 3),
        "scalar": torch.tensor(2.5, dtype=torch.bfloat16),
        "array": np.arange(6, dtype=np.uint32).reshape(2, 3),
        "view": torch.arange(10.0)[::3],
    }


def assert_same(a, b):
    if isinstance(a, dict):  # an OrderedDict comes back as a dict
        assert isinstance(b, dict)
    else:
        assert type(a) is type(b), (a, b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b and repr(a) == repr(b)


def test_tree_round_trip_is_exact(tmp_path):
    tree = sample_tree()
    save_tree(tmp_path / "a.ckpt", tree, kind="test")
    assert_same(tree, load_tree(tmp_path / "a.ckpt", kind="test"))


def test_loaded_states_are_usable(tmp_path):
    tree = sample_tree()
    save_tree(tmp_path / "a.ckpt", tree, kind="test")
    back = load_tree(tmp_path / "a.ckpt", kind="test")
    rng = np.random.RandomState()
    rng.set_state(back["numpy_rng"])
    assert rng.rand() == np.random.RandomState(3).rand()
    py = random.Random()
    py.setstate(back["python_rng"])
    assert py.random() == random.Random(3).random()
    opt = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    opt.load_state_dict(back["optimizer"])


def test_save_state_load_state_api(tmp_path):
    path = tmp_path / "sub" / "state.ckpt"
    save_state(path, {"w": np.array([1.5, 2.5]), "b": torch.tensor([0.5])}, {"epoch": 3})
    tensors, meta = load_state(path)
    assert meta == {"epoch": 3}
    assert torch.equal(tensors["w"], torch.tensor([1.5, 2.5], dtype=torch.float64))
    assert isinstance(tensors["b"], torch.Tensor)
    assert [p.name for p in path.parent.iterdir()] == ["state.ckpt"]  # no temporary left


def test_unsupported_values_are_refused_at_save(tmp_path):
    with pytest.raises(CheckpointError, match="function"):
        save_tree(tmp_path / "a.ckpt", {"f": lambda: 0}, kind="test")
    with pytest.raises(CheckpointError, match="JSON"):
        save_state(tmp_path / "a.ckpt", {}, {"x": object()})
    with pytest.raises(CheckpointError, match="dtype"):
        save_state(tmp_path / "a.ckpt", {"s": np.array(["a"])}, {})
    assert not (tmp_path / "a.ckpt").exists()


class Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    if writer == "pickle":
        path.write_bytes(pickle.dumps({"model": Payload(marker)}))
    else:
        torch.save({"model": Payload(marker)}, path)
        assert zipfile.is_zipfile(path)
    with pytest.raises(CheckpointError, match="refused") as info:
        load_state(path)
    assert "can run code" in str(info.value)
    assert not marker.exists()
    assert isinstance(info.value, GradstepError)
    pickle.loads(pickle.dumps(Payload(marker)))  # the payload does run when unpickled
    assert marker.exists()


def test_pickle_behind_valid_magic_is_still_never_unpickled(tmp_path):
    """A file with our header whose 'tensor bytes' are a pickle: bytes stay bytes."""
    marker = tmp_path / "pwned"
    save_state(
        tmp_path / "a.ckpt", {"x": np.frombuffer(pickle.dumps(Payload(marker)), np.uint8)}, {}
    )
    tensors, _ = load_state(tmp_path / "a.ckpt")
    assert tensors["x"].dtype == torch.uint8
    assert not marker.exists()


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.ckpt"
    save_tree(path, sample_tree(), kind="test")
    return path


@pytest.mark.parametrize("keep", [0, 5, 17, 100, -40, -1])
def test_truncated_file_gets_a_clear_error(good_file, keep):
    data = good_file.read_bytes()
    good_file.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(CheckpointError) as info:
        load_state(good_file)
    message = str(info.value)
    assert str(good_file) in message and "\n" not in message
    expected = {0: "empty", 5: "not a gradstep"}.get(keep, "truncated")  # 5: inside the magic
    assert expected in message


@pytest.mark.parametrize("where", ["header", "data", "digest", "append"])
def test_altered_file_gets_a_checksum_error(good_file, where):
    data = bytearray(good_file.read_bytes())
    if where == "append":
        data += b"junk"
    else:
        index = {"header": 30, "data": len(data) - 100, "digest": len(data) - 1}[where]
        data[index] ^= 0x01
    good_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum does not match"):
        load_state(good_file)


def test_missing_file_folder_and_foreign_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_state(tmp_path / "nope.ckpt")
    with pytest.raises(CheckpointError, match="folder"):
        load_state(tmp_path)
    (tmp_path / "x.ckpt").write_text("epoch,loss\n1,0.5\n")
    with pytest.raises(CheckpointError, match="unknown format"):
        load_state(tmp_path / "x.ckpt")


def test_wrong_kind_is_refused(good_file):
    with pytest.raises(CheckpointError, match="not 'trainer'"):
        load_tree(good_file, kind="trainer")


def test_failed_write_keeps_the_previous_checkpoint(good_file, monkeypatch):
    before = good_file.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.hashlib, "sha256", crash)
    with pytest.raises(OSError, match="disk full"):
        save_tree(good_file, {"x": torch.zeros(3)}, kind="test")
    assert good_file.read_bytes() == before
    assert sorted(os.listdir(good_file.parent)) == ["good.ckpt"]


def test_numpy_round_trip_never_imports_torch(tmp_path):
    """NumPy runs save and load checkpoints without paying for a torch import."""
    import subprocess
    import sys

    code = f"""
import sys
import numpy as np
from gradstep.checkpoint import load_state, save_state
arrays = {{"w": np.arange(6.0).reshape(2, 3), "n": np.array([7], dtype=np.int64)}}
save_state({str(tmp_path / "a.ckpt")!r}, arrays, {{"epoch": 3}})
back, meta = load_state({str(tmp_path / "a.ckpt")!r}, as_numpy=True)
assert meta == {{"epoch": 3}}
assert all(np.array_equal(back[k], arrays[k]) and back[k].dtype == arrays[k].dtype for k in arrays)
print("torch" in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
