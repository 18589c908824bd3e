"""spool/syncs.py: folders synced once for many files, then what waits on them, in order."""
from __future__ import annotations

import os

import pytest

from hotfolder.spool.syncs import SyncGroup


def test_each_folder_is_synced_once_then_the_actions_run_in_order(tmp_path):
    group, done = SyncGroup(), []
    (tmp_path / "b").mkdir()
    for name in ("a", "b", "a"):
        folder = tmp_path if name == "a" else tmp_path / "b"
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        group.add(folder, fd)
        os.close(fd)  # the group keeps its own copy
        group.then(lambda name=name: done.append(name))
    assert len(group) == 2, "one descriptor a folder"
    opened = len(os.listdir("/proc/self/fd"))
    unsynced: list = []
    group.close(lambda path, exc: unsynced.append(path))
    assert done == ["a", "b", "a"] and unsynced == [] and len(group) == 0
    assert len(os.listdir("/proc/self/fd")) == opened - 2, "its copies are closed"


def test_a_folder_that_cannot_be_synced_is_said_and_the_actions_still_run(tmp_path):
    group, done = SyncGroup(), []
    read, write = os.pipe()  # fsync of a pipe fails (EINVAL): a real failing fsync
    try:
        group.add(tmp_path / "pipe", read)
        group.then(lambda: done.append(1))
        unsynced: list = []
        group.close(lambda path, exc: unsynced.append((path, exc.errno)))
        assert unsynced == [(tmp_path / "pipe", 22)] and done == [1]
    finally:
        os.close(read)
        os.close(write)


def test_an_action_that_raises_does_not_stop_the_others_and_is_raised_after():
    group, done = SyncGroup(), []

    def broken() -> None:
        raise RuntimeError("first")

    group.then(broken)
    group.then(lambda: done.append("second"))
    with pytest.raises(RuntimeError, match="first"):
        group.close(lambda path, exc: None)
    assert done == ["second"]
