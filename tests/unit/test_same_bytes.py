"""spool/same_bytes: a clip passed through again is compared with the archived file of its
name byte for byte, on real files: never by size, never through a link."""
from __future__ import annotations

import os
import threading

from hotfolder.spool.same_bytes import CHUNK, Stamp, Verdict, compare

SIZE = 3 * CHUNK + 17  # several chunks and a short last one


def _pair(tmp_path, data: bytes, again: bytes):
    (tmp_path / "archive").mkdir()
    (tmp_path / "inbox").mkdir()
    old, new = tmp_path / "archive" / "MVI_0009.MP4", tmp_path / "inbox" / "MVI_0009.MP4"
    old.write_bytes(data)
    new.write_bytes(again)
    return old, new


def test_the_same_bytes_are_the_same(tmp_path):
    data = os.urandom(SIZE)
    old, new = _pair(tmp_path, data, data)
    found = compare(old, new)
    assert found.verdict == Verdict.SAME, found
    assert found.old == Stamp.of(os.stat(old)) and found.new == Stamp.of(os.stat(new))


def test_a_clip_that_differs_in_its_last_byte_only_is_different(tmp_path):
    data = os.urandom(SIZE)
    old, new = _pair(tmp_path, data, data[:-1] + bytes([data[-1] ^ 1]))
    assert compare(old, new).verdict == Verdict.DIFFERENT


def test_a_clip_that_differs_in_the_middle_of_a_chunk_is_different(tmp_path):
    data = bytearray(os.urandom(SIZE))
    other = bytearray(data)
    other[CHUNK + CHUNK // 2] ^= 0x80
    old, new = _pair(tmp_path, bytes(data), bytes(other))
    assert compare(old, new).verdict == Verdict.DIFFERENT


def test_a_link_planted_in_archive_is_not_read(tmp_path):
    """archive/ is data: a link there named as the clip, pointing at the very bytes of the
    new clip elsewhere, must not make the daemon read elsewhere (nor call the clip a copy)."""
    data = os.urandom(SIZE)
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(data)
    old, new = _pair(tmp_path, b"", data)
    old.unlink()
    old.symlink_to(elsewhere)
    found = compare(old, new)
    assert found.verdict == Verdict.UNSURE and "symbolic links" in found.why, found


def test_a_new_file_that_is_a_link_is_not_read(tmp_path):
    data = os.urandom(SIZE)
    old, new = _pair(tmp_path, data, b"")
    new.unlink()
    new.symlink_to(old)
    assert compare(old, new).verdict == Verdict.UNSURE


def test_a_folder_of_archive_swapped_for_a_link_is_not_entered(tmp_path):
    data = os.urandom(1000)
    old, new = _pair(tmp_path, data, data)
    real = tmp_path / "real"
    (tmp_path / "archive").rename(real)
    (tmp_path / "archive").symlink_to(real)
    assert compare(old, new).verdict == Verdict.UNSURE


def test_gone_is_unsure(tmp_path):
    data = os.urandom(1000)
    old, new = _pair(tmp_path, data, data)
    new.unlink()
    assert compare(old, new).verdict == Verdict.UNSURE


def test_a_stop_ends_the_comparison(tmp_path):
    data = os.urandom(SIZE)
    old, new = _pair(tmp_path, data, data)
    stop = threading.Event()
    stop.set()
    assert compare(old, new, stop).verdict == Verdict.STOPPED


def test_sizes_that_differ_are_different_without_reading(tmp_path):
    old, new = _pair(tmp_path, b"a" * 10, b"a" * 11)
    assert compare(old, new).verdict == Verdict.DIFFERENT
