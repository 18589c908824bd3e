"""The files passed through to archive/ (`pass_through:`, a card's clips), kept in state_dir's
database (db.py): what finds a clip dumped again into another subfolder (`card2/`, `2026-12-07
again/`) among the clips already archived, so it is compared with the right one
(supervisor/passed_again.py) instead of being archived a second time.

A row is a clip's folder, its own name as the camera wrote it (the inbox name, not an
archived `_1` name) case-folded (cards are FAT: `mvi_0009.mp4` and `MVI_0009.MP4` are one
name there), the subfolder it came in, its size, and where it lies under its folder's archive/.
The lookup is one indexed SELECT (name, size); a row whose archived file is gone (deleted by
the user, replaced by another file) is dropped when a lookup finds it so (`drop`): the table
holds at most a row per clip archived. A cluster's head keeps them in Redis instead
(cluster/passed.py: the same calls; a cluster's state is Redis, not a state_dir).
"""
from __future__ import annotations

import itertools
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hotfolder.state import db

PART = "passed"
MIGRATIONS = ("CREATE TABLE passed_through (folder TEXT NOT NULL, archived BLOB NOT NULL, name BLOB NOT NULL, "
              "subdir BLOB NOT NULL, size INTEGER NOT NULL, time REAL NOT NULL, PRIMARY KEY (folder, archived));"
              "CREATE INDEX passed_by_name ON passed_through(name, size)",
              # Made anew (a deleted database) or first opened by this version: the clips in archive/
              # are to be listed (supervisor/clips_listing.py); cleared once they all were.
              "CREATE TABLE passed_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
              "INSERT INTO passed_meta VALUES ('listing_due', 1)")
CANDIDATES = 8  # rows a lookup gives at most (the latest first): another clip of a name and size is rare
BATCH = 1000  # rows listed again a transaction (Passed.listed)


