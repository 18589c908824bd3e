"""The state database: each part's migrations run once, also when two processes open it at once."""
import multiprocessing
import sqlite3

import pytest

from hotfolder.state import db

PART = ("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "ALTER TABLE things ADD COLUMN size INTEGER NOT NULL DEFAULT 0; CREATE INDEX things_size ON things(size)")


def test_migrations_run_once_in_order_and_survive_a_reopen(tmp_path):
    conn = db.connect(tmp_path / "state")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.ensure(conn, "things", PART[:1])
    with db.transaction(conn):
        conn.execute("INSERT INTO things (name) VALUES ('a')")
    db.ensure(conn, "things", PART)
    db.ensure(conn, "things", PART)  # nothing left to run: no "duplicate column" error
    conn.close()
    again = db.connect(tmp_path / "state")
    assert db.version(again, "things") == 2
    assert again.execute("SELECT name, size FROM things").fetchall() == [("a", 0)]


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    conn = db.connect(tmp_path)
    db.ensure(conn, "things", PART)
    with pytest.raises(sqlite3.IntegrityError), db.transaction(conn):
        conn.execute("INSERT INTO things (name) VALUES ('a')")
        conn.execute("INSERT INTO things (name) VALUES (NULL)")
    assert conn.execute("SELECT count(*) FROM things").fetchone()[0] == 0


def _open_and_migrate(state_dir, barrier):
    barrier.wait(10)
    db.ensure(db.connect(state_dir), "things", PART)


def test_two_processes_migrating_at_once_run_each_migration_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_open_and_migrate, args=(tmp_path, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert db.version(db.connect(tmp_path), "things") == 2
