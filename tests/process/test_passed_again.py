"""A clip passed through again (supervisor/passed_again.py), in-process with the ledger and its
real comparing thread, on real files: the very bytes of the archived file of its name go to
duplicates/ with their record; anything else is archived as before; a change meanwhile or a
stop leaves it in the inbox."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from dataclasses import replace
from pathlib import Path

import pytest

from hotfolder.config.choices import OnDuplicate
from hotfolder.config.model import Config, Folder, Rendition
from hotfolder.spool import same_bytes
from hotfolder.spool.same_bytes import Compared, Stamp, Verdict
from hotfolder.supervisor.duplicates import counted
from hotfolder.supervisor.ledger import Ledger
from hotfolder.supervisor.passed_again import _Asked
from hotfolder.workers.counters import Counters
from tests.harness import files_under, wait_for

CLIP = "ev/MVI_0009.MP4"


def _ledger(tmp_path: Path, **changes) -> Ledger:
    folder = Folder(name="t", inbox=tmp_path / "inbox", output=tmp_path / "output", failed=tmp_path / "failed",
                    processing=tmp_path / "processing", archive=tmp_path / "archive",
                    duplicates=tmp_path / "duplicates",
                    renditions=(Rendition(name="web", width=64, height=64, format="jpeg"),), **changes)
    config = Config(source=tmp_path / "hotfolder.yaml", folders=(folder,), workers=1, state_dir=tmp_path / "state")
    offered: list[str] = []
    led = Ledger(config, Counters(mp.get_context("spawn")), lambda f, rel: offered.append(rel))
    led.prepare(folder)
    led.folder, led.offered = folder, offered  # for the tests' eyes
    return led


@pytest.fixture
def ledger(tmp_path):
    led = _ledger(tmp_path)
    yield led
    led.passes.stop()


def _drop(folder: Folder, rel: str, data: bytes) -> Path:
    path = folder.inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _archive_first(ledger, data: bytes) -> None:
    f = ledger.folder
    assert ledger.claim(f, _drop(f, CLIP, data)) is None
    assert (f.archive / CLIP).read_bytes() == data


def _settle_until(ledger, done, what: str) -> None:
    def turned():
        ledger.compared()
        return done()
    wait_for(turned, 10, what=what)


def test_the_same_bytes_again_go_to_duplicates_with_their_record(ledger):
    f = ledger.folder
    data = os.urandom(3 << 20)
    _archive_first(ledger, data)
    again = _drop(f, CLIP, data)
    assert ledger.claim(f, again) is None
    assert again.exists() or (f.duplicates / CLIP).exists()  # in the inbox while compared
    assert ledger.claim(f, again) is None  # a rescan's offer while it is compared: passed over
    _settle_until(ledger, lambda: (f.duplicates / CLIP).exists(), "the copy moved to duplicates/")
    assert files_under(f.archive) == [CLIP] and files_under(f.inbox) == []
    assert (f.duplicates / CLIP).read_bytes() == data
    record = json.loads((f.duplicates / (CLIP + ".duplicate.json")).read_text())
    assert record["kind"] == "exact" and record["matched"]["archived"] == CLIP, record
    assert ledger.sameness.counts["t"]["exact"] == 1


def test_another_clip_of_the_name_and_size_is_archived_beside_it(ledger):
    f = ledger.folder
    data = os.urandom(3 << 20)
    _archive_first(ledger, data)
    other = data[:-1] + bytes([data[-1] ^ 1])
    assert ledger.claim(f, _drop(f, CLIP, other)) is None
    _settle_until(ledger, lambda: (f.archive / "ev/MVI_0009_1.MP4").exists(), "the other clip archived")
    assert (f.archive / "ev/MVI_0009_1.MP4").read_bytes() == other
    assert files_under(f.duplicates) == [] and "t" not in ledger.sameness.counts


def test_under_on_duplicate_process_it_is_archived_at_once_uncompared(tmp_path):
    led = _ledger(tmp_path, on_duplicate=OnDuplicate.PROCESS)
    f = led.folder
    data = os.urandom(1 << 16)
    _archive_first(led, data)
    assert led.claim(f, _drop(f, CLIP, data)) is None
    assert files_under(f.archive) == [CLIP, "ev/MVI_0009_1.MP4"] and led.passes._thread is None


def test_a_clip_written_to_after_it_was_read_stays_and_is_offered_again(ledger):
    """What the main loop looks at before it acts: the clip's stamp as it was read."""
    f = ledger.folder
    data = os.urandom(1 << 16)
    _archive_first(ledger, data)
    again = _drop(f, CLIP, data)
    read_as = Stamp.of(os.stat(again))
    with open(again, "ab") as w:
        w.write(b"more")
    asked = _Asked(f, again, f.archive / CLIP)
    assert ledger.passes._acted(asked, Compared(Verdict.SAME, Stamp.of(os.stat(f.archive / CLIP)), read_as)) is False
    assert again.exists() and files_under(f.duplicates) == [] and ledger.offered == [CLIP]


