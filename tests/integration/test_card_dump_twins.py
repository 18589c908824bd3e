"""A card's clips when the daemon's records of them (state/passed.py) are not there yet: two
copies of one new clip dropped at once into two subfolders (supervisor/passed_again.py), and
a state_dir lost or restored (`hotfolder index rebuild`)."""
from __future__ import annotations

import json
import os

from tests import corpus as c
from tests.harness import archived, failed_originals, files_under, wait_for

SIZE = 16 << 20  # read in 1 MiB chunks, both: the comparison lasts while the second copy is taken


def test_two_copies_of_a_clip_compared_at_once_archive_one(daemon_factory):
    """Two copies of one clip dropped at once into card1/ and card2/ (the same card dumped by two
    people), while an older clip of its name and size lies in archive/ (a camera's numbers came
    round): each copy was compared with the older one only, both differed, and both were
    archived (gigabytes twice). The later one now waits in the inbox for the first's end, then
    is compared with it: the very bytes, a duplicate. The first's comparison is held at its open
    of the older clip (fanotify: tests/harness/held.py) while the second is taken."""
    from tests.harness.held import HeldOpen

    d = daemon_factory(on_duplicate=None).start()
    older = os.urandom(1 << 20)
    c.write(d.inbox / "ev/MVI_0009.MP4", older)
    wait_for(lambda: "ev/MVI_0009.MP4" in archived(d), 20, what="the older clip archived")
    clip = older[:-1] + bytes([older[-1] ^ 1])  # the same name and size, other bytes: read to its end
    first, second = "card1/DCIM/100CANON/MVI_0009.MP4", "card2/DCIM/100CANON/MVI_0009.MP4"
    with HeldOpen(d.archive / "ev/MVI_0009.MP4") as held:
        c.write(d.inbox / first, clip)
        held.wait_open(20)  # the first copy is being compared with the older clip
        c.write(d.inbox / second, clip)
        waited = wait_for(lambda: d.events("file_waits_for_twin"), 20, what="the second copy waiting")
        assert [(e["file"], e["twin"]) for e in waited] == [(second, first)], waited
        assert (d.inbox / second).read_bytes() == clip
        wait_for(lambda: d.status_json()["folders"]["test"].get("comparing") == 2, 10, what="both counted")
    wait_for(lambda: files_under(d.inbox) == [], 30, what="both copies taken")
    duplicates = d.var / "duplicates"
    assert sorted(archived(d)) == [first, "ev/MVI_0009.MP4"] and (d.archive / first).read_bytes() == clip
    assert (duplicates / second).read_bytes() == clip
    record = json.loads((duplicates / (second + ".duplicate.json")).read_text())
    assert record["matched"]["archived"] == first, record
    assert len(d.events("file_waits_for_twin")) == 1 and failed_originals(d) == [] and d.stop() == 0


def test_two_copies_of_a_new_clip_dropped_at_once_archive_one(daemon_factory):
    """No row and no older clip: the main loop takes the two copies one after the other, the
    first archived and noted in the same turn, so the second is compared with it."""
    d = daemon_factory(on_duplicate=None).start()
    clip = os.urandom(3 << 20)
    for card in ("card1", "card2"):
        c.write(d.inbox / card / "DCIM/100CANON/MVI_0009.MP4", clip)
    wait_for(lambda: files_under(d.inbox) == [], 20, what="both copies taken")
    kept = archived(d)
    skipped = [p.relative_to(d.var / "duplicates").as_posix() for p in (d.var / "duplicates").rglob("*.MP4")]
    assert len(kept) == 1 and len(skipped) == 1 and {kept[0][:5], skipped[0][:5]} == {"card1", "card2"}
    assert failed_originals(d) == [] and d.stop() == 0
