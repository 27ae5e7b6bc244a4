"""Keeping run folders safe: what ``--force`` may replace, one writer per folder, leftovers.

A run folder is replaced by renaming, so whatever sits in the folder named by
``--out`` goes with it. These checks make sure that is only ever a run folder
gradstep wrote (``docs/run-folder.md``, "Safety"):

* :func:`check_replaceable`: the folder is recognised as a run folder (its
  ``config.json`` carries ``gradstep_version``, written by every version, and it
  holds nothing but the documented files), and it is not the current folder, the
  folder holding the data, or a parent of either.
* :func:`run_lock`: an OS lock (``flock``) on ``.NAME.lock`` beside the folder,
  held by the one process writing it; the kernel drops it when that process dies.
* :func:`clean_leftovers`: the temporary siblings an interrupted writer left.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from gradstep.errors import GradstepError

# The documented contents of a run folder; anything else is the user's and blocks --force.
RUN_FILES = frozenset({"config.json", "metrics.csv", "steps.csv", "model.json", "quadratic.json",
                       "summary.json", "report.html",
                       "animation.gif", "animation.mp4"})  # fmt: skip
# Subfolders and the files they may hold (atomic writes leave ``.NAME.XXXX.tmp`` when killed).
RUN_SUBFOLDERS = {"checkpoints": re.compile(r"[^/]+\.ckpt$|\.[^/]+\.tmp$"),
                  "figures": re.compile(r"[^/]+\.png$|\.[^/]+\.tmp$")}  # fmt: skip
VERSION_KEY = "gradstep_version"


def absolute(path: Path) -> Path:
    """``path`` made absolute with ``.``/``..`` removed (symlinks kept: the folder is renamed)."""
    return Path(os.path.abspath(path))


def lock_path(out: Path) -> Path:
    """``.NAME.lock`` beside the run folder: it must outlive the renames of the folder itself."""
    out = absolute(out)
    return Path(os.path.realpath(out.parent)) / f".{out.name}.lock"


# ------------------------------------------------------------------ what --force may replace


def check_replaceable(out: Path, data: str | None) -> None:
    """Raise unless replacing the existing folder ``out`` can lose nothing but a run folder."""
    check_not_protected(out, data)
    foreign = foreign_entries(out)
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise GradstepError(
            f"--force refuses to replace {out}: it holds {shown}, which gradstep did not write "
            "there; move those away or choose another --out (nothing was changed)"
        )
    if not is_marked(out):
        raise GradstepError(
            f"--force refuses to replace {out}: it is not a gradstep run folder (no config.json "
            f"with {VERSION_KEY}); choose another --out (nothing was changed)"
        )


def check_not_protected(out: Path, data: str | None) -> None:
    """The current folder, the data's folder and their parents are never a run folder to
    replace: renaming them away would take the user's files (or the data) along."""
    target = Path(os.path.realpath(out))
    places = {"the current folder": Path.cwd().resolve()}
    if data and data != "-":
        places["the folder holding the data"] = Path(os.path.realpath(data)).parent
    for what, place in places.items():
        if target == place or target in place.parents:
            relation = "is" if target == place else "contains"
            raise GradstepError(
                f"--out {out} {relation} {what} ({place}); a run folder is replaced whole, so "
                "choose a new folder, e.g. --out runs/NAME (nothing was changed)"
            )


def foreign_entries(out: Path) -> list[str]:
    """Paths in ``out`` (relative, sorted) that are not part of a run folder's documented
    contents; symbolic links always count: gradstep never makes them."""
    foreign = []
    for entry in sorted(out.iterdir()):
        if entry.is_symlink():
            foreign.append(entry.name)
        elif entry.name in RUN_SUBFOLDERS and entry.is_dir():
            allowed = RUN_SUBFOLDERS[entry.name]
            foreign += [f"{entry.name}/{inner.name}" for inner in sorted(entry.iterdir())
                        if inner.is_symlink() or not inner.is_file()
                        or not allowed.match(inner.name)]  # fmt: skip
        elif entry.name not in RUN_FILES or not entry.is_file():
            foreign.append(entry.name + ("/" if entry.is_dir() else ""))
    return foreign


