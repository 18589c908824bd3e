"""The on-disk states and moves, on real files."""
from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import struct
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from hotfolder.arrival import mounts
from hotfolder.config.model import Folder, Rendition
from hotfolder.spool import atomic, folders, fsnames, moves, nofollow, oserrors, records, recovery, space
from hotfolder.spool.failed_files import failed_originals


def make_folder(tmp_path: Path, on_success: str = "archive") -> Folder:
    folder = Folder(
        name="t", inbox=tmp_path / "inbox", output=tmp_path / "output", failed=tmp_path / "failed",
        processing=tmp_path / "processing", archive=tmp_path / "archive" if on_success == "archive" else None,
        renditions=(Rendition(name="web", width=100, height=100),), on_success=on_success,
    )
    folders.ensure_dirs(folder)
    return folder


@pytest.mark.parametrize("name, ignored", [
    ("photo.jpg", False), (".photo.jpg", True), ("photo.jpg.part", True), ("a.tmp", True),
    ("a.crdownload", True), (".photo.jpg.Xa3b9", True), ("-dash.jpg", False), ("sp ace.jpg", False),
    # taken under their temp names before an attack round: WinSCP, Resilio, Safari, Dropbox, macOS safe-save
    ("winscp.jpg.filepart", True), ("a.jpg.!sync", True), ("a.jpg.download", True), ("a.dbtmp", True),
    ("IMG.JPG.sb-1a2b3c4d-XyZ12a", True), ("a.jpg.sb-1a2b3c-XyZ", True), ("IMG.sb-1a2b.jpg", False),
    ("download.jpg", False),
])
def test_ignored_names(name, ignored):
    assert fsnames.is_ignored_name(name) is ignored


def test_claim_finish_archive_never_overwrites(tmp_path):
    folder = make_folder(tmp_path)
    for round_ in range(3):
        (folder.inbox / "sub").mkdir(exist_ok=True)
        src = folder.inbox / "sub" / "a.jpg"
        src.write_bytes(b"v%d" % round_)
        claimed = moves.claim(folder, src)
        assert claimed.rel == "sub/a.jpg" and claimed.path == folder.processing / "sub" / "a.jpg"
        assert not src.exists()
        moves.finish(folder, claimed)
    names = sorted(p.name for p in (folder.archive / "sub").iterdir())
    assert names == ["a.jpg", "a_1.jpg", "a_2.jpg"]
    assert (folder.archive / "sub" / "a.jpg").read_bytes() == b"v0"


def test_claim_waits_while_same_name_in_processing(tmp_path):
    folder = make_folder(tmp_path)
    (folder.inbox / "a.jpg").write_bytes(b"1")
    first = moves.claim(folder, folder.inbox / "a.jpg")
    (folder.inbox / "a.jpg").write_bytes(b"2")
    assert moves.claim(folder, folder.inbox / "a.jpg") is None
    assert (folder.inbox / "a.jpg").read_bytes() == b"2"
    assert first.path.read_bytes() == b"1"


def test_claim_refuses_symlink_without_following(tmp_path):
    folder = make_folder(tmp_path)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"secret")
    (folder.inbox / "link.jpg").symlink_to(secret)
    with pytest.raises(moves.Refused):
        moves.claim(folder, folder.inbox / "link.jpg")
    assert moves.claim(folder, folder.inbox / "gone.jpg") is None


def test_fail_writes_sidecar(tmp_path):
    folder = make_folder(tmp_path)
    (folder.inbox / "bad.jpg").write_bytes(b"x")
    claimed = moves.claim(folder, folder.inbox / "bad.jpg")
    dst = moves.fail(folder, claimed.path, claimed.rel, error="cannot identify image", step="open", attempts=2)
    assert dst == folder.failed / "bad.jpg" and dst.read_bytes() == b"x"
    record = json.loads((folder.failed / "bad.jpg.error.json").read_text())
    assert record["error"] == "cannot identify image" and record["step"] == "open" and record["attempts"] == 2
    assert record["time"].endswith("Z")


def test_write_atomic_replaces_and_sets_mode(tmp_path):
    target = tmp_path / "out" / "a_web.jpg"
    atomic.write_atomic(target, b"one", mode=0o640)
    atomic.write_atomic(target, b"two", mode=0o640)
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(target.parent) == ["a_web.jpg"]


