"""Originals no rendition's `when:` took, archived lately, kept in state_dir's database (db.py):
what tells a late XMP sidecar of such an image from one whose image never came.

The index of originals keeps no unmatched original (nothing was rendered), so the daemon
knew them in memory only: after a restart (or a crash) a late sidecar of one was said "no
image of it arrived within sidecar_wait … raise sidecar_wait" (a colleague's check: late.jpg
unmatched, the daemon restarted, late.xmp dropped), which sent the admin the wrong way.

A record is the archived path (its bytes) and its inode, so an image put at that path since
is not taken for it. Records are useful for LATELY only (a sidecar later than that is no
longer told as late, as for a rendered image), and at most MOST are kept: each note prunes
the older ones, so the table stays a few hundred kB whatever comes (a card dump whose every
image no `when:` took, then their sidecars: 10,000 of them are still known).
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from hotfolder.state import db

PART = "unmatched"
MIGRATIONS = ("CREATE TABLE unmatched_originals (path BLOB PRIMARY KEY, inode INTEGER NOT NULL, time REAL NOT NULL);"
              "CREATE INDEX unmatched_by_time ON unmatched_originals(time)",)
LATELY = 600.0  # seconds (wall clock: it spans restarts): an image archived this recently is its late sidecar's
MOST = 10_000  # records kept at most: the latest


class Unmatched:
    """The main process's connection (db.for_notes: a record lost in a power cut costs a
    line's wording, and the loop pays no fsync)."""

    def __init__(self, state_dir: Path):
        self.conn = db.for_notes(state_dir, PART, MIGRATIONS)

    def close(self) -> None:
        self.conn.close()

    def note(self, where: Path, inode: int, now: float | None = None) -> None:
        """The original archived at `where` (inode `inode`) was taken by no rendition; older
        records past LATELY, or past the MOST latest, are forgotten."""
        now = time.time() if now is None else now
        with db.transaction(self.conn):
            self.conn.execute("INSERT INTO unmatched_originals VALUES (?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                              "inode = excluded.inode, time = excluded.time", (os.fsencode(where), inode, now))
            self.conn.execute("DELETE FROM unmatched_originals WHERE time < ?", (now - LATELY,))
            self.conn.execute("DELETE FROM unmatched_originals WHERE path IN (SELECT path FROM unmatched_originals "
                              "ORDER BY time DESC LIMIT -1 OFFSET ?)", (MOST,))


def archived_lately(state_dir: Path, image: Path, now: float | None = None) -> bool:
    """Whether the original at `image` is one no rendition took, archived within LATELY (the
    same file: its inode), read without making or writing anything; False when there is no
    record, or no database."""
    now = time.time() if now is None else now
    try:
        inode = os.lstat(image).st_ino
    except OSError:
        return False
    with db.read_only(state_dir) as conn:
        if conn is None:
            return False
        try:
            row = conn.execute("SELECT time FROM unmatched_originals WHERE path = ? AND inode = ?",
                               (os.fsencode(image), inode)).fetchone()
        except sqlite3.OperationalError:  # no such table yet: nothing was noted
            return False
    return row is not None and now - LATELY <= row[0]
