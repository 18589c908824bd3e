"""The third attack round (issue 20): a large failed/ (finding 16), with the service
in-process on a real pool."""
from __future__ import annotations

import json
import os
import threading
import time

from hotfolder import build
from hotfolder.config import load
from hotfolder.jobs import Result
from hotfolder.spool.failed_files import WALK_SHARE
from hotfolder.supervisor.service import Service
from hotfolder.workers.pool import LocalPool
from tests.harness import folder_yaml, wait_for, write_config


def test_a_failure_costs_no_walk_of_a_large_failed_folder(tmp_path, monkeypatch):
    """Each failure used to walk all of failed/ again (150,000 files: a full core). Now the
    ledger's own moves keep the count and the page's list, and failed/ is walked at the
    first look, and again only when something else changed it."""
    config = load(write_config(tmp_path, folder_yaml("a")))
    folder = config.folders[0]
    for d in folder.all_dirs():
        d.mkdir(parents=True)
    n = 2000
    for i in range(n):
        original = folder.failed / f"day{i % 30}" / f"old{i}.jpg"
        original.parent.mkdir(exist_ok=True)
        original.write_bytes(b"x")
        original.with_name(original.name + ".error.json").write_text(json.dumps({"error": "old", "step": "decode"}))
    service = Service(config, LocalPool(1, 2, 60, log_level="error"))
    build.identity()  # its one walk of the package's own folder, at this process's first status: not counted
    reads = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path=".": reads.append(path) or real_scandir(path))

    started = time.monotonic()
    assert service.status().in_failed == n  # the one walk at start
    first_walk = time.monotonic() - started  # the next walk waits 1/WALK_SHARE times its cost
    assert len(reads) == 31  # failed/ and its 30 subfolders
    for i in range(5):
        (folder.inbox / f"bad{i}.jpg").write_bytes(b"not an image")
        job = service.ledger.claim(folder, folder.inbox / f"bad{i}.jpg")
        service.ledger.settle(job, Result(job.id, False, error="cannot identify image file", step="decode"))
        reads.clear()
        assert service.status().in_failed == n + i + 1
        assert reads == [], f"failure {i} walked failed/ again: {len(reads)} folders read"
        assert service.ops.failed.files[0].file == f"bad{i}.jpg"  # listed first, for the page
    # a requeue from the page: uncounted and unlisted, no walk either
    newest = service.ops.failed.files[0]
    asked = {}
    asker = threading.Thread(target=lambda: asked.update(outcome=service.ops.request_requeue(newest.id)))
    asker.start()
    wait_for(lambda: service.ops.serve(stopping=False) or not asker.is_alive(), 10, what="the requeue")
    asker.join(10)
    assert asked["outcome"].ok, asked
    assert (folder.inbox / "bad4.jpg").exists()
    reads.clear()
    assert service.status().in_failed == n + 4 and reads == []
    assert newest.id not in {f.id for f in service.ops.failed.files}
    # someone else's change (a hand, `hotfolder requeue`) is seen: one walk puts the count right
    (folder.failed / "bad0.jpg").unlink()
    (folder.failed / "bad0.jpg.error.json").unlink()
    wait_for(lambda: service.status().in_failed == n + 3, first_walk / WALK_SHARE + 10,
             what="the count to follow a change by hand")
    assert service.ops.failed.walks == 2  # the one at start, and this one


def test_a_requeue_by_another_process_just_before_the_file_fails_again_is_counted_at_once(tmp_path):
    """`hotfolder requeue` moves a file out of failed/; the daemon fails it again a moment
    later, before the status looked. Our own move must not hide the other one: the count
    said 2 files in failed/ for 1 until the recount (RECOUNT_EVERY, 30 s)."""
    from hotfolder.spool import moves
    from hotfolder.spool.failed_files import RECOUNT_EVERY

    config = load(write_config(tmp_path, folder_yaml("a")))
    folder = config.folders[0]
    for d in folder.all_dirs():
        d.mkdir(parents=True)
    service = Service(config, LocalPool(1, 2, 60, log_level="error"))

    def fail_once() -> None:
        (folder.inbox / "bad.jpg").write_bytes(b"not an image")
        job = service.ledger.claim(folder, folder.inbox / "bad.jpg")
        service.ledger.settle(job, Result(job.id, False, error="cannot identify image file", step="decode"))

    assert service.status().in_failed == 0
    fail_once()
    assert service.status().in_failed == 1
    for _ in range(3):
        moves.requeue(folder, folder.failed / "bad.jpg")  # what `hotfolder requeue --all` does, elsewhere
        assert (folder.inbox / "bad.jpg").exists()
        (folder.inbox / "bad.jpg").unlink()  # the daemon claims it again (no watcher runs here)
        fail_once()
    assert sorted(p.name for p in folder.failed.iterdir()) == ["bad.jpg", "bad.jpg.error.json"]
    wait_for(lambda: service.status().in_failed == 1, RECOUNT_EVERY / 3, what="the count of failed/ to be 1")
