"""Names are not state (issue 10): a daemon attacked through file names, timings and
its log pipe. Each test drops real files into a running daemon and checks the folders.

Nothing is lost, nothing is read early, nothing is stuck; no output of one original
silently replaces another's.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import ends, files_under, hotfolder, wait_for


def image_bytes(color=(200, 30, 30), size=(640, 480), fmt="JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def drop(d, name: str, data: bytes) -> Path:
    """Write elsewhere, then rename in (an atomic arrival)."""
    staging = d.root / "staging"
    staging.mkdir(exist_ok=True)
    tmp = staging / name
    tmp.write_bytes(data)
    os.rename(tmp, d.inbox / name)
    return d.inbox / name


def colour_of(path: Path) -> tuple[int, int, int]:
    with Image.open(path) as im:
        return im.convert("RGB").resize((1, 1)).getpixel((0, 0))


def near(a, b, tol=12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=False))


RED, GREEN, BLUE = (210, 20, 20), (20, 200, 20), (20, 20, 210)
# The red picture exported again, a little brighter: another file, the same photo to the index
# of originals (a new version replaces the outputs of its name; a different photo would not: 26.2).
RED_AGAIN = (240, 30, 20)


# ---------------------------------------------------------------- 1. restarts delete nothing of the user's

def test_a_restart_deletes_no_file_a_user_dropped(daemon_factory):
    d = daemon_factory().start()
    drop(d, "y.error.json", b'{"not": "an image"}')
    drop(d, "c.hf-tmp-d.jpg", image_bytes(RED))
    wait_for(lambda: ends(d) == 2, 30, what="both files to reach an end")
    failed_before = files_under(d.failed)
    outputs_before = d.outputs()
    assert "y.error.json" in failed_before and "y.error.json.error.json" in failed_before
    assert "c.hf-tmp-d_web.jpg" in outputs_before and "c.hf-tmp-d_thumb.webp" in outputs_before
    assert d.stop() == 0
    d.start()
    recovered = d.event("recovered")
    assert recovered["temp_removed"] == 0 and recovered["sidecars_finished"] == 0
    assert files_under(d.failed) == failed_before
    assert d.outputs() == outputs_before
    assert d.stop() == 0


# ---------------------------------------------------------------- 2. clashes

def test_originals_with_one_stem_keep_distinct_outputs_across_restarts(daemon_factory):
    d = daemon_factory().start()
    drop(d, "a.jpg", image_bytes(RED))
    wait_for(lambda: ends(d) == 1, 30, what="a.jpg")
    drop(d, "a.png", image_bytes(GREEN, fmt="PNG"))
    drop(d, "a.tif", image_bytes(BLUE, fmt="TIFF"))
    wait_for(lambda: ends(d) == 3, 30, what="a.png and a.tif")
    outs = set(d.outputs())
    assert {"a_web.jpg", "a_web~png.jpg", "a_web~tif.jpg", "a_thumb.webp", "a_thumb~png.webp",
            "a_thumb~tif.webp"} <= outs, outs
    assert near(colour_of(d.output / "a_web.jpg"), RED)
    assert near(colour_of(d.output / "a_web~png.jpg"), GREEN)
    assert near(colour_of(d.output / "a_web~tif.jpg"), BLUE)
    assert d.stop() == 0
    # Across a restart: a.png dropped again as a new version of its picture (re-exported
    # larger) replaces its own outputs, not a.jpg's; a different picture under the name keeps
    # them and gets its own (issue 26.2).
    d.start()
    drop(d, "a.png", image_bytes(GREEN, size=(800, 600), fmt="PNG"))
    wait_for(lambda: ends(d) == 4, 30, what="a.png again")
    assert len([o for o in d.outputs() if o.endswith(".jpg")]) == 3
    assert near(colour_of(d.output / "a_web~png.jpg"), GREEN)
    drop(d, "a.png", image_bytes(BLUE, fmt="PNG"))
    wait_for(lambda: ends(d) == 5, 30, what="another a.png")
    assert len([o for o in d.outputs() if o.endswith(".jpg")]) == 4
    assert near(colour_of(d.output / "a_web~png.jpg"), GREEN)
    assert near(colour_of(d.output / "a_web~2.jpg"), BLUE)
    assert near(colour_of(d.output / "a_web.jpg"), RED)
    assert d.stop() == 0


def test_a_clash_between_renditions_of_two_originals(daemon_factory):
    renditions = """
        - name: web
          size: 320x320
          format: jpeg
        - name: big_web
          size: 480x480
          format: jpeg
    """
    d = daemon_factory(renditions=renditions).start()
    drop(d, "x.jpg", image_bytes(RED))
    wait_for(lambda: ends(d) == 1, 30, what="x.jpg")
    drop(d, "x_big.jpg", image_bytes(GREEN))
    wait_for(lambda: ends(d) == 2, 30, what="x_big.jpg")
    outs = d.outputs()
    assert near(colour_of(d.output / "x_big_web.jpg"), RED), "x.jpg's big_web kept its name"
    assert near(colour_of(d.output / "x_big_web~jpg.jpg"), GREEN)
    assert sorted(outs) == ["x_big_big_web.jpg", "x_big_web.jpg", "x_big_web~jpg.jpg", "x_web.jpg"]
    assert d.stop() == 0


def test_names_differing_only_in_the_case_of_their_extension_are_numbered(daemon_factory):
    """IMG_1.JPG and IMG_1.jpg: the second's outputs were tagged `~jpg`, which tells nothing
    beside the first's (an admin's report). It gets the next number, `~2`, as another photo of
    one name does; another extension still gets its tag, and a new version keeps its number."""
    renditions = """
        - name: web
          size: 320x320
          format: jpeg
        - name: src
          size: 200x200
          format: jpeg
          filename: "{stem}_{source_ext}_{rendition}.{ext}"
    """
    d = daemon_factory(renditions=renditions).start()
    for n, (name, colour) in enumerate([("IMG_1.JPG", RED), ("IMG_1.jpg", GREEN), ("IMG_1.png", BLUE)], 1):
        drop(d, name, image_bytes(colour, fmt="PNG" if name.endswith("png") else "JPEG"))
        wait_for(lambda n=n: len(d.events("file_done")) == n, 30, what=name)
    assert {e["file"]: e["outputs"] for e in d.events("file_done")} == {
        "IMG_1.JPG": ["IMG_1_web.jpg", "IMG_1_jpg_src.jpg"],
        "IMG_1.jpg": ["IMG_1_web~2.jpg", "IMG_1_jpg_src~2.jpg"],
        "IMG_1.png": ["IMG_1_web~png.jpg", "IMG_1_png_src.jpg"]}
    drop(d, "IMG_1.jpg", image_bytes((40, 230, 40)))  # IMG_1.jpg exported again, lighter: a new version
    wait_for(lambda: len(d.events("file_done")) == 4, 30, what="IMG_1.jpg again")
    assert d.events("file_done")[-1]["outputs"] == ["IMG_1_web~2.jpg", "IMG_1_jpg_src~2.jpg"]
    assert near(colour_of(d.output / "IMG_1_web~2.jpg"), (40, 230, 40))
    assert near(colour_of(d.output / "IMG_1_web.jpg"), RED) and len(d.outputs()) == 6
    assert d.stop() == 0


@pytest.mark.parametrize("policy", ["fail", "replace"])
def test_on_name_clash_fail_and_replace(daemon_factory, policy):
    d = daemon_factory(folder_extra=f"on_name_clash: {policy}").start()
    drop(d, "a.jpg", image_bytes(RED))
    wait_for(lambda: ends(d) == 1, 30, what="a.jpg")
    drop(d, "a.png", image_bytes(GREEN, fmt="PNG"))
    wait_for(lambda: ends(d) == 2, 30, what="a.png")
    if policy == "fail":
        record = json.loads((d.failed / "a.png.error.json").read_text())
        assert "a_web.jpg would replace the output of another original" in record["error"], record
        assert near(colour_of(d.output / "a_web.jpg"), RED)
    else:
        assert near(colour_of(d.output / "a_web.jpg"), GREEN)
        assert not files_under(d.failed)
    assert "~" not in "".join(d.outputs())
    assert d.stop() == 0


def test_source_ext_template_field(daemon_factory):
    renditions = """
        - name: web
          size: 320x320
          format: jpeg
          filename: "{stem}-{source_ext}_{rendition}.{ext}"
    """
    d = daemon_factory(renditions=renditions).start()
    drop(d, "a.jpg", image_bytes(RED))
    drop(d, "a.png", image_bytes(GREEN, fmt="PNG"))
    wait_for(lambda: ends(d) == 2, 30, what="both")
    assert sorted(d.outputs()) == ["a-jpg_web.jpg", "a-png_web.jpg"]
    assert d.stop() == 0


# ---------------------------------------------------------------- outputs whose owner record is gone

def _done(d, n: int, what: str) -> None:
    wait_for(lambda: len(d.events("file_done")) == n, 30, what=what)


@pytest.mark.parametrize("how", ["output folder copied with cp -a", "state_dir/names deleted"])
def test_a_new_version_replaces_its_own_outputs_after_their_records_are_lost(daemon_factory, how):
    """The output folder copied to another disk (the config pointed at it), or names/ deleted:
    a new version of a.jpg was written beside its own outputs (`a_web~jpg.jpg`) while the log
    said they were replaced (an admin's report). Their bytes are the ones a.jpg wrote there,
    as the index of originals knows: replaced as its own (its manifest too), and said so."""
    d = daemon_factory(on_duplicate=None, folder_extra='manifest: "{stem}.json"').start()
    drop(d, "a.jpg", image_bytes(RED))
    _done(d, 1, "a.jpg")
    assert d.stop() == 0
    if how.startswith("output"):
        d.move_output()
    else:
        shutil.rmtree(d.var / "state" / "names")
    d.start()
    drop(d, "a.jpg", image_bytes(RED_AGAIN))  # exported again: a new version
    _done(d, 2, "a.jpg's new version")
    assert sorted(d.outputs()) == ["a.json", "a_thumb.webp", "a_web.jpg"]
    assert near(colour_of(d.output / "a_web.jpg"), RED_AGAIN)
    reused = d.event("name_reused")
    assert reused["outcome"] == "new_version" and reused["proven"] == ["a_web.jpg", "a_thumb.webp", "a.json"]
    assert reused["reason"].startswith("it looks like the earlier photo of this name: its outputs are replaced;")
    assert "replaced as its own" in reused["reason"] and "kept" not in reused
    assert "kept" not in d.event("file_done")
    assert d.stop() == 0


def test_explain_says_of_outputs_of_no_record_what_the_daemon_then_does(daemon_factory, tmp_path):
    """After the output folder moved, `explain` called a.jpg's own outputs "another original's:
    this one would get a ~suffix" (and an archived a.jpg's `a_web~jpg.jpg`), while a new
    version replaced them as its own. It asks the same proof (read only) and the same choice
    as the daemon; an output edited since is still said to be kept, and the daemon keeps it."""
    d = daemon_factory(on_duplicate=None).start()
    drop(d, "a.jpg", image_bytes(RED))
    _done(d, 1, "a.jpg")
    assert d.stop() == 0
    d.move_output()
    (d.output / "a_thumb.webp").write_bytes((d.output / "a_thumb.webp").read_bytes() + b"\0")  # edited since
    again = tmp_path / "card" / "a.jpg"
    again.parent.mkdir()
    again.write_bytes(image_bytes(RED_AGAIN))
    said = hotfolder("explain", "--config", str(d.config), str(again), str(d.archive / "a.jpg"))
    assert said.returncode == 0, said.stderr
    dropped, archived_one = said.stdout.split(str(d.archive / "a.jpg"))
    assert "a_web.jpg is another original's" not in dropped, dropped
    assert ("a_web.jpg has no record of which original wrote it, but its bytes are what this photo wrote there"
            in dropped), dropped
    assert ("a_thumb.webp is there, and no record says which original wrote it, nor do its bytes prove it this "
            "photo's: this one would get a ~suffix") in dropped, dropped
    assert "applies: web → a_web.jpg" in archived_one and "applies: thumb → a_thumb~jpg.webp" in archived_one, \
        archived_one
    d.start()
    drop(d, "a.jpg", image_bytes(RED_AGAIN))
    _done(d, 2, "a.jpg's new version")
    reused = d.event("name_reused")
    assert (reused["proven"], reused["kept"], reused["written_as"]) == (["a_web.jpg"], ["a_thumb.webp"],
                                                                        ["a_thumb~jpg.webp"]), reused
    assert d.stop() == 0


def test_outputs_rerender_wrote_stay_provably_their_original_s_after_the_output_folder_moved(daemon_factory):
    """rerender after a recipe change noted its outputs in the index but kept the drop's
    hashes: after the output folder moved, the next new version took them for outputs of
    no record (bytes "not what this photo wrote there") and wrote `a_web~jpg.jpg` and
    `a~jpg.json` beside its own."""
    d = daemon_factory(on_duplicate=None, folder_extra='manifest: "{stem}.json"').start()
    drop(d, "a.jpg", image_bytes(RED))
    _done(d, 1, "a.jpg")
    assert d.stop() == 0
    d.config.write_text(d.config.read_text().replace("quality: 85", "quality: 70"))  # a recipe change
    done = hotfolder("rerender", "--config", str(d.config), timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    shutil.rmtree(d.var / "state" / "names")  # as after the output folder moved
    d.start()
    drop(d, "a.jpg", image_bytes(RED_AGAIN))
    _done(d, 2, "a.jpg's new version")
    assert sorted(d.outputs()) == ["a.json", "a_thumb.webp", "a_web.jpg"]
    reused = d.event("name_reused")
    assert reused["proven"] == ["a_web.jpg", "a_thumb.webp", "a.json"] and "kept" not in reused, reused
    assert d.stop() == 0


def test_an_output_of_no_record_is_replaced_only_by_the_original_whose_bytes_it_holds(daemon_factory):
    """a.jpg wrote a_web.jpg; deleted, the name went to a.png; then the records were lost. a.jpg's
    new version must not replace a.png's a_web.jpg (written beside, and said: which is kept and
    why), yet replaces its own a_thumb.webp; a.png's new version replaces a_web.jpg, its own."""
    green_again = (20, 230, 30)
    d = daemon_factory(on_duplicate=None).start()
    drop(d, "a.jpg", image_bytes(RED))
    _done(d, 1, "a.jpg")
    assert d.stop() == 0
    (d.output / "a_web.jpg").unlink()  # taken away by a downstream job
    shutil.rmtree(d.var / "state" / "names")
    d.start()
    drop(d, "a.png", image_bytes(GREEN, fmt="PNG"))
    _done(d, 2, "a.png")
    assert d.events("file_done")[-1]["outputs"] == ["a_web.jpg", "a_thumb~png.webp"]
    kept = d.event("outputs_kept")  # a_thumb.webp: a.jpg's, of no record, not a.png's bytes
    assert kept["file"] == "a.png" and kept["kept"] == ["a_thumb.webp"] and kept["written_as"] == ["a_thumb~png.webp"]
    assert d.stop() == 0
    shutil.rmtree(d.var / "state" / "names")
    d.start()
    drop(d, "a.jpg", image_bytes(RED_AGAIN))
    _done(d, 3, "a.jpg's new version")
    assert near(colour_of(d.output / "a_web.jpg"), GREEN), "a.png's output was replaced by a.jpg's"
    assert near(colour_of(d.output / "a_web~jpg.jpg"), RED_AGAIN)
    assert near(colour_of(d.output / "a_thumb.webp"), RED_AGAIN)
    reused = d.event("name_reused")
    assert (reused["kept"], reused["written_as"], reused["proven"]) == (["a_web.jpg"], ["a_web~jpg.jpg"],
                                                                        ["a_thumb.webp"])
    assert reused["reason"].startswith("it looks like the earlier photo of this name, a new version of it, but not "
                                       "all its outputs are replaced;")
    assert "a_web.jpg is kept: no record says which original wrote it" in reused["reason"]
    assert "written beside as a_web~jpg.jpg" in reused["reason"]
    assert d.event("file_done")["kept"] == ["a_web.jpg"]
    drop(d, "a.png", image_bytes(green_again, fmt="PNG"))
    _done(d, 4, "a.png's new version")
    assert near(colour_of(d.output / "a_web.jpg"), green_again)
    assert d.event("name_reused")["proven"] == ["a_web.jpg", "a_thumb~png.webp"]  # both lost their records
    assert sorted(d.outputs()) == ["a_thumb.webp", "a_thumb~png.webp", "a_web.jpg", "a_web~jpg.jpg"]
    assert d.stop() == 0