class Listed(Protocol):
    """A clip listed from archive/ (spool/archived_clips.Clip)."""

    @property
    def name(self) -> str: ...
    @property
    def subdir(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def archived(self) -> str: ...
    @property
    def time(self) -> float: ...


def name_key(name: str) -> bytes:
    """A file's own name as compared: case-blind (FAT cards), its bytes otherwise."""
    return os.fsencode(name.casefold())


@dataclass(frozen=True)
class Row:
    folder: str  # the folder's name in the config
    archived: str  # its path under that folder's archive/
    subdir: str  # the subfolder of the inbox it came in ("" the top)
    key: str = ""  # where it was found, in a cluster's Redis (cluster/passed.py); "" here


class Unreachable(Exception):
    """The rows are kept elsewhere (a cluster's Redis: cluster/passed.py) and cannot be read
    now: a clip to pass through waits for them (supervisor/passed_again.py)."""


class Passed:
    """The main process's connection. Synchronous FULL, not db.for_notes' NORMAL: a row is
    written before its clip's move (supervisor/ledger._pass_through), and must be on disk
    before the rename is, or a power cut between them loses it as a kill did before."""

    def __init__(self, state_dir: Path):
        self.conn = db.for_notes(state_dir, PART, MIGRATIONS)
        self.conn.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        self.conn.close()

    def note(self, folder: str, name: str, subdir: str, size: int, archived: str, now: float | None = None) -> None:
        """The clip `name` (as it came, in `subdir`) of `size` bytes was archived at `archived`
        (under its folder's archive/); a row of that place before (a file deleted, its name
        taken again) is replaced."""
        now = time.time() if now is None else now
        self.conn.execute("INSERT INTO passed_through VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(folder, archived) DO "
                          "UPDATE SET name = excluded.name, subdir = excluded.subdir, size = excluded.size, "
                          "time = excluded.time",
                          (folder, os.fsencode(archived), name_key(name), os.fsencode(subdir), size, now))

    def find(self, name: str, size: int, *, folder: str | None, subdir: str | None) -> list[Row]:
        """The clips archived under `name` (case aside) of `size` bytes, the latest first:
        `folder` None, of every folder (duplicate_scope: all); `subdir` not None, only those
        that came in that subfolder ("" the top)."""
        return _found(self.conn, name, size, folder, subdir)

    def drop(self, row: Row) -> None:
        """Forget `row`: its archived file is gone, or is no longer that clip."""
        self.conn.execute("DELETE FROM passed_through WHERE folder = ? AND archived = ?",
                          (row.folder, os.fsencode(row.archived)))

    def listed(self, folder: str, clips: Iterable[Listed], batch: int = BATCH,
               processing: Path | None = None) -> tuple[int, int]:
        """The folder's archived clips listed again (`hotfolder index rebuild`: spool/
        archived_clips.py), each a row unless one names its place already (the daemon's own, with
        the name it truly came in with, is kept). Written `batch` rows a transaction, so memory
        and a write's hold on the database stay bounded. (rows made, rows there already).
        `processing`: the folder's processing/, whose name state/places.py keeps: each batch is
        written under the name it has there in that transaction, so a reload that renamed the
        folder meanwhile (places.remember moving the rows written so far) does not leave the rest
        under a name no folder has (a card dumped again found none of them)."""
        made = kept = 0
        for chunk in chunks(clips, batch):
            with db.transaction(self.conn):
                if processing is not None:
                    folder = _named(self.conn, processing) or folder
                for c in chunk:
                    cur = self.conn.execute(
                        "INSERT INTO passed_through VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(folder, archived) DO NOTHING",
                        (folder, os.fsencode(c.archived), name_key(c.name), os.fsencode(c.subdir), c.size, c.time))
                    made += cur.rowcount
                    kept += 1 - cur.rowcount
        return made, kept

    def forget_before(self, folder: str, cutoff: float) -> int:
        """Rows of `folder` noted before `cutoff` (its duplicate_window) are forgotten, as
        the index forgets its originals: a clip dumped again after the window is archived
        again, as a photo of that age is rendered again. How many."""
        with db.transaction(self.conn):
            return self.conn.execute("DELETE FROM passed_through WHERE folder = ? AND time < ?",
                                     (folder, cutoff)).rowcount

    def listing_due(self) -> bool:
        """Whether the clips in archive/ are still to be listed (the rows were made anew)."""
        row = self.conn.execute("SELECT value FROM passed_meta WHERE key = 'listing_due'").fetchone()
        return bool(row and row[0])

    def listing_done(self) -> None:
        self.conn.execute("UPDATE passed_meta SET value = 0 WHERE key = 'listing_due'")

    def count(self) -> int:
        try:
            return self.conn.execute("SELECT count(*) FROM passed_through").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def follow_renames(conn: sqlite3.Connection, renames: list[tuple[str, str]]) -> None:
    """The rows of each folder `old` are the folder `new`'s from now on, as its originals are
    (originals.follow_renames, in the caller's transaction; state/places.py decides which were
    renamed): a row names its folder, and a renamed folder's clips were found by nothing, so a
    card dumped again was archived twice while its photos were skipped. All at once, through
    names no folder has (a chain A→B, C→A, or a swap); a row the new name kept at that place (a
    folder no longer configured) gives way. Nothing when there are no rows yet."""
    if not renames or conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'passed_through'").fetchone() is None:
        return
    for n, (old, _) in enumerate(renames):
        conn.execute("UPDATE passed_through SET folder = ? WHERE folder = ?", (f"\0renaming {n}", old))
    for n, (_, new) in enumerate(renames):
        conn.execute("UPDATE OR REPLACE passed_through SET folder = ? WHERE folder = ?", (new, f"\0renaming {n}"))


def _named(conn: sqlite3.Connection, processing: Path) -> str | None:
    """The name of the folder whose processing/ that is, as state/places.py last noted it (None:
    not noted, or no such table yet)."""
    try:
        row = conn.execute("SELECT folder FROM processing_folders WHERE path = ?",
                           (os.fsencode(processing),)).fetchone()
    except sqlite3.OperationalError:  # no such table: places were never noted here
        return None
    return row[0] if row else None


def chunks(items: Iterable[Listed], size: int) -> Iterator[list[Listed]]:
    """`items` in lists of `size` (the last shorter), read lazily: a listing's batches."""
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _found(conn: sqlite3.Connection, name: str, size: int, folder: str | None, subdir: str | None) -> list[Row]:
    sql = "SELECT folder, archived, subdir FROM passed_through WHERE name = ? AND size = ?"
    args: list = [name_key(name), size]
    if folder is not None:
        sql += " AND folder = ?"
        args.append(folder)
        if subdir is not None:
            sql += " AND subdir = ?"
            args.append(os.fsencode(subdir))
    rows = conn.execute(sql + f" ORDER BY time DESC LIMIT {CANDIDATES}", args).fetchall()
    return [Row(f, os.fsdecode(a), os.fsdecode(s)) for f, a, s in rows]


def found(state_dir: Path, name: str, size: int, *, folder: str | None, subdir: str | None) -> list[Row]:
    """Passed.find, read without making or writing anything (`hotfolder explain` beside a
    daemon); [] when there is no database, or no row yet."""
    with db.read_only(state_dir) as conn:
        if conn is None:
            return []
        try:
            return _found(conn, name, size, folder, subdir)
        except sqlite3.OperationalError:  # no such table yet: nothing was noted
            return []