def test_recover_keeps_claims_in_place_and_removes_only_our_temps(tmp_path):
    folder = make_folder(tmp_path)
    (folder.processing / "sub").mkdir()
    (folder.processing / "sub" / "a.jpg").write_bytes(b"a")
    (folder.inbox / "b.jpg").write_bytes(b"new b")
    (folder.processing / "b.jpg").write_bytes(b"old b")
    ours = atomic.temp_output_path(folder.output / "a_web.jpg", "7-", folder.temp_token).with_name(
        atomic.temp_output_path(folder.output / "a_web.jpg", "7-", folder.temp_token).name + "abcdefgh")
    ours.write_bytes(b"half")
    users = ["c.hf-tmp-d_web.jpg", ".a_web.jpg.hf-tmp-123", ".hf-0123456789ab.x"]  # look like temps; are not ours
    for name in users:
        (folder.output / name).write_bytes(b"a user's file")
    (folder.failed / "y.error.json").write_text("a user's file, failed as a non-image")
    (folder.failed / "y.error.json.error.json").write_text("{}")
    found = recovery.recover(folder)
    assert (found.in_processing, found.temp_removed, found.sidecars_finished) == (2, 1, 0)
    assert not ours.exists()
    assert sorted(p.name for p in folder.output.iterdir()) == sorted(users)
    assert sorted(p.name for p in folder.failed.iterdir()) == ["y.error.json", "y.error.json.error.json"]
    assert [p for _, p in failed_originals([folder])] == [folder.failed / "y.error.json"]
    assert (folder.processing / "b.jpg").read_bytes() == b"old b", "adopted in place, before the newer b.jpg"
    assert (folder.inbox / "b.jpg").read_bytes() == b"new b"
    assert sorted(c.rel for c in recovery.claimed_files(folder)) == ["b.jpg", "sub/a.jpg"]


def test_a_failure_record_cut_by_a_crash_is_finished_or_removed(tmp_path):
    folder = make_folder(tmp_path)
    (folder.inbox / "x.jpg").write_bytes(b"x")
    (folder.inbox / "z.jpg").write_bytes(b"z")
    claimed = moves.claim(folder, folder.inbox / "x.jpg")
    moves.fail(folder, claimed.path, claimed.rel, error="bad", step="decode")
    # A crash between the original's move and the record's rename: the record is still a temp.
    record = folder.failed / "x.jpg.error.json"
    os.rename(record, folder.failed / (atomic.temp_prefix(folder.temp_token) + "sidecar-abc"))
    # A crash before the original moved: a temp record for z.jpg, z.jpg still in processing/.
    z = moves.claim(folder, folder.inbox / "z.jpg")
    (folder.failed / (atomic.temp_prefix(folder.temp_token) + "sidecar-def")).write_text(
        json.dumps({"failed_as": b"z.jpg".hex(), "error": "bad"}))
    found = recovery.recover(folder)
    assert found.sidecars_finished == 1
    assert json.loads(record.read_text())["error"] == "bad"
    assert sorted(p.name for p in folder.failed.iterdir()) == ["x.jpg", "x.jpg.error.json"]
    assert z.path.exists()


def test_names_that_are_not_utf8_reach_failed_with_a_readable_record(tmp_path):
    folder = make_folder(tmp_path)
    name = os.fsdecode(b"junk-\xff.jpg")
    (folder.inbox / name).write_bytes(b"x")
    claimed = moves.claim(folder, folder.inbox / name)
    dst = moves.fail(folder, claimed.path, claimed.rel, error=f"cannot read {name}", step="open")
    assert os.fsencode(dst.name) == b"junk-\xff.jpg"
    record = records.read_failure(folder, dst)
    assert record["file"] == "junk-\\xff.jpg" and record["error"] == "cannot read junk-\\xff.jpg"


def test_temp_names_fit_name_max_in_bytes(tmp_path):
    final = tmp_path / ("🙂" * 60 + ".jpg")  # 244 bytes in 61 characters
    atomic.write_atomic(final, b"data", tag="123-")
    assert final.read_bytes() == b"data"
    assert len(os.fsencode(atomic.temp_output_path(final, "123-").name)) + atomic.TEMP_RANDOM <= fsnames.NAME_MAX


