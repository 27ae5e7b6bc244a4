import os

import pytest

from gradstep.files import atomic_write_text


def test_atomic_write_replaces_and_uses_normal_permissions(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failed_write_keeps_the_old_file(tmp_path):
    from gradstep.files import atomic_path

    target = tmp_path / "a.txt"
    atomic_write_text(target, "good")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
