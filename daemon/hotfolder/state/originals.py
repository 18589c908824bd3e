"""The index of originals (issue 23): which bytes and which pictures each folder has seen,
in state_dir's database (db.py), so that the same photo is known by its content, not its
name, across restarts.

One file's way through it (workers/render.py), each step one short transaction:

  1. claim(content)   a rendered row with these bytes (in scope, in the window): a duplicate;
                      a live claim of another file: busy (the worker waits for it);
                      else the claim is taken: new
  2. decode; lookalikes() among the rendered rows; named(): the earlier photos of its name
  3. render and write the outputs (fsynced), as always
  4. record()         its row, and the claim dropped, in one transaction (synchronous=FULL)
  5. the ledger moves the original out of processing/; archived() notes its name there

So no row says "seen" unless its outputs were written (4 follows 3), and no original leaves
processing/ unrecorded (5 follows 4). A crash before 4 leaves a claim, which recover() drops
at the next start (before any worker runs); a claim whose file has left processing/ (its
worker died and the file failed) is taken over at once. A crash between 4 and 5 leaves a
row whose `job` is the file still in processing/: its next claim drops that row (it is not a
duplicate of itself) and it is rendered again. `job` identifies the file while it lies in
processing/: its folder, name, inode and mtime (a rename keeps the last two).

Sizes (1,000,000 rows, bench): the content and the name are indexed by 8-byte keys, not by
themselves (19 MB an index instead of 46); the perceptual hashes need no index at all
(state/mirror.py scans them).
"""
from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hotfolder.likeness import Kind, Look, Match, alike
from hotfolder.state import db, rows

if TYPE_CHECKING:
    from hotfolder.state.mirror import Mirror

PART = "originals"
RENDERED, DUPLICATE, LOOKALIKE, REFUSED = 1, 2, 3, 4  # a row's state: what became of the original
SKIPPED = (DUPLICATE, LOOKALIKE)
NAMED_LIMIT = 20  # earlier renderings of one name compared with a new drop of it (issue 26.2)

MIGRATIONS = ("""
CREATE TABLE originals_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO originals_meta VALUES ('epoch', 0);
CREATE TABLE originals_folders (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE originals_claims (content BLOB PRIMARY KEY, job INTEGER NOT NULL, path BLOB NOT NULL,
    inode INTEGER NOT NULL, mtime INTEGER NOT NULL, time REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE originals (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key INTEGER NOT NULL, content BLOB NOT NULL,
    state INTEGER NOT NULL, folder INTEGER NOT NULL, name BLOB NOT NULL, name_key INTEGER NOT NULL,
    job INTEGER, time INTEGER NOT NULL, size INTEGER NOT NULL,
    phash INTEGER, width INTEGER, height INTEGER, chroma INTEGER, generation INTEGER NOT NULL DEFAULT 0,
    other INTEGER, bits INTEGER, archived BLOB, outputs BLOB);
CREATE INDEX originals_by_content ON originals(key, state, job);
CREATE INDEX originals_by_name ON originals(folder, name_key)
""",
    # The outputs' own content hashes (Entry.output_hashes): what proves an output with no
    # owner record to be this original's (spool/owners: the output folder moved, names/ deleted)
    "ALTER TABLE originals ADD COLUMN output_hashes BLOB",
    # The renditions a rendering made (Entry.renditions): a look-alike under `similar: skip` is
    # skipped only when they hold every one it would get (workers/duplicates.judge)
    "ALTER TABLE originals ADD COLUMN renditions TEXT",
    # The `{seq}` number a rendering took (Entry.seq): rerender gives it the same again
    "ALTER TABLE originals ADD COLUMN seq INTEGER",
    # The look of a claim's picture once decoded (Originals.rendering_alike): a look-alike being
    # rendered at the same moment by another worker waits for it under `similar: skip`
    "ALTER TABLE originals_claims ADD COLUMN look BLOB")
OUTPUT_HASH = 16  # bytes of BLAKE3 kept per output: a forgery needs a second preimage, 2**128 tries


