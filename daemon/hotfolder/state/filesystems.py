"""The file system each place of the folders was on when the daemon last saw it there,
kept in state_dir's database (db.py): what tells a place whose share is not mounted from
one that was deleted (spool/shares.py).

A record is keyed by the place's path alone, not by its folder's name: the file system
is the path's, and a folder renamed in the config while its share is away is still on
that share. `folder` and `key` are those that last named it, for messages.
"""
from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hotfolder.state import db

PART = "filesystems"
MIGRATIONS = ("CREATE TABLE place_filesystems (path BLOB PRIMARY KEY, mount BLOB NOT NULL, fstype TEXT NOT NULL, "
              "dev INTEGER NOT NULL, folder TEXT NOT NULL, key TEXT NOT NULL, seen REAL NOT NULL)",)


@dataclass(frozen=True)
class Seen:
    """Where a place was: the mount point holding it and its type ("" when the mount table
    could not be read), its st_dev, and who named it then."""

    path: Path
    mount: str
    fstype: str
    dev: int
    folder: str = ""
    key: str = ""
    seen: float = 0.0  # time.time() of the record

    def same_place(self, other: Seen) -> bool:
        """Whether `other` records the same file system (the names and the time aside: two
        folders sharing one output must not rewrite its record in turn)."""
        return (self.mount, self.fstype, self.dev) == (other.mount, other.fstype, other.dev)


def _row(row: tuple) -> Seen:
    path, mount, fstype, dev, folder, key, seen = row
    return Seen(Path(os.fsdecode(path)), os.fsdecode(mount), fstype, dev, folder, key, seen)


def _opened(state_dir: Path) -> sqlite3.Connection:
    conn = db.connect(state_dir)
    db.ensure(conn, PART, MIGRATIONS)
    return conn


def load(state_dir: Path) -> dict[Path, Seen]:
    """Every record (the daemon's main process: it makes the database if needed)."""
    conn = _opened(state_dir)
    try:
        rows = conn.execute("SELECT path, mount, fstype, dev, folder, key, seen FROM place_filesystems").fetchall()
    finally:
        conn.close()
    return {seen.path: seen for seen in map(_row, rows)}


def read(state_dir: Path, path: Path) -> Seen | None:
    """The record of `path`, read without making or migrating anything (a worker, check-config);
    None when there is none, or no database."""
    with db.read_only(state_dir) as conn:
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT path, mount, fstype, dev, folder, key, seen FROM place_filesystems "
                               "WHERE path = ?", (os.fsencode(path),)).fetchone()
        except sqlite3.OperationalError:  # no such table yet: nothing was recorded
            return None
    return _row(row) if row else None


def recorded(state_dir: Path) -> list[Seen] | None:
    """Every record, read without making or migrating anything (`hotfolder places`), in the
    order of their paths' bytes; None when there is no database. One that is there but cannot
    be opened raises (its OSError, or sqlite3's): "nothing recorded" would be untrue."""
    path = db.path_in(state_dir)
    with db.read_only(state_dir) as conn:
        if conn is None:
            if not path.exists():
                return None
            with open(path, "rb"):  # its OSError (no permission) names the file
                pass
            raise sqlite3.DatabaseError("unable to open database file")
        try:
            rows = conn.execute("SELECT path, mount, fstype, dev, folder, key, seen FROM place_filesystems "
                                "ORDER BY path").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return []  # the daemon has recorded nothing yet
    return [_row(row) for row in rows]


class Changed(Exception):
    """One of the records to forget is not there now: the transaction is rolled back."""


def forget(state_dir: Path, paths: Iterable[Path]) -> bool:
    """Forget the records of `paths` (their bytes exactly) in the database a daemon made (never
    one made here): all of them, in one transaction, or none (False) when one is not there now.
    Only while no daemon runs: the daemon keeps its records in memory, and would judge by and
    write them again (cli/places.py)."""
    keys = list(dict.fromkeys((os.fsencode(path),) for path in paths))
    with db.existing(state_dir) as conn:
        if conn is None:
            return not keys
        try:
            with db.transaction(conn):
                before = conn.total_changes
                conn.executemany("DELETE FROM place_filesystems WHERE path = ?", keys)
                if conn.total_changes - before != len(keys):
                    raise Changed
        except Changed:
            return False
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return not keys
    return True


def note(state_dir: Path, seen: Iterable[Seen]) -> None:
    """Record (or replace) where these places are now."""
    rows = [(os.fsencode(s.path), os.fsencode(s.mount), s.fstype, s.dev, s.folder, s.key, s.seen or time.time())
            for s in seen]
    if not rows:
        return
    conn = _opened(state_dir)
    try:
        with db.transaction(conn):
            conn.executemany("INSERT INTO place_filesystems VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE "
                             "SET mount = excluded.mount, fstype = excluded.fstype, dev = excluded.dev, "
                             "folder = excluded.folder, key = excluded.key, seen = excluded.seen", rows)
    finally:
        conn.close()