# ---------------------------------------------------------------- 3, 4. read while still written

def slow_write(path: Path, data: bytes, chunks: int = 10, pause: float = 0.3) -> None:
    step = len(data) // chunks + 1
    with open(path, "wb") as f:
        for i in range(0, len(data), step):
            f.write(data[i:i + step])
            f.flush()
            time.sleep(pause)


def test_a_re_upload_of_a_name_being_processed_is_not_read_early(daemon_factory):
    full = """
        - name: full
          operation: none
          format: png
    """
    d = daemon_factory(renditions=full, workers=1).start()
    drop(d, "a.jpg", image_bytes(RED, size=(1600, 1200)))
    wait_for(lambda: not (d.inbox / "a.jpg").exists(), 20, interval=0.005, what="a.jpg to be claimed")
    # The first ends during the second's pauses (1 s, as a slow uploader's).
    slow_write(d.inbox / "a.jpg", image_bytes(RED_AGAIN, size=(1600, 1200)), chunks=5, pause=1.0)
    wait_for(lambda: ends(d) == 2, 60, what="both uploads of a.jpg")
    assert not files_under(d.failed), [json.loads((d.failed / p).read_text()) for p in files_under(d.failed)
                                       if p.endswith(".json")]
    assert sorted(files_under(d.archive)) == ["a.jpg", "a_1.jpg"]
    assert near(colour_of(d.output / "a_full.png"), RED_AGAIN), "the second upload replaced the first's output"
    assert d.stop() == 0