def _key8(data: bytes) -> int:
    """A signed 64-bit key (SQLite's INTEGER) of bytes."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


LOOKALIKES = 8  # the closest look-alikes a lookup gives (the worker takes the first that passes its second look)


def _in_subdir(subdir: str, column: str = "name") -> tuple[str, tuple]:
    """SQL (and its arguments) for a row whose name lies directly in `subdir` ("" the top):
    it starts with "subdir/" and has no further "/" (byte-wise, on the BLOB)."""
    prefix = os.fsencode(f"{subdir}/") if subdir else b""
    return (f" AND substr({column}, 1, ?) = ? AND instr(substr({column}, ?), X'2F') = 0",
            (len(prefix), prefix, len(prefix) + 1))


def _subdir_of(name: bytes) -> bytes:
    return name.rpartition(b"/")[0]


def job_key(folder: str, rel: str, inode: int, mtime_ns: int) -> int:
    """The identity of a file while it lies in processing/ (a rename keeps inode and mtime)."""
    return _key8(os.fsencode(f"{folder}\0{rel}\0{inode}\0{mtime_ns}"))


def signed64(h: int) -> int:
    return h - (1 << 64) if h >= 1 << 63 else h


@dataclass(frozen=True)
class Claim:
    """What a claim of some bytes found: `new` (ours now), `duplicate` (of `match`), `busy`."""

    verdict: str
    match: Match | None = None
    # `new`, and this very file (its job key) rendered before and was not archived: the outputs
    # its identity owns are its own, to be replaced (supervisor: an archive/ it could not move
    # into gave it back; each retry wrote a new `~2`, `~3`… set: an admin's report)
    again: bool = False


@dataclass(frozen=True)
class Named:
    """An earlier rendering under the same name (issue 26.2)."""

    record: int
    look: Look | None
    generation: int


@dataclass(frozen=True)
class Written:
    """What one rendering wrote: its outputs (relative to the output folder) and the content
    hashes of their bytes (Entry.output_hashes: the manifest's after the outputs', if any)."""

    record: int
    outputs: tuple[str, ...]
    hashes: tuple[bytes, ...]


ACTIONS = {RENDERED: "rendered", DUPLICATE: "skipped", LOOKALIKE: "skipped", REFUSED: "failed"}


@dataclass(frozen=True)
class Found:
    """An original found to repeat or resemble an earlier one (`hotfolder duplicates`)."""

    record: int
    folder: str
    name: str
    action: str  # skipped (in the duplicates folder), rendered (flagged, or on_duplicate: process), failed
    time: float
    where: str  # its name in the duplicates folder (skipped) or archive/ (rendered)
    outputs: tuple[str, ...]
    match: Match | None  # None: the earlier original was forgotten since (duplicate_window)


@dataclass(frozen=True)
class Entry:
    """One original's row: what became of it and what it was found to be."""

    content: str
    job: int
    state: int
    folder: str
    name: str  # its path relative to the inbox
    size: int
    look: Look | None = None
    generation: int = 0
    other: int | None = None  # the row it repeats or resembles
    bits: int | None = None  # the pHashes' distance to `other` when it resembles it; None: the same bytes
    outputs: tuple[str, ...] = ()
    # BLAKE3 of each output's bytes as written (OUTPUT_HASH bytes each, in the outputs' order),
    # then the manifest's if one was written; b"": none known (a rebuild, a cluster)
    output_hashes: bytes = b""
    # The names of the renditions it made (a rendering's); () not known: a rebuild, a cluster, a skip
    renditions: tuple[str, ...] = ()
    seq: int | None = None  # the `{seq}` number it took (a rendering's); None: none, or not known
    archived: str | None = None
    time: float | None = None  # when it was seen (now; a rebuild: when it was archived)
    # The subfolder its copies are matched in (duplicate_scope: workers/duplicates.subfolder_scope),
    # None: the folder's. SQLite reads it from `name`; Redis keeps a seen hash for it only then.
    subdir: str | None = None