def test_an_archived_file_replaced_after_it_was_read_is_looked_at_again(ledger):
    f = ledger.folder
    data = os.urandom(1 << 16)
    _archive_first(ledger, data)
    again = _drop(f, CLIP, data)
    old = Stamp.of(os.stat(f.archive / CLIP))
    (f.archive / CLIP).unlink()
    (f.archive / CLIP).write_bytes(os.urandom(1 << 16))
    found = Compared(Verdict.SAME, replace(old, ino=old.ino + 1_000_000), Stamp.of(os.stat(again)))
    assert ledger.passes._acted(_Asked(f, again, f.archive / CLIP), found) is False
    assert again.exists() and ledger.offered == [CLIP]


def test_a_doubt_archives_it_as_before(ledger):
    f = ledger.folder
    data = os.urandom(1 << 16)
    _archive_first(ledger, data)
    again = _drop(f, CLIP, data)
    assert ledger.passes._acted(_Asked(f, again, f.archive / CLIP), Compared(Verdict.UNSURE, why="EIO")) is True


def test_a_stop_leaves_the_clip_being_compared_in_the_inbox(ledger):
    f = ledger.folder
    data = os.urandom(8 << 20)
    _archive_first(ledger, data)
    again = _drop(f, CLIP, data)
    assert ledger.claim(f, again) is None
    ledger.passes.stop()
    assert ledger.passes._thread is not None and not ledger.passes._thread.is_alive()
    assert again.read_bytes() == data and files_under(f.archive) == [CLIP] and files_under(f.duplicates) == []


def test_a_cluster_head_s_clip_adds_to_its_nodes_counts():
    """A cluster's head counts the clips it skipped itself (its nodes count the photos, in
    Redis): the status and /metrics add the two; merged as dicts (`{**theirs, **ours}`, as
    before, when the head counted nothing), its one clip hid the folder's 3 photo copies."""
    nodes, head = {"t": {"exact": 3, "similar": 2}, "u": {"exact": 1}}, {"t": {"exact": 1}}
    assert counted(nodes, head) == {"t": {"exact": 4, "similar": 2}, "u": {"exact": 1}}
    assert counted({}, head) == head and counted(nodes, {}) == nodes and nodes["t"]["exact"] == 3


def _with_rows(tmp_path: Path, **changes) -> Ledger:
    """A ledger whose folder keeps its rows of clips (state/passed.py) in state_dir, as a local daemon's."""
    return _ledger(tmp_path, index_dir=tmp_path / "state", **changes)


def _rows(tmp_path: Path) -> list[tuple[str, bytes]]:
    import sqlite3

    conn = sqlite3.connect(tmp_path / "state" / "hotfolder.db")
    try:
        return sorted(conn.execute("SELECT folder, archived FROM passed_through").fetchall())
    finally:
        conn.close()


def test_a_copy_in_another_subfolder_is_compared_with_the_clip_its_row_names(tmp_path):
    led = _with_rows(tmp_path)
    f = led.folder
    data = os.urandom(3 << 20)
    _archive_first(led, data)
    assert _rows(tmp_path) == [("t", CLIP.encode())]
    again = _drop(f, "card2/mvi_0009.mp4", data)
    assert led.claim(f, again) is None and led.passes._thread is not None
    _settle_until(led, lambda: (f.duplicates / "card2/mvi_0009.mp4").exists(), "the copy moved to duplicates/")
    record = json.loads((f.duplicates / "card2/mvi_0009.mp4.duplicate.json").read_text())
    assert record["matched"]["archived"] == CLIP and record["matched"]["folder"] == "t", record
    assert files_under(f.archive) == [CLIP] and files_under(f.inbox) == []
    led.passes.stop()


