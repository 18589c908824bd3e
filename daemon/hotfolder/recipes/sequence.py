"""`{seq}`: a number per folder, one more for each file rendered with it, never repeated.

A number is handed out in its own committed transaction before the file's outputs are
named (state/db.py: `BEGIN IMMEDIATE`, `synchronous=FULL`), so whatever happens after
it (a crash, a kill, a failed render, another attempt) the number is spent: one may be
skipped, none is ever given twice. Every worker process, `hotfolder process` and a
restarted daemon count on from the same row. Keyed by the folder's name: a folder
renamed in the config starts a sequence of its own.

In cluster mode the nodes share no state_dir: each number is a Redis INCR of the
cluster's (cluster/store.py, `Store.next_number`), as atomic and as lasting as the
Redis server's persistence (keep `appendonly yes` there, or numbers repeat after Redis
loses its data).
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Protocol

from hotfolder.state import db

PART = "sequence"
MIGRATIONS = ("CREATE TABLE sequence (folder TEXT PRIMARY KEY, last INTEGER NOT NULL)",)


class Numbers(Protocol):
    """Where a folder's next number comes from."""

    def next_number(self, folder: str) -> int: ...


class LocalNumbers:
    """The daemon's own sequence, in state_dir's database; one connection per process
    (a connection is never used across a fork)."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self._conn, self._pid = db.connect(self.state_dir), os.getpid()
            db.ensure(self._conn, PART, MIGRATIONS)
        return self._conn

    def next_number(self, folder: str) -> int:
        conn = self._connection()
        with db.transaction(conn):
            (number,) = conn.execute(
                "INSERT INTO sequence (folder, last) VALUES (?, 1) "
                "ON CONFLICT(folder) DO UPDATE SET last = last + 1 RETURNING last", (folder,)).fetchone()
        return int(number)


_local: dict[Path, LocalNumbers] = {}


def local(state_dir: Path) -> LocalNumbers:
    """The process's LocalNumbers of `state_dir`."""
    if state_dir not in _local:
        _local[state_dir] = LocalNumbers(state_dir)
    return _local[state_dir]


def peek(state_dir: Path, folder: str) -> int | None:
    """The number the folder's next file would get, read without writing anything (for
    `hotfolder explain`); None when it cannot be read. A daemon may hand it out first."""
    if not db.path_in(state_dir).exists():
        return 1
    with db.read_only(state_dir) as conn:
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT last FROM sequence WHERE folder = ?", (folder,)).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return 1
            return None
    return (row[0] if row else 0) + 1