class Originals:
    """The index in one process (a connection of its own: every process opens its own)."""

    def __init__(self, state_dir: Path):
        self.conn = db.connect(state_dir)
        self.made = db.version(self.conn, PART) == 0  # no index before: a new database, or an upgrade
        db.ensure(self.conn, PART, MIGRATIONS)
        self._folders: dict[str, int] = {}
        self._mirror: Mirror | None = None  # made at the first lookup (numpy: the workers only)

    def close(self) -> None:
        self.conn.close()

    def folder_id(self, name: str) -> int:
        if name not in self._folders:
            self.conn.execute("INSERT OR IGNORE INTO originals_folders (name) VALUES (?)", (name,))
            self._folders[name] = self.conn.execute("SELECT id FROM originals_folders WHERE name = ?",
                                                    (name,)).fetchone()[0]
        return self._folders[name]

    # ------------------------------------------------------------------ 1. the claim
    def claim(self, content: str, job: int, path: Path, *, folder: str, scope_all: bool, since: float,
              subdir: str | None = None) -> Claim:
        """Take the claim of `content` for the file at `path` (in processing/), or say why not.
        `subdir`: only an earlier original of this subfolder of the folder counts ("" its top)."""
        digest = bytes.fromhex(content)
        fid = self.folder_id(folder)
        with _lightly(self.conn), db.transaction(self.conn):
            mine = self.conn.execute("DELETE FROM originals WHERE key = ? AND state = ? AND job = ? AND content = ?",
                                     (_key8(digest), RENDERED, job, digest)).rowcount
            if mine:  # a crash came between its record and its archive: rendered again, not a duplicate
                self._bump_epoch()
            scope = "" if scope_all else " AND folder = ?"
            # The index is (key, state, job): one seek however many copies were rendered again
            # (on_duplicate: process) or skipped; ordering by id scanned them all (10,000 copies
            # of one file: minutes).
            args: tuple = (_key8(digest), RENDERED, digest, since, *(() if scope_all else (fid,)))
            if subdir is not None and not scope_all:
                within, more = _in_subdir(subdir)
                scope, args = scope + within, args + more
            row = self.conn.execute(f"SELECT id FROM originals WHERE key = ? AND state = ? AND content = ? "
                                    f"AND time >= ?{scope} LIMIT 1", args).fetchone()
            if row is not None:
                return Claim("duplicate", self.match(row[0], Kind.EXACT, 0))
            holder = self.conn.execute("SELECT job, path, inode, mtime FROM originals_claims WHERE content = ?",
                                       (digest,)).fetchone()
            if holder is not None and holder[0] != job and _alive(*holder[1:]):
                return Claim("busy")
            st = os.lstat(path)
            self.conn.execute("INSERT OR REPLACE INTO originals_claims (content, job, path, inode, mtime, time) "
                              "VALUES (?, ?, ?, ?, ?, ?)",
                              (digest, job, os.fsencode(str(path)), *_identity(st), time.time()))
        return Claim("new", again=bool(mine))

    def rendering_alike(self, content: str, job: int, look: Look, bits: int, *, folder: str, scope_all: bool,
                        subdir: str | None = None) -> bool:
        """Note the look of the picture this claim's file is (decoded now), and say whether a
        file claimed before it, still being rendered by another worker, looks like it within
        `bits` (and where its copies count: `folder`, `subdir`): a RAW and its camera JPEG of a
        card, taken by two workers at once, were both delivered under `similar: skip` (the
        wedding audit), as neither was recorded when the other looked. Only the looks noted
        before this one's are waited for (whichever file was decoded first goes first), so two
        never wait for each other, and one still decoding holds no other up."""
        digest = bytes.fromhex(content)
        where = b"" if subdir is None or scope_all else os.fsencode(subdir)
        folder_key = 0 if scope_all else self.folder_id(folder)
        with _lightly(self.conn), db.transaction(self.conn):
            # Stamped inside the transaction, which holds the database's write lock, and after
            # every stamp noted before: the order of the stamps is the order the looks were noted
            # in. Stamped before it, a file whose look was noted after another's had looked (and
            # found none) could carry the earlier stamp, and neither waited: both of a RAW+JPEG
            # pair delivered (a full suite under load); by the clock alone, so could one noted
            # after the wall clock stepped back (NTP, a VM resumed).
            others = [(other_job, path, inode, mtime, packed, struct.unpack_from(_LOOK, packed))
                      for other_job, path, inode, mtime, packed in self.conn.execute(
                          "SELECT job, path, inode, mtime, look FROM originals_claims WHERE job != ? AND "
                          "look IS NOT NULL", (job,))]
            stamp = max([time.time()] + [math.nextafter(o[5][0], math.inf) for o in others])
            mine = struct.pack(_LOOK, stamp, look.phash, look.width, look.height, look.packed_chroma,
                               folder_key) + where
            self.conn.execute("UPDATE originals_claims SET look = ? WHERE content = ? AND job = ? AND look IS NULL",
                              (mine, digest, job))
            row = self.conn.execute("SELECT look FROM originals_claims WHERE content = ? AND job = ?",
                                    (digest, job)).fetchone()
        noted = struct.unpack_from(_LOOK, row[0] if row is not None and row[0] else mine)[0]
        for other_job, path, inode, mtime, packed, (when, phash, width, height, chroma, fid) in others:
            if (when, other_job) >= (noted, job):
                continue
            theirs = packed[struct.calcsize(_LOOK):]
            if not scope_all and (fid != folder_key or (subdir is not None and theirs != where)):
                continue
            other = Look(phash, width, height, Look.unpack_chroma(chroma))
            if alike(look, other, bits) and _alive(path, inode, mtime):
                return True
        return False

    def records_of(self, content: str) -> frozenset[int]:
        """The rows of these bytes (every drop of them): not look-alikes of a copy of them."""
        digest = bytes.fromhex(content)
        return frozenset(row[0] for row in self.conn.execute("SELECT id FROM originals WHERE key = ? AND content = ?",
                                                             (_key8(digest), digest)))

    def release(self, content: str, job: int) -> None:
        """The render failed: the bytes may be claimed again."""
        with _lightly(self.conn), db.transaction(self.conn):
            self.conn.execute("DELETE FROM originals_claims WHERE content = ? AND job = ?",
                              (bytes.fromhex(content), job))

    # ------------------------------------------------------------------ 2. looks and names
    def lookalikes(self, look: Look, bits: int, *, folder: str, scope_all: bool, since: float,
                   exclude: frozenset[int] = frozenset(), subdir: str | None = None) -> list[tuple[int, int, Look]]:
        """(record, distance, look) of the rendered rows whose pHash is within `bits`, closest
        first; `subdir`: of that subfolder of the folder only."""
        from hotfolder.state.mirror import Mirror  # numpy: only the processes that look up load it

        if self._mirror is None:
            self._mirror = Mirror()
        self._mirror.catch_up(self.conn, RENDERED)
        # Every hash within `bits`, closest first, until LOOKALIKES pass the filters: a cut
        # before them found nothing in a subfolder once 8 rows elsewhere were as close (a
        # review: the same photo for ten clients).
        near = self._mirror.near(look.phash, bits, None if scope_all else self.folder_id(folder), limit=None)
        within = None if subdir is None or scope_all else os.fsencode(subdir)
        out: list[tuple[int, int, Look]] = []
        for record, bits_apart in near:
            if record in exclude:
                continue
            row = self.conn.execute("SELECT phash, width, height, chroma, name FROM originals WHERE id = ? "
                                    "AND time >= ?", (record, since)).fetchone()
            if row is not None and (within is None or _subdir_of(row[4]) == within):
                out.append((record, bits_apart, _look(row[:4])))
                if len(out) == LOOKALIKES:
                    break
        return out

    def named(self, folder: str, rel: str) -> list[Named]:
        """The latest renderings under this folder and name, newest first."""
        rows = self.conn.execute(
            "SELECT id, phash, width, height, chroma, generation FROM originals WHERE folder = ? AND name_key = ? "
            "AND name = ? AND state = ? ORDER BY id DESC LIMIT ?",
            (self.folder_id(folder), _key8(os.fsencode(rel)), os.fsencode(rel), RENDERED, NAMED_LIMIT)).fetchall()
        return [Named(r[0], _look(r[1:5]) if r[1] is not None else None, r[5]) for r in rows]

    def written(self, folder: str, rel: str, generation: int) -> list[Written]:
        """What the renderings under this folder and name, as the photo `generation`, wrote:
        each one's outputs and their content hashes, newest first (those rendered before the
        hashes were kept have none)."""
        return _written(self.conn, self.folder_id(folder), rel, generation)

    def written_since(self, record: int, digest: bytes, folder: str, rel: str, generation: int) -> bool:
        """Whether another original (not this folder, name and photo) wrote an output of exactly
        these bytes, before `record` or since: then the file holding them cannot be proved
        `record`'s (_written_since)."""
        return _written_since(self.conn, record, digest, self.folder_id(folder), rel, generation)

    def next_generation(self, folder: str, rel: str) -> int:
        row = self.conn.execute("SELECT max(generation) FROM originals WHERE folder = ? AND name_key = ? AND name = ?",
                                (self.folder_id(folder), _key8(os.fsencode(rel)), os.fsencode(rel))).fetchone()
        return 0 if row[0] is None else row[0] + 1

    # ------------------------------------------------------------------ 4. the record
    def record(self, e: Entry) -> int:
        """The original's row, and its claim dropped, in one transaction; its id. A row this
        file left before (a crash before its original moved) is replaced, not doubled."""
        digest = bytes.fromhex(e.content)
        name = os.fsencode(e.name)
        look = e.look
        fid = self.folder_id(e.folder)
        with db.transaction(self.conn):
            if self.conn.execute("DELETE FROM originals WHERE job = ? AND state != ? AND folder = ? AND name_key = ?",
                                 (e.job, RENDERED, fid, _key8(name))).rowcount:
                self._bump_epoch()
            cur = self.conn.execute(
                "INSERT INTO originals (key, content, state, folder, name, name_key, job, time, size, phash, width, "
                "height, chroma, generation, other, bits, archived, outputs, output_hashes, renditions, seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_key8(digest), digest, e.state, fid, name, _key8(name), e.job, int(e.time or time.time()), e.size,
                 signed64(look.phash) if look else None, look.width if look else None,
                 look.height if look else None, look.packed_chroma if look else None, e.generation, e.other,
                 e.bits, rows.archived(e.archived, name), rows.joined(e.outputs, name), e.output_hashes or None,
                 " ".join(e.renditions) if e.renditions and e.state == RENDERED else None,
                 e.seq if e.state == RENDERED else None))
            self.conn.execute("DELETE FROM originals_claims WHERE content = ? AND job = ?", (digest, e.job))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def archived(self, record: int, archived: str | None) -> None:
        """Where the original went (step 5): for the records and `hotfolder duplicates`.
        Not durable on purpose (synchronous NORMAL in the caller's connection is enough):
        losing it loses only the name shown."""
        with db.transaction(self.conn):
            row = self.conn.execute("SELECT name FROM originals WHERE id = ?", (record,)).fetchone()
            if row is not None:  # it left processing/: its job is no one's now (9 bytes a row)
                self.conn.execute("UPDATE originals SET archived = ?, job = NULL WHERE id = ?",
                                  (rows.archived(archived, row[0]) if archived else b"", record))

    # ------------------------------------------------------------------ reading
    def match(self, record: int, kind: Kind, bits: int) -> Match | None:
        return _match_of(self.conn, record, kind, bits)

    def found(self, limit: int = 1000) -> list[Found]:
        """What was found to be seen before, newest first: skipped, failed, flagged, rendered again."""
        return _found(self.conn, limit)

    # ------------------------------------------------------------------ upkeep (the service)
    def recover(self) -> int:
        """At the start, before any worker: the claims of renders a stop or crash cut short."""
        with db.transaction(self.conn):
            return self.conn.execute("DELETE FROM originals_claims").rowcount

    def forget_before(self, folder: str, cutoff: float) -> int:
        """Rows of `folder` older than its duplicate_window are forgotten. A name's earlier
        photo forgotten so is still never replaced by a new drop of that name: its outputs'
        names are owned (spool/owners.reserve_new)."""
        with db.transaction(self.conn):
            n = self.conn.execute("DELETE FROM originals WHERE folder = ? AND time < ?",
                                  (self.folder_id(folder), cutoff)).rowcount
            if n:
                self._bump_epoch()
        return n

    def known(self, content: str, folder: str, subdir: str | None = None) -> bool:
        """A rendered row of `folder` (of its subfolder `subdir`, when given) has these bytes
        (a rebuild skips what it indexed before)."""
        digest = bytes.fromhex(content)
        within, more = _in_subdir(subdir) if subdir is not None else ("", ())
        return self.conn.execute(f"SELECT 1 FROM originals WHERE key = ? AND state = ? AND content = ? AND folder = ?"
                                 f"{within}", (_key8(digest), RENDERED, digest, self.folder_id(folder), *more)
                                 ).fetchone() is not None

    def rebuild_due(self, due: bool | None = None) -> bool:
        """Whether the index must be rebuilt from the archives (it was made anew while originals
        were archived: a deleted database, or the first start of this version); `due` sets it."""
        if due is not None:
            with db.transaction(self.conn):
                self.conn.execute("INSERT OR REPLACE INTO originals_meta VALUES ('rebuild', ?)", (int(due),))
        row = self.conn.execute("SELECT value FROM originals_meta WHERE key = 'rebuild'").fetchone()
        return bool(row and row[0])

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM originals").fetchone()[0]

    def _bump_epoch(self) -> None:
        bump_epoch(self.conn)