def test_without_rows_a_copy_in_another_subfolder_is_archived_uncompared(tmp_path):
    """A folder without rows (no index_dir, no cluster: as in batch mode) keeps the same-path
    comparison only (a cluster's are in Redis: process/test_passed_again_cluster.py)."""
    led = _ledger(tmp_path)
    f = led.folder
    data = os.urandom(1 << 16)
    _archive_first(led, data)
    assert led.claim(f, _drop(f, "card2/MVI_0009.MP4", data)) is None
    assert files_under(f.archive) == ["card2/MVI_0009.MP4", CLIP] and led.passes._thread is None
    assert not (tmp_path / "state" / "hotfolder.db").exists()


def test_a_row_whose_file_became_a_link_is_not_followed_and_is_dropped(tmp_path):
    led = _with_rows(tmp_path)
    f = led.folder
    data = os.urandom(1 << 16)
    _archive_first(led, data)
    elsewhere = tmp_path / "elsewhere.mp4"
    elsewhere.write_bytes(data)
    (f.archive / CLIP).unlink()
    (f.archive / CLIP).symlink_to(elsewhere)
    assert led.claim(f, _drop(f, "card2/MVI_0009.MP4", data)) is None
    assert led.passes._thread is None and (f.archive / "card2/MVI_0009.MP4").is_file()
    assert _rows(tmp_path) == [("t", b"card2/MVI_0009.MP4")]
    led.passes.stop()


def test_a_row_is_data_a_path_out_of_archive_is_never_read(tmp_path):
    """A row naming `../` (a database written by hand): not a place under archive/, not compared."""
    led = _with_rows(tmp_path)
    f = led.folder
    data = os.urandom(1 << 16)
    (tmp_path / "secret.mp4").write_bytes(data)
    _archive_first(led, os.urandom(10))
    led.passes.rows._rows[tmp_path / "state"].note("t", "MVI_0009.MP4", "ev", len(data), "../secret.mp4")
    assert led.claim(f, _drop(f, "card2/MVI_0009.MP4", data)) is None
    assert led.passes._thread is None and (f.archive / "card2/MVI_0009.MP4").is_file()
    led.passes.stop()


def test_under_duplicate_scope_all_another_folder_s_clip_is_its_twin(tmp_path):
    from hotfolder.config.choices import DuplicateScope

    led = _with_rows(tmp_path, duplicate_scope=DuplicateScope.ALL)
    f = led.folder
    g = replace(f, name="u", inbox=tmp_path / "inbox2", archive=tmp_path / "archive2", output=tmp_path / "output2",
                failed=tmp_path / "failed2", processing=tmp_path / "processing2", duplicates=tmp_path / "duplicates2")
    led.reconfigure(replace(led.config, folders=(f, g)))
    led.prepare(g)
    data = os.urandom(1 << 20)
    _archive_first(led, data)
    again = _drop(g, "MVI_0009.MP4", data)
    assert led.claim(g, again) is None
    _settle_until(led, lambda: (g.duplicates / "MVI_0009.MP4").exists(), "the copy moved to the other duplicates/")
    record = json.loads((g.duplicates / "MVI_0009.MP4.duplicate.json").read_text())
    assert record["matched"]["folder"] == "t" and record["matched"]["archived"] == CLIP, record
    assert files_under(g.archive) == [] and led.sameness.counts["u"]["exact"] == 1
    led.passes.stop()


def test_rows_that_cannot_be_opened_are_said_once_and_the_clips_archived_as_before(tmp_path):
    """Something planted at the database's side file (db.refuse_strange): never opened; said
    once with what to remove; each clip archived as before, the same-path comparison kept."""
    from structlog.testing import capture_logs

    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "hotfolder.db-journal").mkdir()
    led = _with_rows(tmp_path)
    f = led.folder
    with capture_logs() as logs:
        _archive_first(led, os.urandom(1 << 10))
        assert led.claim(f, _drop(f, "card2/A.MOV", b"a")) is None
    said = [e for e in logs if e["event"] == "passed_rows_failed"]
    assert len(said) == 1 and "hotfolder.db-journal is a directory" in said[0]["reason"], said
    assert sorted(files_under(f.archive)) == ["card2/A.MOV", CLIP]
    led.passes.stop()


