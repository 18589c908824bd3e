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


def _folder(tmp_path, **changes):
    from hotfolder.config.model import Folder, Rendition

    places = {"archive": tmp_path / "archive", **changes}
    return Folder(name="t", inbox=tmp_path / "inbox", output=tmp_path / "output", failed=tmp_path / "failed",
                  processing=tmp_path / "processing",
                  renditions=(Rendition(name="web", width=64, height=64, format="jpeg"),), **places)


def _put(path, data: bytes = b"clip") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_the_clips_listed_from_archive_are_only_what_the_daemon_passes_through(tmp_path):
    """spool/archived_clips: what `hotfolder index rebuild` lists. A name is data: a link to a
    file is not listed, a link to a folder not entered; sidecars, photos, hidden, temp and
    ignored names (and what lies under an ignored folder) are not clips."""
    from hotfolder.spool import archived_clips

    f = _folder(tmp_path)
    a = f.archive
    for rel in ("card1/MVI_0009.MP4", "card1/MVI_0009_1.MP4", "card1/DJI_0001.MP4", "top.MOV"):
        _put(a / rel)
    for rel in ("card1/MVI_0009.xmp", "card1/IMG_0001.JPG", "card1/.MVI_0009.MP4", "card1/MVI_0011.MP4.part",
                "$RECYCLE.BIN/MVI_0012.MP4", "System Volume Information/MVI_0013.MP4"):
        _put(a / rel)
    _put(tmp_path / "elsewhere/MVI_0014.MP4")
    (a / "card1/LINK.MP4").symlink_to(tmp_path / "elsewhere/MVI_0014.MP4")
    (a / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    found = sorted((c.archived, c.name, c.subdir, c.size) for c in archived_clips.clips(f))
    assert found == [("card1/DJI_0001.MP4", "DJI_0001.MP4", "card1", 4),  # no `DJI.MP4` beside: its own name
                     ("card1/MVI_0009.MP4", "MVI_0009.MP4", "card1", 4),
                     ("card1/MVI_0009_1.MP4", "MVI_0009.MP4", "card1", 4),  # archived beside the first
                     ("top.MOV", "top.MOV", "", 4)]
    assert list(archived_clips.clips(_folder(tmp_path, archive=None))) == []  # on_success: delete


def test_clips_listed_again_keep_the_rows_the_daemon_noted(tmp_path):
    """A row the daemon wrote names the clip as it came in (its subfolder, its own name): a
    rebuild over it keeps it; every clip is written once, in batches."""
    from hotfolder.spool.archived_clips import Clip

    rows = Passed(tmp_path)
    rows.note("t", "mvi_0009.mp4", "backup", 10, "card1/MVI_0009_1.MP4", now=5.0)
    clips = [Clip(f"C{i:04}.MP4", "card1", 10, f"card1/C{i:04}.MP4", float(i)) for i in range(5)]
    clips.append(Clip("MVI_0009.MP4", "card1", 10, "card1/MVI_0009_1.MP4", 1.0))
    assert rows.listed("t", iter(clips), batch=2) == (5, 1)
    assert rows.find("MVI_0009.MP4", 10, folder="t", subdir="backup") == [Row("t", "card1/MVI_0009_1.MP4", "backup")]
    assert [r.archived for r in rows.find("c0003.mp4", 10, folder="t", subdir="card1")] == ["card1/C0003.MP4"]
    assert rows.listed("t", iter(clips)) == (0, 6) and rows.count() == 6
    rows.close()


class _Said:
    """A logger that keeps what it is told: (event, fields)."""

    def __init__(self):
        self.lines: list[tuple[str, dict]] = []

    def info(self, event, **kw):
        self.lines.append((event, kw))

    warning = info


def test_the_daemon_s_listing_is_asked_once_and_asked_again_until_it_is_whole(tmp_path):
    """supervisor/clips_listing: the rows made anew ask for it; a stop mid-way, or a folder not
    listed (its share not mounted), leaves it asked for the next start; a whole listing (or
    `hotfolder index rebuild`'s) clears it."""
    from hotfolder.supervisor.clips_listing import ClipsListing

    f = _folder(tmp_path, index_dir=tmp_path / "state")
    for i in range(3):
        _put(f.archive / f"card1/MVI_000{i}.MP4")
    stopped = ClipsListing(_Said())
    stopped._stop.set()  # a stop before the first clip
    stopped.run([f])
    rows = Passed(tmp_path / "state")
    assert rows.listing_due() and rows.count() == 0
    ClipsListing(_Said()).run([f], whole=False)  # another folder was not ready
    assert rows.listing_due() and rows.count() == 3
    said = _Said()
    ClipsListing(said).run([f])
    assert not rows.listing_due() and [e for e, _ in said.lines] == ["clips_listing", "clips_listed"]
    assert said.lines[1][1]["listed"] == 3 and said.lines[1][1]["known"] == 3
    again = _Said()
    ClipsListing(again).run([f])
    assert again.lines == [] and rows.count() == 3
    rows.close()


def test_rows_older_than_the_window_are_forgotten_for_their_folder_only(tmp_path):
    rows = Passed(tmp_path)
    rows.note("t", "OLD.MOV", "card1", 10, "card1/OLD.MOV", now=100.0)
    rows.note("t", "NEW.MOV", "card1", 10, "card1/NEW.MOV", now=300.0)
    rows.note("u", "OLD.MOV", "card1", 10, "card1/OLD.MOV", now=100.0)  # another folder's window
    assert rows.forget_before("t", 200.0) == 1
    assert rows.find("OLD.MOV", 10, folder="t", subdir=None) == []
    assert len(rows.find("NEW.MOV", 10, folder="t", subdir=None)) == 1
    assert len(rows.find("OLD.MOV", 10, folder="u", subdir=None)) == 1
    rows.close()