def bump_epoch(conn: sqlite3.Connection) -> None:
    """Rows were deleted or moved: every process's mirror loads again (state/mirror.py)."""
    conn.execute("UPDATE originals_meta SET value = value + 1 WHERE key = 'epoch'")


def follow_renames(conn: sqlite3.Connection, renames: list[tuple[str, str]]) -> None:
    """The originals of each folder `old` are the folder `new`'s from now on (in the caller's
    transaction; state/places.py decides which were renamed). All at once, through names no
    folder has, so a chain (A→B, C→A) or a swap moves each folder's own (moved one by one, C's
    rows were merged into A's: a review). A folder id stays with its rows (a worker's cached
    id stays right); rows kept under the new name by a folder no longer configured join it.
    Nothing when there is no index."""
    if not renames or conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'originals_folders'").fetchone() is None:
        return
    moving = []
    for n, (old, new) in enumerate(renames):
        row = conn.execute("SELECT id FROM originals_folders WHERE name = ?", (old,)).fetchone()
        if row is not None:
            conn.execute("UPDATE originals_folders SET name = ? WHERE id = ?", (f"\0renaming {n}", row[0]))
            moving.append((row[0], new))
    for fid, new in moving:
        other = conn.execute("SELECT id FROM originals_folders WHERE name = ?", (new,)).fetchone()
        if other is not None:
            conn.execute("UPDATE originals SET folder = ? WHERE folder = ?", (fid, other[0]))
            conn.execute("DELETE FROM originals_folders WHERE id = ?", (other[0],))
            bump_epoch(conn)
        conn.execute("UPDATE originals_folders SET name = ? WHERE id = ?", (new, fid))


