"""The processing/ folders this daemon has claimed files into, kept in state_dir's database
(db.py), so that what a crash leaves in one the config no longer names is found again.

A reload that changes a folder's `processing:` (or removes the folder) lets the files
queued in the old one finish there; killed meanwhile, the next start looked only in the
folders its config names, and those originals stayed in the old processing/ for ever: not
rendered, not failed, not said (an attack round: 5 of 12). The same after a crash and an
edit of the config while the daemon was down. Each start and each reload adds the config's
folders here; a start looks in the others (supervisor/leftovers.py) and forgets one once
it is empty.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.state import db, originals, passed

PART = "places"
MIGRATIONS = ("CREATE TABLE processing_folders (path BLOB PRIMARY KEY, folder TEXT NOT NULL)",)


def _opened(state_dir: Path):
    conn = db.connect(state_dir)
    db.ensure(conn, PART, MIGRATIONS)
    return conn


def remember(state_dir: Path, folders: Iterable[Folder]) -> list[tuple[str, str]]:
    """The folders' processing/ are ones this daemon claims into (each with its folder's name).
    A folder whose processing/ had another name (gone from the config) was renamed: the index
    of originals knows its originals (and the rows of its clips passed through) by the new
    name from now on (the same processing/ is the same owner of the outputs, spool/owners.py;
    a new user's re-drop after a rename was taken for a different photo and written as `~2`
    beside its own outputs). The (old, new) names."""
    folders = list(folders)
    conn = _opened(state_dir)
    try:
        with db.transaction(conn):
            before = dict(conn.execute("SELECT path, folder FROM processing_folders").fetchall())
            renamed = _renamed(folders, before)
            originals.follow_renames(conn, renamed)
            passed.follow_renames(conn, renamed)  # the rows of clips passed through too
            conn.executemany("INSERT INTO processing_folders VALUES (?, ?) ON CONFLICT(path) DO UPDATE SET "
                             "folder = excluded.folder", [(os.fsencode(f.processing), f.name) for f in folders])
    finally:
        conn.close()
    return renamed


def _renamed(folders: list[Folder], before: dict[bytes, str]) -> list[tuple[str, str]]:
    """(old name, new name) of each folder whose processing/ had another name: renames, chains
    (A→B and C→A) and swaps alike (originals.follow_renames moves them all at once). Not
    one whose old name another configured processing/ had too (an old config's, moved since):
    whose originals those are cannot be told."""
    was = [before.get(os.fsencode(f.processing), f.name) for f in folders]
    return [(old, f.name) for f, old in zip(folders, was, strict=True) if old != f.name and was.count(old) == 1]


def left(state_dir: Path, folders: Iterable[Folder]) -> list[tuple[Path, str]]:
    """(processing/ folder, the name of the folder it was) of those used before and not
    named by `folders` now."""
    current = {os.fsencode(f.processing) for f in folders}
    conn = _opened(state_dir)
    try:
        rows = conn.execute("SELECT path, folder FROM processing_folders").fetchall()
    finally:
        conn.close()
    return [(Path(os.fsdecode(path)), name) for path, name in rows if path not in current]


def forget(state_dir: Path, processing: Path) -> None:
    conn = _opened(state_dir)
    try:
        with db.transaction(conn):
            conn.execute("DELETE FROM processing_folders WHERE path = ?", (os.fsencode(processing),))
    finally:
        conn.close()