def test_a_reload_during_a_slow_upload_does_not_take_it_early(daemon_factory):
    d = daemon_factory().start()
    writer = threading.Thread(target=slow_write, args=(d.inbox / "slow.jpg", image_bytes(RED, size=(2000, 1500))),
                              kwargs={"chunks": 10, "pause": 0.4})
    writer.start()
    time.sleep(0.6)
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.event("reloaded"), 10, what="the reload")
    writer.join(30)
    wait_for(lambda: ends(d) == 1, 30, what="slow.jpg")
    assert files_under(d.archive) == ["slow.jpg"] and not files_under(d.failed)
    assert d.stop() == 0


# ---------------------------------------------------------------- 5, 6. names that are bytes, and long

def test_names_that_are_not_utf8_reach_an_end_and_the_daemon_goes_on(daemon_factory):
    d = daemon_factory().start()
    inbox = os.fsencode(d.inbox)
    for i in range(25):
        data = image_bytes(RED) if i % 2 else b"not an image"
        with open(inbox + b"/junk-\xff%02d.jpg" % i, "wb") as f:
            f.write(data)
    wait_for(lambda: ends(d) == 25, 60, what="25 non-UTF-8 names to reach an end")
    assert d.proc.poll() is None
    assert not os.listdir(os.fsencode(d.processing))
    failed = [n for n in os.listdir(os.fsencode(d.failed)) if n.endswith(b".error.json")]
    assert len(failed) == 13
    record = json.loads((Path(os.fsdecode(os.fsencode(d.failed) + b"/" + failed[0]))).read_text())
    assert "\\xff" in record["file"]
    wait_for(lambda: (d.status_json()["processed"], d.status_json()["failed"]) == (12, 13), 10,
             what="the status to count 12 processed and 13 failed")
    assert d.stop() == 0
    d.start()  # and it starts again
    assert d.stop() == 0