@contextmanager
def _lightly(conn: sqlite3.Connection) -> Iterator[None]:
    """A write that need not survive a power cut (synchronous NORMAL: no fsync at commit):
    a claim lost with the power is harmless, since the next start drops every claim anyway.
    Measured: a claim took 3.95 ms with FULL, 0.02 ms with NORMAL; the record stays FULL."""
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous=FULL")


_LOOK = "<dQqqHI"  # a claim's look: when it was noted, pHash, width, height, chroma, folder id; then its subdir


def _alive(path: bytes, inode: int, mtime: int) -> bool:
    """The claiming file still lies in processing/ (its worker may have died: the file is
    then retried, or failed and gone)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return _identity(st) == (inode, mtime)


def _identity(st: os.stat_result) -> tuple[int, int]:
    """Inode and mtime as SQLite's signed 64-bit INTEGERs: a time past 2262 (ext4 keeps times
    to 2446) or a 64-bit inode is wrapped, not an OverflowError that failed the file (an
    attack round). Equal files give equal pairs; a false match needs a 584-year difference."""
    return _i64(st.st_ino), _i64(st.st_mtime_ns)


def _i64(n: int) -> int:
    return (n + 2**63) % 2**64 - 2**63


_MATCH = "f.name, o.name, o.archived, o.outputs, o.time, o.renditions"  # what a Match is made of (_match)


def _has_renditions(conn: sqlite3.Connection) -> bool:
    """Whether the index keeps the renditions a rendering made: one the release before wrote
    (a package upgraded, its daemon not yet restarted) has no such column until the daemon
    brings it up to date, and a command reading it asked for it: `hotfolder duplicates` said
    it found nothing, `explain` no earlier copy. The commands read it as it is, adding nothing
    (that daemon, still running, writes claims without the look)."""
    return any(row[1] == "renditions" for row in conn.execute("PRAGMA table_info(originals)"))


def _match_columns(conn: sqlite3.Connection) -> str:
    return _MATCH if _has_renditions(conn) else _MATCH.replace("o.renditions", "NULL")


def _match_of(conn: sqlite3.Connection, record: int, kind: Kind, bits: int, columns: str = _MATCH) -> Match | None:
    """`columns`: _MATCH for the daemon's index (brought up to date when opened); a command's
    read of an index the release before wrote asks _match_columns once, not once a row."""
    row = conn.execute(f"SELECT {columns} FROM originals o JOIN originals_folders f ON f.id = o.folder "
                       "WHERE o.id = ?", (record,)).fetchone()
    return None if row is None else _match(row, kind, bits, record)


def _found(conn: sqlite3.Connection, limit: int, columns: str = _MATCH) -> list[Found]:
    found = conn.execute(
        "SELECT o.id, f.name, o.name, o.state, o.time, o.other, o.bits, o.archived, o.outputs FROM originals o "
        "JOIN originals_folders f ON f.id = o.folder WHERE o.other IS NOT NULL ORDER BY o.id DESC LIMIT ?",
        (limit,)).fetchall()
    out = []
    for record, folder, name, state, when, other, bits, archived, outputs in found:
        kind = Kind.EXACT if bits is None else Kind.SIMILAR  # an exact match keeps no distance
        out.append(Found(record, folder, rows.text(name), ACTIONS[state], when, rows.archived_text(archived, name),
                         rows.split(outputs, name), _match_of(conn, other, kind, bits or 0, columns)))
    return out


def found_in(state_dir: Path, limit: int) -> list[Found]:
    """Originals.found, read without writing (`hotfolder duplicates`): a command that made
    the database made the daemon take a deleted one for a new one, and skip rebuilding it
    from the archives (an attack round). Nothing when there is no index."""
    with db.read_only(state_dir) as conn:
        if conn is None:
            return []
        try:
            return _found(conn, limit, _match_columns(conn))
        except sqlite3.OperationalError:  # no index there yet (its tables are made by the daemon)
            return []


def _match(row, kind: Kind, bits: int, record: int) -> Match:
    return Match(kind, row[0], rows.text(row[1]), rows.archived_text(row[2], row[1]), rows.split(row[3], row[1]),
                 row[4], bits, record, renditions=None if row[5] is None else tuple(row[5].split()))


def _look(row) -> Look:
    phash, width, height, chroma = row
    return Look(phash & ((1 << 64) - 1), width or 0, height or 0, Look.unpack_chroma(chroma))


_open: dict[tuple[int, Path], Originals] = {}


def _written(conn: sqlite3.Connection, fid: int, rel: str, generation: int) -> list[Written]:
    name = os.fsencode(rel)
    found = conn.execute(
        "SELECT id, outputs, output_hashes FROM originals WHERE folder = ? AND name_key = ? AND name = ? "
        "AND state = ? AND generation = ? AND output_hashes IS NOT NULL ORDER BY id DESC LIMIT ?",
        (fid, _key8(name), name, RENDERED, generation, NAMED_LIMIT)).fetchall()
    return [Written(r[0], rows.split(r[1], name),
                    tuple(r[2][i:i + OUTPUT_HASH] for i in range(0, len(r[2]), OUTPUT_HASH))) for r in found]


def _written_since(conn: sqlite3.Connection, record: int, digest: bytes, fid: int, rel: str, generation: int) -> bool:
    """Not only the rows since `record`: `hotfolder rerender` updates an original's row in
    place (rerendered), so an earlier row may hold what was written after `record` (a
    rerender of a.png that took a_web.jpg after a.jpg's went: a new version of a.jpg
    replaced it). A scan of the rows (the index has no key on output hashes): asked only of
    an output whose owner record is missing."""
    name = os.fsencode(rel)
    return conn.execute(
        "SELECT 1 FROM originals WHERE id != ? AND state = ? AND output_hashes IS NOT NULL "
        "AND instr(output_hashes, ?) > 0 AND NOT (folder = ? AND name_key = ? AND name = ? AND generation = ?) "
        "LIMIT 1", (record, RENDERED, digest, fid, _key8(name), name, generation)
    ).fetchone() is not None


class RecordedOutputs:
    """What the index recorded of the outputs each rendering wrote (Originals.written and
    written_since), read without writing: for the commands beside a daemon that prove an
    output its own as the daemon does (`rerender` and its dry run, `explain`;
    workers/provenance.py). A folder the index does not know wrote nothing."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def written(self, folder: str, rel: str, generation: int) -> list[Written]:
        fid = self._folder_id(folder)
        try:
            return [] if fid is None else _written(self.conn, fid, rel, generation)
        except sqlite3.OperationalError:  # an index from before the outputs' hashes: the daemon adds them
            return []

    def written_since(self, record: int, digest: bytes, folder: str, rel: str, generation: int) -> bool:
        fid = self._folder_id(folder)
        return fid is not None and _written_since(self.conn, record, digest, fid, rel, generation)

    def _folder_id(self, name: str) -> int | None:
        try:
            row = self.conn.execute("SELECT id FROM originals_folders WHERE name = ?", (name,)).fetchone()
        except sqlite3.OperationalError:  # no index there yet (its tables are made by the daemon)
            return None
        return None if row is None else row[0]


