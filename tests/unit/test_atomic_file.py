"""The one atomic file writer: the old file or the new one, the mode asked for, and nothing left behind."""

import os
import threading

import pytest

from gaslatch.unit import atomic_file
from gaslatch.unit.atomic_file import write_atomically


def test_the_file_gets_its_mode_whatever_the_umask(tmp_path):
    path = str(tmp_path / "config.json")
    old = os.umask(0o077)
    try:
        write_atomically(path, b"{}\n", 0o644)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path) == ["config.json"]


def test_a_temporary_file_left_by_a_crash_does_not_block_the_next_write(tmp_path):
    path = str(tmp_path / "seen.json")
    stale = os.path.join(str(tmp_path), ".seen.json.%d.%d.tmp" % (os.getpid(), threading.get_ident()))
    with open(stale, "wb") as f:
        f.write(b'{"seen": {"c1"')  # a power cut while an earlier process with our pid was writing
    write_atomically(path, b'{"seen": {}}')
    with open(path, "rb") as f:
        assert f.read() == b'{"seen": {}}'
    assert os.listdir(tmp_path) == ["seen.json"]


def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = str(tmp_path / "record.json")
    write_atomically(path, b"old")

    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "replace", no_rename)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, b"new")
    with open(path, "rb") as f:
        assert f.read() == b"old"
    assert os.listdir(tmp_path) == ["record.json"]