def test_requeue(tmp_path):
    folder = make_folder(tmp_path)
    (folder.inbox / "bad.jpg").write_bytes(b"x")
    claimed = moves.claim(folder, folder.inbox / "bad.jpg")
    moves.fail(folder, claimed.path, claimed.rel, error="e", step="open")
    assert [p for _, p in failed_originals([folder])] == [folder.failed / "bad.jpg"]
    moves.requeue(folder, folder.failed / "bad.jpg")
    assert (folder.inbox / "bad.jpg").exists() and list(folder.failed.iterdir()) == []


def test_a_requeue_is_unique_by_the_name_alone_in_the_inbox(tmp_path):
    """The inbox holds no failure records: a user's file named like one does not push the
    requeued file to another name (y_1.jpg, seen when tmpfs listed that file first)."""
    folder = make_folder(tmp_path)
    (folder.inbox / "y.jpg").write_bytes(b"x")
    claimed = moves.claim(folder, folder.inbox / "y.jpg")
    moves.fail(folder, claimed.path, claimed.rel, error="e", step="open")
    (folder.inbox / "y.jpg.error.json").write_bytes(b"a user's file")
    assert moves.requeue(folder, folder.failed / "y.jpg") == folder.inbox / "y.jpg"
    (folder.inbox / "y.jpg").rename(folder.inbox / "z.jpg")  # a name taken still gets the next one
    (folder.inbox / "y.jpg").write_bytes(b"another")
    claimed = moves.claim(folder, folder.inbox / "y.jpg")
    moves.fail(folder, claimed.path, claimed.rel, error="e", step="open")
    (folder.inbox / "y.jpg").write_bytes(b"newer")
    assert moves.requeue(folder, folder.failed / "y.jpg") == folder.inbox / "y_1.jpg"


def test_a_requeue_takes_the_record_away_first_and_a_crash_between_is_undone(tmp_path):
    """A file renamed into the inbox is claimed at once: failing again within milliseconds,
    it found its old record still in failed/ and went there as NAME_1 (met under load). The
    record leaves first, under a temp record's name; a crash before the file's move leaves
    that state, which recovery puts right."""
    folder = make_folder(tmp_path)
    (folder.inbox / "bad.jpg").write_bytes(b"x")
    claimed = moves.claim(folder, folder.inbox / "bad.jpg")
    moves.fail(folder, claimed.path, claimed.rel, error="why it failed", step="open")
    changes = _changes_seen(folder.failed, folder.inbox, lambda: moves.requeue(folder, folder.failed / "bad.jpg"))
    assert changes.index(("failed", "bad.jpg.error.json")) < changes.index(("inbox", "bad.jpg")), changes
    assert list(folder.failed.iterdir()) == []

    (folder.inbox / "bad.jpg").rename(folder.processing / "bad.jpg")
    moves.fail(folder, folder.processing / "bad.jpg", "bad.jpg", error="why it failed", step="open")
    record = folder.failed / "bad.jpg.error.json"
    said = record.read_bytes()
    record.rename(folder.failed / f"{atomic.temp_prefix(folder.temp_token)}{moves.RECORD_TEMP}0badc0de")  # the crash
    assert [p for _, p in failed_originals([folder])] == [folder.failed / "bad.jpg"]
    assert recovery.recover(folder).sidecars_finished == 1
    assert sorted(p.name for p in folder.failed.iterdir()) == ["bad.jpg", "bad.jpg.error.json"]
    assert record.read_bytes() == said
    assert moves.requeue(folder, folder.failed / "bad.jpg") == folder.inbox / "bad.jpg"
    assert list(folder.failed.iterdir()) == []


def test_a_requeue_of_a_file_another_requeue_took_leaves_no_record_behind(tmp_path):
    """Two requeues of one file (the command line, the status page, the grown-file watch):
    the one that finds the file gone put the record it had taken away back, beside
    nothing; the file's next failure then went to failed/ as NAME_1 (a review's finding)."""
    folder = make_folder(tmp_path)
    (folder.inbox / "bad.jpg").write_bytes(b"x")
    claimed = moves.claim(folder, folder.inbox / "bad.jpg")
    moves.fail(folder, claimed.path, claimed.rel, error="why it failed", step="open")
    (folder.failed / "bad.jpg").rename(folder.inbox / "bad.jpg")  # the other requeue's move, its unlink to come
    with pytest.raises(FileNotFoundError):
        moves.requeue(folder, folder.failed / "bad.jpg")
    assert list(folder.failed.iterdir()) == []