@contextmanager
def recorded_outputs(state_dir: Path | None) -> Iterator[RecordedOutputs | None]:
    """RecordedOutputs of `state_dir`'s index, read only (db.read_only); None when there is none."""
    if state_dir is None:
        yield None
        return
    with db.read_only(state_dir) as conn:
        yield None if conn is None else RecordedOutputs(conn)


def opened(state_dir: Path) -> Originals:
    """This process's index of `state_dir`, opened at its first use (never shared across a fork)."""
    key = (os.getpid(), state_dir)
    if key not in _open:
        _open[key] = Originals(state_dir)
    return _open[key]


def generation_of(state_dir: Path, content: str, folder: str, rel: str) -> int | None:
    """Which photo of the name `rel` these bytes were rendered as (`hotfolder rerender`), read
    without writing (db.read_only); None when the index has no rendering of them there."""
    row = _latest_rendering(state_dir, "o.generation", folder, rel, content)
    return None if row is None else row[0]


def rendered_under(state_dir: Path, folder: str, rel: str) -> bool:
    """Whether the index has a rendering under the name `rel` (read without writing)."""
    return _latest_rendering(state_dir, "1", folder, rel) is not None


def rendered_since(state_dir: Path, folder: str, rel: str, since: float) -> str | None:
    """Where the latest rendering under the name `rel` was archived (under archive/; "" when
    not known), if it was rendered at `since` or after; None otherwise (or no index). What
    `hotfolder requeue` says of a failed file whose name a later copy rendered."""
    row = _latest_rendering(state_dir, "o.time, o.archived", folder, rel)
    if row is None or row[0] < int(since):
        return None
    return rows.archived_text(row[1], os.fsencode(rel))  # NULL: under its name; b"": gone


