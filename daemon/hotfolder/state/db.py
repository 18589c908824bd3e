"""The daemon's SQLite database in state_dir: opened the same way by every process.

WAL lets the supervisor, the workers and the CLI read while one of them writes; each
write is a short `BEGIN IMMEDIATE` transaction, so a writer waits for another instead
of failing halfway (busy timeout). `synchronous=FULL`: a commit survives a power cut,
since the daemon acts on it at once (an original archived, a number handed out).

The database and its side files (-wal, -shm, -journal) are opened by name, by SQLite, as
whoever runs the command: a symlink there was followed (`hotfolder index rebuild` as root
made a file wherever a hostile link in state_dir pointed) and a FIFO hung `duplicates`,
`places`, `explain` and `rerender` for ever in its open (an attack round). So each is
looked at first (`refuse_strange`) and anything but a regular file refuses the command,
saying what stands there and to remove it. What is put there in the moment between that
look and SQLite's open is not caught: run the commands as the daemon's user (`sudo -u
hotfolder`), whose state_dir it is.

Each part of the state (a counter, an index) keeps its own tables and its own schema
version in the `schema` table, and brings them up to date itself (`ensure`): parts
are added without a shared list of migrations to edit.
"""
from __future__ import annotations

import os
import shlex
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import hotfolder
from hotfolder.backoff import Backoff
from hotfolder.errors import ExitCode, HotfolderError
from hotfolder.filekinds import removal, what_is_at
from hotfolder.shown import printable

DB_NAME = "hotfolder.db"
SIDE_FILES = ("", "-wal", "-shm", "-journal")  # the database's own name, and SQLite's beside it
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another; writes here take milliseconds

Migration = str | Callable[[sqlite3.Connection], None]


def path_in(state_dir: Path) -> Path:
    return state_dir / DB_NAME


def unusable(said: str, exc: BaseException, state_dir: Path) -> str:
    """`said` of an error of state_dir's database, with where it is and what to do: a
    damaged file is made again (a review: "DatabaseError: file is not a database" said
    neither where nor how)."""
    where, text = path_in(state_dir), str(exc).lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (f"{said} ({where} is damaged): stop the daemon, delete that file and start it again: the index "
                "is rebuilt from the archive")
    if "locked" in text:  # also what a file truncated or replaced under the daemon answers (an attack round)
        return (f"{said} ({where}: another process holds it, or the file was truncated or replaced under the "
                "daemon; it goes on once it can write; if this lasts, stop the daemon, move that file away and "
                "start it again: the index is rebuilt from the archive)")
    if "readonly" in text:  # SQLite's "attempt to write a readonly database": the file's or its folder's mode
        from hotfolder.spool.oserrors import this_user  # noqa: PLC0415 - as space below

        return (f"{said} ({where}, or its folder, cannot be written by user {this_user()}: they are the daemon's "
                "user's, and a command that writes them runs as that user)")
    if "full" in text:  # "database or disk is full": which file system, and what is free there
        from hotfolder.spool import space  # noqa: PLC0415 - the state's modules import no room's

        return f"{said} ({where}, on {space.file_system(state_dir)}): free some space there"
    return f"{said} ({where})"


class NotADatabaseFile(HotfolderError):
    """Something other than a regular file stands where the database or a side file of it is."""

    exit_code = ExitCode.USAGE  # the command cannot run as asked (errors.ExitCode), as for a lock path

    def __init__(self, path: Path, what: str):
        # A link in the database's place may be an admin's own, to it on another disk: removed, a
        # new one would start each folder's {seq} at 1 again (README, state_dir)
        linked = what.startswith("a symlink") and path.name == DB_NAME
        yours = (f"; if it links to a database of yours, move that here in its place (`mv TARGET "
                 f"{printable(shlex.quote(str(path)))}`, and TARGET-wal to {DB_NAME}-wal if there) instead"
                 if linked else "")
        super().__init__(f"{printable(str(path))} is {what}, not a file of the state database: it is never "
                         f"opened; remove it (`{removal(path, what)}`, as root or the daemon's "
                         "user) and run this again (a missing database is made anew, and the index of originals "
                         f"rebuilt from the archive){yours}")


def refuse_strange(state_dir: Path) -> None:
    """NotADatabaseFile when the database or a side file of it is no regular file (see the top)."""
    for suffix in SIDE_FILES:
        path = state_dir / (DB_NAME + suffix)
        what = what_is_at(path)
        if what is not None:
            raise NotADatabaseFile(path, what)