def test_a_daemon_starting_in_the_middle_of_a_requeue_leaves_no_record_behind(tmp_path):
    """A daemon starting between a requeue's two renames (the record taken away, the file
    still in failed/) gives the record its name back (recovery finishes a temp record whose
    file is there); the requeue then moves the file and must remove that record, or the
    file's next failure goes to failed/ as NAME_1. The requeue's own steps, with the
    recovery between them."""
    folder = make_folder(tmp_path)
    (folder.inbox / "bad.jpg").write_bytes(b"x")
    claimed = moves.claim(folder, folder.inbox / "bad.jpg")
    moves.fail(folder, claimed.path, claimed.rel, error="why it failed", step="open")
    with nofollow.opened(folder.failed) as failed:
        parked = moves.park_record(failed, "bad.jpg", folder.temp_token)
        assert parked is not None
        assert recovery.recover(folder).sidecars_finished == 1  # the daemon starting
        assert (folder.failed / "bad.jpg.error.json").exists()
        (folder.failed / "bad.jpg").rename(folder.inbox / "bad.jpg")  # the requeue's move
        moves.drop_parked(failed, parked, "bad.jpg")
    assert list(folder.failed.iterdir()) == []

    # A newer failure's record under the name is another file: it stays.
    (folder.inbox / "bad.jpg").rename(folder.processing / "bad.jpg")
    moves.fail(folder, folder.processing / "bad.jpg", "bad.jpg", error="why it failed", step="open")
    with nofollow.opened(folder.failed) as failed:
        parked = moves.park_record(failed, "bad.jpg", folder.temp_token)
        assert parked is not None
        os.rename(parked[0], tmp_path / "kept", src_dir_fd=failed)  # kept: its inode is not reused
        (folder.failed / "bad.jpg.error.json").write_text("{}")  # not the parked record
        moves.drop_parked(failed, parked, "bad.jpg")
    assert sorted(p.name for p in folder.failed.iterdir()) == ["bad.jpg", "bad.jpg.error.json"]


