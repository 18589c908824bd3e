"""The index of originals when the daemon is killed at each point of its protocol (issue 23):
never an original marked as seen whose outputs were not written, never one rendered and not
marked. Real daemon, real SIGKILLs, the real database read as the workers wrote it."""
from __future__ import annotations

import os
import signal
import sqlite3

import pytest

from tests.harness import files_under, noise_jpeg, wait_for

pytestmark = pytest.mark.integration

FULL_SIZE = """
- name: full
  operation: none
  format: jpeg
"""


def _rows(d, table: str) -> int:
    try:
        with sqlite3.connect(d.var / "state" / "hotfolder.db", timeout=5) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # not made yet
        return 0


def _drop_big(d, tmp_path, name: str, seed: int) -> bytes:
    """A 27 MP noise JPEG: a full-size render of it takes long enough to be caught in the middle."""
    path = noise_jpeg(tmp_path / name, size=(6000, 4500), seed=seed)
    data = path.read_bytes()
    os.rename(path, d.inbox / name)
    return data


def _stop_main(d) -> None:
    os.kill(d.proc.pid, signal.SIGSTOP)  # its workers go on; nothing is moved out of processing/


def test_killed_between_the_claim_and_the_record(daemon_factory, tmp_path):
    """The claim is left behind: the next start drops it and renders the file again."""
    d = daemon_factory(renditions=FULL_SIZE, on_duplicate=None).start()
    data = _drop_big(d, tmp_path, "big.jpg", seed=1)
    wait_for(lambda: _rows(d, "originals_claims") == 1, 30, interval=0.005, what="the worker's claim")
    assert _rows(d, "originals") == 0
    d.kill()
    assert files_under(d.processing) == ["big.jpg"]
    d.start()
    wait_for(lambda: files_under(d.archive) == ["big.jpg"], 60, what="big.jpg rendered after the restart")
    assert d.event("index_recovered")["claims_dropped"] == 1
    assert "big_full.jpg" in d.outputs() and not files_under(d.var / "duplicates")
    assert (_rows(d, "originals"), _rows(d, "originals_claims")) == (1, 0)
    (tmp_path / "again.jpg").write_bytes(data)
    os.rename(tmp_path / "again.jpg", d.inbox / "again.jpg")  # its bytes are known now
    wait_for(lambda: "again.jpg" in files_under(d.var / "duplicates"), 30, what="the copy skipped")
    assert d.stop() == 0


def test_killed_between_the_record_and_the_archive(daemon_factory, tmp_path):
    """Recorded (its outputs written), killed before the original left processing/: at the
    next start it is rendered again, not called a duplicate of itself, and recorded once."""
    d = daemon_factory(renditions=FULL_SIZE, on_duplicate=None).start()
    _drop_big(d, tmp_path, "big.jpg", seed=2)
    wait_for(lambda: _rows(d, "originals_claims") == 1, 30, interval=0.005, what="the worker's claim")
    _stop_main(d)
    try:
        wait_for(lambda: _rows(d, "originals") == 1, 60, what="the worker's record")
    finally:
        d.kill()  # SIGKILL reaches a stopped process too
    assert files_under(d.processing) == ["big.jpg"] and "big_full.jpg" in d.outputs()
    d.start()
    wait_for(lambda: files_under(d.archive) == ["big.jpg"], 60, what="big.jpg after the restart")
    assert not files_under(d.var / "duplicates"), "called a duplicate of itself"
    assert not d.events("duplicate_skipped")
    assert (_rows(d, "originals"), _rows(d, "originals_claims")) == (1, 0)
    assert d.outputs() == ["big_full.jpg"]
    assert d.stop() == 0
