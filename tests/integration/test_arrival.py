"""Arrival you can trust: however a file comes into the inbox, it is read only once
complete, and it reaches exactly one end.

Slow writers, large copies, atomic renames, rsync temp names, a burst of 10,000
files, a backlog waiting at start, the inbox deleted and recreated, polling mode.
"""
from __future__ import annotations

import os
import shutil
import time

import pytest
from PIL import Image

from tests import corpus as c
from tests.harness import ends, entries, files_under, wait_for, wait_for_count

CHEAP = """
- name: t
  operation: fit
  size: 32x32
  format: jpeg
  quality: 70
"""


def _archived_set(d) -> set[str]:
    return set(c.archived(d))


def _assert_burst_ends(d, names: list[str]) -> None:
    """Each name archived exactly once with its one output; nothing failed, nothing twice."""
    arch = c.archived(d)
    assert len(arch) == len(set(arch)) == len(names), (len(arch), len(set(arch)), len(names))
    assert set(arch) == set(names)
    outs = set(files_under(d.output))
    missing = [n for n in names if n.rsplit(".", 1)[0] + "_t.jpg" not in outs]
    assert not missing, f"{len(missing)} files without output, e.g. {missing[:5]}"
    assert len(outs) == len(names), f"{len(outs)} outputs for {len(names)} files (a _1 copy?)"
    assert c.failed_originals(d) == []
    counts = c.done_counts(d)
    twice = {f: n for f, n in counts.items() if n != 1}
    assert not twice, f"processed other than once: {dict(list(twice.items())[:5])}"
    assert len(counts) == len(names)
    c.assert_nothing_left(d)
    assert files_under(d.inbox) == []


class _Throttled:
    """A file object that takes its time, as a copy over a slow link does."""

    def __init__(self, f, pause: float):
        self.f, self.pause = f, pause

    def write(self, data) -> int:
        n = self.f.write(data)
        self.f.flush()
        time.sleep(self.pause)
        return n


def test_slow_writer_never_read_early(daemon_factory, tmp_path):
    """A file growing over ~3 s, the handle held open, pausing 3x the quiet period between writes."""
    d = daemon_factory().start()
    data = c.jpeg_bytes((1200, 900))
    path = d.inbox / "slow.jpg"
    chunks = 6
    step = len(data) // chunks + 1
    with open(path, "wb") as f:
        for i in range(0, len(data), step):
            f.write(data[i:i + step])
            f.flush()
            # Longer than the quiet period (0.2 s) and the scan: size and mtime hold still
            # meanwhile, only the open handle says the file is not complete.
            time.sleep(0.6)
            assert path.exists(), f"claimed while still being written ({i + step} of {len(data)} bytes)"
            assert files_under(d.processing) == []
            assert c.failed_originals(d) == []
    wait_for(lambda: ends(d) >= 1, 20, what="slow.jpg to reach an end")
    c.assert_succeeded(d, "slow.jpg")
    assert (d.archive / "slow.jpg").read_bytes() == data
    with Image.open(d.output / "slow_web.jpg") as im:
        im.load()
        assert im.size == (320, 240)
    assert d.stop() == 0


