"""Issue 26.2 with the real daemon: cameras reuse IMG_7777 after 9999 or across cards. A
different photo under a used name keeps the earlier outputs and numbers its own (`~2`); a
re-export of the earlier photo replaces its outputs as before; `on_name_clash: replace`
keeps the old behaviour. The log and the status say which one happened."""
from __future__ import annotations

import io
import os
import time

import pytest
from PIL import Image

from hotfolder.engine import fingerprint
from hotfolder.likeness import alike
from tests.harness import files_under, wait_for
from tests.same_photos import jpeg, scene, shot

pytestmark = pytest.mark.integration


def _drop(d, name: str, data: bytes) -> None:
    staging = d.root / "staging"
    staging.mkdir(exist_ok=True)
    (staging / name).write_bytes(data)
    (staging / name).rename(d.inbox / name)


def _ends(d) -> int:
    return len(files_under(d.archive))


def _look(path):
    with Image.open(path) as im:
        im.load()
        return fingerprint.look_of(im, 1, im.size)


def _photo(which: str, quality: int = 92, scale: float = 1.0) -> bytes:
    im = shot(scene(which))
    if scale != 1.0:
        im = im.resize((int(im.width * scale), int(im.height * scale)), Image.Resampling.LANCZOS)
    return jpeg(im, quality)


def _is(path, which: str) -> bool:
    """The output shows that photo (a fit keeps the shape, so the whole second look applies)."""
    with Image.open(io.BytesIO(_photo(which))) as im:
        im.load()
        want = fingerprint.look_of(im, 1, im.size)
    return alike(want, _look(path), 6)


def test_a_different_photo_under_a_used_name_keeps_the_earlier_outputs(daemon_factory):
    d = daemon_factory(on_duplicate=None).start()
    web = d.output / "IMG_7777_web.jpg"
    _drop(d, "IMG_7777.jpg", _photo("astronaut"))
    wait_for(lambda: _ends(d) == 1 and web.exists(), 30, what="the first IMG_7777")
    first = web.read_bytes()

    _drop(d, "IMG_7777.jpg", _photo("coffee"))  # another card, the same number
    # ...and its `file_done` line, read below: said after the original is archived (and synced)
    wait_for(lambda: _ends(d) == 2 and len(d.events("file_done")) == 2, 30, what="the second IMG_7777 done")
    assert web.read_bytes() == first, "the earlier photo's rendition was replaced"
    assert _is(d.output / "IMG_7777_web~2.jpg", "coffee") and (d.output / "IMG_7777_thumb~2.webp").exists()
    reused = d.event("name_reused")
    assert reused["outcome"] == "different_photo" and reused["file"] == "IMG_7777.jpg"
    assert ("the earlier outputs stay; IMG_7777_web.jpg, IMG_7777_thumb.webp are kept: they are another original's; "
            "written beside as IMG_7777_web~2.jpg, IMG_7777_thumb~2.webp") in reused["reason"], reused
    assert "set the folder's on_name_clash: replace" in reused["reason"]
    assert d.event("file_done")["naming"] == "different_photo"
    wait_for(lambda: d.status_json()["folders"]["test"]["names_reused"] == {"new_version": 0, "different_photo": 1},
             10, what="the status to say a different photo came under a used name")
    assert d.stop() == 0

    d.start()  # the index remembers across a restart
    _drop(d, "IMG_7777.jpg", _photo("astronaut", quality=75, scale=0.8))  # a re-export of the first photo
    wait_for(lambda: _ends(d) == 3, 30, what="the re-export")
    assert web.read_bytes() != first and _is(web, "astronaut"), "a new version replaces its own outputs"
    assert d.event("name_reused")["outcome"] == "new_version"
    _drop(d, "IMG_7777.jpg", _photo("coffee", quality=80))  # a re-export of the second photo: replaces ~2
    wait_for(lambda: _ends(d) == 4, 30, what="the second re-export")
    outputs = d.outputs()
    assert sorted(o for o in outputs if o.startswith("IMG_7777_web")) == ["IMG_7777_web.jpg", "IMG_7777_web~2.jpg"]
    wait_for(lambda: d.status_json()["folders"]["test"]["names_reused"] == {"new_version": 2, "different_photo": 0},
             10, what="the status to count the new versions since the restart")
    assert d.stop() == 0


