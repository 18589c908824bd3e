"""Writers that close between chunks or pause (issue 26, items 7 and 8): one photo is
taken as one file, however its writer delivers it, never kept as failed pieces.

Real writers: `cat >>` in a shell loop (as FTP resume and some NAS clients write: the
file is closed between chunks), a process that holds the file open and pauses past
stalled_after, and a file that really is cut short (it fails, once).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

from tests import corpus as c
from tests.harness import archived, ends, failed_originals, files_under, wait_for

SLOW_FIRST = """
- name: web
  operation: fit
  size: 320x320
  format: jpeg
- name: print
  operation: fit
  size: 3000x3000
  format: png
"""


def _chunks(data: bytes, n: int, where) -> list:
    where.mkdir(parents=True, exist_ok=True)
    step = len(data) // n + 1
    out = []
    for i in range(n):
        out.append(c.write(where / f"part{i}", data[i * step:(i + 1) * step]))
    return out


def _cat_loop(parts, dst, pause: float) -> subprocess.Popen:
    """`for f in parts; do cat $f >> dst; sleep pause; done`: each chunk opens, appends, closes."""
    script = f'for f in "$@"; do cat "$f" >> {dst!s}; sleep {pause}; done'
    return subprocess.Popen(["sh", "-c", script, "sh", *map(str, parts)])


def _assert_one_file(d, name: str, data: bytes) -> None:
    c.assert_succeeded(d, name)
    assert (d.archive / name).read_bytes() == data, "archived, but not the whole file"
    assert failed_originals(d) == [], f"pieces in failed/: {failed_originals(d)}"
    assert c.done_counts(d) == {name: 1}
    assert files_under(d.inbox) == []
    c.assert_nothing_left(d)


def test_a_writer_closing_between_chunks_gives_one_file_not_six_failed_pieces(daemon_factory, tmp_path):
    d = daemon_factory().start()
    data = c.jpeg_bytes((1600, 1200))
    parts = _chunks(data, 6, tmp_path / "parts")
    # Each pause is longer than the quiet period (0.2 s): every chunk's close looks final.
    writer = _cat_loop(parts, d.inbox / "IMG_0001.JPG", 0.6)
    assert writer.wait(60) == 0
    wait_for(lambda: ends(d) >= 1 and not files_under(d.inbox), 60, what="IMG_0001.JPG to reach an end")
    _assert_one_file(d, "IMG_0001.JPG", data)
    assert d.events("file_cut_short"), "never taken before it was complete: the test did not test"
    assert d.stop() == 0


def _first_chunk_claimed(d, tmp_path, name: str, color) -> tuple[bytes, list]:
    """A photo in 4 chunks, the first dropped as `name` and claimed cut short while the one
    worker renders a large file: what its writer writes next makes a piece in the inbox."""
    big = c.write(tmp_path / "big.jpg", c.jpeg_bytes((4000, 3000)))
    data = c.jpeg_bytes((1600, 1200), color=color)
    parts = _chunks(data, 4, tmp_path / "parts")
    c.write(d.inbox / name, parts[0].read_bytes())  # taken cut short, waits behind big.jpg
    big.rename(d.inbox / "big.jpg")
    wait_for(lambda: not (d.inbox / name).exists(), 10, interval=0.01, what="the first chunk to be claimed")
    return data, parts


def test_a_chunk_written_while_the_file_was_claimed_is_joined_onto_it(daemon_factory, tmp_path):
    """The writer opens the name again while the cut-short file waits, claimed, for a worker
    (busy on a large file): its next chunk makes a new file, which is joined on, not failed."""
    d = daemon_factory(renditions=SLOW_FIRST, workers=1).start()
    data, parts = _first_chunk_claimed(d, tmp_path, "IMG_0002.JPG", (20, 90, 200))
    writer = _cat_loop(parts[1:], d.inbox / "IMG_0002.JPG", 0.6)
    assert writer.wait(60) == 0
    wait_for(lambda: ends(d) >= 2 and not files_under(d.inbox), 90, what="both files to reach an end")
    _joined = d.events("file_piece_joined")
    assert _joined, "no piece was joined: the claim did not overlap the writer"
    assert failed_originals(d) == [], f"pieces in failed/: {failed_originals(d)}"
    assert (d.archive / "IMG_0002.JPG").read_bytes() == data
    assert c.done_counts(d) == {"IMG_0002.JPG": 1, "big.jpg": 1}
    c.assert_nothing_left(d)
    assert d.stop() == 0


OFFSET_WRITER = textwrap.dedent("""
    import os, sys, time
    dst, pause, offset = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    for part in sys.argv[4:]:
        chunk = open(part, "rb").read()
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT, 0o644)  # by name, no O_APPEND: at its offset
        os.pwrite(fd, chunk, offset)
        os.close(fd)
        offset += len(chunk)
        time.sleep(pause)
