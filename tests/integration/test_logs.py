"""Logs of a real daemon: a clean stop says nothing above info; the console lines from start to stop."""
from __future__ import annotations

import os
import re
import signal

from tests.harness import files_under, wait_for
from tests.same_photos import jpeg, scene

TIME = r"\d\d:\d\d:\d\d "  # a console line's clock


# Different photos: flat colours look alike (one pHash), and a second one judged after the
# first was recorded got a "looks like" line of its own (a fresh clone's run: 7 lines of 6).
SCENES = ("astronaut", "coffee", "chelsea", "rocket")


def drop_and_wait(d, n: int, tag: str) -> None:
    for i in range(n):
        tmp = d.root / f"{tag}{i}.jpg"
        tmp.write_bytes(jpeg(scene(SCENES[i % len(SCENES)])))
        os.rename(tmp, d.inbox / tmp.name)
    wait_for(lambda: len([p for p in files_under(d.archive) if p.startswith(tag)]) == n, 30,
             what=f"{n} files archived")


def test_a_clean_stop_logs_nothing_above_info(daemon_factory):
    """Stopped right after claims: watchdog still holds each move out of the inbox for
    0.5 s, and used to log an ERROR at the stop; the drain used to kill idle workers."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        d = daemon_factory().start()
        drop_and_wait(d, 4, "a")
        assert d.stop(sig) == 0
        loud = [e for e in d.events() if str(e.get("level", "")).lower() not in ("info", "debug")]
        assert not loud, loud
        assert d.event("stopped") is not None


def test_console_lines_from_start_to_stop(daemon_factory):
    d = daemon_factory()
    d.inbox.mkdir(parents=True)
    d.start("--log-format", "console", wait_ready=False)
    wait_for(lambda: " ready: " in d.log_text(), 30, what="ready")
    (d.inbox / "notes.jpg").write_bytes(b"not an image")
    drop_and_wait(d, 2, "IMG_")
    wait_for(lambda: "failed notes.jpg" in d.log_text(), 20, what="the failure line")
    assert d.stop(signal.SIGINT) == 0
    lines = d.log_text().splitlines()
    assert all(re.match(TIME, line) for line in lines), lines  # every line is ours: no JSON, no library format
    said = [line[9:] for line in lines]
    assert said[0] == f"ready: watching {d.inbox} with 2 worker(s) (pid {d.proc.pid}); drop files there, Ctrl-C stops"
    assert sum(1 for s in said if re.fullmatch(r"done IMG_\d\.jpg → web, thumb  \d+\.\d\d s", s)) == 2, said
    assert [s for s in said if s.startswith("failed")] == [
        "failed notes.jpg: The image could not be opened: not an image in an accepted format "
        "(accepted: jpeg, png, webp, tiff, heic, raw)"], said
    assert said[-2].startswith("stopping (SIGINT)") and said[-1] == "stopped: 2 processed, 1 failed since the start"
    assert len(said) == 6, said  # nothing else at info