def test_a_clip_rewritten_with_its_mtime_set_back_is_not_taken_for_the_same(ledger):
    """A client that rewrites a clip in place and sets its mtime back (robocopy /COPY:DAT,
    `touch -r`, an SMB client's SETINFO) after it was read: size, inode and mtime as read,
    other bytes. Its ctime, which no client can set, says it was written to: it is never
    moved to duplicates/ as the archived file's bytes."""
    f = ledger.folder
    data = os.urandom(1 << 20)
    _archive_first(ledger, data)
    again = _drop(f, CLIP, data)
    assert ledger.claim(f, again) is None
    wait_for(lambda: ledger.passes._answers.qsize() == 1, 10, what="the comparison's answer")
    st = os.stat(again)
    other = data[:-1] + bytes([data[-1] ^ 1])
    with open(again, "r+b") as w:
        w.write(other)
    os.utime(again, ns=(st.st_atime_ns, st.st_mtime_ns))
    ledger.compared()
    assert files_under(f.duplicates) == [], "another clip's bytes went to duplicates/"
    assert again.read_bytes() == other and ledger.offered == [CLIP]


def _reloaded(ledger, **changes):
    """The ledger under a reload of its config that changes its folder so."""
    folder = replace(ledger.folder, **changes)
    ledger.reconfigure(replace(ledger.config, folders=(folder,)))
    return folder


def _answered(ledger, data: bytes) -> Path:
    """The same bytes dropped again, compared, the answer not yet acted on."""
    f = ledger.folder
    _archive_first(ledger, data)
    again = _drop(f, CLIP, data)
    assert ledger.claim(f, again) is None
    wait_for(lambda: ledger.passes._answers.qsize() == 1, 10, what="the comparison's answer")
    return again


def test_a_reload_to_on_duplicate_process_while_compared_archives_it_as_before(ledger):
    """The admin's latest word: a reload to `on_duplicate: process` while a clip is compared
    (it is still in the inbox, not claimed) archives it beside the first, as any clip under
    `process`; the answer of the comparison asked under `skip` skipped it."""
    data = os.urandom(1 << 16)
    _answered(ledger, data)
    _reloaded(ledger, on_duplicate=OnDuplicate.PROCESS)
    ledger.compared()
    f = ledger.folder
    assert files_under(f.duplicates) == [] and files_under(f.inbox) == [], files_under(f.duplicates)
    assert files_under(f.archive) == [CLIP, "ev/MVI_0009_1.MP4"]


def test_a_folder_a_reload_took_away_while_compared_leaves_the_clip_in_its_inbox(ledger):
    data = os.urandom(1 << 16)
    again = _answered(ledger, data)
    ledger.reconfigure(replace(ledger.config, folders=()))
    ledger.compared()
    assert again.read_bytes() == data and files_under(ledger.folder.duplicates) == []
    assert files_under(ledger.folder.archive) == [CLIP]


def test_a_clip_deleted_while_compared_is_not_said_archived(tmp_path):
    """A clip its client deleted (or moved away) before it was opened: the comparison could not
    read it (unsure), and nothing is left to archive; the warning said "archived as it is"
    of a file that was not. Gone is gone, as after a comparison that read it."""
    import structlog

    with structlog.testing.capture_logs() as said:  # around the ledger's making: its logger is cached
        led = _ledger(tmp_path)
        try:
            f = led.folder
            data = os.urandom(1 << 16)
            _archive_first(led, data)
            again = _drop(f, CLIP, data)
            again.unlink()
            found = same_bytes.compare(f.archive / CLIP, again)
            assert found.verdict == Verdict.UNSURE, found
            assert led.passes._acted(_Asked(f, again, f.archive / CLIP), found) is False
        finally:
            led.passes.stop()
    assert not [e for e in said if e["event"] == "file_compare_failed"], said
    assert files_under(f.archive) == [CLIP]


def test_the_clips_asked_and_not_yet_settled_are_counted_per_folder(ledger):
    """What the status shows (publish.py): the clip being read and the one waiting for its turn
    both lie in the inbox, neither queued nor in flight; settled, neither is counted; after a
    stop none is (they stay in the inbox for the next start). The first comparison is held
    at its open of the archived clip (fanotify: tests/harness/held.py)."""
    from tests.harness.held import HeldOpen

    f = ledger.folder
    first, second = os.urandom(1 << 16), os.urandom(1 << 16)
    _archive_first(ledger, first)
    assert ledger.claim(f, _drop(f, "ev/MVI_0010.MP4", second)) is None
    assert ledger.passes.comparing() == {}
    with HeldOpen(f.archive / CLIP) as held:
        assert ledger.claim(f, _drop(f, CLIP, first)) is None
        held.wait_open(10)  # the thread reads the first: held there
        assert ledger.claim(f, _drop(f, "ev/MVI_0010.MP4", second)) is None  # waits in the queue
        assert ledger.passes.comparing() == {"t": 2}
    _settle_until(ledger, lambda: len(files_under(f.duplicates)) == 4, "both copies moved to duplicates/")
    assert ledger.passes.comparing() == {}
    assert ledger.claim(f, _drop(f, CLIP, first)) is None and ledger.passes.comparing() == {"t": 1}
    ledger.passes.stop()
    assert ledger.passes.comparing() == {}