def test_large_copy_atomic_rename_and_rsync_temp_names(daemon_factory, tmp_path):
    d = daemon_factory().start()
    staging = tmp_path / "staging"
    staging.mkdir()

    # A large copy: an uncompressed ~37 MB TIFF copied in 1 MB chunks over ~1 s.
    big = staging / "big.tif"
    Image.merge("RGB", [Image.linear_gradient("L").resize((3500, 3500)),
                        Image.new("L", (3500, 3500), 90),
                        Image.linear_gradient("L").rotate(90).resize((3500, 3500))]).save(big, "TIFF")
    assert big.stat().st_size > 30_000_000
    with open(big, "rb") as src, open(d.inbox / "big.tif", "wb") as dst:
        shutil.copyfileobj(src, _Throttled(dst, 0.025), length=1 << 20)

    # An atomic rename into the inbox from a staging folder on the same file system.
    c.write(staging / "renamed.jpg", c.jpeg_bytes())
    os.rename(staging / "renamed.jpg", d.inbox / "renamed.jpg")

    # rsync: the data goes to `.photo.jpg.AbC123`, closed, then renamed to the real name.
    tmp = d.inbox / ".photo.jpg.AbC123"
    photo = c.jpeg_bytes((640, 480), color=(30, 160, 90))
    with open(tmp, "wb") as f:
        f.write(photo[: len(photo) // 2])
        f.flush()
        time.sleep(0.3)
        f.write(photo[len(photo) // 2:])
    # Closed and still for 4x the quiet period: a temp name must not be taken anyway.
    time.sleep(0.8)
    assert tmp.exists(), "an rsync temp file was claimed"
    os.rename(tmp, d.inbox / "photo.jpg")

    wait_for(lambda: ends(d) >= 3, 60, what="big.tif, renamed.jpg and photo.jpg to reach an end")
    for name in ("big.tif", "renamed.jpg", "photo.jpg"):
        c.assert_succeeded(d, name)
    assert (d.archive / "big.tif").read_bytes() == big.read_bytes()
    assert (d.archive / "photo.jpg").read_bytes() == photo
    with Image.open(d.output / "big_web.jpg") as im:
        assert im.size == (320, 320)
    assert not [n for n in entries(d.var) if "AbC123" in n], "the rsync temp name left a trace"
    assert sorted(c.archived(d)) == ["big.tif", "photo.jpg", "renamed.jpg"]
    assert c.failed_originals(d) == []
    c.assert_nothing_left(d)
    assert d.stop() == 0


@pytest.mark.slow  # ~31 s alone on 2 cores (~320 files/s), ~65 s beside the rest of the suite
@pytest.mark.timeout(900)  # the wait's deadline and the writes: at a loaded machine's ~32 files/s, ~310 s
def test_burst_of_10000_files(daemon_factory):
    d = daemon_factory(renditions=CHEAP).start()
    data = c.solid_jpeg_bytes((48, 48), (120, 40, 200))
    names = [f"b{i:05d}.jpg" for i in range(10_000)]
    t0 = time.monotonic()
    for name in names:
        with open(d.inbox / name, "wb") as f:
            f.write(data)
    wrote = time.monotonic() - t0
    # fails on a stop (a minute without a file ending), not on the machine's pace
    wait_for_count(lambda: ends(d), len(names), stalled=60, timeout=780, what="the burst's files to reach an end")
    took = time.monotonic() - t0
    print(f"\nburst: 10,000 files written in {wrote:.1f} s, all ended after {took:.1f} s "
          f"({len(names) / took:.0f} files/s)")
    _assert_burst_ends(d, names)
    assert d.stop() == 0


def test_backlog_waiting_at_start(daemon_factory):
    d = daemon_factory(renditions=CHEAP)
    d.inbox.mkdir(parents=True)
    data = c.solid_jpeg_bytes((48, 48))
    names = [f"w{i:04d}.jpg" for i in range(1000)]
    for name in names:
        (d.inbox / name).write_bytes(data)
    (d.inbox / "sub").mkdir()
    (d.inbox / "sub" / "deep.jpg").write_bytes(data)
    names.append("sub/deep.jpg")
    t0 = time.monotonic()
    d.start()
    wait_for_count(lambda: ends(d), len(names), stalled=60, timeout=120, interval=0.25,
                   what="1,001 waiting files to reach an end")
    print(f"\nbacklog: 1,001 files done {time.monotonic() - t0:.1f} s after start")
    _assert_burst_ends(d, names)
    assert d.stop() == 0


def test_inbox_deleted_and_recreated(daemon_factory, tmp_path):
    d = daemon_factory(renditions=CHEAP).start()
    data = c.jpeg_bytes((200, 150))
    (d.inbox / "before.jpg").write_bytes(data)
    wait_for(lambda: "before.jpg" in c.archived(d), 20, what="before.jpg")

    # Deleted long enough for the daemon to see it gone: an outage, not the end of the daemon.
    shutil.rmtree(d.inbox)
    wait_for(lambda: d.event("inbox_unavailable"), 10, what="the daemon to notice the inbox is gone")
    assert d.proc.poll() is None
    d.inbox.mkdir(exist_ok=True)  # the daemon may have made it again itself
    for i in range(3):
        (d.inbox / f"back{i}.jpg").write_bytes(data)
    # Within the rescan interval (2 s) plus the outage backoff at worst.
    wait_for(lambda: all(f"back{i}.jpg" in c.archived(d) for i in range(3)), 15,
             what="files in the recreated inbox")

    # Deleted and recreated at once (the watch on the old directory dies with it).
    shutil.rmtree(d.inbox)
    d.inbox.mkdir()
    (d.inbox / "sub").mkdir()
    for i in range(3):
        (d.inbox / f"again{i}.jpg").write_bytes(data)
    (d.inbox / "sub" / "again_sub.jpg").write_bytes(data)
    wait_for(lambda: {f"again{i}.jpg" for i in range(3)} | {"sub/again_sub.jpg"} <= _archived_set(d), 15,
             what="files in the inbox recreated at once")

    # ...and new events are seen again, not only rescans: a file is taken well within a rescan.
    (d.inbox / "live.jpg").write_bytes(data)
    wait_for(lambda: "live.jpg" in c.archived(d), 15, what="live.jpg")

    names = (["before.jpg", "live.jpg", "sub/again_sub.jpg"] + [f"back{i}.jpg" for i in range(3)]
             + [f"again{i}.jpg" for i in range(3)])
    _assert_burst_ends(d, names)
    assert d.proc.poll() is None
    assert d.stop() == 0


def test_polling_mode(daemon_factory, tmp_path):
    d = daemon_factory(folder_extra="watch: poll").start()
    staging = tmp_path / "staging"
    staging.mkdir()
    names = []
    for i in range(3):
        shutil.copy(c.write(staging / f"copied{i}.jpg", c.jpeg_bytes()), d.inbox / f"copied{i}.jpg")
        names.append(f"copied{i}.jpg")
    c.write(staging / "moved.jpg", c.jpeg_bytes())
    os.rename(staging / "moved.jpg", d.inbox / "moved.jpg")
    (d.inbox / "2026").mkdir()
    c.write(d.inbox / "2026" / "nested.jpg", c.jpeg_bytes())
    names += ["moved.jpg", "2026/nested.jpg"]

    # A writer that keeps the file growing (every 50 ms, over ~2 s): polling sees no close
    # event, but size and mtime never hold still for the quiet period, so it is never taken early.
    data = c.jpeg_bytes((1200, 900))
    path = d.inbox / "growing.jpg"
    step = len(data) // 40 + 1
    with open(path, "wb") as f:
        for i in range(0, len(data), step):
            f.write(data[i:i + step])
            f.flush()
            time.sleep(0.05)
            assert path.exists(), f"claimed while still being written ({i + step} of {len(data)} bytes)"
    names.append("growing.jpg")
    (d.inbox / "notes.txt").write_text("not an image")

    wait_for(lambda: ends(d) >= len(names) + 1, 30, what="the polled files to reach an end")
    for name in names:
        c.assert_succeeded(d, name)
    assert (d.archive / "growing.jpg").read_bytes() == data
    c.assert_failed(d, "notes.txt", "not an image", "format")
    c.assert_nothing_left(d)
    assert d.stop() == 0
