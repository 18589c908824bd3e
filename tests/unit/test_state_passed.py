"""The rows of clips passed through (state/passed.py), on a real database in a temp state_dir:
what finds a clip dumped again into another subfolder."""
from __future__ import annotations

import sqlite3

from hotfolder.state import db, passed
from hotfolder.state.passed import Passed, Row


def test_a_row_is_found_by_its_name_case_aside_and_its_size(tmp_path):
    rows = Passed(tmp_path)
    rows.note("t", "MVI_0009.MP4", "card1/DCIM/100CANON", 3 << 20, "card1/DCIM/100CANON/MVI_0009.MP4", now=1.0)
    assert rows.find("mvi_0009.mp4", 3 << 20, folder="t", subdir=None) == [
        Row("t", "card1/DCIM/100CANON/MVI_0009.MP4", "card1/DCIM/100CANON")]
    assert rows.find("MVI_0009.MP4", (3 << 20) + 1, folder="t", subdir=None) == []  # another size
    assert rows.find("MVI_0010.MP4", 3 << 20, folder="t", subdir=None) == []
    assert rows.find("MVI_0009.MP4", 3 << 20, folder="u", subdir=None) == []  # another folder's
    assert len(rows.find("MVI_0009.MP4", 3 << 20, folder=None, subdir=None)) == 1  # duplicate_scope: all
    assert rows.find("MVI_0009.MP4", 3 << 20, folder="t", subdir="card2") == []  # duplicate_scope: subfolder
    assert len(rows.find("MVI_0009.MP4", 3 << 20, folder="t", subdir="card1/DCIM/100CANON")) == 1
    rows.close()


def test_the_latest_first_and_a_place_noted_again_is_one_row(tmp_path):
    rows = Passed(tmp_path)
    rows.note("t", "A.MOV", "card1", 10, "card1/A.MOV", now=1.0)
    rows.note("t", "A.MOV", "card2", 10, "card2/A.MOV", now=2.0)
    rows.note("t", "A.MOV", "card1", 10, "card1/A.MOV", now=3.0)  # deleted, and a clip archived there again
    assert [r.archived for r in rows.find("a.mov", 10, folder="t", subdir=None)] == ["card1/A.MOV", "card2/A.MOV"]
    assert rows.count() == 2
    rows.close()


def test_a_row_archived_under_another_name_keeps_the_name_it_came_in(tmp_path):
    """MVI_0009_1.MP4 (archived beside another clip of that name) is still found as MVI_0009.MP4."""
    rows = Passed(tmp_path)
    rows.note("t", "MVI_0009.MP4", "ev", 10, "ev/MVI_0009_1.MP4")
    assert [r.archived for r in rows.find("MVI_0009.MP4", 10, folder="t", subdir="ev")] == ["ev/MVI_0009_1.MP4"]
    assert rows.find("MVI_0009_1.MP4", 10, folder="t", subdir="ev") == []
    rows.close()


def test_a_dropped_row_is_gone_for_every_connection(tmp_path):
    rows = Passed(tmp_path)
    rows.note("t", "A.MOV", "card1", 10, "card1/A.MOV")
    rows.note("t", "A.MOV", "card2", 10, "card2/A.MOV")
    rows.drop(Row("t", "card1/A.MOV", "card1"))
    other = sqlite3.connect(db.path_in(tmp_path))
    assert other.execute("SELECT archived FROM passed_through").fetchall() == [(b"card2/A.MOV",)]
    other.close()
    rows.close()


def test_names_that_are_not_utf8_are_kept_as_their_bytes(tmp_path):
    rows = Passed(tmp_path)
    name = b"MVI_\xe9.MOV".decode("utf-8", "surrogateescape")  # a Latin-1 name from an old card
    rows.note("t", name, "", 10, name)
    assert rows.find(name.lower(), 10, folder="t", subdir="") == [Row("t", name, "")]
    rows.close()


def test_the_part_is_known_to_a_downgrade_check(tmp_path):
    Passed(tmp_path).close()
    assert db._every_part()[passed.PART] == passed.MIGRATIONS
    db.refuse_newer(tmp_path)  # this release's own version: nothing refused
