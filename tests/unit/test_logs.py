"""Logs: console lines for people, every line through our renderer, a clean stop says nothing above info."""
from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys

import pytest
import structlog
from PIL import Image

from hotfolder.runtime import log
from hotfolder.runtime.console import ConsoleRenderer
from tests.harness import files_under, log_events, wait_for

TIME = r"\d\d:\d\d:\d\d "


def render(event: dict, verbose: bool = False, level: str = "info") -> str | None:
    try:
        return ConsoleRenderer(verbose=verbose)(None, level, {"level": level, **event})
    except structlog.DropEvent:
        return None


def test_one_short_line_per_file():
    done = render({"event": "file_done", "file": "IMG_0001.jpg", "renditions": ["web", "thumb"],
                   "outputs": ["IMG_0001_web.jpg", "IMG_0001_thumb.webp"], "duration_ms": 212.4,
                   "worker_pid": 7, "archived": "/x/archive/IMG_0001.jpg", "attempt": 1, "outcome": "ok"})
    assert re.fullmatch(TIME + "done IMG_0001.jpg → web, thumb  0.21 s", done), done
    failed = render({"event": "file_failed", "file": "x.jpg", "reason": "the file is empty", "step": "open"},
                    level="warning")
    assert re.fullmatch(TIME + "failed x.jpg: the file is empty", failed), failed


def test_details_only_at_debug():
    rendition = {"event": "rendition_written", "file": "a.jpg", "rendition": "web", "output": "a_web.jpg"}
    assert render(rendition) is None
    assert "rendition_written" in render(rendition, verbose=True) and "output=a_web.jpg" in render(rendition, verbose=True)
    # a worker's own view of a failure the main process reports too
    worker_said = {"event": "file_failed", "file": "x.jpg", "reason": "bad", "role": "worker"}
    assert render(worker_said, level="warning") is None
    assert render(worker_said, verbose=True, level="warning").endswith("failed x.jpg: bad")
    done = {"event": "file_done", "file": "a.jpg", "renditions": ["web"], "duration_ms": 10, "worker_pid": 9}
    assert "worker_pid" not in render(done) and "worker_pid=9" in render(done, verbose=True)
    nothing = {"event": "recovered", "folder": "photos", "in_processing": 0, "temp_removed": 0}
    assert render(nothing) is None and render({**nothing, "in_processing": 2}).endswith(
        "recovered photos: 2 file(s) a stop left in processing/ are rendered again")


def test_events_without_a_line_of_their_own_keep_their_fields():
    line = render({"event": "lease_release_failed", "job": "j1", "reason": "gone"}, level="warning")
    assert re.fullmatch(TIME + "warning: lease_release_failed  job=j1 reason=gone", line), line


def test_a_reload_refused_lists_every_problem():
    line = render({"event": "reload_refused", "problems": ["f.yaml:3:9: a: bad", "f.yaml:7:9: b: worse"]},
                  level="error")
    assert line.splitlines()[1:] == ["  f.yaml:3:9: a: bad", "  f.yaml:7:9: b: worse"]


@pytest.fixture
def captured():
    """log.setup on a stream of ours; structlog and the root logger put back after."""
    stream = io.StringIO()
    handlers = logging.getLogger().handlers[:]
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_library_lines_go_through_our_renderer(captured, fmt):
    log.setup(fmt, "info", stream=captured)
    logging.getLogger("watchdog.observers.inotify").warning("Inotify queue overflowed; reconciling %r", "/in")
    logging.getLogger("watchdog.observers.inotify").info("not shown: libraries speak from warning up")
    lines = captured.getvalue().splitlines()
    assert len(lines) == 1, lines
    if fmt == "json":
        record = json.loads(lines[0])
        assert (record["event"], record["level"], record["logger"]) == (
            "Inotify queue overflowed; reconciling '/in'", "warning", "watchdog.observers.inotify")
        assert "timestamp" in record
    else:
        assert re.fullmatch(TIME + "warning: watchdog.observers.inotify: Inotify queue overflowed; reconciling '/in'",
                            lines[0]), lines


def test_demoted_only_inside_and_only_that_message(captured):
    log.setup("json", "info", stream=captured)
    lib = logging.getLogger("watchdog.observers.inotify")
    with log.demoted("watchdog.observers.inotify", "called when the thread is inactive"):
        lib.error("InotifyEmitter.queue_events() called when the thread is inactive")
        lib.error("something else")
    lib.error("InotifyEmitter.queue_events() called when the thread is inactive")
    events = [(e["event"], e["level"]) for e in log_events(captured.getvalue())]
    assert events == [("something else", "error"),
                      ("InotifyEmitter.queue_events() called when the thread is inactive", "error")]


# --- a real daemon -------------------------------------------------------------

def drop_and_wait(d, n: int, tag: str) -> None:
    for i in range(n):
        tmp = d.root / f"{tag}{i}.jpg"
        Image.new("RGB", (640, 480), (i * 30 % 256, 90, 160)).save(tmp, "JPEG")
        os.rename(tmp, d.inbox / tmp.name)
    wait_for(lambda: len([p for p in files_under(d.archive) if p.startswith(tag)]) == n, 30,
             what=f"{n} files archived")


@pytest.mark.integration
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


@pytest.mark.integration
def test_console_lines_from_start_to_stop(daemon_factory):
    d = daemon_factory()
    d.inbox.mkdir(parents=True)
    with open(d.log_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hotfolder", "run", "-c", str(d.config),
                                 "--log-format", "console"], stdout=out, stderr=out, cwd=d.root)
        try:
            wait_for(lambda: " ready: " in d.log_text(), 30, what="ready")
            (d.inbox / "notes.jpg").write_bytes(b"not an image")
            drop_and_wait(d, 2, "IMG_")
            wait_for(lambda: "failed notes.jpg" in d.log_text(), 20, what="the failure line")
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(30) == 0
    lines = d.log_text().splitlines()
    assert all(re.match(TIME, line) for line in lines), lines  # every line is ours: no JSON, no library format
    said = [line[9:] for line in lines]
    assert said[0] == f"ready: watching {d.inbox} with 2 worker(s) (pid {proc.pid}); drop files there, Ctrl-C stops"
    assert sum(1 for s in said if re.fullmatch(r"done IMG_\d\.jpg → web, thumb  \d+\.\d\d s", s)) == 2, said
    assert [s for s in said if s.startswith("failed")] == [
        "failed notes.jpg: The image could not be opened: not an image in an accepted format "
        "(accepted: jpeg, png, webp, tiff, heic, raw)"], said
    assert said[-2].startswith("stopping (SIGINT)") and said[-1] == "stopped: 2 processed, 1 failed since the start"
    assert len(said) == 6, said  # nothing else at info
