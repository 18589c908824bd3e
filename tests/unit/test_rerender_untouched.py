"""workers/untouched.spliced: the outputs an original has after `rerender --rendition`, in
the order it had them; the index's row and the manifest both list them so."""
from __future__ import annotations

import os

from hotfolder.jobs import Had
from hotfolder.workers.untouched import listed_before, spliced


def test_a_new_output_takes_its_renditions_place_and_one_never_had_comes_last():
    had = [Had("web", "a_web.jpg", b"w"), Had("thumb", "a_thumb.webp", b"t")]
    assert spliced(had, [("web", "a_web.jpg")]) == [0, had[1]]
    assert spliced(had, [("proof", "a_proof.jpg")]) == [*had, 0]
    # a changed filename: the rendition's old output is replaced in the list (left on disk)
    assert spliced(had, [("thumb", "a_sq.webp"), ("web", "a_web.jpg")]) == [1, 0]


def test_an_output_of_a_rendition_asked_for_that_made_none_now_is_no_longer_listed():
    """Its `when:` no longer takes the original: today's recipe no longer makes it (as after a
    whole rerender); a rendition not asked for is left as it is, listed."""
    had = [Had("web", "a_web.jpg", b"w"), Had("proof", "a_proof.jpg", b"p"), Had("thumb", "a_thumb.webp", b"t")]
    assert spliced(had, [("web", "a_web.jpg")], ["web", "proof"]) == [0, had[2]]
    assert spliced(had, [("web", "a_web.jpg")], ["web"]) == [0, had[1], had[2]]
    assert spliced([Had("", "a_proof.jpg")], [], ["proof"]) == [Had("", "a_proof.jpg")], "its rendition not known"


def test_where_the_row_does_not_say_its_renditions_a_new_output_replaces_one_of_its_name():
    had = [Had("", "a_web.jpg"), Had("", "a_thumb.webp")]
    assert spliced(had, [("thumb", "a_thumb.webp")]) == [had[0], 0]
    assert spliced(had, [("thumb", "a_sq.webp")]) == [*had, 0]


def test_paths_of_a_manifest_before_are_data_never_a_way_out_of_the_output_folder():
    doc = (b'{"outputs": [{"rendition": "thumb", "path": "../../etc/passwd"}, '
           b'{"rendition": "thumb", "path": "/etc/passwd"}, {"rendition": "web", "path": "a_web.jpg"}, '
           b'{"rendition": "thumb", "path": "shoes/a_thumb.webp"}, {"rendition": "gone", "path": "a_x.jpg"}]}')
    assert listed_before(doc, ["web", "thumb"]) == (Had("web", "a_web.jpg"), Had("thumb", "shoes/a_thumb.webp"))
    assert listed_before(b"not json", ["web", "thumb"]) == ()
    assert listed_before(b"[1]", ["web", "thumb"]) == ()


def test_an_untouched_output_over_a_gigabyte_is_described_not_left_out(tmp_path):
    """A print TIFF or PNG left as it is may be over 1 GiB: it was read whole into memory to
    be hashed, and one past that limit was left out of the manifest (as if gone). It is read
    in pieces now: hashed, sized and its header read, whatever its size (a sparse file here)."""
    from PIL import Image

    from hotfolder.workers import provenance
    from hotfolder.workers.untouched import described

    big = tmp_path / "a_print.png"
    Image.new("RGB", (300, 200), (10, 20, 30)).save(big)
    size = (1 << 30) + 4096
    os.truncate(big, size)  # the rest a hole of zeros: past the PNG's end, which its header does not mind
    entry = described(big, Had("print", "a_print.png", b"other bytes"), None, "")
    assert entry is not None, "left out of the manifest"
    assert (entry["width"], entry["height"], entry["bytes"], entry["format"]) == (300, 200, size, "png")
    small = tmp_path / "a_web.png"
    Image.new("RGB", (30, 20)).save(small)
    proof = {"outputs": [{"rendition": "web", "path": "a_web.png", "quality": 80}]}
    digest = provenance.output_hash(small.read_bytes())
    assert described(small, Had("web", "a_web.png", digest), proof, "") == proof["outputs"][0], "proved: carried"