def _changes_seen(first: Path, second: Path, action) -> list[tuple[str, str]]:
    """(folder name, entry name) of each change the kernel reports in the two folders while
    `action` runs, in the order they happened (one inotify instance queues them so)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    try:
        watches = {libc.inotify_add_watch(fd, os.fsencode(str(d)), 0x40 | 0x80 | 0x100 | 0x200): d.name
                   for d in (first, second)}  # moved from, moved to, created, deleted
        action()
        data, seen = os.read(fd, 1 << 16), []
    finally:
        os.close(fd)
    while data:
        wd, _mask, _cookie, size = struct.unpack_from("iIII", data)
        seen.append((watches[wd], data[16:16 + size].rstrip(b"\0").decode()))
        data = data[16 + size:]
    return seen


def test_a_requeue_whose_move_fails_keeps_the_record_beside_the_file(tmp_path):
    """The move refused (here: an inbox on another mount, EXDEV): the record taken away
    first is put back under its name."""
    elsewhere = Path("/dev/shm")
    if not elsewhere.is_dir() or elsewhere.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a mount of its own")
    folder = make_folder(tmp_path)
    (folder.inbox / "bad.jpg").write_bytes(b"x")
    claimed = moves.claim(folder, folder.inbox / "bad.jpg")
    moves.fail(folder, claimed.path, claimed.rel, error="why it failed", step="open")
    with tempfile.TemporaryDirectory(dir=elsewhere) as other:
        apart = replace(folder, inbox=Path(other))
        with pytest.raises(OSError) as raised:
            moves.requeue(apart, folder.failed / "bad.jpg")
        assert raised.value.errno == errno.EXDEV
        assert list(Path(other).iterdir()) == []
    assert sorted(p.name for p in folder.failed.iterdir()) == ["bad.jpg", "bad.jpg.error.json"]
    assert records.read_failure(folder, folder.failed / "bad.jpg")["error"] == "why it failed"


def test_pruning_processing_takes_only_emptied_folders_inside_it(tmp_path):
    """A cluster's job record names the file (data): a name leading out of processing/
    prunes nothing there (a review found `../inbox/x.jpg` removed an empty inbox/)."""
    folder = make_folder(tmp_path)
    (folder.processing / "2027" / "jan").mkdir(parents=True)
    (folder.processing / "2027" / "feb").mkdir()
    moves.prune_emptied(folder.processing, "2027/jan/k.jpg")
    assert sorted(p.name for p in folder.processing.rglob("*")) == ["2027", "feb"]  # its parent holds feb
    empty_elsewhere = tmp_path / "elsewhere"
    empty_elsewhere.mkdir()
    for rel in ("../inbox/x.jpg", f"{empty_elsewhere}/x.jpg", "../elsewhere/x.jpg", "2027/../../inbox/x.jpg"):
        moves.prune_emptied(folder.processing, rel)
    assert folder.inbox.is_dir() and empty_elsewhere.is_dir() and (folder.processing / "2027" / "feb").is_dir()
    moves.prune_emptied(folder.processing, "2027/feb/l.jpg")
    assert list(folder.processing.iterdir()) == [] and folder.processing.is_dir()


def test_delete_on_success(tmp_path):
    folder = make_folder(tmp_path, on_success="delete")
    (folder.inbox / "a.jpg").write_bytes(b"a")
    claimed = moves.claim(folder, folder.inbox / "a.jpg")
    assert moves.finish(folder, claimed) is None
    assert not claimed.path.exists()


def test_write_atomic_sets_group(tmp_path):
    import grp

    if os.geteuid() != 0:
        pytest.skip("changing a file's group to one we are not in needs root")
    group = grp.getgrgid(1)  # 'daemon' on Debian: exists everywhere, not ours
    target = tmp_path / "g.jpg"
    atomic.write_atomic(target, b"x", mode=0o664, group=group.gr_name)
    assert target.stat().st_gid == group.gr_gid and target.stat().st_mode & 0o777 == 0o664
    atomic.write_atomic(target, b"y", group=str(group.gr_gid))
    assert target.stat().st_gid == group.gr_gid


def test_long_names_are_shortened_for_failed_and_archive(tmp_path):
    folder = make_folder(tmp_path)
    name = "é" * 120 + ".jpg"  # 244 bytes: legal, but NAME.error.json would not be
    (folder.inbox / name).write_bytes(b"x")
    claimed = moves.claim(folder, folder.inbox / name)
    dst = moves.fail(folder, claimed.path, claimed.rel, error="e", step="open")
    assert len(os.fsencode(dst.name + records.SIDECAR)) <= 255 and dst.suffix == ".jpg"
    assert (dst.parent / (dst.name + records.SIDECAR)).exists()
    with pytest.raises(fsnames.NameTooLong):
        atomic.write_atomic(tmp_path / ("a" * 256), b"x")


def test_a_folder_that_cannot_be_made_is_said_with_its_whole_path_and_key(tmp_path):
    """The system names only the part it failed on ("[Errno 1] Operation not permitted:
    'out'"), and a refused reload or a start said no more (a review)."""
    import dataclasses

    from hotfolder.spool import folders

    (tmp_path / "blocker").write_text("a file where a folder should be")
    folder = dataclasses.replace(make_folder(tmp_path), output=tmp_path / "blocker" / "out")
    with pytest.raises(OSError) as err:
        folders.ensure_dirs(folder)
    said = str(err.value)
    assert f"'{tmp_path / 'blocker' / 'out'}'" in said and f"(folders[{folder.name}].output)" in said, said


def _sparse(path: Path, chunks: dict[int, bytes], size: int | None = None) -> Path:
    """A file written as an offset writer leaves it: each chunk at its offset, a hole before."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if size is not None:
            os.ftruncate(fd, size)
        for offset, chunk in chunks.items():
            os.pwrite(fd, chunk, offset)
    finally:
        os.close(fd)
    return path


@pytest.mark.parametrize("how", ["appended", "at its offset", "into the reserved size"])
def test_a_piece_is_joined_where_its_writer_put_its_bytes(tmp_path, how):
    """An appended chunk goes after the claimed bytes; one written at its offset (a hole
    before it: FTP REST+STOR, SMB, NFS) goes at that offset, without the hole's zeros (they
    came in whole: an 835 KB file for a 315 KB upload, an attack round); one written into a
    size the writer reserved first goes into its place."""
    from hotfolder.spool import pieces

    folder = make_folder(tmp_path)
    whole = bytes(range(1, 256)) * 200  # no zero byte in it: a zero would be the writer's
    first, rest = whole[:20000], whole[20000:]  # past a block: a hole before the chunk
    claimed = folder.processing / "a.jpg"
    claimed.write_bytes(first + (b"\0" * len(rest) if how == "into the reserved size" else b""))
    piece = folder.inbox / "a.jpg"
    if how == "appended":
        piece.write_bytes(rest)
    else:
        _sparse(piece, {len(first): rest}, len(whole) if how == "into the reserved size" else None)
    added = pieces.append(folder, moves.Claimed("a.jpg", claimed), piece)
    assert claimed.read_bytes() == whole and not piece.exists()
    assert added == (0 if how == "into the reserved size" else len(rest))


@pytest.mark.parametrize("taken, chunks, refusal, said", [
    (b"\xff" * 3000, {8192: b"\x01" * 500}, "PieceGap", "at byte 8192, past the 3000 bytes it has"),
    # another file of the name written at its offsets over the taken bytes: they were
    # overwritten in place, and the join logged as done (a review)
    (b"\x01" * 30000, {8192: b"\x07" * 30000}, "PieceDiffers", "from byte 8192 on are not the taken file's"),
])
def test_a_piece_that_cannot_be_joined_yet_or_at_all_leaves_both_files_as_they_were(tmp_path, taken, chunks, refusal,
                                                                                    said):
    """Past the taken file's end, it waits for the bytes between; over the taken bytes, with
    others, it is another file of the name. Either way nothing is written, both kept."""
    from hotfolder.spool import pieces

    folder = make_folder(tmp_path)
    claimed = folder.processing / "a.jpg"
    claimed.write_bytes(taken)
    piece = _sparse(folder.inbox / "a.jpg", chunks)
    with pytest.raises(getattr(pieces, refusal), match=said):
        pieces.append(folder, moves.Claimed("a.jpg", claimed), piece)
    assert claimed.read_bytes() == taken and piece.exists()


def test_a_piece_written_at_the_end_keeps_the_zero_bytes_its_chunk_starts_with(tmp_path):
    """A chunk resumed exactly at the taken file's end may start with zeros (a TIFF's black):
    they were skipped as the hole's, and the piece waited for ever for the bytes "between"
    (a review)."""
    from hotfolder.spool import pieces

    folder = make_folder(tmp_path)
    first, rest = b"\x01" * 20000, b"\0" * 5000 + b"\x02" * 3000
    claimed = folder.processing / "a.tif"
    claimed.write_bytes(first)
    piece = _sparse(folder.inbox / "a.tif", {len(first): rest})
    assert pieces.append(folder, moves.Claimed("a.tif", claimed), piece) == len(rest)
    assert claimed.read_bytes() == first + rest


def test_a_full_disk_or_quota_is_said_with_its_folder_and_file_system(tmp_path):
    """ENOSPC and EDQUOT named no folder nor file system (an admin's report): the mount
    point, its type, what is free, and what to change (a real quota needs quota tools)."""
    point, kind = mounts.mount_of(tmp_path)
    place = tmp_path / "output"
    place.mkdir()
    written = OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), str(place / "a_web.jpg"))
    said = oserrors.said_at(written, "output", "photos", place, needed=3 * 1024 * 1024)
    assert said is not None and said.startswith(f"{place / 'a_web.jpg'} could not be written (Disk quota exceeded): "
                                                f"the daemon's user "), said
    assert f"has used up its disk quota on the file system mounted at {point} ({kind}), " in said, said
    assert re.search(r" free of [\d.]+ [KMGTP]?i?B \(this file's outputs need 3\.0 MiB\), which holds `output` of "
                     r"folder photos", said), said
    assert said.endswith("raise that user's quota there (setquota, edquota) or free some of its files"), said
    no_name = oserrors.said_at(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "output", "photos", place)
    assert no_name is not None and no_name.startswith(f"a file in {place} could not be written (No space left"), no_name
    assert oserrors.said_at(OSError(errno.EIO, "I/O error"), "output", "photos", place) is None  # said as before
    assert [space.size(n) for n in (0, 1023, 1024, 3 * 1024 ** 2 - 1, 12 * 1024 ** 3)] == [
        "0 B", "1023 B", "1.0 KiB", "3.0 MiB", "12 GiB"]


def test_a_temp_file_the_stage_refuses_names_the_stage_not_the_output_s_folder(tmp_path, monkeypatch):
    """An output a template puts in another folder is written first as a temp file in the
    stage (the output folder itself, or the file's subfolder): when the stage refuses it,
    the error named the output's own folder (`output/acme/web`, mode 755, said "not
    writable") and only that subfolder's files were held; the folder to change is the stage."""
    place = tmp_path / "output"
    (place / "acme" / "web").mkdir(parents=True)
    real = atomic.write_temp

    with folders.opened_folder(place, "") as stage, folders.opened_folder(place, "acme/web") as web:
        def refused_in_stage(dir_fd, *args, **kwargs):
            if dir_fd == stage.fd:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return real(dir_fd, *args, **kwargs)

        monkeypatch.setattr(atomic, "write_temp", refused_in_stage)
        with pytest.raises(PermissionError) as raised:
            atomic.write_atomic_at(web, "a_web.jpg", b"x", stage=stage)
        said = oserrors.said_at(raised.value, "output", "photos", place)
        assert said is not None and f"the folder {place} (`output` of folder photos" in said, said
        assert oserrors.unwritable_subfolder(raised.value, place) == "", "the output folder itself: every file"
        monkeypatch.setattr(atomic, "write_temp", real)

        def refused_rename(*args, **kwargs):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

        monkeypatch.setattr(os, "replace", refused_rename)  # the output's own folder refuses the rename
        with pytest.raises(PermissionError) as raised:
            atomic.write_atomic_at(web, "a_web.jpg", b"x", stage=stage)
        monkeypatch.undo()
        assert raised.value.filename == str(place / "acme" / "web" / "a_web.jpg"), "named by it, as before"
        assert oserrors.unwritable_subfolder(raised.value, place) == "acme/web"
        assert [n for n in os.listdir(place) if n.startswith(".")] == [], "the stage's temp file removed"


def test_a_file_of_another_user_in_a_sticky_folder_is_said_so(tmp_path):
    """oserrors.not_movable: in a sticky inbox (mode 1777, as /tmp) only a file's owner, the
    folder's owner or root may move it: said with the folder, its owner and mode, and the file's
    owner; a folder it may write to and no sticky bit tells nothing ("": the caller's list)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    photo = inbox / "a.jpg"
    photo.write_bytes(b"x")
    denied = PermissionError(errno.EPERM, "Operation not permitted")
    assert oserrors.not_movable(denied, photo, tmp_path) == ""
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file to another user")
    os.chown(photo, 65534, 65534)
    os.chown(inbox, 65534, 65534)
    inbox.chmod(0o1777)
    said = oserrors.not_movable(denied, photo, tmp_path)
    assert said.startswith(f"{inbox} (owner ") and "mode 1777) is sticky (+t)" in said, said
    assert "chmod -t" in said, said


def test_a_records_explanation_is_kept_within_its_characters_in_all():
    """64 lines of 600 characters were kept of each record: 38,400 characters, 192 KB of
    page of `&`. Now EXPLAIN_CHARS in all; a line that passes the bound is cut, and one
    after lines that end on it exactly is left out (not cut to its last character)."""
    from hotfolder.spool.failed_files import EXPLAIN_CHARS, EXPLAIN_WIDTH, _lines

    kept = _lines(["&" * EXPLAIN_WIDTH] * 64)
    assert sum(map(len, kept)) == EXPLAIN_CHARS and kept[-1].endswith("\u2026"), [len(line) for line in kept]
    exact = _lines(["a" * 500] * (EXPLAIN_CHARS // 500) + ["b" * 10])
    assert sum(map(len, exact)) == EXPLAIN_CHARS and not any("b" in line for line in exact)
    assert _lines(["found: jpeg", 7, "applies: web"]) == ("found: jpeg", "applies: web")
