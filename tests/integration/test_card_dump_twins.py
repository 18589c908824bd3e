"""A card's clips when the daemon's records of them (state/passed.py) are not there yet: two
copies of one new clip dropped at once into two subfolders (supervisor/passed_again.py), and
a state_dir lost or restored (`hotfolder index rebuild`)."""
from __future__ import annotations

import json
import os

from tests import corpus as c
from tests.harness import archived, failed_originals, files_under, wait_for

SIZE = 16 << 20  # read in 1 MiB chunks, both: the comparison lasts while the second copy is taken


def test_two_copies_of_a_clip_compared_at_once_archive_one(daemon_factory):
    """Two copies of one clip dropped at once into card1/ and card2/ (the same card dumped by two
    people), while an older clip of its name and size lies in archive/ (a camera's numbers came
    round): each copy was compared with the older one only, both differed, and both were
    archived (gigabytes twice). The later one now waits in the inbox for the first's end, then
    is compared with it: the very bytes, a duplicate. The first's comparison is held at its open
    of the older clip (fanotify: tests/harness/held.py) while the second is taken."""
    from tests.harness.held import HeldOpen

    d = daemon_factory(on_duplicate=None).start()
    older = os.urandom(1 << 20)
    c.write(d.inbox / "ev/MVI_0009.MP4", older)
    wait_for(lambda: "ev/MVI_0009.MP4" in archived(d), 20, what="the older clip archived")
    clip = older[:-1] + bytes([older[-1] ^ 1])  # the same name and size, other bytes: read to its end
    first, second = "card1/DCIM/100CANON/MVI_0009.MP4", "card2/DCIM/100CANON/MVI_0009.MP4"
    with HeldOpen(d.archive / "ev/MVI_0009.MP4") as held:
        c.write(d.inbox / first, clip)
        held.wait_open(20)  # the first copy is being compared with the older clip
        c.write(d.inbox / second, clip)
        waited = wait_for(lambda: d.events("file_waits_for_twin"), 20, what="the second copy waiting")
        assert [(e["file"], e["twin"]) for e in waited] == [(second, first)], waited
        assert (d.inbox / second).read_bytes() == clip
        wait_for(lambda: d.status_json()["folders"]["test"].get("comparing") == 2, 10, what="both counted")
    wait_for(lambda: files_under(d.inbox) == [], 30, what="both copies taken")
    duplicates = d.var / "duplicates"
    assert sorted(archived(d)) == [first, "ev/MVI_0009.MP4"] and (d.archive / first).read_bytes() == clip
    assert (duplicates / second).read_bytes() == clip
    record = json.loads((duplicates / (second + ".duplicate.json")).read_text())
    assert record["matched"]["archived"] == first, record
    assert len(d.events("file_waits_for_twin")) == 1 and failed_originals(d) == [] and d.stop() == 0


def test_two_copies_of_a_new_clip_dropped_at_once_archive_one(daemon_factory):
    """No row and no older clip: the main loop takes the two copies one after the other, the
    first archived and noted in the same turn, so the second is compared with it."""
    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(3 << 20)
    for card in ("card1", "card2"):
        c.write(d.inbox / card / "DCIM/100CANON/MVI_0009.MP4", clip)
    wait_for(lambda: files_under(d.inbox) == [], 20, what="both copies taken")
    kept = archived(d)
    skipped = [p.relative_to(d.var / "duplicates").as_posix() for p in (d.var / "duplicates").rglob("*.MP4")]
    assert len(kept) == 1 and len(skipped) == 1 and {kept[0][:5], skipped[0][:5]} == {"card1", "card2"}
    assert failed_originals(d) == [] and d.stop() == 0