def first_taken(state_dir: Path, folder: str, rel: str, generation: int) -> int | None:
    """The id of the first rendering under the name `rel` as its photo `generation`: the
    order in which originals first took their output names (rerender gives each the names
    it took, first come first, again); None when the index has none (or there is no index)."""
    row = _latest_rendering(state_dir, "o.id", folder, rel, generation=generation, first=True)
    return None if row is None else row[0]


def outputs_of(state_dir: Path, content: str, folder: str, rel: str) -> tuple[str, ...]:
    """The outputs the index recorded for these bytes rendered under the name `rel` (the
    latest rendering), read without writing; () when it knows none."""
    row = _latest_rendering(state_dir, "o.outputs", folder, rel, content)
    return () if row is None else rows.split(row[0], os.fsencode(rel))


def rerendered(state_dir: Path, folder: str,
               renders: list[tuple[str, str, tuple[str, ...], bytes, tuple[str, ...], int | None]]) -> int:
    """`hotfolder rerender` wrote these outputs (content, name, outputs, their hashes, the
    renditions that made them, the `{seq}` number they took: one numbered anew is given it
    again at the next run, not numbered anew once more, a set more each run): the
    renderings of those bytes under that name say so, so that a copy dropped later is told
    which outputs are gone, `hotfolder duplicates` names the ones there (a new user: after a
    new `filename` they named the old ones), and a new version proves them its own after the
    output folder moved (the drop's hashes were kept: the outputs rerender wrote were written
    beside as `~jpg`). How many rows; 0 when there is no index (none is made)."""
    changed = 0
    with db.existing(state_dir) as conn:
        if conn is None or not renders:
            return 0
        try:
            kept = _has_renditions(conn)  # an index of the release before: its daemon adds the columns
            with db.transaction(conn):
                for content, rel, outputs, hashes, renditions, seq in renders:
                    name, digest = os.fsencode(rel), bytes.fromhex(content)
                    changed += conn.execute(
                        "UPDATE originals SET outputs = ?, output_hashes = ?"
                        f"{', renditions = ?, seq = coalesce(?, seq)' if kept else ''} WHERE key = ? AND content = ? "
                        "AND state = ? AND folder = (SELECT id FROM originals_folders WHERE name = ?) AND name_key = ? "
                        "AND name = ?",
                        (rows.joined(outputs, name), hashes or None,
                         *((" ".join(renditions) or None, seq) if kept else ()), _key8(digest), digest, RENDERED,
                         folder, _key8(name), name)
                    ).rowcount
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return 0  # no index there yet (its tables are made by the daemon)
    return changed


