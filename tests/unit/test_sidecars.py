"""XMP sidecars: whose they are (sidecars.py), held in the inbox until they can go with
their image (arrival/pairs.py, through a real Inbox on real files), and moved with it
through every state (spool/moves.py, spool/xmp_sidecars.py, recovery)."""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import time
from pathlib import Path

import pytest

from hotfolder.arrival.inbox import Inbox
from hotfolder.sidecars import beside, find_image, find_sidecar, image_of, is_sidecar, sidecar_of
from hotfolder.spool import moves, recovery
from hotfolder.spool.failed_files import failed_originals
from hotfolder.state import unmatched
from tests.unit.test_spool import make_folder


@pytest.mark.parametrize("sidecar, names, image", [
    ("IMG_0001.xmp", ["IMG_0001.CR3", "IMG_0001.JPG"], "IMG_0001.CR3"),  # Lightroom: the RAW's
    ("IMG_0001.xmp", ["IMG_0001.JPG"], "IMG_0001.JPG"),
    ("IMG_0001.CR3.xmp", ["IMG_0001.CR3", "IMG_0001.JPG"], "IMG_0001.CR3"),  # darktable: exactly
    ("IMG_0001.JPG.XMP", ["IMG_0001.CR3", "IMG_0001.JPG"], "IMG_0001.JPG"),
    ("IMG_0001.xmp", ["IMG_0002.CR3"], None),
    ("a.b.xmp", ["a.b.jpg"], "a.b.jpg"),
    ("DSC_1.xmp", ["DSC_1.MOV", "DSC_1.PNG"], "DSC_1.PNG"),  # the photo's, not the clip's
    ("C0001.xmp", ["C0001.LRV", "C0001.MP4", "C0001.THM"], "C0001.MP4"),  # the clip's, not its proxy's
    ("GX01.xmp", ["GX01.LRV", "GX01.THM"], "GX01.LRV"),  # only companions: the first by name
])
def test_whose_sidecar(sidecar, names, image):
    assert image_of(sidecar, [*names, sidecar]) == image
    if image is not None:
        assert sidecar_of(image, [*names, sidecar]) == sidecar


def test_names_beside_a_renamed_image():
    assert beside("IMG_0001.xmp", "IMG_0001.CR3", "IMG_0001_1.CR3") == "IMG_0001_1.xmp"
    assert beside("IMG_0001.CR3.XMP", "IMG_0001.CR3", "IMG_0001_1.CR3") == "IMG_0001_1.CR3.XMP"
    assert beside("IMG_0001.xmp", "IMG_0001.CR3", "IMG_0001.CR3") == "IMG_0001.xmp"
    assert is_sidecar("a.XMP") and not is_sidecar(".xmp") and not is_sidecar("a.xmp.part")


def test_found_on_disk_and_never_a_link(tmp_path):
    (tmp_path / "IMG_1.CR3").write_bytes(b"raw")
    (tmp_path / "IMG_1.JPG").write_bytes(b"jpg")
    (tmp_path / "IMG_1.xmp").write_bytes(b"<x/>")
    assert find_sidecar(tmp_path, "IMG_1.CR3") == "IMG_1.xmp" and find_sidecar(tmp_path, "IMG_1.JPG") is None
    assert find_image(tmp_path, "IMG_1.xmp") == "IMG_1.CR3"
    (tmp_path / "b.jpg").write_bytes(b"x")
    (tmp_path / "b.xmp").symlink_to(tmp_path / "IMG_1.xmp")
    assert find_sidecar(tmp_path, "b.jpg") is None


def _inbox(tmp_path, wait: float = 5.0):
    folder = dataclasses.replace(make_folder(tmp_path), quiet_period=0.0, sidecar_wait=wait)
    return folder, Inbox(folder, 100)


def _ready(inbox: Inbox, now: float) -> list[str]:
    return sorted(p.name for p in inbox.ready(10, now))


