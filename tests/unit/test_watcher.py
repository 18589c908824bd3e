"""Arrival rules of the watcher, on real files (no observer thread needed)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from hotfolder.arrival.inbox import Inbox
from hotfolder.arrival.mounts import Mount, filesystem_type, mount_of, use_polling
from hotfolder.config.model import Folder, Rendition


def folder(tmp_path: Path, **kw) -> Folder:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    return Folder(name="t", inbox=inbox, output=tmp_path / "o", failed=tmp_path / "f",
                  processing=tmp_path / "p", archive=tmp_path / "a",
                  renditions=(Rendition(name="r", width=10, height=10),), **kw)


def test_network_file_systems_are_polled(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/vda1 / ext4 rw 0 0\n"
        "nas:/photos /mnt/nas nfs4 rw 0 0\n"
        "//srv/share /mnt/smb\\040share cifs rw 0 0\n"
        "user@host:/x /mnt/nas/deeper fuse.sshfs rw 0 0\n"
        "//srv/odd /mnt/tab\\011and\\134back cifs rw 0 0\n")
    assert filesystem_type(Path("/mnt/nas/inbox"), str(mounts)) == "nfs4"
    assert filesystem_type(Path("/mnt/smb share/in"), str(mounts)) == "cifs"
    assert filesystem_type(Path("/mnt/tab\tand\\back/in"), str(mounts)) == "cifs"  # only \040 was read
    assert filesystem_type(Path("/mnt/nas/deeper/in"), str(mounts)) == "fuse.sshfs"  # the longest mount wins
    assert filesystem_type(Path("/srv/local"), str(mounts)) == "ext4"
    f = folder(tmp_path)
    assert use_polling(f, str(mounts)) is False  # tmp_path is on the root fs in this table
    nfs = Folder(**{**f.__dict__, "inbox": Path("/mnt/nas/inbox")})
    assert use_polling(nfs, str(mounts)) is True
    assert use_polling(Folder(**{**nfs.__dict__, "watch": "inotify"}), str(mounts)) is False
    assert use_polling(Folder(**{**f.__dict__, "watch": "poll"}), str(mounts)) is True


def test_closed_file_is_ready_after_the_quiet_period(tmp_path):
    f = folder(tmp_path, quiet_period=0.2)
    inbox = Inbox(f, max_pending=10)
    inbox.ready(10)  # the first scan: nothing there yet
    path = f.inbox / "a.jpg"
    path.write_bytes(b"x" * 10)
    t0 = time.monotonic()
    inbox.note(path, closed=True)
    assert inbox.ready(10, t0) == []
    assert inbox.ready(10, t0 + 0.1) == []
    assert inbox.ready(10, t0 + 0.25) == [path]
    assert inbox.ready(10, t0 + 1) == []  # handed out once


def test_a_late_event_of_a_file_already_taken_makes_no_waiting_candidate(tmp_path):
    """A burst's events reach the inbox after its scan found the files and they were
    claimed (the observer thread behind on a loaded machine): each late event made a
    candidate again, counted as waiting until its claim's own event came; the status said
    517 files waited while inbox/ and processing/ held 361."""
    f = folder(tmp_path, quiet_period=0.05)
    inbox = Inbox(f, max_pending=10)
    path = f.inbox / "a.jpg"
    path.write_bytes(b"x" * 10)
    os.utime(path, (time.time() - 10, time.time() - 10))
    assert inbox.ready(10) == [path]  # found by the first scan, handed out
    path.rename(tmp_path / "claimed.jpg")  # the claim
    inbox.note(path, closed=True)  # the writer's close, late
    assert inbox.pending_count() == 0
    path.write_bytes(b"y" * 10)  # a new file of that name is a candidate as ever
    inbox.note(path, closed=True)
    assert inbox.pending_count() == 1


def test_open_file_waits_for_its_close(tmp_path):
    f = folder(tmp_path, quiet_period=0.05)
    inbox = Inbox(f, max_pending=10)
    inbox.ready(10)
    path = f.inbox / "slow.jpg"
    path.write_bytes(b"part")
    t0 = time.monotonic()
    inbox.note(path, closed=False)  # a write event, no close yet
    assert inbox.ready(10, t0 + 5) == []
    inbox.note(path, closed=True)
    t1 = time.monotonic()
    inbox.ready(10, t1)
    assert inbox.ready(10, t1 + 0.1) == [path]


def test_a_file_still_held_by_a_writer_after_its_close_event_is_asked_about_again_soon(tmp_path):
    # The kernel queues IN_CLOSE_WRITE before it drops the writer count, so the lease can
    # be refused right after the event: the same state as a second writer holding the
    # file, made here with a real open descriptor.
    f = folder(tmp_path, quiet_period=0.05)
    inbox = Inbox(f, max_pending=10)
    inbox.ready(10)
    path = f.inbox / "a.jpg"
    path.write_bytes(b"x" * 10)
    os.utime(path, (time.time() - 10, time.time() - 10))  # its bytes long still: only the lease decides
    held = os.open(path, os.O_WRONLY)
    try:
        inbox.note(path, closed=True)
        t0 = time.monotonic()
        assert inbox.ready(10, t0 + 0.1) == []  # the lease is refused: not taken
        first = inbox.next_due() - (t0 + 0.1)
        assert 0 < first <= 0.011, first  # asked again within ~10 ms, not a second later
        waits = []
        for _ in range(12):  # and less often while it stays held, up to once a second
            due = inbox.next_due()
            assert inbox.ready(10, due) == []
            waits.append(inbox.next_due() - due)
        assert waits[0] > first and max(waits) == waits[-1] == 1.0, waits
    finally:
        os.close(held)
    due = inbox.next_due()
    assert inbox.ready(10, due) == [path]


def test_changing_file_is_not_ready(tmp_path):
    f = folder(tmp_path, quiet_period=0.05)
    inbox = Inbox(f, max_pending=10)
    inbox.ready(10)
    path = f.inbox / "grow.jpg"
    path.write_bytes(b"1")
    t0 = time.monotonic()
    inbox.note(path, closed=None)  # created by a rename from elsewhere, or polled: unknown
    inbox.ready(10, t0)
    path.write_bytes(b"12")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert inbox.ready(10, t0 + 0.1) == []  # changed since the first look
    assert inbox.ready(10, t0 + 0.2) == [path]


def test_files_waiting_at_start_need_no_second_look(tmp_path):
    f = folder(tmp_path, quiet_period=0.5)
    old = f.inbox / "sub" / "old.jpg"
    old.parent.mkdir()
    old.write_bytes(b"x")
    past = time.time() - 60
    os.utime(old, (past, past))
    (f.inbox / ".hidden.jpg").write_bytes(b"x")
    (f.inbox / "b.jpg.part").write_bytes(b"x")
    assert Inbox(f, max_pending=10).ready(10) == [old]


def test_pending_is_bounded_and_the_scan_takes_the_rest(tmp_path):
    f = folder(tmp_path, quiet_period=0.0)
    past = time.time() - 60
    for i in range(25):
        p = f.inbox / f"{i:02d}.jpg"
        p.write_bytes(b"x")
        os.utime(p, (past, past))
    inbox = Inbox(f, max_pending=10)
    seen = []
    for _ in range(5):
        inbox.request_rescan()
        got = inbox.ready(100)
        assert len(got) <= 10 and inbox.pending_count() <= 10
        seen += got
        for p in got:
            p.unlink()  # claimed
    assert sorted(p.name for p in seen) == sorted(f"{i:02d}.jpg" for i in range(25))


def test_a_mount_point_that_is_not_utf8_is_read_as_paths_are(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_bytes(b"/dev/vda1 / ext4 rw 0 0\nnas:/x /mnt/caf\xe9 nfs4 rw 0 0\n")  # UnicodeDecodeError before
    point = os.fsdecode(b"/mnt/caf\xe9")
    assert mount_of(Path(point) / "inbox", str(mounts)) == Mount(point, "nfs4")
    assert filesystem_type(Path("/srv"), str(mounts)) == "ext4"
