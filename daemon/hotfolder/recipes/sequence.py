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

A number is held for the file it was given to (`holder`: its identity in processing/,
state/originals.job_key): another attempt of that file, after a kill, gets the same one,
so its outputs replace the first attempt's instead of standing beside them under a
second number (an attack round: `s/0001.jpg` and `s/0002.jpg` of one original). Held
numbers are let go after HELD_FOR; in cluster mode also when their file ends (a Redis key
each: cluster/tasks._let_go).
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Protocol

from hotfolder.state import db

PART = "sequence"
MIGRATIONS = ("CREATE TABLE sequence (folder TEXT PRIMARY KEY, last INTEGER NOT NULL)",
              "CREATE TABLE sequence_held (holder INTEGER NOT NULL, folder TEXT NOT NULL, number INTEGER NOT NULL, "
              "time REAL NOT NULL, PRIMARY KEY (holder, folder)); "
              "CREATE INDEX sequence_held_by_time ON sequence_held(time)")
HELD_FOR = 30 * 86400.0  # seconds a number stays its file's: far longer than any file stays in processing/


class Numbers(Protocol):
    """Where a folder's next number comes from; `holder`: the file it is for (see above)."""

    def next_number(self, folder: str, holder: int | None = None) -> int: ...


class LocalNumbers:
    """The daemon's own sequence, in state_dir's database; one connection per process
    (a connection is never used across a fork)."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            conn = db.connect(self.state_dir)
            try:
                db.ensure(conn, PART, MIGRATIONS)
            except BaseException:  # kept, a refused (newer) database was written by the next file
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def next_number(self, folder: str, holder: int | None = None) -> int:
        conn = self._connection()
        now = time.time()
        with db.transaction(conn):
            if holder is not None:
                conn.execute("DELETE FROM sequence_held WHERE time < ?", (now - HELD_FOR,))
                held = conn.execute("SELECT number FROM sequence_held WHERE holder = ? AND folder = ?",
                                    (holder, folder)).fetchone()
                if held is not None:
                    return int(held[0])
            (number,) = conn.execute(
                "INSERT INTO sequence (folder, last) VALUES (?, 1) "
                "ON CONFLICT(folder) DO UPDATE SET last = last + 1 RETURNING last", (folder,)).fetchone()
            if holder is not None:
                conn.execute("INSERT INTO sequence_held VALUES (?, ?, ?, ?)", (holder, folder, number, now))
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
