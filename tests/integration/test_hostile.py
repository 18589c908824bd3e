"""The hostile corpus, all at once, into one running daemon, among good files.

Every file must reach exactly one end (outputs + archive, or failed/ with a sidecar
that says why in words a user understands), the good ones must all succeed, the
daemon must keep serving, and its memory must stay bounded while a decompression
bomb goes through.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from PIL import Image

from tests import corpus as c
from tests.harness import ends, entries, files_under, wait_for

ALL_FORMATS = "accepted_formats: [jpeg, png, webp, tiff, gif]"
RSS_LIMIT_MB = 600

GOOD_NAMES = ["with spaces.jpg", "café ünï 写真.jpg", "new\nline.jpg", "-rf.jpg"]


FIRST, SECOND = (230, 20, 20), (250, 70, 50)  # a red picture, and the same exported again, lighter


def _centre(path: Path, colour: tuple[int, int, int]) -> bool:
    with Image.open(path) as im:
        got = im.convert("RGB").getpixel((im.width // 2, im.height // 2))
    return all(abs(a - b) <= 12 for a, b in zip(got, colour, strict=True))


def _is_red(path: Path) -> bool:
    with Image.open(path) as im:
        r, g, b = im.convert("RGB").getpixel((im.width // 2, im.height // 2))
    return r > 150 and g < 90 and b < 90


def _drop_deleted(inbox: Path, n: int = 8) -> dict[str, bool]:
    """Files deleted by their owner soon after arriving (before, around or after the claim).

    Returns name -> True when our unlink won (the daemon must then never show it)."""
    data = c.jpeg_bytes((200, 150))
    won = {}
    for i in range(n):
        name = f"deleted_{i}.jpg"
        (inbox / name).write_bytes(data)
        time.sleep(0.08 * i)  # spread the deletes over 0..0.56 s: before, around and after the claim
        try:
            os.unlink(inbox / name)
            won[name] = True
        except FileNotFoundError:  # already claimed: it must then reach an end like any file
            won[name] = False
    return won


def test_hostile_corpus(daemon_factory, tmp_path):
    d = daemon_factory(extra=ALL_FORMATS, folder_extra="stalled_after: 2").start()  # truncated.jpg: held 2 s
    inbox = d.inbox
    staging = tmp_path / "staging"
    staging.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()

    # ---- the symlinks point at files outside the inbox that must never be read
    secret = c.write(outside / "secret.jpg", c.jpeg_bytes())
    secret_bytes = secret.read_bytes()
    check_atime = c.atime_tracked(secret)
    secret_atime = c.set_old_atime(secret)
    (outside / "dir").mkdir()
    c.write(outside / "dir" / "inside.jpg", c.jpeg_bytes())

    good = {}
    for i in range(5):
        good[f"good_{i}.jpg"] = c.write(staging / f"good_{i}.jpg", c.jpeg_bytes(color=(200, 40 * i, 40)))
    for name in GOOD_NAMES:
        good[name] = c.write(staging / name, c.jpeg_bytes())
    good["cmyk.jpg"] = c.cmyk_jpeg(staging / "cmyk.jpg")
    good["sixteen.png"] = c.png16(staging / "sixteen.png")
    good["palette.png"] = c.palette_png_transparent(staging / "palette.png")
    good["anim.gif"] = c.animated_gif(staging / "anim.gif")
    good["anim.webp"] = c.animated_webp(staging / "anim.webp")
    good["one.png"] = c.one_pixel(staging / "one.png")

    bad = {  # name -> words one of which the reason must contain
        "truncated.jpg": ("truncated",),
        "empty.jpg": ("empty",),
        "random.jpg": ("not an image", "cannot identify", "format"),
        "bomb.png": ("pixels", "too large"),
        "huge.jpg": ("pixels", "too large"),
    }
    c.truncated_jpeg(staging / "truncated.jpg")
    c.write(staging / "empty.jpg", b"")
    c.random_bytes(staging / "random.jpg")
    c.png_bomb(staging / "bomb.png")
    c.huge_sof_jpeg(staging / "huge.jpg")
    c.bit_flipped_jpeg(staging / "flipped.jpg")  # either end is right, but exactly one

    with c.RssSampler(d.proc.pid) as rss:
        # Everything arrives at once: atomic moves from the staging folder...
        for p in sorted(staging.iterdir()):
            os.rename(p, inbox / p.name)
        # ...symlinks made in place...
        os.symlink(secret, inbox / "link.jpg")
        os.symlink(outside / "dir", inbox / "linkdir")
        # ...a directory named like an image, with an image inside...
        (inbox / "x.jpg").mkdir()
        c.write(inbox / "x.jpg" / "inner.jpg", c.jpeg_bytes())
        # ...files their owner deletes again around the claim...
        deleted = _drop_deleted(inbox)

        # ...a file replaced by another of the same name while the first is processed: a new
        # version of its picture (a different picture would keep the first's outputs: 26.2)...
        first, second = Image.new("RGB", (4000, 3000), FIRST), Image.new("RGB", (4000, 3000), SECOND)
        c.save(first, staging / "replaced.png", "PNG", compress_level=1)
        c.save(second, staging / "replaced.next.png", "PNG", compress_level=1)
        first_bytes = (staging / "replaced.png").read_bytes()
        second_bytes = (staging / "replaced.next.png").read_bytes()
        os.rename(staging / "replaced.png", inbox / "replaced.png")
        wait_for(lambda: not (inbox / "replaced.png").exists(), 30, interval=0.005, what="replaced.png to be claimed")
        (inbox / "replaced.png").write_bytes(second_bytes)

        # ...and a file whose writer keeps a handle open after it seemed done, then
        # rewrites it: while the handle is open for writing, it is not taken.
        c.save(Image.new("RGB", (3000, 2000), (230, 20, 20)), inbox / "rewritten.png", "PNG", compress_level=1)
        fd = os.open(inbox / "rewritten.png", os.O_WRONLY)
        try:
            held_until = time.monotonic() + 1.5  # far past the quiet period
            while time.monotonic() < held_until:
                assert (inbox / "rewritten.png").exists(), "taken while a writer held it open"
                time.sleep(0.01)
            os.ftruncate(fd, 0)
            os.pwrite(fd, c.jpeg_bytes((300, 200)), 0)  # now a JPEG under a .png name
        finally:
            os.close(fd)

        claimed_deleted = [n for n, won in deleted.items() if not won]
        expected = (len(good) + len(bad) + 1 + 2 + 1 + 2 + 1 + len(claimed_deleted))
        # good + bad + flipped + 2 links + x.jpg/inner.jpg + replaced twice + rewritten + deleted-too-late
        wait_for(lambda: ends(d) >= expected, 60,
                 what=f"{expected} files to reach an end "
                      f"(have archive={c.archived(d)}, failed={c.failed_originals(d)})")

    # ---- memory stayed bounded through the bomb (and everything else)
    assert rss.samples > 10
    assert rss.peak < RSS_LIMIT_MB, f"daemon tree peaked at {rss.peak:.0f} MB"
    print(f"\npeak RSS of the daemon tree: {rss.peak:.0f} MB over {rss.samples} samples")

    # ---- every good file: archived once, every rendition complete, never failed
    for name in good:
        c.assert_succeeded(d, name)
    assert _is_red(d.output / "anim_web.jpg"), "animated GIF: not the first frame"
    assert _is_red(d.output / "anim_thumb.webp"), "animated WebP: not the first frame"
    assert (d.output / "new_line_web.jpg").exists()  # the name's newline is not carried into its outputs'
    assert not [o for o in files_under(d.output) if "\n" in o]
    with Image.open(d.output / "one_web.jpg") as im:
        assert im.size == (1, 1)

    # ---- every bad file: failed once, with a sidecar saying why in words
    for name, words in bad.items():
        c.assert_failed(d, name, *words)
    c.assert_failed(d, "link.jpg", "symbolic link", "symlink")
    c.assert_failed(d, "linkdir", "symbolic link", "symlink")

    # ---- the links were moved as links, their targets never read nor touched
    assert os.path.islink(d.failed / "link.jpg") and os.readlink(d.failed / "link.jpg") == str(secret)
    assert os.path.islink(d.failed / "linkdir")
    if check_atime:  # before we read it ourselves just below
        assert os.stat(secret).st_atime == secret_atime, "the symlink's target was read"
    assert secret.read_bytes() == secret_bytes
    assert files_under(outside) == ["dir/inside.jpg", "secret.jpg"]
    assert not [o for o in files_under(d.output) if o.startswith(("link", "secret", "inside"))]

    # ---- the bit-flipped file: exactly one end, whichever
    flipped_ok = "flipped.jpg" in c.archived(d)
    if flipped_ok:
        c.assert_succeeded(d, "flipped.jpg")
    else:
        c.assert_failed(d, "flipped.jpg")

    # ---- the directory named x.jpg: descended into, never failed as a file
    c.assert_succeeded(d, "x.jpg/inner.jpg")
    assert not (d.failed / "x.jpg").is_file() and not (d.failed / "x.jpg.error.json").exists()
    assert "x.jpg" not in c.archived(d)

    # ---- deleted by their owner: gone if we won the race, else one end like any file
    for name, won in deleted.items():
        seen = c.archived(d).count(name) + c.failed_originals(d).count(name)
        assert seen == (0 if won else 1), (name, won, seen)
    print(f"deleted before the claim: {sum(deleted.values())} of {len(deleted)}")

    # ---- replaced while processed: both versions reach an end, the outputs are the second's
    archived_replaced = sorted(n for n in c.archived(d) if n.startswith("replaced"))
    assert archived_replaced == ["replaced.png", "replaced_1.png"], archived_replaced
    contents = {(d.archive / n).read_bytes() for n in archived_replaced}
    assert contents == {first_bytes, second_bytes}
    assert _centre(d.output / "replaced_web.jpg", SECOND), "the outputs are the first version's, not the last"
    assert not [o for o in files_under(d.output) if o.startswith("replaced_1")], "a second set of outputs"

    # ---- rewritten through an open handle: exactly one end, consistent
    rewritten = c.archived(d).count("rewritten.png") + c.failed_originals(d).count("rewritten.png")
    assert rewritten == 1
    if "rewritten.png" in c.archived(d):
        c.assert_succeeded(d, "rewritten.png")
    else:
        c.assert_failed(d, "rewritten.png")

    # ---- nothing twice, nothing left half done
    counts = c.done_counts(d)
    twice = {f: n for f, n in counts.items() if n > 1 and f != "replaced.png"}
    assert not twice, f"processed more than once: {twice}"
    assert counts.get("replaced.png") == 2
    c.assert_nothing_left(d)
    left = [p for p in files_under(inbox)]
    assert left == [], f"left in the inbox: {left}"

    # ---- and the daemon still serves
    for i in range(3):
        c.write(staging / f"after_{i}.jpg", c.jpeg_bytes())
        os.rename(staging / f"after_{i}.jpg", inbox / f"after_{i}.jpg")
    wait_for(lambda: all(f"after_{i}.jpg" in c.archived(d) for i in range(3)), 20,
             what="files dropped after the hostile corpus")
    for i in range(3):
        c.assert_succeeded(d, f"after_{i}.jpg")
    errors = [e for e in d.events() if e.get("event") in ("claim_failed", "watch_handler_error", "worker_died",
                                                          "results_queue_broken", "rebuilding_workers")]
    assert not errors, errors
    st = d.status_json()
    assert st["running"] and st["workers_alive"] == 2, st
    assert d.stop(signal.SIGTERM) == 0


def test_fifo_named_jpg_is_never_opened(daemon_factory):
    """A FIFO named like an image: opening it for reading would block a process forever."""
    d = daemon_factory(folder_extra="stalled_after: 2").start()
    fifo = d.inbox / "pipe.jpg"
    os.mkfifo(fifo)
    c.write(d.inbox / "beside.jpg", c.jpeg_bytes())
    wait_for(lambda: "beside.jpg" in c.archived(d), 20, what="the file beside the FIFO")
    # Past the empty-file grace (stalled_after, 2 s) and two rescans (2 s): every look at the FIFO has been had.
    time.sleep(5)
    try:  # ENXIO: no process holds it open for reading (nobody is blocked on it)
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        assert exc.errno == 6, exc
    else:
        os.close(fd)
        raise AssertionError("a daemon process has the FIFO open for reading")
    # not a regular file: nothing to render, so nothing to fail either (spool.moves.claim)
    assert fifo.is_fifo(), "the FIFO went missing"
    assert not os.path.lexists(d.failed / "pipe.jpg"), "a FIFO was failed as if it were a bad image"
    c.write(d.inbox / "later.jpg", c.jpeg_bytes())
    wait_for(lambda: "later.jpg" in c.archived(d), 20, what="a file after the FIFO")
    assert d.stop() == 0


def test_name_at_name_max_reaches_an_end_without_stalling_others(daemon_factory):
    """A legal 255-byte name: its outputs and sidecar names are longer than NAME_MAX.

    It must reach one end (failed/ with a readable reason, or outputs under shortened
    names), and must not pause the daemon for the files beside it."""
    d = daemon_factory().start()
    name = "a" * 251 + ".jpg"
    c.write(d.inbox / name, c.jpeg_bytes())
    wait_for(lambda: d.events("file_failed") or d.events("file_done") or d.events("claiming_paused"), 20,
             what="the long name to be tried")
    for i in range(3):
        c.write(d.inbox / f"beside_{i}.jpg", c.jpeg_bytes())
    # Claims are never paused for long: these finish promptly.
    wait_for(lambda: all(f"beside_{i}.jpg" in c.archived(d) for i in range(3)), 5,
             what="the files beside the long name (claiming paused by it?)")
    wait_for(lambda: ends(d) >= 4, 12, what="the long name to reach an end")
    assert c.archived(d).count(name) + len([f for f in c.failed_originals(d) if f.startswith("aaaa")]) == 1
    assert name not in files_under(d.inbox) and files_under(d.processing) == []
    paused = [e for e in d.events("claiming_paused")]
    assert not paused, f"claiming paused by a name, not by a full disk: {paused[0]}"
    if c.failed_originals(d):  # failed rather than archived: its record says why
        sidecars = [s for s in entries(d.failed) if s.endswith(c.SIDECAR)]
        assert len(sidecars) == 1, entries(d.failed)
        reason = json.loads((d.failed / sidecars[0]).read_text())["error"].lower()
        assert "name" in reason and "long" in reason, reason
    c.assert_nothing_left(d)
    assert d.stop() == 0