def connect(state_dir: Path) -> sqlite3.Connection:
    """A connection to state_dir's database, made (with its folder) if needed."""
    state_dir.mkdir(parents=True, exist_ok=True)
    refuse_strange(state_dir)
    conn = sqlite3.connect(path_in(state_dir), timeout=BUSY_TIMEOUT, isolation_level=None,
                           check_same_thread=False)
    _use_wal(conn)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS schema (part TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    """WAL mode (persistent: set once per database). Two processes making the database at
    once: the second's switch can fail with "database is locked" at once, without waiting
    for the busy timeout (SQLite does not wait where waiting could deadlock); measured in
    tests/process/test_state_db.py. So it is retried, for as long as the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    pause = Backoff(0.005, 0.2)
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause.failed())


def _uri(path: Path, query: str) -> str:
    """`path` as an SQLite URI with `query`: percent-encoded, so a `#` or `?` in a folder's
    name is the name's (a state_dir `st#1` opened, and made, a database at `st`: a review)."""
    return f"file:{urllib.parse.quote(os.fsencode(path.absolute()))}?{query}"


@contextmanager
def read_only(state_dir: Path) -> Iterator[sqlite3.Connection | None]:
    """A connection that writes nothing, for commands beside a daemon (`explain`, `rerender`):
    they must not make or migrate its database (a daemon rebuilds an index it finds made
    anew). None when there is no database, or it cannot be read. A WAL database is opened
    read-only with its -shm, else as it is on disk."""
    path = path_in(state_dir)
    refuse_strange(state_dir)
    conn = None
    for query in ("mode=ro", "immutable=1") if path.exists() else ():
        try:
            conn = sqlite3.connect(_uri(path, query), uri=True, timeout=1.0)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            break
        except sqlite3.OperationalError:
            if conn is not None:
                conn.close()
            conn = None
    try:
        yield conn
    finally:
        if conn is not None:
            conn.close()


@contextmanager
def existing(state_dir: Path) -> Iterator[sqlite3.Connection | None]:
    """A connection for a command's writes to a database the daemon made (`rerender` notes
    the outputs it wrote): None when there is none. It never makes one (see read_only)."""
    path = path_in(state_dir)
    refuse_strange(state_dir)
    try:
        conn = sqlite3.connect(_uri(path, "mode=rw"), uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.OperationalError:  # no database there (or not ours to write)
        yield None
        return
    try:
        conn.execute("PRAGMA synchronous=FULL")
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (`BEGIN IMMEDIATE`): committed, or rolled back
    on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _file_of(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else DB_NAME


def version(conn: sqlite3.Connection, part: str) -> int:
    row = conn.execute("SELECT version FROM schema WHERE part = ?", (part,)).fetchone()
    return row[0] if row else 0


class StateTooNew(HotfolderError):
    """The database was brought up to date by a newer hotfolder than this one."""

    exit_code = ExitCode.USAGE  # the command cannot run as asked (errors.ExitCode), as `run`'s start_refused


def too_new(conn: sqlite3.Connection, part: str, known: int, where: Path | str) -> StateTooNew | None:
    """Why this hotfolder must not use the database: a newer one moved `part` past the
    `known` migrations (a downgrade). Its tables may hold what this version would misread
    or overwrite, so nothing is written; None when it may go on."""
    found = version(conn, part)
    if found <= known:
        return None
    return StateTooNew(
        f"{where} was last used by a newer hotfolder (its {part!r} tables are at version {found}; hotfolder "
        f"{hotfolder.__version__} knows up to {known}): run the newer version again; or, to go back to this one, "
        "stop the daemon and move that file (with its -wal and -shm) away: the next start makes it anew and "
        "rebuilds the index of originals from the archive ({seq} numbers start at 1 again)")


def refuse_newer(state_dir: Path, parts: Mapping[str, Sequence[Migration]] | None = None) -> None:
    """Raise StateTooNew when a newer hotfolder took one of `parts` (None: every part of this
    release) past what this one knows: checked at the start of `run`, `process` and
    `rerender`, before anything is read or written (a part would otherwise only fail later,
    file by file, a worker's first file). No database: nothing to check."""
    if parts is None:
        parts = _every_part()
    try:
        with read_only(state_dir) as conn:
            if conn is None:
                return
            found = {part: too_new(conn, part, len(migrations), path_in(state_dir))
                     for part, migrations in parts.items()}
    except sqlite3.DatabaseError:  # damaged, or no schema table yet: the parts' own opening says it
        return
    for refused in found.values():
        if refused is not None:
            raise refused


def _every_part() -> dict[str, Sequence[Migration]]:
    """The parts of this release and their migrations (each module declares its own)."""
    from hotfolder.recipes import sequence  # noqa: PLC0415 - they import this module
    from hotfolder.state import filesystems, originals, passed, places, unmatched  # noqa: PLC0415

    return {p.PART: p.MIGRATIONS for p in (sequence, originals, places, filesystems, unmatched, passed)}


def for_notes(state_dir: Path, part: str, migrations: Sequence[Migration]) -> sqlite3.Connection:
    """A connection to `part`'s tables, brought up to date, for notes the main loop writes that
    need not survive a power cut (synchronous NORMAL: no fsync at commit; a crash of the
    process loses no commit in WAL mode): what a lost note costs is said by each part."""
    conn = connect(state_dir)
    ensure(conn, part, migrations)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def ensure(conn: sqlite3.Connection, part: str, migrations: Sequence[Migration]) -> None:
    """Bring `part`'s tables up to date: migration i (SQL, or a function of the
    connection) runs once, in order, each in its own transaction with its version.
    Raises StateTooNew when a newer hotfolder took them further."""
    refused = too_new(conn, part, len(migrations), _file_of(conn))
    if refused is not None:
        raise refused
    for number, migration in enumerate(migrations, start=1):
        with transaction(conn):
            if version(conn, part) >= number:  # read inside the lock: another process may have run it
                continue
            if callable(migration):
                migration(conn)
            else:
                for statement in filter(str.strip, migration.split(";")):
                    conn.execute(statement)
            conn.execute("INSERT INTO schema (part, version) VALUES (?, ?) "
                         "ON CONFLICT(part) DO UPDATE SET version = excluded.version", (part, number))