def test_a_name_s_control_characters_are_not_carried_into_its_outputs_names(daemon_factory):
    """A client's file named with a tab, a newline, an ESC sequence or a right-to-left
    override put them into every output's name (an admin's report): each is `_` there, in
    `{stem}` and `{name}` alike; the original keeps its name in archive/, and a byte that is
    not UTF-8 stays."""
    renditions = """
        - name: web
          size: 320x320
          format: jpeg
        - name: orig
          size: 200x200
          format: jpeg
          filename: "orig/{name}"
    """
    d = daemon_factory(renditions=renditions).start()
    hostile = {"tab\there.jpg": "tab_here", "new\nline.jpg": "new_line", "esc\x1b[31mred.jpg": "esc_[31mred",
               "bidi\u202egpj.jpg": "bidi_gpj", os.fsdecode(b"raw-\xff.jpg"): os.fsdecode(b"raw-\xff")}
    for name in hostile:
        drop(d, name, image_bytes(RED))
    wait_for(lambda: len(d.events("file_done")) == len(hostile), 30, what="the hostile names rendered")
    assert sorted(d.outputs()) == sorted([f"{s}_web.jpg" for s in hostile.values()]
                                         + [f"orig/{s}.jpg" for s in hostile.values()])
    assert sorted(files_under(d.archive)) == sorted(hostile)  # the originals keep their names
    assert d.stop() == 0


