"""`hotfolder rerender --rendition NAME`: a studio added a rendition (`instagram`) or changed
one (a new watermark on `proof`) and wants only that one made again for the archive. A whole
rerender rewrote every output: each other output's bytes and mtime changed (a CDN
invalidated them all, a sync tool uploaded them all again). Only the named renditions are
rendered; the other outputs are left as they are, byte for byte and mtime; the index of
originals and the manifest still list every output of the original.
"""
from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import time

from PIL import Image

from tests import corpus as c
from tests import thumbhash
from tests.harness import archived, files_under, hotfolder, wait_for

RED, BLUE = (220, 20, 20), (20, 20, 220)
PROOF = """\
      - name: proof
        operation: fit
        size: 100x100
        format: jpeg
        when:
          name: "a*"
"""


def _drop(d, rel: str, color, count: int) -> None:
    staged = c.write(d.root / "staging" / os.path.basename(rel), c.solid_jpeg_bytes((640, 480), color))
    (d.inbox / rel).parent.mkdir(parents=True, exist_ok=True)
    staged.rename(d.inbox / rel)
    wait_for(lambda: len(archived(d)) == count, 20, what=f"{rel} archived")


def _size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def _seen(root, rel: str) -> tuple[bytes, int, int]:
    """What a left-alone file keeps: its bytes, its mtime, its inode (not replaced by a rename)."""
    st = os.stat(root / rel)
    return (root / rel).read_bytes(), st.st_mtime_ns, st.st_ino


def _record(d, rel: str) -> tuple[tuple[str, ...], list[bytes], str | None, int | None]:
    """The index's row of the original `rel`: its outputs, their hashes (then the manifest's),
    the renditions that made them, its `{seq}`."""
    from hotfolder.state import originals, rows

    conn = sqlite3.connect(d.var / "state" / "hotfolder.db")
    try:
        ((outputs, hashes, renditions, seq),) = conn.execute(
            "SELECT outputs, output_hashes, renditions, seq FROM originals WHERE name = ? AND state = ?",
            (os.fsencode(rel), originals.RENDERED)).fetchall()
    finally:
        conn.close()
    size = originals.OUTPUT_HASH
    return (rows.split(outputs, os.fsencode(rel)), [hashes[i:i + size] for i in range(0, len(hashes or b""), size)],
            renditions, seq)


def _hash(path) -> bytes:
    from hotfolder.workers.provenance import output_hash

    return output_hash(path.read_bytes())


def _both_smaller(d) -> None:
    """web and thumb both changed: a whole rerender would write both."""
    d.config.write_text(d.config.read_text().replace("size: 320x320", "size: 160x160")
                        .replace("size: 64x64", "size: 48x48"))


