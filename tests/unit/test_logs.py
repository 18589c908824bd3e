"""Logs: console lines for people, every line through our renderer, a clean stop says nothing above info."""
from __future__ import annotations

import io
import json
import logging
import re

import pytest
import structlog

from hotfolder.runtime import log
from hotfolder.runtime.console import ConsoleRenderer
from tests.harness import log_events

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


def test_a_file_no_rendition_took_is_said_archived_or_deleted_as_it_was():
    """With on_success: delete the line said "archived" of a file deleted (a new user's walkthrough)."""
    said = {"event": "file_unmatched", "file": "land.jpg", "reason": "when.orientation: it is landscape"}
    assert re.fullmatch(TIME + r"archived land\.jpg: no rendition applies \(when.orientation: it is landscape\)",
                        render({**said, "archived": "/x/archive/land.jpg"})), said
    assert re.fullmatch(TIME + r"deleted \(on_success: delete\) land\.jpg: no rendition applies .*",
                        render({**said, "archived": None})), said
    # `process` moves no original: it says neither (a review: "deleted" of a file left in place),
    # but that nothing was made (a shop admin read "processed 1 of 1" and found no output)
    assert re.fullmatch(TIME + r"nothing made of land\.jpg: no rendition applies .*", render(said)), said


def test_a_sidecar_alone_is_said_once_where_it_went():
    """It said "archived the sidecar x.xmp alone: …: archived alone", and "archived" of one deleted
    (a new user's walkthrough): the note says where it went, once."""
    line = render({"event": "sidecar_alone", "file": "x.xmp", "archived": None,
                   "note": "no image of it arrived within sidecar_wait (5 s): deleted (on_success: delete)"})
    assert re.fullmatch(TIME + r"sidecar x\.xmp alone: no image of it arrived within sidecar_wait \(5 s\): "
                               r"deleted \(on_success: delete\)", line), line


def test_a_name_can_neither_forge_a_line_nor_move_the_cursor():
    """A file's name is data (an attack round dropped one that forged a `done` line, moved the
    cursor and retitled the terminal): what a terminal acts on or hides is shown escaped."""
    forged = "x\n13:40:00 done IMG_9999.jpg \u2192 web\x1b[1A\x1b[2K\x1b]0;owned\x07\u202egpj.exe.jpg"
    done = render({"event": "file_done", "file": forged, "renditions": ["web\x1b[2J"], "duration_ms": 10})
    assert "\n" not in done and "\x1b" not in done and "\x07" not in done and "\u202e" not in done, repr(done)
    assert re.fullmatch(TIME + r"done x\\x0a13:40:00 done IMG_9999\.jpg → web\\x1b\[1A\\x1b\[2K\\x1b\]0;owned"
                        r"\\x07\\u202egpj\.exe\.jpg → web\\x1b\[2J  0\.01 s", done), repr(done)
    verbose = render({"event": "odd_event", "file": "a\rb", "exception": "Traceback\n  line\x1b"}, verbose=True)
    assert verbose.count("\n") == 2 and "\r" not in verbose and "\x1b" not in verbose, repr(verbose)


def test_details_only_at_debug():
    rendition = {"event": "rendition_written", "file": "a.jpg", "rendition": "web", "output": "a_web.jpg"}
    assert render(rendition) is None
    verbose = render(rendition, verbose=True)
    assert "rendition_written" in verbose and "output=a_web.jpg" in verbose
    # a worker's own view of a failure the main process reports too
    worker_said = {"event": "file_failed", "file": "x.jpg", "reason": "bad", "role": "worker"}
    assert render(worker_said, level="warning") is None
    assert render(worker_said, verbose=True, level="warning").endswith("failed x.jpg: bad")
    done = {"event": "file_done", "file": "a.jpg", "renditions": ["web"], "duration_ms": 10, "worker_pid": 9}
    assert "worker_pid" not in render(done) and "worker_pid=9" in render(done, verbose=True)
    nothing = {"event": "recovered", "folder": "photos", "in_processing": 0, "temp_removed": 0}
    assert render(nothing) is None and render({**nothing, "in_processing": 2}).endswith(
        "recovered photos: 2 file(s) a stop left in processing/ are rendered again")