def test_a_long_name_in_bytes_gets_its_outputs_or_fails_once(daemon_factory):
    d = daemon_factory().start()
    fits = "🙂" * 60 + ".jpg"  # 244 bytes in 64 characters
    too_long = "🙂" * 62 + ".jpg"  # 252 bytes: "_thumb.webp" makes an output name of 259
    drop(d, fits, image_bytes(RED))
    drop(d, too_long, image_bytes(GREEN))
    wait_for(lambda: ends(d) == 2, 30, what="both long names")
    assert f"{'🙂' * 60}_web.jpg" in d.outputs() and f"{'🙂' * 60}_thumb.webp" in d.outputs()
    failed = [p for p in files_under(d.failed) if p.endswith(".error.json")]
    assert len(failed) == 1 and "longer than the 255" in json.loads((d.failed / failed[0]).read_text())["error"]
    assert not d.events("claiming_paused")
    t0 = time.monotonic()
    drop(d, "unrelated.jpg", image_bytes(BLUE))
    wait_for(lambda: "unrelated.jpg" in files_under(d.archive), 10, what="an unrelated file, promptly")
    assert time.monotonic() - t0 < 10
    assert d.stop() == 0


# ---------------------------------------------------------------- 7. stuck in processing/

def _chattr(flag: str, path: Path) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def test_a_file_that_cannot_leave_processing_stops_nothing(daemon_factory):
    full = """
        - name: full
          operation: none
          format: png
    """
    d = daemon_factory(renditions=full, workers=1).start()
    drop(d, "stuck.jpg", image_bytes(RED, size=(4000, 3000)))
    stuck = d.processing / "stuck.jpg"
    wait_for(lambda: stuck.exists(), 20, interval=0.005, what="stuck.jpg to be claimed")
    if not _chattr("+i", stuck):
        pytest.skip("chattr +i is not allowed here (needs root and CAP_LINUX_IMMUTABLE on ext4/xfs/btrfs)")
    try:
        wait_for(lambda: d.event("file_stuck"), 30, what="the file to be reported stuck")
        drop(d, "after.jpg", image_bytes(GREEN))
        wait_for(lambda: "after.jpg" in files_under(d.archive), 20, what="the next file")
        assert d.stop() == 0
        d.start()  # the next start serves the rest, and says what it could not do
        drop(d, "later.jpg", image_bytes(BLUE))
        wait_for(lambda: "later.jpg" in files_under(d.archive), 20, what="a file after the restart")
        assert stuck.exists()
    finally:
        _chattr("-i", stuck)
    wait_for(lambda: not stuck.exists(), 30, what="stuck.jpg to end once it can move")
    assert d.stop() == 0