def test_only_the_named_rendition_is_made_again_and_the_others_are_left_as_they_were(daemon_factory):
    d = daemon_factory(folder_extra='manifest: "{stem}.json"').start()
    _drop(d, "a.jpg", RED, 1)
    _drop(d, "shoot/b.jpg", BLUE, 2)
    assert d.stop() == 0
    listed = files_under(d.output)
    assert listed == ["a.json", "a_thumb.webp", "a_web.jpg", "shoot/b.json", "shoot/b_thumb.webp",
                      "shoot/b_web.jpg"]
    thumbs = {rel: _seen(d.output, rel) for rel in ("a_thumb.webp", "shoot/b_thumb.webp")}
    was = json.loads((d.output / "a.json").read_text())
    _both_smaller(d)

    done = hotfolder("rerender", "--rendition", "web", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert "rendered 2 of 2 archived original(s) again" in done.stderr, done.stderr
    assert files_under(d.output) == listed, "an output made, renamed or deleted"
    assert {rel: _seen(d.output, rel) for rel in thumbs} == thumbs, "thumb was written again"
    assert _size(d.output / "a_web.jpg") == (160, 120) and _size(d.output / "shoot/b_web.jpg") == (160, 120)

    # The index still lists both outputs: web's with its new hash, thumb's with the one it had
    outputs, hashes, renditions, _ = _record(d, "a.jpg")
    assert outputs == ("a_web.jpg", "a_thumb.webp") and renditions == "web thumb"
    assert hashes == [_hash(d.output / "a_web.jpg"), _hash(d.output / "a_thumb.webp"), _hash(d.output / "a.json")]
    assert _record(d, "shoot/b.jpg")[0] == ("shoot/b_web.jpg", "shoot/b_thumb.webp")

    # The manifest lists both: web as made now, thumb as it was described (its bytes unchanged)
    now = json.loads((d.output / "a.json").read_text())
    assert [o["rendition"] for o in now["outputs"]] == ["web", "thumb"], now
    assert now["outputs"][0]["width"] == 160 and now["outputs"][0]["bytes"] == os.path.getsize(d.output / "a_web.jpg")
    assert now["outputs"][1] == was["outputs"][1]
    assert now["source"] == was["source"] and now["placeholder"] == was["placeholder"], now

    # A later rerender of thumb alone leaves web's new output as it is, and proves it its own
    webs = _seen(d.output, "a_web.jpg")
    again = hotfolder("rerender", "--rendition", "thumb", "--config", str(d.config), str(d.archive / "a.jpg"))
    assert again.returncode == 0, again.stderr
    assert _seen(d.output, "a_web.jpg") == webs and _size(d.output / "a_thumb.webp") == (48, 48)
    assert files_under(d.output) == listed
    last = json.loads((d.output / "a.json").read_text())
    assert last["outputs"][0] == now["outputs"][0], "web as the manifest the first run wrote described it"
    assert last["outputs"][1]["width"] == 48 and last["placeholder"] is not None, "the thumb made is the smallest"


def test_a_rendition_no_folder_has_is_refused_before_anything_is_rendered(daemon_factory):
    d = daemon_factory().start()
    _drop(d, "a.jpg", RED, 1)
    assert d.stop() == 0
    before = {rel: _seen(d.output, rel) for rel in files_under(d.output)}
    # A second folder, whose recipe has an `instagram`
    d.config.write_text(d.config.read_text() + re.sub(r"var/", "var2/", """\
  - name: shop
    inbox: var/inbox
    output: var/output
    archive: var/archive
    failed: var/failed
    processing: var/processing
    renditions:
      - name: instagram
        operation: fill
        size: 108x108
        format: jpeg
"""))

    typo = hotfolder("rerender", "--rendition", "wbe", "--config", str(d.config))
    assert typo.returncode == 2, typo.stderr
    assert "no rendition 'wbe'" in typo.stderr and "did you mean 'web'" in typo.stderr, typo.stderr
    assert "folder test: web, thumb" in typo.stderr, typo.stderr

    elsewhere = hotfolder("rerender", "--folder", "test", "--rendition", "instagram", "--config", str(d.config))
    assert elsewhere.returncode == 2, elsewhere.stderr
    assert "folder test has no rendition 'instagram' (its renditions: web, thumb)" in elsewhere.stderr
    assert "folders that have it: shop" in elsewhere.stderr, elsewhere.stderr

    typo_there = hotfolder("rerender", "--folder", "test", "--rendition", "instagrm", "--config", str(d.config))
    assert typo_there.returncode == 2, typo_there.stderr
    assert "did you mean 'instagram', of folder shop (give --folder shop)?" in typo_there.stderr, typo_there.stderr

    # Without --folder, a folder that has none of the names is passed over, said
    shop = hotfolder("rerender", "--rendition", "instagram", "--config", str(d.config))
    assert shop.returncode == 0, shop.stderr
    assert "folder test: has none of the renditions asked for (instagram): passed over" in shop.stderr, shop.stderr

    dry = hotfolder("rerender", "-n", "--rendition", "web", "--rendition", "wbe", "--config", str(d.config))
    assert dry.returncode == 2 and "did you mean 'web'" in dry.stderr, dry.stderr
    assert {rel: _seen(d.output, rel) for rel in files_under(d.output)} == before, "rendered before refusing"


def test_a_dry_run_lists_the_named_renditions_outputs_and_the_manifest_only(daemon_factory):
    d = daemon_factory(folder_extra='manifest: "{stem}.json"').start()
    _drop(d, "a.jpg", RED, 1)
    assert d.stop() == 0
    _both_smaller(d)
    dry = hotfolder("rerender", "-n", "--rendition", "web", "--config", str(d.config))
    assert dry.returncode == 0, dry.stderr
    assert "a.jpg → a_web.jpg (replaced), a.json (replaced)\n" in dry.stdout, dry.stdout
    assert "thumb" not in dry.stdout and "no longer made" not in dry.stdout, dry.stdout
    assert "2 replaced, 0 new" in dry.stdout, dry.stdout
    assert "(only web: the other renditions' outputs are left as they are)" in dry.stdout, dry.stdout


def test_a_named_rendition_whose_when_does_not_take_an_original_is_not_made_for_it(daemon_factory):
    """A rendition added to the recipe (`proof`, for names a*): made for a.jpg only; b.jpg,
    which its `when:` does not take, is left whole, not failed (on_no_rendition: fail is of
    a file no rendition takes)."""
    d = daemon_factory(folder_extra='manifest: "{stem}.json"\non_no_rendition: fail').start()
    _drop(d, "a.jpg", RED, 1)
    _drop(d, "b.jpg", BLUE, 2)
    assert d.stop() == 0
    before = {rel: _seen(d.output, rel) for rel in files_under(d.output)}
    d.config.write_text(d.config.read_text().rstrip("\n") + "\n" + PROOF)

    dry = hotfolder("rerender", "-n", "--rendition", "proof", "--config", str(d.config))
    assert dry.returncode == 0, dry.stderr
    assert "a.jpg → a_proof.jpg (new), a.json (replaced)\n" in dry.stdout, dry.stdout
    assert "b.jpg → nothing: the when: of proof does not take it" in dry.stdout, dry.stdout
    done = hotfolder("rerender", "--rendition", "proof", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert "proof: made for 1, not for 1 (its when: does not take them)" in done.stderr, done.stderr
    # b.jpg keeps its outputs: it is no original that "made nothing", nor a line of its own (a studio's
    # --rendition thumb printed one per original of its print/ and social/ folders, and "10 made nothing:
    # no rendition's `when:` takes them now (a rating or a keyword changed?)")
    assert "made nothing" not in done.stderr and "nothing made of b.jpg" not in done.stderr, done.stderr
    assert "rendered 1 of 2 archived original(s) again" in done.stderr, done.stderr
    assert files_under(d.output) == sorted([*before, "a_proof.jpg"])
    left = {rel: seen for rel, seen in before.items() if rel != "a.json"}
    assert {rel: _seen(d.output, rel) for rel in left} == left
    outputs, hashes, renditions, _ = _record(d, "a.jpg")
    assert outputs == ("a_web.jpg", "a_thumb.webp", "a_proof.jpg") and renditions == "web thumb proof"
    assert len(hashes) == 4 and hashes[2] == _hash(d.output / "a_proof.jpg")
    listed = json.loads((d.output / "a.json").read_text())["outputs"]
    assert [(o["rendition"], o["path"]) for o in listed] == [
        ("web", "a_web.jpg"), ("thumb", "a_thumb.webp"), ("proof", "a_proof.jpg")]
    assert _record(d, "b.jpg")[0] == ("b_web.jpg", "b_thumb.webp")


def _one_numbered_by_seq(daemon_factory):
    """A daemon whose `web` is named by `{seq}`, stopped after rendering a.jpg (0001_a.jpg)."""
    d = daemon_factory(folder_extra="on_duplicate: skip")
    d.config.write_text(re.sub(r"( *)size: 320x320", r'\g<0>\n\1filename: "{seq:04}_{stem}.{ext}"',
                               d.config.read_text()))
    d.start()
    _drop(d, "a.jpg", RED, 1)
    assert d.stop() == 0
    return d


def test_an_original_named_by_seq_keeps_its_number(daemon_factory):
    d = _one_numbered_by_seq(daemon_factory)
    assert files_under(d.output) == ["0001_a.jpg", "a_thumb.webp"]
    numbered = _seen(d.output, "0001_a.jpg")
    _both_smaller(d)
    thumb = hotfolder("rerender", "--rendition", "thumb", "--config", str(d.config))
    assert thumb.returncode == 0, thumb.stderr
    assert _seen(d.output, "0001_a.jpg") == numbered and _size(d.output / "a_thumb.webp") == (48, 48)
    assert _record(d, "a.jpg")[3] == 1
    web = hotfolder("rerender", "--rendition", "web", "--config", str(d.config))
    assert web.returncode == 0, web.stderr
    assert files_under(d.output) == ["0001_a.jpg", "a_thumb.webp"], "numbered anew"
    assert _size(d.output / "0001_a.jpg") == (160, 120)
    assert _record(d, "a.jpg")[0] == ("0001_a.jpg", "a_thumb.webp")


def test_a_rendition_not_asked_for_takes_no_seq_number(daemon_factory):
    """An original the index has no `{seq}` for (rendered before it kept them): a rerender of
    `thumb` alone drew a number for `web`'s name, which it does not write, and noted it as the
    number the original's outputs took."""
    d = _one_numbered_by_seq(daemon_factory)
    conn = sqlite3.connect(d.var / "state" / "hotfolder.db")
    with conn:
        assert conn.execute("UPDATE originals SET seq = NULL").rowcount == 1
    conn.close()
    thumb = hotfolder("rerender", "--rendition", "thumb", "--config", str(d.config))
    assert thumb.returncode == 0, thumb.stderr
    assert _record(d, "a.jpg")[3] is None, "a number noted that no output took"
    assert files_under(d.output) == ["0001_a.jpg", "a_thumb.webp"]


def test_the_manifest_describes_an_output_changed_since_by_its_bytes_and_leaves_out_one_gone(daemon_factory):
    """An output left as it is but edited since (not the bytes hotfolder wrote) is described
    by what its file says, its quality and score unknown (null), not by the manifest before;
    one deleted since is not listed (a manifest lists the outputs beside it), though the index
    keeps it, as a copy dropped later is told it is gone."""
    d = daemon_factory(folder_extra='manifest: "{stem}.json"').start()
    _drop(d, "a.jpg", RED, 1)
    assert d.stop() == 0
    had, hashes, _, _ = _record(d, "a.jpg")
    with Image.open(d.output / "a_thumb.webp") as im:
        im.resize((32, 32)).save(d.output / "a_thumb.webp", "WEBP")  # edited by hand
    (d.output / "a_web.jpg").unlink()  # taken away by a downstream job
    d.config.write_text(d.config.read_text().rstrip("\n") + "\n" + PROOF.replace('name: "a*"', 'name: "*"'))

    done = hotfolder("rerender", "--rendition", "proof", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert files_under(d.output) == ["a.json", "a_proof.jpg", "a_thumb.webp"]
    doc = json.loads((d.output / "a.json").read_text())
    assert [o["path"] for o in doc["outputs"]] == ["a_thumb.webp", "a_proof.jpg"], doc
    thumb = doc["outputs"][0]
    assert (thumb["rendition"], thumb["width"], thumb["height"], thumb["format"], thumb["quality"]) == (
        "thumb", 32, 32, "webp", None), thumb
    assert thumb["bytes"] == os.path.getsize(d.output / "a_thumb.webp")
    # the placeholder: of proof, made now, the smallest output in the photo's 4:3 (not of the
    # square thumb, which the manifest before did not describe so: it would be null then)
    assert doc["placeholder"] is not None and doc["placeholder_of"] == "a_proof.jpg", doc
    outputs, now, renditions, _ = _record(d, "a.jpg")
    assert outputs == (*had, "a_proof.jpg") and renditions == "web thumb proof"
    assert now[:2] == hashes[:2], "the hashes of the bytes hotfolder wrote are kept"


def test_without_a_row_to_say_the_manifest_before_names_the_outputs_left(daemon_factory):
    """No index of originals (deleted while the daemon was stopped; a cluster's is in Redis):
    the manifest before names the original's other outputs, each described from its file
    (nothing proves the entry before), not dropped from the manifest."""
    d = daemon_factory(folder_extra='manifest: "{stem}.json"').start()
    _drop(d, "a.jpg", RED, 1)
    assert d.stop() == 0
    for db in (d.var / "state").glob("hotfolder.db*"):
        db.unlink()
    thumb = _seen(d.output, "a_thumb.webp")
    _both_smaller(d)
    done = hotfolder("rerender", "--rendition", "web", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert _seen(d.output, "a_thumb.webp") == thumb
    listed = json.loads((d.output / "a.json").read_text())["outputs"]
    assert [(o["rendition"], o["path"], o["width"], o["quality"]) for o in listed] == [
        ("web", "a_web.jpg", 160, 85), ("thumb", "a_thumb.webp", 64, None)], listed


def test_an_asked_renditions_output_its_when_no_longer_takes_leaves_the_manifest_and_the_index(daemon_factory):
    """`proof`'s `when:` narrowed (a* no longer, z* now), then `--rendition proof --rendition
    web`: a.jpg's a_proof.jpg is no longer made, as the dry run says, and stays on disk (delete
    it if unwanted), as after a whole rerender. The manifest written anew and the index still
    listed it as proof's output, which a shop's importer published; a whole rerender did not."""
    d = daemon_factory(folder_extra='manifest: "{stem}.json"')
    d.config.write_text(d.config.read_text().rstrip("\n") + "\n" + PROOF)
    d.start()
    _drop(d, "a.jpg", RED, 1)
    assert d.stop() == 0
    assert files_under(d.output) == ["a.json", "a_proof.jpg", "a_thumb.webp", "a_web.jpg"]
    proof = _seen(d.output, "a_proof.jpg")
    d.config.write_text(d.config.read_text().replace('name: "a*"', 'name: "z*"').replace("size: 320x320",
                                                                                      "size: 160x160"))

    dry = hotfolder("rerender", "-n", "--rendition", "proof", "--rendition", "web", "--config", str(d.config))
    assert dry.returncode == 0, dry.stderr
    assert "a_proof.jpg (no longer made: left as it is)" in dry.stdout, dry.stdout
    done = hotfolder("rerender", "--rendition", "proof", "--rendition", "web", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert _seen(d.output, "a_proof.jpg") == proof, "left on disk, as a whole rerender leaves it"
    listed = json.loads((d.output / "a.json").read_text())["outputs"]
    assert [(o["rendition"], o["path"]) for o in listed] == [("web", "a_web.jpg"), ("thumb", "a_thumb.webp")], listed
    outputs, hashes, renditions, _ = _record(d, "a.jpg")
    assert outputs == ("a_web.jpg", "a_thumb.webp") and renditions == "web thumb", (outputs, renditions)
    assert hashes == [_hash(d.output / "a_web.jpg"), _hash(d.output / "a_thumb.webp"), _hash(d.output / "a.json")]

    # What a whole rerender then leaves is the same
    whole = hotfolder("rerender", "--config", str(d.config))
    assert whole.returncode == 0, whole.stderr
    assert [(o["rendition"], o["path"]) for o in json.loads((d.output / "a.json").read_text())["outputs"]] == [
        ("web", "a_web.jpg"), ("thumb", "a_thumb.webp")]
    assert _record(d, "a.jpg")[0] == ("a_web.jpg", "a_thumb.webp")


def test_an_original_whose_other_outputs_were_written_after_the_run_started_is_kept(daemon_factory):
    """Run beside the daemon (not yet reloaded, no manifest): a newer drop of a.jpg rendered
    meanwhile wrote a_web.jpg and a_thumb.webp, and rerender --rendition proof still wrote
    the archived old version's a_proof.jpg beside them (a set of two photos) and noted it in
    the old version's row: it looked at proof's outputs only, which the newer drop had none
    of. An output of the original written after the run started, asked for or not, is a newer
    drop's: the original is kept as it is, said, as a whole rerender keeps it. (The daemon's
    write is stood in for by the output's modification time, set past the run's start.)"""
    d = daemon_factory().start()
    _drop(d, "a.jpg", RED, 1)
    _drop(d, "b.jpg", BLUE, 2)
    assert d.stop() == 0
    d.config.write_text(d.config.read_text().rstrip("\n") + "\n" + PROOF.replace('name: "a*"', 'name: "*"'))
    later = time.time() + 3600
    os.utime(d.output / "a_web.jpg", (later, later))
    had = _record(d, "a.jpg")

    done = hotfolder("rerender", "--rendition", "proof", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    assert "rendered 1 of 2" in done.stderr and "1 kept as they were: a newer drop" in done.stderr, done.stderr
    assert "; 0 failed" in done.stderr, done.stderr
    assert files_under(d.output) == ["a_thumb.webp", "a_web.jpg", "b_proof.jpg", "b_thumb.webp", "b_web.jpg"]
    assert _record(d, "a.jpg") == had


def test_after_the_index_was_rebuilt_the_row_lists_every_output_the_manifest_does(daemon_factory):
    """The index deleted and rebuilt from the archive (its rows name no outputs): `--rendition
    proof` listed every output in the manifest (the manifest before named them) but noted
    a_proof.jpg alone in the row; the next `--rendition web` took that row as all a.jpg had,
    and its manifest lost a_thumb.webp and a_proof.jpg (still on disk), as did a copy
    dropped later and `hotfolder duplicates`, told of the outputs the row names."""
    d = daemon_factory(folder_extra='manifest: "{stem}.json"').start()
    _drop(d, "a.jpg", RED, 1)
    assert d.stop() == 0
    for db in (d.var / "state").glob("hotfolder.db*"):
        db.unlink()
    rebuilt = hotfolder("index", "rebuild", "--config", str(d.config))
    assert rebuilt.returncode == 0, rebuilt.stderr
    d.config.write_text(d.config.read_text().rstrip("\n") + "\n" + PROOF)

    proof = hotfolder("rerender", "--rendition", "proof", "--config", str(d.config))
    assert proof.returncode == 0, proof.stderr
    everything = [("web", "a_web.jpg"), ("thumb", "a_thumb.webp"), ("proof", "a_proof.jpg")]
    assert [(o["rendition"], o["path"]) for o in json.loads((d.output / "a.json").read_text())["outputs"]] == everything
    outputs, _, renditions, _ = _record(d, "a.jpg")
    assert outputs == ("a_web.jpg", "a_thumb.webp", "a_proof.jpg") and renditions == "web thumb proof", outputs

    _both_smaller(d)
    web = hotfolder("rerender", "--rendition", "web", "--config", str(d.config))
    assert web.returncode == 0, web.stderr
    assert [(o["rendition"], o["path"]) for o in json.loads((d.output / "a.json").read_text())["outputs"]] == everything
    assert _record(d, "a.jpg")[0] == ("a_web.jpg", "a_thumb.webp", "a_proof.jpg")


def _edged_jpeg() -> bytes:
    """640x480, blue but for red bands at both sides: a centred square crop shows no red."""
    im = Image.new("RGB", (640, 480), BLUE)
    for x0 in (0, 560):
        im.paste(RED, (x0, 0, x0 + 80, 480))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _shows_the_whole_photo(placeholder: str) -> None:
    w, h, pixels = thumbhash.decoded(placeholder)
    assert (w, h) == (32, 23), ("the 4:3 photo's shape, as ThumbHash rounds it", w, h)
    left, middle = pixels[11 * w], pixels[11 * w + w // 2]
    assert left[0] > left[2] + 60 and middle[2] > middle[0] + 60, ("its red sides and blue middle", left, middle)


def test_the_placeholder_is_of_the_photo_s_shape_and_stays_so_when_only_the_thumbnail_is_made_again(daemon_factory):
    """A page shows web (a fit: the photo's 4:3); the placeholder was the square thumb's, the
    smallest, a square crop of the middle. It is web's now, the smallest output in the photo's
    shape; `rerender --rendition thumb` carries it as it was, `--rendition web` makes it anew."""
    d = daemon_factory(folder_extra='manifest: "{stem}.json"').start()
    staged = c.write(d.root / "staging" / "a.jpg", _edged_jpeg())
    staged.rename(d.inbox / "a.jpg")
    wait_for(lambda: len(archived(d)) == 1, 20, what="a.jpg archived")
    assert d.stop() == 0
    was = json.loads((d.output / "a.json").read_text())
    assert was["placeholder_of"] == "a_web.jpg", was
    _shows_the_whole_photo(was["placeholder"])

    _both_smaller(d)
    done = hotfolder("rerender", "--rendition", "thumb", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    now = json.loads((d.output / "a.json").read_text())
    assert now["outputs"][1]["width"] == 48, now
    assert [now[k] for k in ("placeholder", "dominant_color", "placeholder_of")] == [
        was[k] for k in ("placeholder", "dominant_color", "placeholder_of")], "carried, as web is left as it was"

    done = hotfolder("rerender", "--rendition", "web", "--config", str(d.config))
    assert done.returncode == 0, done.stderr
    last = json.loads((d.output / "a.json").read_text())
    assert last["outputs"][0]["width"] == 160 and last["placeholder_of"] == "a_web.jpg", last
    _shows_the_whole_photo(last["placeholder"])