def test_a_clip_s_sidecar_handed_out_while_the_clip_is_compared_waits_and_goes_with_it(ledger):
    """A card's video XMP is handed out alone after sidecar_wait (5 s), and a cold clip of GBs
    is compared for longer: the sidecar was archived a second time (`MVI_0009_1.xmp`) before
    its clip went to duplicates/. It now waits in the inbox while its clip is compared (as one
    waits for an image being rendered), then goes with it (the very bytes of the one beside
    the archived clip), or is offered again when the clip is archived."""
    f = ledger.folder
    data = os.urandom(1 << 20)
    xmp = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    _archive_first(ledger, data)
    sidecar = "ev/MVI_0009.xmp"
    assert ledger.claim(f, _drop(f, sidecar, xmp)) is None
    assert files_under(f.archive) == [CLIP, sidecar]
    assert ledger.claim(f, _drop(f, CLIP, data)) is None  # compared: no answer acted on until compared()
    assert ledger.claim(f, _drop(f, sidecar, xmp)) is None
    assert (f.inbox / sidecar).read_bytes() == xmp and files_under(f.archive) == [CLIP, sidecar]
    _settle_until(ledger, lambda: (f.duplicates / CLIP).exists(), "the copy moved to duplicates/")
    assert (f.duplicates / sidecar).read_bytes() == xmp and files_under(f.inbox) == []
    assert files_under(f.archive) == [CLIP, sidecar] and sidecar in ledger.offered


def _copies_at_once(tmp_path: Path):
    """A folder with rows, an older clip of CLIP's name and size archived (other bytes: a
    camera's numbers came round), and a copy of a new clip of that name taken from card1/: it
    is compared with the older one, the answer not yet acted on."""
    led = _with_rows(tmp_path)
    f = led.folder
    older = os.urandom(1 << 20)
    _archive_first(led, older)
    clip = older[:-1] + bytes([older[-1] ^ 1])
    assert led.claim(f, _drop(f, "card1/MVI_0009.MP4", clip)) is None and led.passes.comparing() == {"t": 1}
    return led, clip


def test_a_copy_of_a_clip_being_compared_waits_for_it_then_is_its_duplicate(tmp_path):
    """Two copies of one new clip taken at once (card1/ and card2/): each was compared with the
    older clip of its name and size only, and both were archived. The later one now waits in the
    inbox (not asked, said once, counted as comparing) until the first is archived and noted,
    then, offered again, is compared with it. A clip of another name or size is not held."""
    import structlog

    with structlog.testing.capture_logs() as said:  # around the ledger's making: its logger is cached
        led, clip = _copies_at_once(tmp_path)
        try:
            _a_copy_waits(led, clip, said)
        finally:
            led.passes.stop()


def _a_copy_waits(led, clip: bytes, said: list[dict]) -> None:
    f = led.folder
    second = _drop(f, "card2/mvi_0009.mp4", clip)  # another reader: its names lower-cased
    for _ in range(2):  # a rescan offering it again while it waits: no second line
        assert led.claim(f, second) is None and second.read_bytes() == clip
    assert led.passes.comparing() == {"t": 2} and "card2/mvi_0009.mp4" in led.passes.compared_in(f)
    waits = [(e["file"], e["twin"]) for e in said if e["event"] == "file_waits_for_twin"]
    assert waits == [("card2/mvi_0009.mp4", "card1/MVI_0009.MP4")], said
    assert led.claim(f, _drop(f, "card2/MVI_0010.MP4", clip)) is None  # another name: archived at once
    assert led.claim(f, _drop(f, "card3/MVI_0009.MP4", clip[:-1])) is None  # another size: archived at once
    assert files_under(f.archive) == ["card2/MVI_0010.MP4", "card3/MVI_0009.MP4", CLIP]
    assert "card2/mvi_0009.mp4" not in led.offered
    _settle_until(led, lambda: (f.archive / "card1/MVI_0009.MP4").exists(), "the first copy archived")
    assert "card2/mvi_0009.mp4" in led.offered and led.passes.comparing() == {}
    assert led.claim(f, second) is None and led.passes.comparing() == {"t": 1}  # offered again: compared
    _settle_until(led, lambda: (f.duplicates / "card2/mvi_0009.mp4").exists(), "the second copy skipped")
    record = json.loads((f.duplicates / "card2/mvi_0009.mp4.duplicate.json").read_text())
    assert record["matched"]["archived"] == "card1/MVI_0009.MP4", record
    assert files_under(f.inbox) == [] and len(files_under(f.archive)) == 4


