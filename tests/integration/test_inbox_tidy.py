"""Subfolders a claim emptied leave the inbox (issue 26, item 17), but never the inbox
itself, a folder a writer made and has not filled yet, nor one a writer still adds files
to after a pause shorter than stalled_after.
"""
from __future__ import annotations

import os
import subprocess
import time

from tests import corpus as c
from tests.harness import archived, failed_originals, files_under, wait_for


def _folders_under(root) -> list[str]:
    """The folders under root now. The daemon removes them while this looks: os.walk skips a
    folder gone between its listing and its own (rglob raised FileNotFoundError out of the
    wait: a fresh-clone run)."""
    return sorted(os.path.relpath(os.path.join(top, name), root) for top, names, _ in os.walk(root) for name in names)


def test_the_folders_of_a_card_dump_go_once_emptied(daemon_factory, tmp_path):
    d = daemon_factory(folder_extra="stalled_after: 1.5").start()
    card = tmp_path / "EOS_DIGITAL"
    for i in range(3):
        c.write(card / "DCIM" / f"10{i}CANON" / f"IMG_000{i}.JPG", c.jpeg_bytes(color=(40 * i, 90, 160)))
    c.write(card / "DCIM" / "100CANON" / "MVI_0009.MOV", b"\x00\x00\x00\x14ftypqt  " + bytes(600))
    (d.inbox / "waiting_for_files").mkdir()  # made by a writer, not filled yet: not ours to remove
    subprocess.run(["cp", "-r", str(card), str(d.inbox)], check=True)
    wait_for(lambda: len(archived(d)) == 4, 30, what="the card's files archived")
    wait_for(lambda: _folders_under(d.inbox) == ["waiting_for_files"], 15, what="the card's emptied folders to go")
    assert d.inbox.is_dir(), "the inbox itself is never removed"
    assert failed_originals(d) == []
    assert d.stop() == 0


def test_a_writer_pausing_between_files_keeps_its_folder(daemon_factory, tmp_path):
    """The first file is claimed, its folder empty, while the writer pauses (less than
    stalled_after) before the next: the folder must still be there for it."""
    d = daemon_factory(folder_extra="stalled_after: 3").start()
    for name in ("a.jpg", "b.jpg"):
        c.write(tmp_path / name, c.jpeg_bytes())
    t0 = time.monotonic()  # b.jpg is copied 2 s after this at the soonest, and the folder emptied after that
    writer = subprocess.run(["sh", "-c", f'mkdir "{d.inbox}/shoot" && cp "{tmp_path}/a.jpg" "{d.inbox}/shoot/" '
                             f'&& sleep 2 && cp "{tmp_path}/b.jpg" "{d.inbox}/shoot/"'],
                            capture_output=True, text=True, timeout=30)
    assert writer.returncode == 0, writer.stderr
    wait_for(lambda: sorted(archived(d)) == ["shoot/a.jpg", "shoot/b.jpg"], 20, what="both files archived")
    wait_for(lambda: not (d.inbox / "shoot").exists(), 15, what="the emptied folder to go")
    assert time.monotonic() - t0 > 2 + 3, "removed before it had been empty for stalled_after"
    assert files_under(d.inbox) == []
    assert d.stop() == 0


def test_keep_subfolders_keeps_a_clients_drop_folder_and_what_is_above_it(daemon_factory, tmp_path):
    """Studios share per-client drop folders (SMB, FTP): removed once emptied, `clients/acme`
    vanished from under a client a minute after their first drop (a new user). What
    `keep_subfolders` names stays; what lies below it, and an unnamed folder, still go."""
    d = daemon_factory(folder_extra="stalled_after: 1\nkeep_subfolders: [\"clients/*\"]").start()
    for rel in ("clients/acme/a.jpg", "clients/acme/2026/b.jpg", "clients/erin/c.jpg", "shoot/d.jpg"):
        c.write(tmp_path / "src" / rel, c.jpeg_bytes(color=(len(rel) * 9 % 255, 90, 160)))
    subprocess.run(["cp", "-r", *(str(p) for p in (tmp_path / "src").iterdir()), str(d.inbox)], check=True)
    wait_for(lambda: len(archived(d)) == 4, 30, what="the files archived")
    wait_for(lambda: _folders_under(d.inbox) == ["clients", "clients/acme", "clients/erin"], 15,
             what="the unkept emptied folders to go")
    assert d.stop() == 0
