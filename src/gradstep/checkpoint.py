"""Atomic, checksummed checkpoints that are loaded without unpickling anything.

Format (decision)
-----------------
One file, written by gradstep's own ~40-line format instead of ``torch.save``:

====================  =====================================================
bytes                 what they hold
====================  =====================================================
8                     magic ``b"GSCKPT\\x00\\x01"`` (the last byte is the version)
8                     ``H``: length of the header, unsigned 64-bit little-endian
``H``                 header, UTF-8 JSON: ``{"meta": ..., "tensors": {name:
                      {"dtype", "shape", "offset", "nbytes"}}, "data_nbytes"}``
``data_nbytes``       the raw little-endian bytes of every tensor, back to back
32                    SHA-256 of everything before it
====================  =====================================================

Why not ``torch.save``: its files are pickles, and even ``weights_only=True``
leaves a pickle parser between a downloaded file and the process. Here the
loader only ever runs ``json.loads`` and ``torch.frombuffer``: a pickle (or
anything else) is refused by the magic bytes before a byte of it is
interpreted, so its payload cannot run. Why not safetensors: it would be a new
dependency for what is a header, a JSON blob and raw bytes. The checksum covers
the whole file, so a truncated or altered file is reported as such (never loaded
half-way), and files are written through :func:`gradstep.files.atomic_path`
(temporary file in the same folder, fsync, rename), so a crash while writing
leaves the previous checkpoint intact.

Two layers:

* :func:`save_state` / :func:`load_state`: named tensors (``torch.Tensor`` or
  ``np.ndarray``) plus a JSON-serialisable ``meta`` dict.
* :func:`save_tree` / :func:`load_tree`: any nesting of dicts (any keys), lists,
  tuples, numbers, strings, None, tensors and NumPy arrays — enough for model,
  optimizer and scheduler ``state_dict()`` s and every RNG state — split by
  :func:`pack` into tensors and a JSON tree with placeholders. Anything else
  (a function, an arbitrary object) is refused at save time with a clear error.

torch is imported inside the functions, so ``from gradstep.checkpoint import
CheckpointError`` stays light.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gradstep.errors import GradstepError
from gradstep.files import atomic_path

MAGIC = b"GSCKPT\x00\x01"
_DIGEST = 32
_PREFIX = len(MAGIC) + 8
# Supported dtypes by name; the same names are used for NumPy and torch.
_DTYPES = (
    *("float64", "float32", "float16", "bfloat16", "complex64", "complex128", "bool"),
    *("int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64"),
)
# Tags for what JSON cannot hold directly (see pack()).
_TENSOR, _NDARRAY, _TUPLE, _DICT = "__gs_tensor__", "__gs_ndarray__", "__gs_tuple__", "__gs_dict__"


class CheckpointError(GradstepError):
    """A checkpoint that cannot be written or read: missing, truncated, altered, foreign."""


# ---------------------------------------------------------------- tensors + meta


def save_state(path: str | os.PathLike, tensors: dict, meta: dict) -> None:
    """Write ``tensors`` (name -> ``torch.Tensor`` or ``np.ndarray``) and ``meta`` atomically.

    ``meta`` must be JSON-serialisable (NaN and infinities are allowed). torch is
    imported only when a value is not a NumPy array.
    """
    entries, chunks, offset = {}, [], 0
    for name, value in tensors.items():
        if not isinstance(name, str) or not name:
            raise CheckpointError(f"tensor names must be non-empty strings, got {name!r}")
        raw, dtype, shape = _tensor_bytes(name, value)
        entries[name] = {"dtype": dtype, "shape": shape, "offset": offset, "nbytes": len(raw)}
        chunks.append(raw)
        offset += len(raw)
    try:
        header = json.dumps(
            {"meta": meta, "tensors": entries, "data_nbytes": offset}, allow_nan=True
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint meta is not JSON-serialisable: {exc}") from None
    body = b"".join([MAGIC, struct.pack("<Q", len(header)), header, *chunks])
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(body)
        fh.write(hashlib.sha256(body).digest())


def load_state(path: str | os.PathLike, as_numpy: bool = False) -> tuple[dict, dict]:
    """Read a file written by :func:`save_state`: ``(name -> torch.Tensor, meta)``.

    With ``as_numpy`` the values are NumPy arrays and torch is not imported (for
    NumPy runs, where importing torch would cost more than the whole load). The
    checksum is verified before anything is decoded. Raises
    :class:`CheckpointError` with one line saying what is wrong with the file.
    """
    decode = _array_from_bytes if as_numpy else _tensor_from_bytes
    path = Path(path)
    data = _read_bytes(path)
    header = _verified_header(path, data)
    start = _PREFIX + header["_length"]
    tensors = {}
    try:
        for name, entry in header["tensors"].items():
            begin = start + int(entry["offset"])
            raw = data[begin : begin + int(entry["nbytes"])]
            tensors[name] = decode(raw, entry["dtype"], entry["shape"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's tensor table is invalid ({exc})") from None
    return tensors, header["meta"]


def _tensor_bytes(name: str, value) -> tuple[bytes, str, list[int]]:
    if isinstance(value, np.ndarray):
        if value.dtype.name not in _DTYPES:
            raise CheckpointError(
                f"array {name!r} has dtype {value.dtype}, which a checkpoint cannot hold; "
                f"use one of {', '.join(_DTYPES)}"
            )
        return np.ascontiguousarray(value).tobytes(), value.dtype.name, list(value.shape)
    import torch

    if not isinstance(value, torch.Tensor):
        raise CheckpointError(f"{name!r} is a {type(value).__name__}, not a tensor or array")
    if value.layout != torch.strided:
        raise CheckpointError(f"tensor {name!r} is {value.layout}; only dense tensors are stored")
    dtype = str(value.dtype).removeprefix("torch.")
    if dtype not in _DTYPES:
        raise CheckpointError(f"tensor {name!r} has dtype {value.dtype}, which is not supported")
    flat = value.detach().to("cpu").contiguous().reshape(-1)
    raw = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
    return raw, dtype, list(value.shape)


def _array_from_bytes(raw: bytes, dtype: str, shape: list[int]) -> np.ndarray:
    if dtype not in _DTYPES or dtype == "bfloat16":
        raise ValueError(f"dtype {dtype!r} cannot be read as a NumPy array")
    return np.frombuffer(raw, dtype=dtype).reshape([int(s) for s in shape]).copy()


def _tensor_from_bytes(raw: bytes, dtype: str, shape: list[int]):
    import torch

    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}")
    torch_dtype = getattr(torch, dtype)
    shape = [int(s) for s in shape]
    if not raw:
        return torch.empty(shape, dtype=torch_dtype)
    return torch.frombuffer(bytearray(raw), dtype=torch_dtype).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder; pass the checkpoint file inside it") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({exc.strerror})") from None


def _verified_header(path: Path, data: bytes) -> dict:
    if not data.startswith(MAGIC):
        raise CheckpointError(f"{path}: {_what_it_is(data)}")
    if len(data) < _PREFIX + _DIGEST:
        raise CheckpointError(f"{path}: the checkpoint is truncated ({len(data)} bytes)")
    (length,) = struct.unpack("<Q", data[len(MAGIC) : _PREFIX])
    header = None
    if len(data) < _PREFIX + length + _DIGEST:  # cut inside the header
        expected = _PREFIX + length + _DIGEST
    else:
        try:
            header = json.loads(data[_PREFIX : _PREFIX + length].decode("utf-8"))
            expected = _PREFIX + length + int(header["data_nbytes"]) + _DIGEST
        except (ValueError, KeyError, TypeError):
            expected = None
    if expected is not None and len(data) < expected:
        raise CheckpointError(
            f"{path}: the checkpoint is truncated ({len(data)} of at least {expected} bytes); "
            "it was not written completely — use an earlier checkpoint"
        )
    if hashlib.sha256(data[:-_DIGEST]).digest() != data[-_DIGEST:] or expected != len(data):
        raise CheckpointError(
            f"{path}: the checkpoint's checksum does not match its content; "
            "the file was altered or damaged — use another checkpoint"
        )
    if sys.byteorder != "little":  # pragma: no cover - no big-endian CI
        raise CheckpointError("checkpoints hold little-endian data; this machine is big-endian")
    header["_length"] = length
    return header


def _what_it_is(data: bytes) -> str:
    if not data:
        return "the checkpoint file is empty"
    if data[:1] == b"\x80" or data[:2] in (b"(d", b"(l", b"}q", b"]q"):
        kind = "a Python pickle"
    elif data.startswith(b"PK\x03\x04"):
        kind = "a zip archive (torch.save writes these; they contain pickles)"
    else:
        return "not a gradstep checkpoint (unknown format); refusing to load it"
    return (
        f"not a gradstep checkpoint: it is {kind}, which can run code when loaded; "
        "gradstep never unpickles checkpoints and refused it without reading it"
    )


# ---------------------------------------------------------------- nested objects


def pack(tree: Any) -> tuple[dict, Any]:
    """Split a nested structure into ``(tensors, json_tree)`` for :func:`save_state`.

    Tensors and arrays become ``{"__gs_tensor__": key}`` / ``{"__gs_ndarray__": key}``
    placeholders (``key`` names the entry in ``tensors``); tuples and dicts whose keys
    are not all strings are tagged so that :func:`unpack` restores them exactly.
    NumPy scalars become Python numbers.
    """
    import torch

    tensors: dict = {}

    def walk(obj, where):
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return obj.item()
        if isinstance(obj, torch.Tensor):
            key = f"t{len(tensors)}"
            tensors[key] = obj
            return {_TENSOR: key}
        if isinstance(obj, np.ndarray):
            key = f"t{len(tensors)}"
            tensors[key] = obj
            return {_NDARRAY: key}
        if isinstance(obj, tuple):
            return {_TUPLE: [walk(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            if all(isinstance(k, str) and not k.startswith("__gs_") for k in obj):
                return {k: walk(v, f"{where}.{k}") for k, v in obj.items()}
            return {_DICT: [[walk(k, where), walk(v, f"{where}[{k!r}]")] for k, v in obj.items()]}
        raise CheckpointError(
            f"cannot store {where} in a checkpoint: it is a {type(obj).__name__}; checkpoints "
            "hold only tensors, arrays, numbers, strings, lists, tuples and dicts"
        )

    return tensors, walk(tree, "state")


def unpack(tensors: dict, tree: Any) -> Any:
    """The inverse of :func:`pack`."""

    def walk(obj):
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        if len(obj) == 1:
            ((tag, value),) = obj.items()
            if tag == _TENSOR:
                return tensors[value]
            if tag == _NDARRAY:
                return tensors[value].numpy()
            if tag == _TUPLE:
                return tuple(walk(v) for v in value)
            if tag == _DICT:
                return {_hashable(walk(k)): walk(v) for k, v in value}
        return {k: walk(v) for k, v in obj.items()}

    try:
        return walk(tree)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"the checkpoint's object tree is invalid ({exc})") from None


def _hashable(key):
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key


def save_tree(path: str | os.PathLike, tree: Any, *, kind: str) -> None:
    """Write a nested structure (see :func:`pack`), labelled ``kind``, atomically."""
    tensors, packed = pack(tree)
    save_state(path, tensors, {"kind": kind, "tree": packed})


def load_tree(path: str | os.PathLike, *, kind: str) -> Any:
    """Read a file written by :func:`save_tree` with the same ``kind``."""
    tensors, meta = load_state(path)
    found = meta.get("kind") if isinstance(meta, dict) else None
    if found != kind:
        raise CheckpointError(
            f"{path}: this checkpoint holds {found or 'something else'!r}, not {kind!r}"
        )
    return unpack(tensors, meta.get("tree"))
