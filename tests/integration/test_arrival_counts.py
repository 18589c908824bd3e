"""What the status says waits is what waits (issue 26, item 10).

A card dump copied in with `cp`, rendered by one worker: at every moment `queued`
(claimed, not started) plus `waiting` (in the inbox) is at most what the inbox and
processing/ hold, and `hotfolder_queued` on /metrics says the same.
"""
from __future__ import annotations

import shutil
import subprocess
import threading
import time

from tests import corpus as c
from tests.harness import REPO, archived, files_under, http_url, wait_for
from tests.integration.test_metrics import scrape

SLOWISH = """
- name: web
  operation: fit
  size: 800x800
  format: jpeg
"""

SLOW = """
- name: print
  operation: fit
  size: 1600x1600
  format: png
"""


class _InboxCounts:
    """The files in inbox/ and processing/, sampled every 20 ms, each sample timed when its
    listing ended: the two only shrink once the card is in, so a sample's count is at least
    what they held at any later moment (timed at its start, a file ending during the
    listing made it say less than they held at its time: a false failure, once)."""

    def __init__(self, d):
        self.d = d
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            inbox, processing = len(files_under(self.d.inbox)), len(files_under(self.d.processing))
            self.samples.append((time.time(), inbox, processing))
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def most_since(self, t: float) -> int:
        """At least what inbox/ and processing/ held together at `t`: the last sample before it."""
        before = [s for s in self.samples if s[0] <= t]
        return before[-1][1] + before[-1][2] if before else 1 << 30


def test_queued_counts_the_files_that_wait_during_a_burst(daemon_factory, tmp_path):
    """The card is long enough to be looked at five times at any speed renders reach here
    (600 files: 6 ms a file would end it before; ~20 ms measured on a quiet machine)."""
    d = daemon_factory(renditions=SLOWISH, workers=1, extra="http: '127.0.0.1:0'").start()
    url = http_url(d)
    card = tmp_path / "card"
    card.mkdir()
    data = c.jpeg_bytes((1600, 1200))
    n = 600
    for i in range(n):
        (card / f"IMG_{i:04d}.JPG").write_bytes(data + i.to_bytes(2, "big"))
    checked = 0
    worst: list[str] = []
    with _InboxCounts(d) as counts:
        time.sleep(0.1)
        subprocess.run(f"cp {card}/*.JPG {d.inbox}/", shell=True, check=True)
        dropped = time.time()  # from now on inbox/ and processing/ only shrink
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            s = d.status_json()
            said = s["queued"] + s["waiting"]
            there = counts.most_since(s["updated"])
            if s["updated"] > dropped and said > there:
                worst.append(f"processed {s['processed']}: status says {said} wait, inbox + processing held "
                             f"{there}")
            scraped = scrape(url)
            metric, taken = scraped["hotfolder_queued"][()], scraped["hotfolder_status_updated_timestamp_seconds"][()]
            # Compared with the folders when the snapshot behind /metrics was taken: "2 s before the
            # scrape" failed once on a loaded machine, the loop's snapshot older than that.
            if taken > dropped and metric > counts.most_since(taken):
                worst.append(f"hotfolder_queued {metric:g}, inbox + processing held {counts.most_since(taken)} "
                             f"when its snapshot was taken")
            checked += 1
            if s["processed"] + s["failed"] >= n:
                break
            time.sleep(0.3)
        assert s["processed"] == n, s
        # Once every file has ended, nothing waits, on /metrics either.
        wait_for(lambda: scrape(url)["hotfolder_queued"][()] == 0, 10, what="hotfolder_queued to reach 0")
    assert checked >= 5, "the burst ended before the status was looked at"
    assert not worst, "\n".join(worst[:10])
    assert d.stop() == 0


def test_files_taken_back_out_of_the_inbox_no_longer_count_as_waiting(daemon_factory, tmp_path):
    """A studio drops the wrong card and deletes it again while the first waits: the deleted
    files stop counting at once, not when the daemon would have reached them. The folder
    waits for its watermark image (gone: its claims pause, a recipe problem), so nothing
    of either card is claimed meanwhile however fast renders are, and the inbox's
    periodic scans (every 2 s here) run meanwhile: a scan listing the folder before a
    deletion must not count the deleted files again."""
    mark = tmp_path / "mark.jpg"
    shutil.copy(REPO / "docs" / "watermark-landscape.jpg", mark)
    d = daemon_factory(renditions=SLOW + f"  watermark:\n    image: {mark}\n", workers=1).start()
    kept = mark.read_bytes()
    mark.unlink()
    data = c.jpeg_bytes((1600, 1200))
    first = [c.write(d.inbox / f"keep_{i:03d}.jpg", data + bytes([i])) for i in range(30)]
    wait_for(lambda: d.event("claiming_paused"), 30, what="claiming to pause for the watermark")
    wrong = [c.write(d.inbox / f"IMG_{i:04d}.jpg", data + bytes([i % 256])) for i in range(120)]
    wait_for(lambda: d.status_json()["waiting"] >= 100, 10, what="the wrong card to be seen")
    for path in wrong:
        path.unlink()
    gone = time.time()

    def said(snap: dict) -> int:
        return snap["queued"] + snap["waiting"]

    # Nothing is claimed meanwhile, so only the deletions' events can bring the count down;
    # how soon they are handled depends on the machine's load (81 of 150 were still counted
    # 0.1 s after the last deletion, once, in a full suite on 2 busy cores).
    snap = wait_for(lambda: (lambda s: s if s["updated"] > gone and said(s) <= len(first) else None)(
        d.status_json()), 10, what="the deleted files to stop counting")
    for _ in range(3):  # then three snapshots a second apart: across a scan, none counts them again
        snap = wait_for(lambda after=snap["updated"] + 1.0: (lambda s: s if s["updated"] > after else None)(
            d.status_json()), 10, what="a later snapshot")
        count = said(snap)
        assert count <= len(first), f"{count} said to wait, {len(first)} kept at most: the deleted files count"
    mark.write_bytes(kept)
    wait_for(lambda: not files_under(d.inbox) and not files_under(d.processing), 120, what="the first card to be done")
    assert set(archived(d)) >= {p.name for p in first}
    assert d.stop() == 0