def test_a_copy_and_a_look_alike_get_a_line_each():
    """Issue 23's events in a studio's day: one line for a skipped copy (the main process's:
    the worker's own is said again at debug only), one for a flagged look-alike."""
    skipped = render({"event": "file_skipped", "folder": "photos", "file": "IMG_0002.jpg", "kind": "exact", "bits": 0,
                      "matched": "photos/IMG_0001.jpg", "matched_archived": "IMG_0001.jpg",
                      "duplicates": "/s/var/photos/duplicates/IMG_0002.jpg", "outcome": "duplicate"})
    assert re.fullmatch(TIME + "skipped IMG_0002.jpg: the same bytes as photos/IMG_0001.jpg; moved to duplicates/",
                        skipped), skipped
    gone = render({"event": "file_skipped", "file": "c.jpg", "kind": "exact", "matched": "photos/a.jpg",
                   "hint": "1 of its 2 outputs is gone from the output folder; `hotfolder rerender archive/a.jpg`"})
    assert gone.endswith("moved to duplicates/ (1 of its 2 outputs is gone from the output folder; "
                         "`hotfolder rerender archive/a.jpg`)"), gone
    news = render({"event": "file_skipped", "file": "c.jpg", "kind": "exact", "matched": "photos/a.jpg",
                   "sidecar": "its sidecar c.xmp is not the one a.jpg was archived with: …"})
    assert news.endswith("moved to duplicates/; its sidecar c.xmp is not the one a.jpg was archived with: …"), news
    own = render({"event": "file_skipped", "file": "shoe-blue.jpg", "kind": "exact", "matched": "photos/shoe-red.jpg",
                  "own_name": "its outputs are shoe-red.jpg's; to have it rendered as shoe-blue.jpg too: `cp …`"})
    assert own.endswith("moved to duplicates/; its outputs are shoe-red.jpg's; to have it rendered as shoe-blue.jpg "
                        "too: `cp …`"), own
    clip = render({"event": "file_passed_through", "file": "MVI_3.MOV", "note": "archived as MVI_3_1.MOV beside …"})
    assert clip.endswith("archived MVI_3.MOV as it is (pass_through): archived as MVI_3_1.MOV beside …"), clip
    comparing = render({"event": "file_comparing", "folder": "photos", "file": "ev/MVI_3.MOV",
                        "archived": "/s/archive/ev/MVI_3.MOV"})
    assert comparing.endswith("comparing ev/MVI_3.MOV with /s/archive/ev/MVI_3.MOV, of its name and size (the same "
                              "card dumped again?), before it is archived"), comparing
    unsure = render({"event": "file_compare_failed", "level": "warning", "file": "ev/MVI_3.MOV",
                     "archived": "/s/archive/ev/MVI_3.MOV", "reason": "[Errno 5] Input/output error",
                     "action": "archived as it is, as any file passed through (a doubt never skips a file)"})
    assert unsure.endswith("could not compare ev/MVI_3.MOV with /s/archive/ev/MVI_3.MOV: [Errno 5] Input/output "
                           "error; archived as it is, as any file passed through (a doubt never skips a file)"), unsure
    rows = render({"event": "passed_rows_failed", "level": "warning", "reason": "database or disk is full (/s/db)",
                   "action": "until the daemon restarts, a clip dumped again into another subfolder is archived again, "
                             "not compared"})
    assert rows.endswith("the records of clips passed through cannot be used: database or disk is full (/s/db); until "
                         "the daemon restarts, a clip dumped again into another subfolder is archived again, not "
                         "compared"), rows
    away = render({"event": "passed_rows_unreachable", "level": "warning", "reason": "TimeoutError: Timeout reading",
                   "action": "clips to pass through wait in the inbox until Redis answers"})
    assert away.endswith("the records of clips passed through (in the cluster's Redis) cannot be read: TimeoutError: "
                         "Timeout reading; clips to pass through wait in the inbox until Redis answers"), away
    similar = render({"event": "file_skipped", "file": "b.jpg", "kind": "similar", "matched": "photos/a.jpg"})
    assert similar.endswith("skipped b.jpg: a look-alike of photos/a.jpg; moved to duplicates/"), similar
    worker = {"event": "duplicate_skipped", "file": "IMG_0002.jpg", "kind": "exact", "matched": "photos/IMG_0001.jpg",
              "role": "worker"}
    assert render(worker) is None and "duplicate_skipped" in render(worker, verbose=True)
    flagged = render({"event": "lookalike_flagged", "file": "c.jpg", "matched": "photos/a.jpg", "bits": 4,
                      "role": "worker"})
    assert flagged.endswith("c.jpg looks like photos/a.jpg (4 bits apart): rendered all the same"), flagged
    assert render({"event": "manifest_written", "file": "a.jpg", "manifest": "a.json"}) is None
    stopped = render({"event": "stopped", "processed": 0, "failed": 0, "duplicates": 1})
    assert stopped.endswith("stopped: 0 processed, 0 failed, 1 duplicate(s) since the start"), stopped
    assert render({"event": "stopped", "processed": 2, "failed": 1, "duplicates": 0}).endswith(
        "stopped: 2 processed, 1 failed since the start")
    # after a double Ctrl-C, the next start said `index_recovered  claims_dropped=2` (a new user's test)
    recovered = render({"event": "index_recovered", "claims_dropped": 2})
    assert recovered.endswith("the last run stopped while rendering 2 file(s): the index of originals forgets "
                              "they were being rendered (they are rendered again)"), recovered