def test_an_inbox_file_that_cannot_be_taken_is_said_and_shown(daemon_factory, tmp_path):
    """An immutable file in the inbox: a bare "[Errno 1] Operation not permitted", and nothing
    in the status (an attack round). Now what to change, once, and a note while it is there;
    taken once it can move."""
    d = daemon_factory().start()
    staged = tmp_path / "z.jpg"
    staged.write_bytes(image_bytes(RED))
    if not _chattr("+i", staged):
        pytest.skip("chattr +i is not allowed here (needs root and CAP_LINUX_IMMUTABLE on ext4/xfs/btrfs)")
    _chattr("-i", staged)
    os.rename(staged, d.inbox / "z.jpg")
    _chattr("+i", d.inbox / "z.jpg")
    try:
        said = wait_for(lambda: d.event("claim_failed"), 20, what="the file said")
        assert "immutable" in said["reason"] and "chattr -i" in said["reason"], said
        note = wait_for(lambda: d.status_json().get("message"), 10, what="the status's message")
        assert "1 file(s) in an inbox cannot be taken" in note and "z.jpg" in note, note
    finally:
        _chattr("-i", d.inbox / "z.jpg")
    wait_for(lambda: "z.jpg" in files_under(d.archive), 30, what="z.jpg taken once it can move")
    assert d.stop() == 0