def test_under_duplicate_scope_subfolder_a_copy_in_another_subfolder_does_not_wait(tmp_path):
    from hotfolder.config.choices import DuplicateScope

    led = _with_rows(tmp_path, duplicate_scope=DuplicateScope.SUBFOLDER)
    f = led.folder
    older = os.urandom(1 << 16)
    _archive_first(led, older)
    clip = older[:-1] + bytes([older[-1] ^ 1])
    assert led.claim(f, _drop(f, "ev/mvi_0009.mp4", clip)) is None  # compared with ev/'s older clip
    assert led.claim(f, _drop(f, "card2/MVI_0009.MP4", clip)) is None  # not in ev/'s scope: archived at once
    assert (f.archive / "card2/MVI_0009.MP4").read_bytes() == clip and led.passes.comparing() == {"t": 1}
    led.passes.stop()


def test_a_stop_leaves_both_copies_in_the_inbox_and_the_next_start_compares_one_with_the_other(tmp_path):
    led, clip = _copies_at_once(tmp_path)
    f = led.folder
    assert led.claim(f, _drop(f, "card2/MVI_0009.MP4", clip)) is None
    led.passes.stop()  # the daemon stops: nothing acted on
    assert sorted(files_under(f.inbox)) == ["card1/MVI_0009.MP4", "card2/MVI_0009.MP4"]
    assert files_under(f.archive) == [CLIP]
    again = _with_rows(tmp_path)  # the next start: the files are taken in another order
    try:
        assert again.claim(f, f.inbox / "card2/MVI_0009.MP4") is None
        assert again.claim(f, f.inbox / "card1/MVI_0009.MP4") is None and again.passes.comparing() == {"t": 2}
        _settle_until(again, lambda: (f.archive / "card2/MVI_0009.MP4").exists(), "the first taken archived")
        assert again.claim(f, f.inbox / "card1/MVI_0009.MP4") is None
        _settle_until(again, lambda: (f.duplicates / "card1/MVI_0009.MP4").exists(), "the other skipped")
        assert files_under(f.inbox) == [] and files_under(f.archive) == ["card2/MVI_0009.MP4", CLIP]
    finally:
        again.passes.stop()


def test_a_clip_archived_before_the_window_is_forgotten_and_its_copy_archived_again(tmp_path):
    """duplicate_window: a photo older than it is rendered again when dropped again; a clip's
    row lived as long as its file, so the card dumped again years on had its clips skipped
    while its photos were rendered. The rows are forgotten with the index's window now."""
    import sqlite3

    import structlog

    with structlog.testing.capture_logs() as said:  # around the ledger's making: its logger is cached
        led = _with_rows(tmp_path, duplicate_window=3600.0)
        f = led.folder
        data = os.urandom(1 << 16)
        _archive_first(led, data)
        conn = sqlite3.connect(tmp_path / "state" / "hotfolder.db")
        with conn:
            conn.execute("UPDATE passed_through SET time = time - 7200")  # archived two hours ago
        conn.close()
        led.passes.rows.forget_old(led.config.folders, 0.0)
        led.passes.rows.forget_old(led.config.folders, 1.0)  # once an hour, not each turn
    forgot = [(e["folder"], e["rows"], e["window_s"]) for e in said if e["event"] == "clips_forgot"]
    assert _rows(tmp_path) == [] and forgot == [("t", 1, 3600.0)], said
    assert led.claim(f, _drop(f, "card2/MVI_0009.MP4", data)) is None
    assert files_under(f.archive) == ["card2/MVI_0009.MP4", CLIP] and led.passes._thread is None
