"""Atomic file writes: a temporary file in the same folder, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gradstep.errors import GradstepError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync it and rename it over.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600; give the file the permissions a plain open() would.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success move its files into ``path``.

    A missing ``path`` is the temporary folder renamed; an existing one gets each file
    renamed in (its other files stay). On any error (a full disk half-way through
    writing) the temporary folder is removed and ``path`` is left as it was, so no
    folder with half of the files is left behind.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        if target.is_dir():
            for item in sorted(tmp.iterdir()):
                os.replace(item, target / item.name)
        else:
            tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700; a plain mkdir would not
            os.replace(tmp, target)
        _fsync_dir(target)
        _fsync_dir(target.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def exists_for_writing(path: str | os.PathLike) -> bool:
    """Whether ``path`` exists; a name the system refuses (too long) is a write error now.

    ``Path.exists`` raises ``OSError`` for ENAMETOOLONG instead of answering False.
    """
    try:
        return Path(path).exists()
    except OSError as exc:
        raise write_error(path, exc) from None


def write_error(path: str | os.PathLike, exc: OSError) -> GradstepError:
    """The one-line error for a file or folder that could not be written (full disk, ...)."""
    return GradstepError(f"cannot write {path}: {exc.strerror or exc}")


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _temp_prefix(target: Path) -> str:
    # Cut long names: a name that fits the file system's limit (255 bytes) must not fail
    # only because the temporary name adds a dot, a random part and ".tmp" to it.
    return f".{target.name[:64]}."


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