def test_events_without_a_line_of_their_own_keep_their_fields():
    line = render({"event": "lease_release_failed", "job": "j1", "reason": "gone"}, level="warning")
    assert re.fullmatch(TIME + "warning: lease_release_failed  job=j1 reason=gone", line), line


def test_a_reload_refused_lists_every_problem():
    line = render({"event": "reload_refused", "problems": ["f.yaml:3:9: a: bad", "f.yaml:7:9: b: worse"]},
                  level="error")
    assert line.splitlines()[1:] == ["  f.yaml:3:9: a: bad", "  f.yaml:7:9: b: worse"]


def test_a_config_warning_is_one_line_saying_where_and_what():
    line = render({"event": "config_warning", "problem": "f.yaml:3:1: workers: is empty, so it reads as not written "
                   "(the default: auto); give it a value, or remove the key"}, level="warning")
    assert re.fullmatch(TIME + r"config: f\.yaml:3:1: workers: is empty, .*remove the key", line), line


@pytest.fixture
def captured():
    """log.setup on a stream of ours; structlog and the root logger put back after."""
    stream = io.StringIO()
    handlers = logging.getLogger().handlers[:]
    logging.captureWarnings(False)  # pytest puts its own showwarning back after each test: start clean
    yield stream
    logging.captureWarnings(False)
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_name_s_bytes_that_are_not_utf8_are_logged_as_hex_escapes(captured, fmt):
    """As records show them and the README says (JSON wrote `caf\\udce9`: a checker's finding)."""
    import os

    log.setup(fmt, "info", stream=captured)
    log.get().info("file_done", file=os.fsdecode(b"caf\xe9.jpg"), outputs=[os.fsdecode(b"caf\xe9_web.jpg")])
    text = captured.getvalue()
    assert "caf\\xe9.jpg" in (json.loads(text)["file"] if fmt == "json" else text), text
    assert "udce9" not in text, text


def test_a_library_s_python_warning_is_a_json_event_not_bare_text(captured, capsys):
    """Pillow's UserWarnings ("Corrupt EXIF data") went to stderr between the JSON lines, and a
    log parser met lines that are not JSON (an attack round's finding)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        log.setup("json", "info", stream=captured)
        warnings.warn("Corrupt EXIF data.  Expecting to read 12 bytes but only got 6.", UserWarning, stacklevel=1)
    lines = captured.getvalue().splitlines()
    assert lines and all(json.loads(line) for line in lines), lines
    said = json.loads(lines[-1])
    assert said["logger"] == "py.warnings" and "Corrupt EXIF data" in said["event"], said
    assert "Corrupt EXIF" not in capsys.readouterr().err


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


def test_a_cluster_head_is_ready_for_its_nodes_to_render_not_with_workers():
    """The head renders nothing: 'with 2 worker(s)' made an admin think it rendered too (the
    cluster audit)."""
    ready = render({"event": "ready", "workers": 0, "cluster": "studio-render", "inboxes": ["/srv/in"], "pid": 7})
    assert re.fullmatch(TIME + r"ready: watching /srv/in for the nodes of cluster studio-render \(`hotfolder "
                               r"worker`\) to render \(pid 7\); drop files there, Ctrl-C stops", ready), ready


def test_a_cluster_head_says_each_end_a_node_told():
    done = render({"event": "file_told", "told": "done", "file": "a.jpg", "outputs": ["a_web.jpg", "a_thumb.webp"],
                   "reason": "", "step": "", "attempts": 1, "folder": "photos"})
    assert re.fullmatch(TIME + "done a.jpg → a_web.jpg, a_thumb.webp \\(a node said\\)", done), done
    failed = render({"event": "file_told", "told": "failed", "file": "n.jpg", "outputs": [], "reason": "not\nan image",
                     "step": "open", "attempts": 1, "folder": "photos"}, level="warning")
    assert re.fullmatch(TIME + r"failed n.jpg: not\\x0aan image \(a node said\)", failed), failed  # data: no line
    copy = render({"event": "file_told", "told": "duplicate", "file": "c.jpg", "outputs": ["a_web.jpg"],
                   "reason": "skipped: the same bytes as photos/a.jpg", "folder": "photos"})
    assert re.fullmatch(TIME + r"duplicate c.jpg: skipped: the same bytes as photos/a.jpg \(a node said\)", copy), copy
