"""The on-disk states and moves, on real files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hotfolder import spool
from hotfolder.config import Folder, Rendition


def make_folder(tmp_path: Path, on_success: str = "archive") -> Folder:
    folder = Folder(
        name="t", inbox=tmp_path / "inbox", output=tmp_path / "output", failed=tmp_path / "failed",
        processing=tmp_path / "processing", archive=tmp_path / "archive" if on_success == "archive" else None,
        renditions=(Rendition(name="web", width=100, height=100),), on_success=on_success,
    )
    spool.ensure_dirs(folder)
    return folder


@pytest.mark.parametrize("name, ignored", [
    ("photo.jpg", False), (".photo.jpg", True), ("photo.jpg.part", True), ("a.tmp", True),
    ("a.crdownload", True), (".photo.jpg.Xa3b9", True), ("-dash.jpg", False), ("sp ace.jpg", False),
])
def test_ignored_names(name, ignored):
    assert spool.is_ignored_name(name) is ignored


def test_claim_finish_archive_never_overwrites(tmp_path):
    folder = make_folder(tmp_path)
    for round_ in range(3):
        (folder.inbox / "sub").mkdir(exist_ok=True)
        src = folder.inbox / "sub" / "a.jpg"
        src.write_bytes(b"v%d" % round_)
        claimed = spool.claim(folder, src)
        assert claimed.rel == "sub/a.jpg" and claimed.path == folder.processing / "sub" / "a.jpg"
        assert not src.exists()
        spool.finish(folder, claimed)
    names = sorted(p.name for p in (folder.archive / "sub").iterdir())
    assert names == ["a.jpg", "a_1.jpg", "a_2.jpg"]
    assert (folder.archive / "sub" / "a.jpg").read_bytes() == b"v0"


def test_claim_waits_while_same_name_in_processing(tmp_path):
    folder = make_folder(tmp_path)
    (folder.inbox / "a.jpg").write_bytes(b"1")
    first = spool.claim(folder, folder.inbox / "a.jpg")
    (folder.inbox / "a.jpg").write_bytes(b"2")
    assert spool.claim(folder, folder.inbox / "a.jpg") is None
    assert (folder.inbox / "a.jpg").read_bytes() == b"2"
    assert first.path.read_bytes() == b"1"


def test_claim_refuses_symlink_without_following(tmp_path):
    folder = make_folder(tmp_path)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"secret")
    (folder.inbox / "link.jpg").symlink_to(secret)
    with pytest.raises(spool.Refused):
        spool.claim(folder, folder.inbox / "link.jpg")
    assert spool.claim(folder, folder.inbox / "gone.jpg") is None


def test_fail_writes_sidecar(tmp_path):
    folder = make_folder(tmp_path)
    (folder.inbox / "bad.jpg").write_bytes(b"x")
    claimed = spool.claim(folder, folder.inbox / "bad.jpg")
    dst = spool.fail(folder, claimed.path, claimed.rel, error="cannot identify image", step="open", attempts=2)
    assert dst == folder.failed / "bad.jpg" and dst.read_bytes() == b"x"
    record = json.loads((folder.failed / "bad.jpg.error.json").read_text())
    assert record["error"] == "cannot identify image" and record["step"] == "open" and record["attempts"] == 2
    assert record["time"].endswith("Z")


def test_write_atomic_replaces_and_sets_mode(tmp_path):
    target = tmp_path / "out" / "a_web.jpg"
    spool.write_atomic(target, b"one", mode=0o640)
    spool.write_atomic(target, b"two", mode=0o640)
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(target.parent) == ["a_web.jpg"]


def test_recover_returns_processing_and_cleans(tmp_path):
    folder = make_folder(tmp_path)
    (folder.processing / "sub").mkdir()
    (folder.processing / "sub" / "a.jpg").write_bytes(b"a")
    (folder.inbox / "b.jpg").write_bytes(b"new b")
    (folder.processing / "b.jpg").write_bytes(b"old b")
    (folder.output / ".a_web.jpg.hf-tmp-123").write_bytes(b"half")
    (folder.failed / "c.jpg.error.json").write_text("{}")
    found = spool.recover(folder)
    assert (found.returned, found.temp_removed, found.sidecars_removed) == (2, 1, 1)
    assert (folder.inbox / "sub" / "a.jpg").read_bytes() == b"a"
    assert (folder.inbox / "b.jpg").read_bytes() == b"new b"
    assert (folder.inbox / "b_1.jpg").read_bytes() == b"old b"
    assert list(folder.processing.iterdir()) == [] and list(folder.output.iterdir()) == []


def test_requeue(tmp_path):
    folder = make_folder(tmp_path)
    (folder.inbox / "bad.jpg").write_bytes(b"x")
    claimed = spool.claim(folder, folder.inbox / "bad.jpg")
    spool.fail(folder, claimed.path, claimed.rel, error="e", step="open")
    assert list(spool.walk_failed(folder)) == [folder.failed / "bad.jpg"]
    spool.requeue(folder, folder.failed / "bad.jpg")
    assert (folder.inbox / "bad.jpg").exists() and list(folder.failed.iterdir()) == []


def test_delete_on_success(tmp_path):
    folder = make_folder(tmp_path, on_success="delete")
    (folder.inbox / "a.jpg").write_bytes(b"a")
    claimed = spool.claim(folder, folder.inbox / "a.jpg")
    assert spool.finish(folder, claimed) is None
    assert not claimed.path.exists()


def test_write_atomic_sets_group(tmp_path):
    import grp

    if os.geteuid() != 0:
        pytest.skip("changing a file's group to one we are not in needs root")
    group = grp.getgrgid(1)  # 'daemon' on Debian: exists everywhere, not ours
    target = tmp_path / "g.jpg"
    spool.write_atomic(target, b"x", mode=0o664, group=group.gr_name)
    assert target.stat().st_gid == group.gr_gid and target.stat().st_mode & 0o777 == 0o664
    spool.write_atomic(target, b"y", group=str(group.gr_gid))
    assert target.stat().st_gid == group.gr_gid


def test_long_names_are_shortened_for_failed_and_archive(tmp_path):
    folder = make_folder(tmp_path)
    name = "é" * 120 + ".jpg"  # 244 bytes: legal, but NAME.error.json would not be
    (folder.inbox / name).write_bytes(b"x")
    claimed = spool.claim(folder, folder.inbox / name)
    dst = spool.fail(folder, claimed.path, claimed.rel, error="e", step="open")
    assert len(os.fsencode(dst.name + spool.SIDECAR)) <= 255 and dst.suffix == ".jpg"
    assert (dst.parent / (dst.name + spool.SIDECAR)).exists()
    with pytest.raises(spool.NameTooLong):
        spool.write_atomic(tmp_path / ("a" * 256), b"x")