def seq_of(state_dir: Path, content: str, folder: str, rel: str) -> int | None:
    """The `{seq}` number these bytes took when rendered under the name `rel` (the latest
    rendering), read without writing: rerender gives it again (its outputs are replaced, not
    numbered anew beside them); None when it took none, or the index does not say."""
    row = _latest_rendering(state_dir, "o.seq", folder, rel, content)
    return None if row is None else row[0]


def made_as_lookalike(state_dir: Path, content: str, folder: str, rel: str) -> tuple[str, ...] | None:
    """The renditions these bytes, rendered under the name `rel` as a look-alike of earlier
    photos (similar: skip rendered it for those they had not made: a rated RAW after its
    camera JPEG), made: rerender makes those again and no other, read without writing; None
    when it was no look-alike, or the index does not say. Not the renditions of the earlier
    photo it names: of two (a camera JPEG's web size, its rated export's proof), that one
    made only one, and rerender gave the look-alike the other again (a second proof of one shot)."""
    row = _latest_rendering(
        state_dir, "CASE WHEN o.other IS NOT NULL AND o.bits IS NOT NULL THEN o.renditions END",
        folder, rel, content)
    return None if row is None or not row[0] else tuple(row[0].split())


def _latest_rendering(state_dir: Path, column: str, folder: str, rel: str, content: str | None = None, *,
                      generation: int | None = None, first: bool = False) -> tuple | None:
    """`column` of the latest rendering under the name `rel` (of the bytes `content`, as the
    photo `generation`, if given; the earliest if `first`), read without writing
    (db.read_only); None when there is none, or no index."""
    name = os.fsencode(rel)
    of_bytes = " AND o.content = ?" if content is not None else ""
    as_photo = " AND o.generation = ?" if generation is not None else ""
    with db.read_only(state_dir) as conn:
        if conn is None:
            return None
        try:
            return conn.execute(
                f"SELECT {column} FROM originals o JOIN originals_folders f ON f.id = o.folder WHERE f.name = ? AND "
                f"o.name_key = ? AND o.name = ? AND o.state = ?{of_bytes}{as_photo} ORDER BY o.id "
                f"{'ASC' if first else 'DESC'} LIMIT 1",
                (folder, _key8(name), name, RENDERED, *((bytes.fromhex(content),) if content is not None else ()),
                 *((generation,) if generation is not None else ()))
            ).fetchone()
        except sqlite3.OperationalError:  # no index there yet (its tables are made by the daemon)
            return None


def same_bytes(state_dir: Path, content: str, folder: str, *, scope_all: bool, since: float,
               subdir: str | None = None) -> Match | None:
    """The earlier original whose bytes these are, as a drop now would find it (the claim's
    lookup: `hotfolder explain`), read without writing; None when there is none (or no index)."""
    digest = bytes.fromhex(content)
    scope = "" if scope_all else " AND f.name = ?"
    args: tuple = (_key8(digest), RENDERED, digest, since, *(() if scope_all else (folder,)))
    if subdir is not None and not scope_all:
        within, more = _in_subdir(subdir, "o.name")
        scope, args = scope + within, args + more
    with db.read_only(state_dir) as conn:
        if conn is None:
            return None
        try:
            row = conn.execute(f"SELECT {_match_columns(conn)}, o.id FROM originals o JOIN originals_folders f "
                               "ON f.id = o.folder "
                               f"WHERE o.key = ? AND o.state = ? AND o.content = ? AND o.time >= ?{scope} LIMIT 1",
                               args).fetchone()
        except sqlite3.OperationalError:  # no index there yet (its tables are made by the daemon)
            return None
    return None if row is None else _match(row, Kind.EXACT, 0, row[6])


def had(state_dir: Path, content: str, folder: str, rel: str) -> tuple[tuple[tuple[str, str, bytes], ...], bytes]:
    """The outputs these bytes, rendered under the name `rel`, have (the latest rendering),
    each as (its rendition, "" not known; its path; its content hash, b"" not known), and the hash of the
    manifest written with them (b"": none known), read without writing: what `rerender
    --rendition` leaves as it is and still lists. ((), b"") when the index knows none."""
    row = _latest_rendering(state_dir, "o.outputs, o.output_hashes, o.renditions", folder, rel, content)
    if row is None:  # or an index from before those columns: its outputs only
        return tuple(("", output, b"") for output in outputs_of(state_dir, content, folder, rel)), b""
    outputs = rows.split(row[0], os.fsencode(rel))
    hashes = [row[1][i:i + OUTPUT_HASH] for i in range(0, len(row[1] or b""), OUTPUT_HASH)]
    renditions = (row[2] or "").split()
    if len(renditions) != len(outputs):
        renditions = [""] * len(outputs)
    if len(hashes) not in (len(outputs), len(outputs) + 1):
        hashes = []
    listed = zip(renditions, outputs, hashes or [b""] * len(outputs), strict=False)
    return tuple(listed), hashes[len(outputs)] if len(hashes) > len(outputs) else b""