def test_a_fifo_in_the_inbox_is_said_not_left_unsaid(daemon_factory):
    """A named pipe in the inbox was left there, unsaid: no log line, no status (an attack
    round). It is said at once (not waited for as an empty file), and noted."""
    d = daemon_factory().start()
    os.mkfifo(d.inbox / "pipe.jpg")
    said = wait_for(lambda: d.event("claim_failed"), 20, what="the FIFO said")
    assert "FIFO (named pipe), not a file" in said["reason"] and said["file"].endswith("pipe.jpg"), said
    drop(d, "after.jpg", image_bytes(GREEN))
    wait_for(lambda: "after.jpg" in files_under(d.archive), 20, what="the next file")
    wait_for(lambda: "pipe.jpg" in d.status_json()["message"], 10, what="the status to note it")
    assert d.stop() == 0


# ---------------------------------------------------------------- 8. a closed log pipe

def test_a_closed_log_pipe_stops_nothing(daemon_factory):
    d = daemon_factory().start(stdout=subprocess.PIPE, wait_ready=False)
    head = d.proc.stdout.read(300)  # `| head -c 300`
    assert b'"event"' in head
    d.proc.stdout.close()  # the reader is gone: every later write is EPIPE
    names = [f"p{i:03d}.jpg" for i in range(30)]
    for name in names:
        drop(d, name, image_bytes(RED, size=(800, 600)))
    wait_for(lambda: ends(d) == len(names), 60, what="every file despite the closed pipe")
    outs = set(files_under(d.output))
    assert all(f"{Path(n).stem}_web.jpg" in outs and f"{Path(n).stem}_thumb.webp" in outs for n in names)
    wait_for(lambda: "log lines are being dropped" in d.status_json()["message"], 10,
             what="the status to say that log lines are dropped")
    assert d.stop() == 0


# ---------------------------------------------------------------- 9. drop order after a crash

def test_a_crash_leftover_is_rendered_before_a_newer_drop_of_its_name(daemon_factory):
    d = daemon_factory()
    for sub in (d.inbox, d.processing):
        sub.mkdir(parents=True, exist_ok=True)
    (d.processing / "big.png").write_bytes(image_bytes(RED, fmt="PNG"))  # left by a SIGKILL
    (d.inbox / "big.png").write_bytes(image_bytes(RED_AGAIN, fmt="PNG"))  # dropped since: a new version
    d.start()
    wait_for(lambda: ends(d) == 2, 30, what="both big.png")
    assert sorted(d.outputs()) == ["big_thumb.webp", "big_web.jpg"], "replaced, not duplicated"
    assert near(colour_of(d.output / "big_web.jpg"), RED_AGAIN), "the newer drop's outputs win"
    assert sorted(files_under(d.archive)) == ["big.png", "big_1.png"]
    assert near(colour_of(d.archive / "big.png"), RED), "the older one went first"
    assert d.stop() == 0


# ---------------------------------------------------------------- 10. status without the config

def test_status_of_a_running_daemon_whose_config_is_gone(daemon_factory):
    d = daemon_factory()
    d.config.write_text(d.config.read_text().replace("state_dir: var/state", "state_dir: elsewhere/state"))
    d.start()
    saved = d.config.read_text()
    d.config.unlink()
    try:
        result = d.status()
        assert result.returncode == 0 and json.loads(result.stdout)["running"], result.stdout + result.stderr
    finally:
        d.config.write_text(saved)
    assert d.stop() == 0


def test_status_finds_a_daemon_started_without_config_whose_config_is_gone(daemon_factory):
    d = daemon_factory()
    d.config.write_text(d.config.read_text().replace("state_dir: var/state", "state_dir: elsewhere/state"))
    (d.root / "config").mkdir()
    found = d.root / "config" / "hotfolder.yaml"
    found.write_text(d.config.read_text().replace("var/", "../var/").replace("elsewhere/", "../elsewhere/"))
    d.start(with_config=False)  # it finds config/hotfolder.yaml
    saved = found.read_text()
    found.unlink()
    result = hotfolder("status", "--json", "--config", str(found))
    found.write_text(saved)
    assert result.returncode == 0 and json.loads(result.stdout)["running"], result.stdout + result.stderr
    assert d.stop() == 0