def _drop(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.utime(path, (time.time() - 5, time.time() - 5))  # written a while ago: quiet
    return path


def test_an_image_and_its_sidecar_are_handed_out_together(tmp_path):
    folder, inbox = _inbox(tmp_path)
    image = _drop(folder.inbox / "IMG_1.CR3", b"raw")
    side = _drop(folder.inbox / "IMG_1.xmp", b"<x/>")
    assert _ready(inbox, time.monotonic()) == ["IMG_1.CR3"]
    assert inbox.partner(image) == side and inbox.partner(image) is None  # once
    assert _ready(inbox, time.monotonic()) == []  # nothing else: the sidecar is the image's


def test_a_sidecar_alone_waits_sidecar_wait_then_goes_alone(tmp_path):
    folder, inbox = _inbox(tmp_path, wait=5.0)
    side = _drop(folder.inbox / "IMG_2.xmp", b"<x/>")
    t0 = time.monotonic()
    assert _ready(inbox, t0) == []
    assert _ready(inbox, t0 + 4.9) == []
    image = _drop(folder.inbox / "IMG_2.jpg", b"jpg")  # its image came in time
    inbox.note(image, closed=True)
    assert _ready(inbox, t0 + 4.95) == ["IMG_2.jpg"] and inbox.partner(image) == side
    lonely = _drop(folder.inbox / "IMG_3.xmp", b"<x/>")
    inbox.note(lonely, closed=True)
    assert _ready(inbox, t0 + 5) == []
    assert _ready(inbox, t0 + 10.1) == ["IMG_3.xmp"] and inbox.partner(lonely) is None


def test_with_room_for_one_file_an_image_still_goes_with_its_sidecar(tmp_path):
    """A busy daemon has a slot or two free a turn: the look at the inbox stopped at that
    limit, the image came first every turn, its sidecar was never looked at, and after
    sidecar_wait the image went alone and the sidecar was archived alone (a new user's
    card copies under a backlog: 5 of 17)."""
    folder, inbox = _inbox(tmp_path, wait=2.0)
    images = [_drop(folder.inbox / f"IMG_{i}.JPG", b"jpg") for i in range(1, 5)]
    for image in images:
        inbox.note(image, closed=True)
    side = _drop(folder.inbox / "IMG_1.xmp", b"<x/>")  # copied after the images, as cp -r may
    inbox.note(side, closed=True)
    t0 = time.monotonic()
    out = inbox.ready(1, t0)
    assert out == [images[0]] and inbox.partner(images[0]) == side
    taken = [p.name for k in range(1, 6) for p in inbox.ready(1, t0 + k)]
    assert taken == ["IMG_2.JPG", "IMG_3.JPG", "IMG_4.JPG"]  # the sidecar is not handed out again, nor alone


def test_a_sidecar_just_written_is_not_taken_before_its_quiet_period(tmp_path):
    """The look beyond the limit (above) looked a second time, in the same turn, at a sidecar
    the turn had just found too fresh, and took it at once (a review)."""
    folder = dataclasses.replace(make_folder(tmp_path), quiet_period=5.0, sidecar_wait=30.0)
    inbox = Inbox(folder, 100)
    image = folder.inbox / "IMG_1.JPG"
    image.write_bytes(b"jpg")
    os.utime(image, (time.time() - 60, time.time() - 60))
    (folder.inbox / "IMG_1.xmp").write_bytes(b"<x/>")  # written just now; both found by the scan
    t0 = time.monotonic()
    assert inbox.ready(10, t0) == []
    assert inbox.ready(10, t0 + 0.5) == []  # nor at a later turn: its quiet period runs from its mtime
    assert inbox.ready(10, t0 + 5.1) == [image] and inbox.partner(image) == folder.inbox / "IMG_1.xmp"


def test_an_image_waits_for_its_sidecar_being_written_up_to_sidecar_wait(tmp_path):
    folder, inbox = _inbox(tmp_path, wait=2.0)
    image = _drop(folder.inbox / "IMG_4.jpg", b"jpg")
    side = folder.inbox / "IMG_4.jpg.xmp"
    with open(side, "wb") as writer:  # still open for writing: not ready
        writer.write(b"<x")
        inbox.note(side, closed=False)
        t0 = time.monotonic()
        assert _ready(inbox, t0) == []
        assert _ready(inbox, t0 + 1.0) == []
        assert _ready(inbox, t0 + 2.1) == ["IMG_4.jpg"] and inbox.partner(image) is None  # gone alone
    assert find_sidecar(folder.inbox, "IMG_4.jpg") == "IMG_4.jpg.xmp"


def test_an_image_without_a_sidecar_waits_for_nothing(tmp_path):
    folder, inbox = _inbox(tmp_path, wait=60.0)
    _drop(folder.inbox / "IMG_5.jpg", b"jpg")
    assert _ready(inbox, time.monotonic()) == ["IMG_5.jpg"]


def test_a_pair_is_claimed_archived_and_its_sidecar_keeps_beside_a_renamed_image(tmp_path):
    folder = make_folder(tmp_path)
    (folder.archive / "sub").mkdir(parents=True)
    (folder.archive / "sub" / "IMG_1.CR3").write_bytes(b"an earlier drop")
    (folder.inbox / "sub").mkdir()
    image = _drop(folder.inbox / "sub" / "IMG_1.CR3", b"raw")
    side = _drop(folder.inbox / "sub" / "IMG_1.xmp", b"<x/>")
    claimed = moves.claim(folder, image, side)
    assert claimed.sidecar == "sub/IMG_1.xmp" and claimed.sidecar_path == folder.processing / "sub" / "IMG_1.xmp"
    assert not side.exists()
    adopted = list(recovery.claimed_files(folder))  # after a crash, the pair is found again by name
    assert [(c.rel, c.sidecar) for c in adopted] == [("sub/IMG_1.CR3", "sub/IMG_1.xmp")]
    where = moves.finish(folder, claimed)
    assert where.name == "IMG_1_1.CR3" and (folder.archive / "sub" / "IMG_1_1.xmp").read_bytes() == b"<x/>"
    assert [p for p in folder.processing.rglob("*") if p.is_file()] == []


def test_a_failed_pair_is_listed_once_and_requeued_together(tmp_path):
    folder = make_folder(tmp_path)
    image = _drop(folder.inbox / "IMG_6.CR3", b"raw")
    side = _drop(folder.inbox / "IMG_6.CR3.xmp", b"<x/>")
    claimed = moves.claim(folder, image, side)
    failed = moves.fail(folder, claimed.path, claimed.rel, error="bad", step="decode", sidecar=claimed.sidecar)
    assert (folder.failed / "IMG_6.CR3.xmp").exists()
    assert json.loads((folder.failed / "IMG_6.CR3.error.json").read_text())["sidecar_as"]
    assert [p.name for _, p in failed_originals([folder])] == ["IMG_6.CR3"]  # the sidecar is not a failure
    moves.requeue(folder, failed)
    assert sorted(p.name for p in folder.inbox.iterdir()) == ["IMG_6.CR3", "IMG_6.CR3.xmp"]
    assert list(folder.failed.iterdir()) == []


def test_a_pair_given_back_goes_back_together(tmp_path):
    folder = make_folder(tmp_path)
    claimed = moves.claim(folder, _drop(folder.inbox / "a.jpg", b"x"), _drop(folder.inbox / "a.xmp", b"<x/>"))
    moves.unclaim(folder, claimed)
    assert sorted(p.name for p in folder.inbox.iterdir()) == ["a.jpg", "a.xmp"]


def test_recovery_gives_a_sidecar_whose_image_left_back_to_the_inbox(tmp_path):
    folder = make_folder(tmp_path)
    (folder.processing / "lost.xmp").write_bytes(b"<x/>")  # a crash between the image's move and its own
    (folder.processing / "kept.jpg").write_bytes(b"x")
    found = recovery.recover(folder)
    assert found.in_processing == 1 and (folder.inbox / "lost.xmp").exists()
    assert [c.rel for c in recovery.claimed_files(folder)] == ["kept.jpg"]


def test_a_sidecar_after_its_image_says_rerender_not_sidecar_wait(tmp_path):
    """It said "no image of it arrived within sidecar_wait: raise sidecar_wait" when its image
    had arrived and been rendered without it, a second before (a new user): raising it would
    not help; `hotfolder rerender` of the archived image does."""
    import shlex

    import structlog

    from hotfolder.supervisor import side_files

    folder = make_folder(tmp_path)
    (folder.archive / "card").mkdir(parents=True)
    (folder.archive / "card" / "IMG 3.JPG").write_bytes(b"rendered a moment ago")
    (folder.inbox / "card").mkdir()
    late = _drop(folder.inbox / "card" / "IMG 3.xmp", b"<x/>")
    alone = _drop(folder.inbox / "card" / "IMG_9.xmp", b"<x/>")
    with structlog.testing.capture_logs() as said:
        side_files.sidecar_alone(structlog.get_logger(), folder, late, folder.state_dir)
        side_files.sidecar_alone(structlog.get_logger(), folder, alone, folder.state_dir)
    image = shlex.quote(str(folder.archive / "card" / "IMG 3.JPG"))
    assert said[0]["note"].startswith(f"its image IMG 3.JPG was rendered before it arrived, without it; archived "
                                      f"beside that image: `hotfolder rerender {image}` renders the image again")
    assert (folder.archive / "card" / "IMG 3.xmp").read_bytes() == b"<x/>"
    assert said[1]["note"].startswith("no image of it arrived within sidecar_wait")


def test_a_late_sidecars_command_names_the_daemons_config_unless_a_command_finds_it(tmp_path):
    """A daemon run with `--config /srv/x.yaml`: the printed `rerender` must act on its folders,
    not on whatever config the admin's current folder holds (a review of the hints)."""
    import dataclasses
    import shlex

    import structlog

    from hotfolder.config import locate
    from hotfolder.supervisor import side_files

    folder = make_folder(tmp_path)
    folder.archive.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "my config.yaml"
    notes = []
    for given in (config, locate.PLACES[-1], None):
        (folder.archive / "IMG_3.JPG").write_bytes(b"rendered a moment ago")
        with structlog.testing.capture_logs() as said:
            side_files.sidecar_alone(structlog.get_logger(), dataclasses.replace(folder, config_file=given),
                                     _drop(folder.inbox / "IMG_3.xmp", b"<x/>"), folder.state_dir)
        notes.append(said[0]["note"])
        (folder.archive / "IMG_3.xmp").unlink()
    image = shlex.quote(str(folder.archive / "IMG_3.JPG"))
    assert f"`hotfolder rerender --config {shlex.quote(str(config))} {image}`" in notes[0]
    assert f"`hotfolder rerender {image}`" in notes[1] and f"`hotfolder rerender {image}`" in notes[2]


def test_a_late_sidecar_is_said_rendered_before_only_of_an_image_the_daemon_rendered(tmp_path):
    """Not of a video passed through beside it (`IMG_7.MOV` and `IMG_7.xmp` dropped together),
    nor of an image the index never rendered under that name (a review)."""
    import dataclasses

    import structlog

    from hotfolder.state.originals import RENDERED, Entry, Originals
    from hotfolder.supervisor import side_files

    folder = dataclasses.replace(make_folder(tmp_path), index_dir=tmp_path / "state")
    Originals(tmp_path / "state").record(Entry("ab" * 32, 1, RENDERED, folder.name, "IMG_3.JPG", 10))
    folder.archive.mkdir(parents=True, exist_ok=True)
    for name in ("IMG_3.JPG", "IMG_4.JPG", "IMG_7.MOV"):
        (folder.archive / name).write_bytes(b"archived a moment ago")
    with structlog.testing.capture_logs() as said:
        for stem in ("IMG_3", "IMG_4", "IMG_7"):
            side_files.sidecar_alone(structlog.get_logger(), folder, _drop(folder.inbox / f"{stem}.xmp", b"<x/>"),
                                     folder.state_dir)
    notes = [s["note"].split(" ")[:3] for s in said]
    assert notes == [["its", "image", "IMG_3.JPG"], ["no", "image", "of"], ["its", "file", "IMG_7.MOV"]], said


def test_a_clip_s_sidecar_is_said_to_lie_beside_its_clip_not_to_have_no_image(tmp_path):
    """A video's XMP (Lightroom and Bridge keep one for a clip) was archived saying "no image
    of it arrived within sidecar_wait ...: raise sidecar_wait", which sent an admin looking
    for a photo; and, its clip dumped again, as IMG_7_1.xmp, the same (a review)."""
    import structlog

    from hotfolder.supervisor import side_files

    folder = make_folder(tmp_path)
    folder.archive.mkdir(parents=True, exist_ok=True)
    (folder.archive / "MVI_7.MOV").write_bytes(b"a clip passed through")
    with structlog.testing.capture_logs() as said:
        for _ in range(2):  # the second: the same card again, its sidecar archived under a free name
            side_files.sidecar_alone(structlog.get_logger(), folder, _drop(folder.inbox / "MVI_7.xmp", b"<x/>"),
                                     folder.state_dir)
    assert [s["note"] for s in said] == [
        f"its file MVI_7.MOV is passed through as it is (pass_through:), never rendered: archived beside it as "
        f"{name}, read by nothing here" for name in ("MVI_7.xmp", "MVI_7_1.xmp")], said


def test_a_sidecar_alone_is_archived_or_deleted(tmp_path):
    from hotfolder.spool.xmp_sidecars import alone

    folder = make_folder(tmp_path)
    (folder.inbox / "x").mkdir()
    assert alone(folder, _drop(folder.inbox / "x" / "a.xmp", b"1")) == folder.archive / "x" / "a.xmp"
    assert alone(folder, _drop(folder.inbox / "x" / "a.xmp", b"2")) == folder.archive / "x" / "a_1.xmp"
    gone = make_folder(tmp_path / "d", on_success="delete")
    assert alone(gone, _drop(gone.inbox / "b.xmp", b"3")) is None and not (gone.inbox / "b.xmp").exists()


def test_a_late_sidecar_of_an_image_no_rendition_took_says_so_and_how_it_may_match_now(tmp_path):
    """An image taken by no rendition (archived, nothing written; the index keeps none) and its
    sidecar a moment later, whose keywords may be what a `when:` asks for: the note said "no
    image of it arrived within sidecar_wait … raise sidecar_wait" (a README audit). The note
    of the image is state_dir's: a sidecar alone reads it with no memory of the daemon's (its
    next start's), and it is never said "rendered" (the index has no rendering of it)."""
    import dataclasses
    import shlex

    import structlog

    from hotfolder.supervisor import side_files

    state = tmp_path / "state"
    folder = dataclasses.replace(make_folder(tmp_path), index_dir=state, state_dir=state)
    folder.archive.mkdir(parents=True, exist_ok=True)
    for name in ("IMG_5.JPG", "IMG_6.JPG"):
        (folder.archive / name).write_bytes(b"archived a moment ago, unmatched")
    side_files.LoneSidecars(state).note_unmatched(structlog.get_logger(), folder, folder.archive / "IMG_5.JPG")
    with structlog.testing.capture_logs() as said:
        late = [side_files.sidecar_alone(structlog.get_logger(), folder, _drop(folder.inbox / f"{stem}.xmp", b"<x/>"),
                                         state) for stem in ("IMG_5", "IMG_6")]
    image = shlex.quote(str(folder.archive / "IMG_5.JPG"))
    assert said[0]["note"] == (
        "its image IMG_5.JPG arrived before it, and no rendition's `when:` took it without it (archived, nothing "
        f"written); archived beside that image: `hotfolder rerender {image}` renders the image with its keywords "
        "and rating (copy a sidecar before or with its image)")
    assert said[1]["note"].startswith("no image of it arrived within sidecar_wait")  # not one no rendition took
    assert late == [True, False]


def test_the_notes_of_unmatched_originals_are_bounded_and_name_that_very_file(tmp_path):
    """Kept LATELY and MOST at most (each note prunes the older ones); a file put at a noted
    path since (another inode) is not the one noted; no database: nothing is known, none made."""
    from hotfolder.state import unmatched

    state, now = tmp_path / "state", time.time()
    assert not unmatched.archived_lately(state, tmp_path) and not state.exists()
    images = []
    for i in range(3):
        images.append(tmp_path / f"u{i}.jpg")
        images[-1].write_bytes(b"x")
    notes = unmatched.Unmatched(state)
    notes.note(images[0], images[0].stat().st_ino, now - unmatched.LATELY - 1)  # a start an hour later
    notes.note(images[1], images[1].stat().st_ino, now)
    assert [unmatched.archived_lately(state, p) for p in images] == [False, True, False]
    images[1].unlink()
    images[1].write_bytes(b"another file, put at its path")
    images[2].rename(images[1])
    assert not unmatched.archived_lately(state, images[1])
    for i in range(unmatched.MOST + 5):
        notes.note(tmp_path / f"many/{i}.jpg", i, now + i / 1000)
    kept = notes.conn.execute("SELECT count(*), min(time) FROM unmatched_originals").fetchone()
    assert kept == (unmatched.MOST, now + 5 / 1000), kept
    notes.close()


def test_where_a_node_says_it_archived_an_unmatched_original_is_a_name_inside_the_archive_or_nothing():
    """A verdict is read from Redis, which anyone with its password can write: its
    `unmatched_at` is data, never a way out of the folder's archive/."""
    from hotfolder.cluster.told import unmatched_at

    assert unmatched_at({"unmatched_at": "2026/june/a.jpg"}) == "2026/june/a.jpg"
    for forged in ("../x.jpg", "/etc/passwd", "a/../../b", "", 7, None, "x" * 5000):
        assert unmatched_at({"unmatched_at": forged}) is None, forged
    assert unmatched_at({}) is None


def test_a_node_s_unmatched_original_is_noted_only_inside_the_archive_without_a_link(tmp_path):
    """The head notes where a verdict from Redis says a node archived an unmatched original:
    a folder of archive/ swapped for a link (the archive is on the share every node writes)
    made it stat and note a file outside it."""
    import dataclasses

    import structlog

    from hotfolder.supervisor import side_files

    state = tmp_path / "state"
    folder = dataclasses.replace(make_folder(tmp_path), index_dir=state, state_dir=state)
    folder.archive.mkdir(parents=True, exist_ok=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "IMG_5.JPG").write_bytes(b"not the archive's")
    (folder.archive / "2026").symlink_to(elsewhere)
    (folder.archive / "IMG_6.JPG").write_bytes(b"archived a moment ago, unmatched")
    sidecars = side_files.LoneSidecars(state)
    with structlog.testing.capture_logs() as said:
        sidecars.note_unmatched(structlog.get_logger(), folder, folder.archive / "2026" / "IMG_5.JPG")
        sidecars.note_unmatched(structlog.get_logger(), folder, folder.archive / "IMG_6.JPG")
    assert not unmatched.archived_lately(state, folder.archive / "2026" / "IMG_5.JPG")
    assert [s["event"] for s in said] == ["unmatched_note_failed"], said
    assert unmatched.archived_lately(state, folder.archive / "IMG_6.JPG")


def test_a_sidecar_for_an_image_the_index_rendered_days_ago_is_said_late(tmp_path, monkeypatch):
    """A photographer culls in Lightroom days after the shoot and drops the RAW's sidecar: it
    was said "no image of it arrived within sidecar_wait (5 s) … raise sidecar_wait" once the
    image's archiving was more than LATELY (10 minutes) ago, though it lay beside that image,
    which the index knows rendered under that name. Without an index (a cluster) the time
    still decides. LATELY is set to 0 here: every archived image is "days ago"."""
    import structlog

    from hotfolder.state.originals import RENDERED, Entry, Originals
    from hotfolder.supervisor import side_files

    monkeypatch.setattr(side_files, "LATELY", 0.0)
    folder = dataclasses.replace(make_folder(tmp_path), index_dir=tmp_path / "state")
    Originals(tmp_path / "state").record(Entry("ab" * 32, 1, RENDERED, folder.name, "shoot/IMG_3.CR3", 10))
    (folder.archive / "shoot").mkdir(parents=True, exist_ok=True)
    (folder.archive / "shoot" / "IMG_3.CR3").write_bytes(b"rendered days ago")
    (folder.archive / "shoot" / "IMG_4.CR3").write_bytes(b"rendered days ago, by a cluster")
    (folder.inbox / "shoot").mkdir()
    with structlog.testing.capture_logs() as said:
        late = side_files.sidecar_alone(structlog.get_logger(), folder, _drop(folder.inbox / "shoot" / "IMG_3.xmp",
                                                                              b"<x/>"), folder.state_dir)
        cluster = dataclasses.replace(folder, index_dir=None)
        alone = side_files.sidecar_alone(structlog.get_logger(), cluster, _drop(folder.inbox / "shoot" / "IMG_4.xmp",
                                                                                b"<y/>"), folder.state_dir)
    assert late is True and said[0]["note"].startswith("its image IMG_3.CR3 was rendered before it arrived"), said
    assert alone is False and said[1]["note"].startswith("no image of it arrived within sidecar_wait"), said


def test_a_re_exported_sidecar_keeps_every_earlier_one_and_junk_puts_none_aside(tmp_path):
    """Each re-export takes the name beside the image, each earlier one kept under a name no
    image pairs with (`.earlier`, `.earlier_1`); what is not XMP puts no readable sidecar
    aside (archived under a free name, as before); nor does a sidecar of an image the index
    never rendered under that name (a video's, an unknown one's)."""
    import structlog

    from hotfolder.state.originals import RENDERED, Entry, Originals
    from hotfolder.supervisor import side_files
    from tests import sources

    folder = dataclasses.replace(make_folder(tmp_path), index_dir=tmp_path / "state")
    Originals(tmp_path / "state").record(Entry("ab" * 32, 1, RENDERED, folder.name, "IMG_2.CR3", 10))
    folder.archive.mkdir(parents=True, exist_ok=True)
    for name, data in (("IMG_2.CR3", b"raw"), ("IMG_2.xmp", b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF "
                       b"xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/></x:xmpmeta>"),
                       ("IMG_5.MOV", b"video"), ("IMG_5.xmp", b"<x/>")):
        (folder.archive / name).write_bytes(data)
    packets = [bytes(sources.xmp_packet(rating=n)) for n in (1, 2)]
    with structlog.testing.capture_logs() as said:
        for data in packets:
            side_files.sidecar_alone(structlog.get_logger(), folder, _drop(folder.inbox / "IMG_2.xmp", data),
                                     folder.state_dir)
        side_files.sidecar_alone(structlog.get_logger(), folder, _drop(folder.inbox / "IMG_2.xmp", b"not xml"),
                                 folder.state_dir)
        side_files.sidecar_alone(structlog.get_logger(), folder, _drop(folder.inbox / "IMG_5.xmp", packets[0]),
                                 folder.state_dir)
    assert (folder.archive / "IMG_2.xmp").read_bytes() == packets[1]
    assert (folder.archive / "IMG_2.earlier_1.xmp").read_bytes() == packets[0]
    assert (folder.archive / "IMG_2.earlier.xmp").read_bytes().startswith(b"<x:xmpmeta")
    assert (folder.archive / "IMG_2_1.xmp").read_bytes() == b"not xml"
    assert (folder.archive / "IMG_5.xmp").read_bytes() == b"<x/>" and (folder.archive / "IMG_5_1.xmp").exists()
    assert find_image(folder.archive, "IMG_2.earlier.xmp") is None
    assert [s["late"] for s in said] == [True, True, False, False], said


def test_a_sidecar_dated_in_the_future_does_not_keep_every_re_export_out():
    """A sidecar saved on a machine whose clock ran years ahead (a new laptop's, a restored
    backup's) said every later re-export was older: no fix could take its place ever again.
    A date past now (a day's slack, for the time zone a date without one was written in) says
    nothing, as no date; a date within the slack still counts."""
    from hotfolder.spool.xmp_sidecars import not_older
    from tests import sources

    def saved(when: str) -> bytes:
        return sources.xmp_packet(rating=3, extra=f"<xmp:MetadataDate>{when}</xmp:MetadataDate>")

    now = datetime.datetime.now(datetime.UTC)
    fixed = saved(now.isoformat())
    assert not_older(fixed, saved("2099-01-01T10:00:00+01:00"))
    assert not_older(fixed, saved("2099-01-01T10:00:00"))  # no zone: the machine's own time
    assert not not_older(saved("2026-01-01T10:00:00+00:00"), saved((now + datetime.timedelta(hours=20)).isoformat()))


def test_a_sidecar_dated_in_the_future_says_its_date_was_not_believed(tmp_path):
    """A re-export saved on a machine whose clock is years ahead (xmp:MetadataDate 2099) takes
    the earlier one's place as one without a date does, and its line said nothing of the date:
    the photographer learnt neither that the clock is wrong nor that the next sidecar dropped,
    whatever its date, takes its place in turn (a new user's week). The line now says so."""
    import structlog

    from hotfolder.state.originals import RENDERED, Entry, Originals
    from hotfolder.supervisor import side_files
    from tests import sources

    folder = dataclasses.replace(make_folder(tmp_path), index_dir=tmp_path / "state")
    Originals(tmp_path / "state").record(Entry("ab" * 32, 1, RENDERED, folder.name, "IMG_7.jpg", 10))
    folder.archive.mkdir(parents=True, exist_ok=True)
    (folder.archive / "IMG_7.jpg").write_bytes(b"jpeg")
    (folder.archive / "IMG_7.xmp").write_bytes(sources.xmp_packet(rating=1))
    ahead = sources.xmp_packet(rating=5, extra="<xmp:MetadataDate>2099-01-01T10:00:00+00:00</xmp:MetadataDate>")
    with structlog.testing.capture_logs() as said:
        side_files.sidecar_alone(structlog.get_logger(), folder, _drop(folder.inbox / "IMG_7.xmp", ahead),
                                 folder.state_dir)
    assert (folder.archive / "IMG_7.xmp").read_bytes() == ahead
    assert said[0]["note"].endswith(
        "; its xmp:MetadataDate, 2099-01-01T10:00:00+00:00, is past now: the clock where it was saved is wrong? "
        "It counts as no date, so the next sidecar dropped for this image takes its place, whatever its date"
    ), said


def test_an_old_export_dropped_again_does_not_take_a_newer_sidecars_place(tmp_path):
    """Last month's sidecars copied in again (an old export folder, a backup) must not undo a
    fix made since: a sidecar whose xmp:MetadataDate is before the one beside the image is
    archived under a free name, as any sidecar alone; a sidecar that says no date, or a later
    one, takes the place (Lightroom sets it at each save)."""
    import structlog

    from hotfolder.spool.xmp_sidecars import not_older
    from hotfolder.state.originals import RENDERED, Entry, Originals
    from hotfolder.supervisor import side_files
    from tests import sources

    def saved(when: str | None, rating: int) -> bytes:
        return sources.xmp_packet(rating=rating, extra=f"<xmp:MetadataDate>{when}</xmp:MetadataDate>" if when else "")

    june, july = saved("2026-06-14T10:00:00+02:00", 5), saved("2026-07-01T09:00:00", 2)
    assert not_older(july, june) and not not_older(june, july) and not_older(saved(None, 1), july)
    assert not_older(june, b"not xml") and not_older(saved("not a date", 1), june)
    as_lightroom = sources.xmp_packet(rating=1).replace(  # an attribute of rdf:Description, as Lightroom writes it
        b'xmp:Rating="1"', b'xmp:Rating="1" xmp:MetadataDate="2026-06-01T08:00:00.123+02:00"')
    assert not not_older(as_lightroom, june) and not_older(july, as_lightroom)
    with pytest.raises(ValueError):
        not_older(b"not xml", june)
    folder = dataclasses.replace(make_folder(tmp_path), index_dir=tmp_path / "state")
    Originals(tmp_path / "state").record(Entry("ab" * 32, 1, RENDERED, folder.name, "IMG_2.CR3", 10))
    folder.archive.mkdir(parents=True, exist_ok=True)
    (folder.archive / "IMG_2.CR3").write_bytes(b"raw")
    (folder.archive / "IMG_2.xmp").write_bytes(july)
    with structlog.testing.capture_logs() as said:
        side_files.sidecar_alone(structlog.get_logger(), folder, _drop(folder.inbox / "IMG_2.xmp", june),
                                 folder.state_dir)
    assert (folder.archive / "IMG_2.xmp").read_bytes() == july and (folder.archive / "IMG_2_1.xmp").read_bytes() == june
    assert not (folder.archive / "IMG_2.earlier.xmp").exists() and said[0]["late"] is False, said
    assert said[0]["note"] == ("its image IMG_2.CR3 lies archived with a sidecar of that name saved after this one "
                               "(its xmp:MetadataDate), or this one is no XMP: that one stays beside it; this one "
                               "archived as IMG_2_1.xmp, which nothing reads"), said


def test_the_main_loop_reads_a_sidecar_s_date_as_packet_parse_would_without_building_its_tree():
    """The main loop compares a re-exported sidecar with the one beside its image
    (xmp_sidecars.not_older): it built each one's tree (Packet.parse: 1.3-1.75 s and 86 MiB
    for 4 MiB of empty elements, the new one's twice for a skipped copy's sidecar). It reads
    them as expat hands it the elements, no tree: the same answers as Packet.parse and find()
    (the cases here), and no memory to speak of (its time, about half, is measured outside tests)."""
    from hotfolder.engine import xmp
    from hotfolder.spool import xmp_sidecars
    from tests import sources

    rdf = "xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'"
    desc = "<rdf:Description xmlns:xmp='http://ns.adobe.com/xap/1.0/'"
    cases = {
        sources.xmp_packet(rating=2, extra="<xmp:MetadataDate>2026-07-01T09:00:00+02:00</xmp:MetadataDate>"):
            "2026-07-01T09:00:00+02:00",
        f"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF {rdf}><rdf:Description/>{desc} xmp:MetadataDate='a'>"
        "<xmp:MetadataDate>e</xmp:MetadataDate></rdf:Description></rdf:RDF></x:xmpmeta>".encode(): "e",
        f"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF {rdf}/><rdf:RDF {rdf}>{desc} xmp:MetadataDate='2'/>"
        "</rdf:RDF></x:xmpmeta>".encode(): None,  # find() reads the first rdf:RDF only
        f"<x:xmpmeta xmlns:x='adobe:ns:meta/'><y><rdf:RDF {rdf}/></y></x:xmpmeta>".encode(): ValueError,
        ("<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + "<a>" * 100 + "</a>" * 100 + "</x:xmpmeta>").encode(): ValueError,
        b"<!DOCTYPE x [<!ENTITY a 'b'>]><x:xmpmeta xmlns:x='adobe:ns:meta/'>&a;</x:xmpmeta>": ValueError,
        b"not xml": ValueError,
    }
    for data, said in cases.items():
        try:
            packet = xmp.Packet.parse(data)
        except ValueError:
            assert said is ValueError, data
            with pytest.raises(ValueError):
                xmp_sidecars.metadata_date(data)
            continue
        found = packet.find(xmp.Property(xmp.q("xmp", "MetadataDate"), "text"))
        assert (found if isinstance(found, str) or found is None else found.text) == said, data
        assert xmp_sidecars.metadata_date(data) == said, data
    empty = (f"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF {rdf}><rdf:Description>".encode()
             + b"<a/>" * 1_000_000 + b"</rdf:Description></rdf:RDF></x:xmpmeta>")

    # Its memory, not its time (a timed test fails on a busy machine; the speed is the bench's):
    # the tree of this packet took 86 MiB at its peak, the scan holds no element.
    import tracemalloc

    tracemalloc.start()
    try:
        assert xmp_sidecars.not_older(empty, b"<x/>")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak / 2**20:.1f} MiB at the peak: a tree was built"