PHOTO = (3000, 2000)


def _out(rendition: str, width: int, height: int, **extra) -> dict:
    return {"rendition": rendition, "path": f"a_{rendition}.jpg", "width": width, "height": height, **extra}


def test_a_smallest_size_two_outputs_share_keeps_the_placeholder():
    """A srcset in JPEG, WebP and AVIF has its smallest size two or three times (w480 and
    w480-webp), and a small original (a 32 px icon, no upscale) every output at its own size.
    `rerender --rendition` of any of them wrote the manifest with placeholder and
    dominant_color null: the smallest was taken to be the first of the tie, and a manifest
    before with a tie was never carried from. One made now of the smallest size gives it;
    else the one before, when every output of that size is the one it described."""
    from hotfolder.workers.untouched import placeholder

    before = {"outputs": [_out("w480", 480, 320), _out("w480-webp", 480, 320, format="webp"), _out("w960", 960, 640)],
              "placeholder": "XGsOLwqc", "dominant_color": "#fab12f"}
    carried = {"placeholder": "XGsOLwqc", "dominant_color": "#fab12f"}
    of_w480 = {**carried, "placeholder_of": "a_w480.jpg"}  # a manifest without the key: its first smallest
    listed = [dict(o) for o in before["outputs"]]
    # w480-webp made again (its quality changed): an output of the smallest size, made now
    assert placeholder(listed, {1}, before, PHOTO) == (True, None)
    # w960 made again: both outputs of the smallest size left as the manifest before described them
    assert placeholder(listed, {2}, before, PHOTO) == (False, of_w480)
    # an AVIF added at the smallest size: made now
    assert placeholder([*listed, _out("w480-avif", 480, 320)], {3}, before, PHOTO) == (True, None)
    # one of the smallest size described anew (edited since): not the one the placeholder was of, maybe
    changed = [listed[0], {**listed[1], "bytes": 1, "quality": None}, listed[2]]
    assert placeholder(changed, {2}, before, PHOTO) == (False, None)
    # a 32 px icon: every output 32x32
    icon = {"outputs": [_out("w480", 32, 32), _out("w960", 32, 32), _out("w1600", 32, 32)], **carried}
    assert placeholder([dict(o) for o in icon["outputs"]], {2}, icon, (32, 32)) == (True, None)
    assert placeholder([dict(o) for o in icon["outputs"]], set(), icon, (32, 32)) == (False, of_w480)


def test_the_placeholder_of_the_photo_s_shape_is_carried_and_a_square_one_before_it_is_not():
    """The placeholder is of the smallest output in the photo's shape (w480), not the square
    thumb: `rerender --rendition thumb` carries it, as `placeholder_of` names it. A manifest
    written before that key was has the thumb's (the smallest of all, then): carried as
    w480's, the page got a square blur-up in a 3:2 box. Null instead, until w480 is made."""
    from hotfolder.workers.untouched import placeholder

    said = {"placeholder": "XGsOLwqc", "dominant_color": "#fab12f"}
    outputs = [_out("w960", 960, 640), _out("thumb", 96, 96), _out("w480", 480, 320)]
    listed = [dict(o) for o in outputs]
    now = {"outputs": outputs, **said, "placeholder_of": "a_w480.jpg"}
    assert placeholder(listed, {1}, now, PHOTO) == (False, {**said, "placeholder_of": "a_w480.jpg"})
    assert placeholder(listed, {2}, now, PHOTO) == (True, None)
    assert placeholder(listed, {1}, {"outputs": outputs, **said}, PHOTO) == (False, None), "the thumb's, before"
    assert placeholder(listed, {1}, {**now, "placeholder_of": "a_thumb.jpg"}, PHOTO) == (False, None)
    # before the key, with no square output: the smallest was in the photo's shape, as now
    srcset = [o for o in outputs if o["rendition"] != "thumb"]
    assert placeholder([dict(o) for o in srcset], {0}, {"outputs": srcset, **said}, PHOTO) == (
        False, {**said, "placeholder_of": "a_w480.jpg"})