def test_on_name_clash_replace_keeps_the_old_behaviour(daemon_factory):
    d = daemon_factory(folder_extra="on_name_clash: replace", on_duplicate=None).start()
    web = d.output / "IMG_7777_web.jpg"
    _drop(d, "IMG_7777.jpg", _photo("astronaut"))
    wait_for(lambda: _ends(d) == 1 and web.exists(), 30, what="the first IMG_7777")
    _drop(d, "IMG_7777.jpg", _photo("coffee"))
    wait_for(lambda: _ends(d) == 2, 30, what="the second IMG_7777")
    assert _is(web, "coffee") and not (d.output / "IMG_7777_web~2.jpg").exists()
    assert d.stop() == 0


def test_an_earlier_photo_the_index_forgot_or_lost_keeps_its_outputs(daemon_factory):
    """Past duplicate_window the index forgot IMG_7777's first photo, and a different one
    under that name replaced its outputs; after the database was deleted and rebuilt from
    the archive (which keeps no names or generations), a third photo replaced the second's
    `~2` (an attack round). The last rendering of each name outlives the window, and names
    an earlier photo owns are never taken as a new photo's own."""
    window = 1.0
    d = daemon_factory(folder_extra=f"duplicate_window: {window:g}s", on_duplicate=None).start()
    web = d.output / "IMG_7777_web.jpg"
    _drop(d, "IMG_7777.jpg", _photo("astronaut"))
    wait_for(lambda: _ends(d) == 1 and web.exists(), 30, what="the first IMG_7777")
    first = web.read_bytes()
    assert d.stop() == 0
    seen = time.time()
    wait_for(lambda: time.time() > seen + window + 0.2, window + 5, what="the first photo to age past the window")
    d.start()  # forgets what is older than the window, as it starts
    _drop(d, "IMG_7777.jpg", _photo("coffee"))
    wait_for(lambda: _ends(d) == 2, 30, what="the second IMG_7777")
    assert web.read_bytes() == first, "the forgotten photo's rendition was replaced"
    assert _is(d.output / "IMG_7777_web~2.jpg", "coffee")
    second = (d.output / "IMG_7777_web~2.jpg").read_bytes()
    assert d.stop() == 0

    for path in (d.var / "state").glob("hotfolder.db*"):
        path.unlink()
    d.start()
    wait_for(lambda: d.event("index_rebuilt"), 60, what="the index rebuilt from the archive")
    _drop(d, "IMG_7777.jpg", _photo("rocket"))
    wait_for(lambda: _ends(d) == 3, 30, what="the third IMG_7777")
    assert web.read_bytes() == first and (d.output / "IMG_7777_web~2.jpg").read_bytes() == second
    assert _is(d.output / "IMG_7777_web~3.jpg", "rocket")
    assert d.stop() == 0


def test_name_reused_says_only_what_was_written(daemon_factory):
    """A different photo under a used name was said ("its own are numbered (~2)") once it was
    decoded, before its outputs were written: under on_name_clash: fail the file then failed
    and nothing was written, and where the earlier outputs were taken away (their records
    stale) its outputs took the plain names. The line is said once the outputs are written,
    from where they went; a file that fails says only that."""
    d = daemon_factory(on_duplicate=None, folder_extra="on_name_clash: fail").start()
    web = d.output / "IMG_7777_web.jpg"
    _drop(d, "IMG_7777.jpg", _photo("astronaut"))
    wait_for(lambda: _ends(d) == 1 and web.exists(), 30, what="the first IMG_7777")
    _drop(d, "IMG_7777.jpg", _photo("coffee"))  # another card, the same number
    wait_for(lambda: d.event("file_failed"), 30, what="the second IMG_7777 failed (on_name_clash: fail)")
    assert d.events("name_reused") == [], "a photo that failed was said to have its outputs numbered"
    assert d.stop() == 0

    d.config.write_text(d.config.read_text().replace("on_name_clash: fail", "on_name_clash: suffix"))
    for output in d.output.iterdir():
        output.unlink()  # taken away by a downstream job
    an_hour_ago = time.time() - 3600
    for marker in (d.var / "state" / "names").rglob("*"):  # made long ago: stale once its output is gone
        os.utime(marker, (an_hour_ago, an_hour_ago), follow_symlinks=False)
    d.start()
    _drop(d, "IMG_7777.jpg", _photo("rocket"))
    wait_for(lambda: len(d.events("file_done")) == 2, 30, what="the third IMG_7777")
    assert sorted(d.outputs()) == ["IMG_7777_thumb.webp", "IMG_7777_web.jpg"]
    reused = d.event("name_reused")
    assert reused["outcome"] == "different_photo" and "~2" not in reused["reason"], reused
    assert "its outputs are written as IMG_7777_web.jpg, IMG_7777_thumb.webp" in reused["reason"], reused
    assert d.stop() == 0
