"""A move never renames over a file that took its name after the name was found free
(spool/noreplace): a requeue replaced files a co-user had just dropped into the inbox under
the name it picked (an attack round: 322 of 322)."""
from __future__ import annotations

import os

import pytest

from hotfolder.spool import moves, nofollow, noreplace


def test_a_rename_refuses_to_replace(tmp_path):
    (tmp_path / "a").write_bytes(b"mine")
    (tmp_path / "b").write_bytes(b"theirs")
    with nofollow.opened(tmp_path) as fd:
        with pytest.raises(FileExistsError):
            noreplace.rename("a", "b", src_dir_fd=fd, dst_dir_fd=fd)
        noreplace.rename("a", "c", src_dir_fd=fd, dst_dir_fd=fd)
    assert (tmp_path / "b").read_bytes() == b"theirs" and (tmp_path / "c").read_bytes() == b"mine"


def test_a_name_taken_after_it_was_found_free_is_passed_over(tmp_path):
    src, inbox = tmp_path / "failed", tmp_path / "inbox"
    src.mkdir()
    inbox.mkdir()
    (src / "x.jpg").write_bytes(b"requeued")
    with nofollow.opened(src) as src_dir, moves.opened_folder(inbox, "") as dst_dir:
        (inbox / "x.jpg").write_bytes(b"there before")
        free = moves._unique(dst_dir, "x.jpg")
        (inbox / "x_1.jpg").write_bytes(b"dropped meanwhile")  # a co-user, between the look and the move
        moved = moves._rename_unique(src_dir, "x.jpg", dst_dir, free, "x.jpg")
    assert free.name == "x_1.jpg" and moved.name == "x_2.jpg", moved  # not x_1_1.jpg (a review)
    assert (inbox / "x_1.jpg").read_bytes() == b"dropped meanwhile" and (inbox / "x_2.jpg").read_bytes() == b"requeued"
    assert not os.path.exists(src / "x.jpg")


def test_a_sidecar_s_name_taken_after_it_was_found_free_is_passed_over(tmp_path):
    """The same for a sidecar moved beside its archived image (spool/xmp_sidecars.follow): its
    plain rename replaced a file made under the name between the look and the move (a review)."""
    from hotfolder.spool import xmp_sidecars

    src, archive = tmp_path / "inbox", tmp_path / "archive"
    src.mkdir()
    archive.mkdir()
    (src / "IMG_1.xmp").write_bytes(b"the re-export")
    with nofollow.opened(src) as src_fd, nofollow.opened(archive) as dst_fd:
        free = xmp_sidecars._free(dst_fd, archive, "IMG_1.xmp")
        (archive / "IMG_1.xmp").write_bytes(b"made meanwhile")  # between the look and the move
        moved = xmp_sidecars._rename_free(src_fd, "IMG_1.xmp", dst_fd, archive, "IMG_1.xmp", free)
    assert free == "IMG_1.xmp" and moved == "IMG_1_1.xmp", moved
    assert (archive / "IMG_1.xmp").read_bytes() == b"made meanwhile"
    assert (archive / "IMG_1_1.xmp").read_bytes() == b"the re-export" and not (src / "IMG_1.xmp").exists()