def _passed_rows(d) -> list[tuple[str, str, str, str]]:
    """The daemon's rows of clips (state/passed.py): (archived, name, subdir, size)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{d.var / 'state' / 'hotfolder.db'}?mode=ro", uri=True)
    try:
        return sorted((a.decode(), n.decode(), s.decode(), str(z)) for a, n, s, z in conn.execute(
            "SELECT archived, name, subdir, size FROM passed_through"))
    except sqlite3.OperationalError as exc:  # made at the start, or at the first clip archived
        assert "no such table" in str(exc), exc
        return []
    finally:
        conn.close()


def test_index_rebuild_lists_the_archived_clips_so_a_card_dumped_again_finds_them(daemon_factory, tmp_path):
    """state_dir lost (or restored from a backup older than the archive): `hotfolder index
    rebuild` made the index of originals again, not the rows of clips, so a card dumped again
    into another subfolder had every clip archived a second time. It now lists each clip the
    daemon would pass through that lies in archive/ (a name is data: a link is not listed; a
    sidecar or a hidden name is not a clip; more in unit/test_state_passed), and says how many.
    A clip archived beside another of its name (`MVI_0010_1.MOV`) is listed under that name.
    The next start takes the rows: the card dumped again into backup/ is skipped, clip by clip.
    """
    from tests.harness import hotfolder

    d = daemon_factory(on_duplicate=None).start()
    clip, other = os.urandom(1 << 20), os.urandom(1 << 16)
    c.write(d.inbox / "card1/DCIM/100CANON/MVI_0009.MP4", clip)
    c.write(d.inbox / "card1/DCIM/100CANON/MVI_0010.MOV", other)
    wait_for(lambda: len(archived(d)) == 2, 20, what="the clips archived")
    assert d.stop() == 0
    second = other[:-1] + bytes([other[-1] ^ 1])  # restored from a backup: a second clip of MVI_0010's name
    c.write(d.archive / "card1/DCIM/100CANON/MVI_0010_1.MOV", second)
    c.write(d.archive / "card1/DCIM/100CANON/MVI_0009.xmp", b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    c.write(d.archive / "card1/.hidden.MP4", clip)
    c.write(tmp_path / "elsewhere/MVI_0009.MP4", clip)
    (d.archive / "card1/LINK.MP4").symlink_to(tmp_path / "elsewhere/MVI_0009.MP4")
    for path in (d.var / "state").glob("hotfolder.db*"):
        path.unlink()

    rebuilt = hotfolder("index", "rebuild", "--config", str(d.config), timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "; 3 clips passed through listed (0 of them known already)" in rebuilt.stdout, rebuilt.stdout
    where = "card1/DCIM/100CANON"
    assert _passed_rows(d) == [(f"{where}/MVI_0009.MP4", "mvi_0009.mp4", where, str(len(clip))),
                               (f"{where}/MVI_0010.MOV", "mvi_0010.mov", where, str(len(other))),
                               (f"{where}/MVI_0010_1.MOV", "mvi_0010.mov", where, str(len(other)))]
    again = hotfolder("index", "rebuild", "--config", str(d.config), timeout=120)
    assert "; 3 clips passed through listed (3 of them known already)" in again.stdout, again.stdout

    d.start()
    for name, data in (("mvi_0009.mp4", clip), ("MVI_0010.MOV", second)):  # the card dumped again, elsewhere
        c.write(d.inbox / "backup/DCIM/100CANON" / name, data)
    duplicates = d.var / "duplicates"
    wait_for(lambda: files_under(d.inbox) == [], 20, what="the copies taken")
    assert sorted(a for a in archived(d) if a.endswith((".MP4", ".MOV"))) == sorted([  # none archived again
        "card1/.hidden.MP4", "card1/LINK.MP4", f"{where}/MVI_0009.MP4", f"{where}/MVI_0010.MOV",
        f"{where}/MVI_0010_1.MOV"])
    for name, twin in (("mvi_0009.mp4", "MVI_0009.MP4"), ("MVI_0010.MOV", "MVI_0010_1.MOV")):
        record = json.loads((duplicates / "backup/DCIM/100CANON" / (name + ".duplicate.json")).read_text())
        assert record["matched"]["archived"] == f"{where}/{twin}", record
    assert not d.events("clips_listed")  # listed by the rebuild: the start did not walk archive/ again
    assert failed_originals(d) == [] and d.stop() == 0


def test_the_daemon_lists_the_archived_clips_when_its_database_was_lost(daemon_factory):
    """A deleted database: the daemon rebuilt the index of originals by itself, not the rows of
    clips, so until someone ran `hotfolder index rebuild` a card dumped again into another
    subfolder had its clips archived a second time. Its start now lists them (a thread of its
    own: `clips_listed`), once: the next start does not walk archive/ again."""
    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(1 << 20)
    c.write(d.inbox / "card1/MVI_0009.MP4", clip)
    wait_for(lambda: archived(d) == ["card1/MVI_0009.MP4"], 20, what="the clip archived")
    assert d.stop() == 0
    for path in (d.var / "state").glob("hotfolder.db*"):
        path.unlink()
    d.start()
    listed = wait_for(lambda: d.events("clips_listed"), 20, what="the clips listed")
    assert [(e["listed"], e["known"]) for e in listed] == [(1, 0)], listed
    c.write(d.inbox / "backup/mvi_0009.mp4", clip)
    wait_for(lambda: (d.var / "duplicates/backup/mvi_0009.mp4.duplicate.json").exists(), 20, what="the copy skipped")
    assert archived(d) == ["card1/MVI_0009.MP4"] and d.stop() == 0
    d.start()
    assert d.stop() == 0
    assert len(d.events("clips_listing")) == 1 and len(d.events("clips_listed")) == 1


def test_the_first_start_of_this_version_lists_the_clips_archived_before(daemon_factory):
    """Rows kept by a version that did not list (its database at the passed part's first
    migration), and a clip archived before any row was kept: it is listed beside the rows
    there (kept as they are), and a copy of it dumped into another subfolder is skipped."""
    import sqlite3

    d = daemon_factory(on_duplicate=None).start()
    clip, old = os.urandom(1 << 16), os.urandom(1 << 16)
    c.write(d.inbox / "card1/MVI_0009.MP4", clip)
    wait_for(lambda: _passed_rows(d) == [("card1/MVI_0009.MP4", "mvi_0009.mp4", "card1", str(len(clip)))], 20,
             what="the clip archived and noted")
    assert d.stop() == 0
    conn = sqlite3.connect(d.var / "state" / "hotfolder.db")
    with conn:  # as the version before left it
        conn.execute("DROP TABLE IF EXISTS passed_meta")
        conn.execute("UPDATE schema SET version = 1 WHERE part = 'passed'")
    conn.close()
    c.write(d.archive / "2025/MVI_0001.MP4", old)  # archived before the rows were kept
    d.start()
    listed = wait_for(lambda: d.events("clips_listed"), 20, what="the clips listed")
    assert [(e["listed"], e["known"]) for e in listed] == [(2, 1)], listed
    c.write(d.inbox / "card2/MVI_0001.MP4", old)
    wait_for(lambda: (d.var / "duplicates/card2/MVI_0001.MP4.duplicate.json").exists(), 20, what="the copy skipped")
    assert d.stop() == 0


def test_a_folder_renamed_in_a_reload_keeps_finding_its_archived_clips(daemon_factory):
    """A new user renamed `test` to `studio` (the same inbox and processing/): the index of
    originals followed the rename, the rows of clips did not (they name their folder), so a
    card dumped again into another subfolder had its clips archived a second time while its
    photos were skipped, and the reload said only "(the same inbox)". They follow it now."""
    import signal

    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(1 << 20)
    c.write(d.inbox / "card1/MVI_0009.MP4", clip)
    wait_for(lambda: _passed_rows(d) == [("card1/MVI_0009.MP4", "mvi_0009.mp4", "card1", str(len(clip)))], 20,
             what="the clip archived and noted")
    d.config.write_text(d.config.read_text().replace("name: test", "name: studio"))
    d.proc.send_signal(signal.SIGHUP)
    reloaded = wait_for(lambda: d.event("reloaded"), 20, what="the reload")
    assert reloaded["changes"] == ["folder test renamed studio (the same inbox)"], reloaded
    c.write(d.inbox / "backup/mvi_0009.mp4", clip)
    wait_for(lambda: files_under(d.inbox) == [], 20, what="the copy taken")
    assert archived(d) == ["card1/MVI_0009.MP4"], archived(d)
    assert (d.var / "duplicates/backup/mvi_0009.mp4.duplicate.json").exists()
    assert failed_originals(d) == [] and d.stop() == 0


def test_a_clip_archived_by_a_daemon_killed_before_its_record_is_still_found(daemon_factory, tmp_path):
    """SIGKILL between a clip's move into archive/ and its record (state/passed.py): the record
    was written after the move, so it was lost, and the card dumped again into another subfolder
    had that clip archived a second time. The record is now written before the move. The daemon
    is held (runtime/held.py) right after the move, then killed with its workers."""
    hold = tmp_path / "hold"
    hold.mkdir()
    (hold / "hold-passed-MVI_0001.MP4").touch()
    d = daemon_factory(on_duplicate=None).start(env={"HOTFOLDER_TEST_HOLD": str(hold)})
    clip = os.urandom(1 << 20)
    c.write(d.inbox / "card1/DCIM/MVI_0001.MP4", clip)
    wait_for(lambda: (hold / "held-passed-MVI_0001.MP4").exists(), 20, what="the daemon held after the move")
    d.kill()
    assert archived(d) == ["card1/DCIM/MVI_0001.MP4"] and files_under(d.inbox) == []
    d.start()
    c.write(d.inbox / "card2/DCIM/MVI_0001.MP4", clip)  # the card dumped again
    wait_for(lambda: files_under(d.inbox) == [], 20, what="the copy taken")
    assert archived(d) == ["card1/DCIM/MVI_0001.MP4"], "archived a second time"
    assert (d.var / "duplicates/card2/DCIM/MVI_0001.MP4").read_bytes() == clip
    assert failed_originals(d) == [] and d.stop() == 0


def test_a_folder_renamed_while_the_start_lists_the_clips_finds_them_under_its_new_name(daemon_factory):
    """The start lists the clips in archive/ when the database was made anew (supervisor/
    clips_listing.py). A reload that renamed the folder meanwhile moved the rows written so far
    to the new name (state/places.remember), and the listing wrote the rest under the old name,
    which no folder has: a card dumped again found none of those and archived its clips again.
    The listing is held (runtime/held.py) at its first clip while the rename is reloaded."""
    import signal

    d = daemon_factory(on_duplicate=None).start()
    clips = {name: os.urandom(1 << 16) for name in ("MVI_0001.MP4", "MVI_0002.MP4")}
    for name, data in clips.items():
        c.write(d.inbox / "card1" / name, data)
    wait_for(lambda: len(archived(d)) == 2, 20, what="the clips archived")
    assert d.stop() == 0
    for path in (d.var / "state").glob("hotfolder.db*"):
        path.unlink()  # made anew at the start: the clips are listed again
    hold = d.root / "hold"
    hold.mkdir()
    for name in clips:
        (hold / f"hold-listing-{name}").touch()
    d.start(env={"HOTFOLDER_TEST_HOLD": str(hold)})
    wait_for(lambda: list(hold.glob("held-listing-*")), 20, what="the listing held at its first clip")
    d.config.write_text(d.config.read_text().replace("  - name: test\n", "  - name: studio\n"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.events("reloaded"), 20, what="the rename reloaded")
    for name in clips:
        (hold / f"hold-listing-{name}").unlink()
    wait_for(lambda: d.events("clips_listed"), 20, what="the listing's end")
    c.write(d.inbox / "card2/MVI_0001.MP4", clips["MVI_0001.MP4"])  # the card dumped again
    wait_for(lambda: files_under(d.inbox) == [], 20, what="the copy taken")
    assert sorted(archived(d)) == ["card1/MVI_0001.MP4", "card1/MVI_0002.MP4"], "archived a second time"
    assert (d.var / "duplicates/card2/MVI_0001.MP4").read_bytes() == clips["MVI_0001.MP4"]
    assert d.stop() == 0
