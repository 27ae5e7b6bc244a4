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
import math
import os
import re
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
# Bytes per element, so a declared size can be checked without importing torch.
_ITEMSIZE = {
    **{"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "complex64": 8},
    **{"complex128": 16, "bool": 1, "int64": 8, "int32": 4, "int16": 2, "int8": 1},
    **{"uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8},
}
# Deeper headers are refused unread: far beyond any state_dict (about 10 levels),
# well within Python's recursion limit for json.loads and unpack().
MAX_DEPTH = 100
_MAX_DIMS = 64  # torch's limit on tensor dimensions
_MAX_EPOCH = 2**53  # beyond it an epoch count is no longer exact in the float64 histories
_MAX_SEED = 2**64
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
    if json_depth(header) > MAX_DEPTH:  # never write what load_state would refuse
        raise CheckpointError(
            f"checkpoint meta nests more than {MAX_DEPTH} levels deep; flatten it before saving"
        )
    body = b"".join([MAGIC, struct.pack("<Q", len(header)), header, *chunks])
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(body)
        fh.write(hashlib.sha256(body).digest())


def load_state(path: str | os.PathLike, as_numpy: bool = False) -> tuple[dict, dict]:
    """Read a file written by :func:`save_state`: ``(name -> torch.Tensor, meta)``.

    With ``as_numpy`` the values are NumPy arrays and torch is not imported (for
    NumPy runs, where importing torch would cost more than the whole load). The
    checksum is verified before anything is decoded, and so is every entry of the
    tensor table (dtype, shape, size, offset: the tensors must tile the data region
    exactly), the header's nesting depth (at most ``MAX_DEPTH``) and, in ``meta``,
    ``epoch`` (in ``[0, 2**53)``) and ``seed`` (in ``[0, 2**64)``). Raises
    :class:`CheckpointError` with one line saying what is wrong with the file.
    """
    decode = _array_from_bytes if as_numpy else _tensor_from_bytes
    path = Path(path)
    data = _read_bytes(path)
    header = _verified_header(path, data)
    start = _PREFIX + header["_length"]
    table = _checked_table(path, header["tensors"], header["data_nbytes"])
    tensors = {}
    for name, (dtype, shape, offset, nbytes) in table.items():
        raw = data[start + offset : start + offset + nbytes]
        try:
            tensors[name] = decode(raw, dtype, shape)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: tensor {name!r} cannot be read ({exc})") from None
    check_counters(header["meta"], path, "meta")
    return tensors, header["meta"]


def check_counters(mapping, path, section: str) -> None:
    """Refuse an ``epoch`` or ``seed`` entry of ``mapping`` that no run could have written.

    Both writers (``gradstep train`` and the Trainer) keep them at the top of what
    they store; a crafted file with a valid checksum must still not smuggle in a
    negative epoch (it would index histories from the end) or a seed outside 64 bits.
    """
    if not isinstance(mapping, dict):
        return
    limits = {"epoch": (0, _MAX_EPOCH), "seed": (0, _MAX_SEED)}
    for key, (low, high) in limits.items():
        if key not in mapping:
            continue
        value = mapping[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value < high:
            raise CheckpointError(
                f"{path}: {section} holds {key}={_short(value)}, which must be a whole number "
                f"in [{low}, {_power_of_two(high)}); the file was crafted or damaged — "
                "use another checkpoint"
            )


def _power_of_two(value: int) -> str:
    return f"2**{value.bit_length() - 1}"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _checked_table(path: Path, table, data_nbytes: int) -> dict:
    """``name -> (dtype, shape, offset, nbytes)``, every entry checked against the file.

    The tensors must tile the data region exactly, in some order: each starts where
    the previous one ends, none reaches past ``data_nbytes`` and none is left out.
    That refuses entries that would read header or digest bytes, overlap another
    tensor, or declare a size their shape and dtype do not have.
    """
    if not isinstance(table, dict):
        raise CheckpointError(f"{path}: the checkpoint's tensor table is not a JSON object")
    entries = {name: _checked_entry(path, name, entry) for name, entry in table.items()}
    end, last = 0, None
    for name, (_, _, offset, nbytes) in sorted(entries.items(), key=lambda item: item[1][2:]):
        where = f"{path}: tensor {name!r} (bytes {offset} to {offset + nbytes})"
        if offset + nbytes > data_nbytes:
            raise CheckpointError(
                f"{where} lies outside the data region of {data_nbytes} bytes; "
                "the file was crafted or damaged — use another checkpoint"
            )
        if offset != end:
            problem = f"overlaps tensor {last!r}" if offset < end else f"leaves bytes {end}"
            raise CheckpointError(
                f"{where} {problem}{'' if offset < end else f' to {offset} unaccounted for'}; "
                "the file was crafted or damaged — use another checkpoint"
            )
        end, last = offset + nbytes, name
    if end != data_nbytes:
        raise CheckpointError(
            f"{path}: the tensors hold {end} bytes but the data region has {data_nbytes}; "
            "the file was crafted or damaged — use another checkpoint"
        )
    return entries


def _checked_entry(path: Path, name: str, entry) -> tuple[str, list[int], int, int]:
    where = f"{path}: tensor {name!r}"
    if not name or not isinstance(entry, dict):
        raise CheckpointError(f"{where}: the tensor table entry is invalid; use another checkpoint")
    missing = [key for key in ("dtype", "shape", "offset", "nbytes") if key not in entry]
    if missing:
        raise CheckpointError(f"{where}: the tensor table entry has no {', '.join(missing)}")
    dtype, shape = entry["dtype"], entry["shape"]
    if dtype not in _DTYPES:
        raise CheckpointError(f"{where} has unknown dtype {_short(dtype)}; use another checkpoint")
    if not isinstance(shape, list) or len(shape) > _MAX_DIMS or not all(map(_is_count, shape)):
        raise CheckpointError(
            f"{where} has shape {_short(shape)}; a shape is a list of at most {_MAX_DIMS} "
            "whole numbers >= 0 — use another checkpoint"
        )
    offset, nbytes = entry["offset"], entry["nbytes"]
    if not (_is_count(offset) and _is_count(nbytes)):
        raise CheckpointError(
            f"{where} has offset {_short(offset)} and size {_short(nbytes)}; both must be whole "
            "numbers >= 0 — use another checkpoint"
        )
    expected = math.prod(shape) * _ITEMSIZE[dtype]
    if nbytes != expected:
        raise CheckpointError(
            f"{where} declares {nbytes} bytes, but shape {shape} of {dtype} takes {expected}; "
            "the file was crafted or damaged — use another checkpoint"
        )
    return dtype, shape, offset, nbytes


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


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
    if dtype == "bfloat16":
        raise ValueError(f"dtype {dtype!r} cannot be read as a NumPy array")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _tensor_from_bytes(raw: bytes, dtype: str, shape: list[int]):
    import torch

    torch_dtype = getattr(torch, dtype)
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
    """The parsed header, after the magic, the length, the checksum and the header's
    own fields (``meta``, ``tensors``, ``data_nbytes``) are checked."""
    if not data.startswith(MAGIC):
        raise CheckpointError(f"{path}: {_what_it_is(data)}")
    if len(data) < _PREFIX + _DIGEST:
        raise CheckpointError(f"{path}: the checkpoint is truncated ({len(data)} bytes)")
    (length,) = struct.unpack("<Q", data[len(MAGIC) : _PREFIX])
    header, problem = None, "it is cut short"
    if len(data) >= _PREFIX + length + _DIGEST:  # else: cut inside the header
        header, problem = _parsed_header(data[_PREFIX : _PREFIX + length])
    expected = _PREFIX + length + _DIGEST + (header["data_nbytes"] if header else 0)
    if len(data) < expected:
        raise CheckpointError(
            f"{path}: the checkpoint is truncated ({len(data)} of at least {expected} bytes); "
            "it was not written completely — use an earlier checkpoint"
        )
    if hashlib.sha256(data[:-_DIGEST]).digest() != data[-_DIGEST:]:
        raise CheckpointError(
            f"{path}: the checkpoint's checksum does not match its content; "
            "the file was altered or damaged — use another checkpoint"
        )
    # The checksum matches, so what follows was written on purpose: a crafted file.
    if header is None:
        raise CheckpointError(
            f"{path}: the checkpoint's header is invalid ({problem}); use another checkpoint"
        )
    if expected != len(data):
        raise CheckpointError(
            f"{path}: the header declares {header['data_nbytes']} bytes of tensor data but the "
            f"file holds {len(data) - _PREFIX - length - _DIGEST}; use another checkpoint"
        )
    if sys.byteorder != "little":  # pragma: no cover - no big-endian CI
        raise CheckpointError("checkpoints hold little-endian data; this machine is big-endian")
    header["_length"] = length
    return header


def _parsed_header(raw: bytes) -> tuple[dict | None, str]:
    """``(header, "")`` or ``(None, what is wrong)``; never raises.

    The nesting depth is measured before ``json.loads`` sees the bytes: a header of
    ``[[[[...`` would otherwise raise ``RecursionError`` in the parser (or later,
    in :func:`unpack`), which is not a message a user can act on.
    """
    depth = json_depth(raw)
    if depth > MAX_DEPTH:
        return None, f"it nests {depth} levels deep, more than the {MAX_DEPTH} allowed"
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"not UTF-8 JSON: {str(exc).splitlines()[0]}"
    if not isinstance(header, dict) or set(header) != {"meta", "tensors", "data_nbytes"}:
        return None, "it must be an object with exactly meta, tensors and data_nbytes"
    if not _is_count(header["data_nbytes"]):
        return None, f"data_nbytes={_short(header['data_nbytes'])} is not a whole number >= 0"
    return header, ""


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of the JSON text ``raw`` nest (0: a scalar).

    Strings are blanked first (brackets inside them do not count); the rest is
    counted with NumPy, so a header of megabytes is measured in milliseconds.
    """
    codes = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    if not codes.size:
        return 0
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    return int(np.cumsum(opens.astype(np.int64) - closes).max(initial=0))


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


def unpack(tensors: dict, tree: Any, path: str | os.PathLike = "the checkpoint") -> Any:
    """The inverse of :func:`pack`; ``path`` names the file in error messages.

    Every placeholder must name a tensor of ``tensors`` not named before: a tensor
    shared between, say, the weights and the optimizer state would couple them.
    """
    used: set = set()

    def tensor(key):
        if not isinstance(key, str) or key not in tensors:
            raise ValueError(f"tensor {_short(key)} is not in the file")
        if key in used:
            raise ValueError(f"tensor {key!r} is used twice")
        used.add(key)
        return tensors[key]

    def walk(obj):
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        if len(obj) == 1:
            ((tag, value),) = obj.items()
            if tag == _TENSOR:
                return tensor(value)
            if tag == _NDARRAY:
                return tensor(value).numpy()
            if tag == _TUPLE:
                return tuple(walk(v) for v in _tagged_list(tag, value))
            if tag == _DICT:
                return {_hashable(walk(k)): walk(v) for k, v in _pairs(value)}
        return {k: walk(v) for k, v in obj.items()}

    try:
        return walk(tree)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: the checkpoint's object tree is invalid ({exc}); use another checkpoint"
        ) from None


def _tagged_list(tag: str, value) -> list:
    if not isinstance(value, list):
        raise ValueError(f"{tag} holds a {type(value).__name__}, not a list")
    return value


def _pairs(value) -> list:
    pairs = _tagged_list(_DICT, value)
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
        raise ValueError(f"{_DICT} must hold [key, value] pairs")
    return pairs


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
    tree = unpack(tensors, meta.get("tree"), path)
    check_counters(tree, path, "the object tree")
    return tree