""")


def test_a_chunk_written_at_its_offset_while_the_file_was_claimed_lands_at_that_offset(daemon_factory, tmp_path):
    """A writer that opens the name and writes each chunk at its offset (FTP REST+STOR, an SMB
    or NFS server) made, while the file was claimed, a piece holding a hole (or zeros) where
    the claimed bytes are, then its chunk: appended whole, the zeros came in too, and the
    file failed as damaged (an attack round). Its data is written at its offsets."""
    d = daemon_factory(renditions=SLOW_FIRST, workers=1).start()
    data, parts = _first_chunk_claimed(d, tmp_path, "IMG_0003.JPG", (200, 90, 20))
    writer = subprocess.Popen([sys.executable, "-c", OFFSET_WRITER, str(d.inbox / "IMG_0003.JPG"), "0.6",
                               str(parts[0].stat().st_size), *map(str, parts[1:])])
    assert writer.wait(60) == 0
    wait_for(lambda: ends(d) >= 2 and not files_under(d.inbox), 90, what="both files to reach an end")
    assert d.events("file_piece_joined"), "no piece was joined: the claim did not overlap the writer"
    assert failed_originals(d) == [], f"pieces in failed/: {failed_originals(d)}"
    assert (d.archive / "IMG_0003.JPG").read_bytes() == data
    assert c.done_counts(d) == {"IMG_0003.JPG": 1, "big.jpg": 1}
    c.assert_nothing_left(d)
    assert d.stop() == 0


WRITER = textwrap.dedent("""
    import sys
    data = open(sys.argv[1], "rb").read()
    with open(sys.argv[2], "wb") as f:
        f.write(data[: len(data) // 3])
        f.flush()
        print("paused", flush=True)
        sys.stdin.readline()  # the test says when to go on; the file stays open meanwhile
        f.write(data[len(data) // 3:])
    print("done", flush=True)
""")


def _paused_writer(src, dst) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(src), str(dst)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "paused"
    return proc


def _go_on(proc: subprocess.Popen) -> None:
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "done"
    assert proc.wait(10) == 0


def test_an_upload_paused_past_stalled_after_is_given_back_and_taken_whole(daemon_factory, tmp_path):
    d = daemon_factory(folder_extra="stalled_after: 2").start()
    data = c.jpeg_bytes((1600, 1200))
    src = c.write(tmp_path / "src.jpg", data)
    writer = _paused_writer(src, d.inbox / "upload.jpg")
    # Taken as stalled after 2 s, cut short: given back, and held for its writer.
    wait_for(lambda: d.event("file_cut_short"), 20, what="the stalled upload to be taken and given back")
    assert (d.inbox / "upload.jpg").exists() and failed_originals(d) == []
    _go_on(writer)
    wait_for(lambda: ends(d) >= 1 and not files_under(d.inbox), 30, what="upload.jpg to reach an end")
    _assert_one_file(d, "upload.jpg", data)
    assert d.stop() == 0


def test_an_upload_that_completes_inside_failed_is_requeued_by_itself(daemon_factory, tmp_path):
    d = daemon_factory(folder_extra="stalled_after: 1").start()
    data = c.jpeg_bytes((1600, 1200))
    src = c.write(tmp_path / "src.jpg", data)
    writer = _paused_writer(src, d.inbox / "upload.jpg")
    # Stalled (1 s), given back, held 1 s without growing: it fails as truncated...
    wait_for(lambda: (d.failed / "upload.jpg.error.json").exists(), 20, what="the paused upload to fail")
    record = c.assert_failed(d, "upload.jpg", "truncated")
    assert record["step"] == "decode"
    # ...and its writer, which held it open all along, finishes it inside failed/.
    _go_on(writer)
    wait_for(lambda: "upload.jpg" in archived(d), 30, what="the grown file to be requeued and rendered")
    _assert_one_file(d, "upload.jpg", data)
    assert [e for e in d.events("requeued") if e.get("by") == "grown"]
    assert d.stop() == 0


def test_a_file_really_cut_short_fails_once_after_stalled_after(daemon_factory, tmp_path):
    d = daemon_factory(folder_extra="stalled_after: 2").start()
    c.truncated_jpeg(tmp_path / "cut.jpg").rename(d.inbox / "cut.jpg")
    wait_for(lambda: d.event("file_cut_short"), 20, what="cut.jpg to be given back")
    assert (d.inbox / "cut.jpg").exists(), "held in the inbox for its writer"
    wait_for(lambda: failed_originals(d) == ["cut.jpg"], 20, what="cut.jpg to fail")
    record = c.assert_failed(d, "cut.jpg", "truncated")  # the decoder's words, after what they mean:
    assert record["error"].startswith("The image could not be decoded: the file ends before its picture does"), record
    assert archived(d) == [] and files_under(d.inbox) == []
    st = wait_for(lambda: (lambda s: s if s["failed"] else None)(d.status_json()), 5, what="the failure counted")
    assert st["failed"] == 1 and st["processed"] == 0, st
    # One failure, said once (the main process's): each attempt read cut short was a worker's
    # file_failed too, 29 of them for one slow upload that rendered (an attack round).
    assert [e.get("role") for e in d.events("file_failed")] == [None], d.events("file_failed")
    assert d.events("file_read_cut_short")
    assert d.stop() == 0


def test_an_empty_placeholder_filled_later_is_rendered_not_failed_as_empty(daemon_factory, tmp_path):
    """A zero-byte file is a placeholder its writer may fill later: it waits `stalled_after`,
    as a file held open does. A fixed 5 s failed one filled after 7 s as "the file is empty",
    and a stale failure stayed (an attack round)."""
    import time

    d = daemon_factory(folder_extra="stalled_after: 8").start()
    data = c.jpeg_bytes((640, 480))
    (d.inbox / "placeholder.jpg").write_bytes(b"")
    time.sleep(5.5)  # the writer's own pause, past the old 5 s (the scenario, not a wait for the daemon)
    with open(d.inbox / "placeholder.jpg", "r+b") as f:  # filled in place, as the writer does
        f.write(data)
    # Taken once quiet after its fill, not stalled_after (8 s) later: it is no empty file now.
    wait_for(lambda: ends(d) >= 1, 6, what="the placeholder to reach an end, well before stalled_after")
    assert failed_originals(d) == [] and (d.archive / "placeholder.jpg").read_bytes() == data
    assert d.stop() == 0
