"""The daemon's instance lock (lock_instance) is taken only on a regular file at
state_dir/hotfolder.lock: never through a symlink, never on a FIFO."""
from __future__ import annotations

import os

import pytest

from hotfolder.errors import ExitCode, HotfolderError
from hotfolder.supervisor.instance import lock_instance


def test_a_fifo_at_the_lock_path_is_refused(tmp_path):
    os.mkfifo(tmp_path / "hotfolder.lock")
    with pytest.raises(HotfolderError) as refused:
        lock_instance(tmp_path)
    assert refused.value.exit_code == ExitCode.USAGE
    assert str(refused.value).startswith(f"{tmp_path / 'hotfolder.lock'} is a FIFO (named pipe), not a lock file")


def test_a_symlink_at_the_lock_path_is_refused_and_its_target_left_alone(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "hotfolder.lock").symlink_to(elsewhere / "made")
    with pytest.raises(HotfolderError) as refused:
        lock_instance(tmp_path)
    assert refused.value.exit_code == ExitCode.USAGE
    assert f"is a symlink (to {elsewhere / 'made'}), not a lock file" in str(refused.value)
    assert list(elsewhere.iterdir()) == [], "the link's target was made"


def test_a_regular_lock_file_is_taken_and_rewritten(tmp_path):
    (tmp_path / "hotfolder.lock").write_text("12345\nold note\n")
    lock = lock_instance(tmp_path)
    try:
        assert (tmp_path / "hotfolder.lock").read_bytes().startswith(f"{os.getpid()}\n".encode())
    finally:
        os.close(lock.fd)
