"""`write_atomic` replaces a file whole or not at all."""

import os

import pytest

from tfllmrec.files import write_atomic


def test_writes_text_and_bytes_and_replaces(tmp_path):
    path = tmp_path / "metrics.json"
    write_atomic(path, "old")
    write_atomic(path, b"new \xff")
    assert path.read_bytes() == b"new \xff"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    write_atomic(path, "old")
    with pytest.raises(TypeError):
        write_atomic(path, object())  # not str or bytes: fails mid-write
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["state.json"]