def is_marked(out: Path) -> bool:
    """Whether ``out/config.json`` is gradstep's: a JSON object with ``gradstep_version``."""
    try:
        payload = json.loads((out / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(payload, dict) and isinstance(payload.get(VERSION_KEY), str)


# ------------------------------------------------------------------ one writer per folder


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold the run folder ``out`` for this process; GradstepError naming the holder if taken.

    The lock file is removed on release (under the lock, so a waiter that opened the
    old file notices and retries); a killed holder leaves it behind, harmlessly.
    Parent folders created for it are removed again if they stay empty.
    """
    path = lock_path(out)
    try:
        created = make_parents(path.parent)
    except OSError as exc:
        raise GradstepError(
            f"cannot create the folder of {out}: {exc.strerror or exc}; choose another --out"
        ) from None
    try:
        fd = acquire(path, out)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
            os.close(fd)
    finally:
        for folder in reversed(created):
            with contextlib.suppress(OSError):  # not empty: the run was written there
                folder.rmdir()


def lock_if_inside(run_dir, target) -> contextlib.AbstractContextManager:
    """:func:`run_lock` on ``run_dir`` when ``target`` (None: the default) is inside it;
    for ``gradstep plot`` and ``report``, which write into a run folder by default."""
    inside = (
        target is None
        or Path(os.path.realpath(run_dir)) in (Path(os.path.realpath(target)) / "x").parents
    )
    return run_lock(Path(run_dir)) if inside else contextlib.nullcontext()


def make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return the ones created, outermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    for path in missing:
        with contextlib.suppress(FileExistsError):
            path.mkdir()
    return missing


def acquire(path: Path, out: Path) -> int:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock (Windows): one writer is not enforced
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    # Never follow a link planted at the lock's name: truncating would write through it.
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(50):
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise GradstepError(
                f"cannot lock the run folder {out} ({path}: {exc.strerror or exc}); "
                "choose another --out"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = read_holder(fd)
            os.close(fd)
            raise GradstepError(
                f"run folder {out} is being written by another gradstep process (pid {holder}, "
                f"lock {path}); wait for it to finish or choose another --out"
            ) from None
        if same_file(fd, path):
            check_lock_file(fd, path)
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError as exc:  # a full disk: give the lock file back, say why
                with contextlib.suppress(OSError):
                    path.unlink()
                os.close(fd)
                raise GradstepError(
                    f"cannot lock the run folder {out} ({path}: {exc.strerror or exc}); "
                    "free some space or choose another --out"
                ) from None
            return fd
        os.close(fd)  # the holder removed this file as it finished: lock the new one
    raise GradstepError(f"cannot lock {path}; try again")  # pragma: no cover


def check_lock_file(fd: int, path: Path) -> None:
    """A file already at the lock's name must be a lock file gradstep left (empty, or a
    pid): anything else is the user's, and truncating it would destroy it."""
    text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    if text and not text.isdigit():
        os.close(fd)
        raise GradstepError(
            f"{path} is in the way: gradstep uses that name for the run folder's lock, but "
            "this file is not one; move it away or choose another --out"
        )


def same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def read_holder(fd: int) -> str:
    """The pid in the lock file; the holder writes it just after locking, so wait briefly."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text:
            return text
        time.sleep(0.01)
    return "unknown"


# ------------------------------------------------------------------ leftovers


def leftover_patterns(name: str) -> tuple[re.Pattern, re.Pattern]:
    """Names ``runs.output`` gives its temporary siblings: ``.NAME.XXXXXXXX.tmp`` (the folder
    being built) and ``.NAME.old-XXXXXXXX`` (the previous folder, set aside)."""
    quoted = re.escape(name)
    return re.compile(rf"\.{quoted}\.[0-9a-f]{{8}}\.tmp"), re.compile(
        rf"\.{quoted}\.old-[0-9a-f]{{8}}"
    )


def clean_leftovers(out: Path) -> None:
    """Remove what interrupted writers of ``out`` left beside it; call only under the lock.

    A ``.NAME.old-*`` folder holding ``NAME`` while ``out`` is missing is the previous
    run, set aside just before a crash: it is put back rather than removed.
    """
    parent, name = out.parent, out.name
    if not parent.is_dir():
        return
    building, set_aside = leftover_patterns(name)
    for entry in sorted(parent.iterdir()):
        if entry.is_symlink() or not entry.is_dir():
            continue
        if set_aside.fullmatch(entry.name):
            if not os.path.lexists(out) and (entry / name).is_dir():
                os.rename(entry / name, out)
            shutil.rmtree(entry, ignore_errors=True)
        elif building.fullmatch(entry.name):
            shutil.rmtree(entry, ignore_errors=True)


# ------------------------------------------------------------------ reading JSON of a run

MAX_JSON_DEPTH = 64  # gradstep's own files nest 4 levels; more is a hand-made file


def parse_json(text: str, path: Path):
    """``json.loads`` with its nesting bounded: a file nested thousands of levels deep
    raises ``RecursionError`` in the parser, or later in code that walks what it returned."""
    try:
        payload = json.loads(text)
    except RecursionError:
        payload = None
        deep = True
    else:
        deep = nesting_depth(payload) > MAX_JSON_DEPTH
    if deep:
        raise GradstepError(
            f"{path} is nested more than {MAX_JSON_DEPTH} levels deep, so gradstep did not "
            "write it; restore the file or train the run again with 'gradstep train'"
        )
    return payload


def nesting_depth(value) -> int:
    """How deeply lists and objects nest in ``value`` (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_JSON_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest
