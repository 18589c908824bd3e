"""Folders whose new entries must become durable, each synced once for many files, and
what waits on their being durable.

Archiving an original is a rename into archive/ and an fsync of that folder, which on a
burst of small files was the supervisor's largest cost: ~1.5 ms of the ~3 ms it spent on
each file (py-spy of 3,000 64 px JPEGs), one file at a time. The ledger settles every
result one turn of the loop brought as a group: the renames first, then one fsync of each
folder, then, in order, what must follow durability (the index's note, `file_done`, the
next file of that name): supervisor/ledger.py `grouped`. A group commit, as databases do.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


class SyncGroup:
    """The folders (by the descriptor their rename used) to fsync, then the actions that wait."""

    def __init__(self) -> None:
        self._fds: dict[tuple[int, int], tuple[Path, int]] = {}  # (st_dev, st_ino): its path, our descriptor
        self._then: list[Callable[[], None]] = []

    def __len__(self) -> int:
        """How many folders wait to be synced."""
        return len(self._fds)

    def add(self, path: Path, fd: int) -> None:
        """`fd`, the open folder at `path` (for messages), is synced when the group closes;
        a copy of it is kept (the caller closes its own). Told apart by inode, not by path:
        a folder renamed and made anew between two files is two folders."""
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) not in self._fds:
            self._fds[st.st_dev, st.st_ino] = (path, os.dup(fd))

    def then(self, action: Callable[[], None]) -> None:
        """`action` runs once the folders are synced, after those added before it."""
        self._then.append(action)

    def close(self, unsynced: Callable[[Path, OSError], None]) -> None:
        """fsync each folder once (`unsynced(path, error)` for one that cannot be), then run
        every action in order; the first exception of an action is raised once all ran."""
        fds, self._fds = self._fds, {}
        for path, fd in fds.values():
            try:
                os.fsync(fd)
            except OSError as exc:
                unsynced(path, exc)
            finally:
                os.close(fd)
        actions, self._then = self._then, []
        first: Exception | None = None
        for action in actions:
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - the others still run; the first is raised below
                first = first or exc
        if first is not None:
            raise first
