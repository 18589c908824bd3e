"""Captions in the outputs (engine/captions.py, engine/rights.py): set_metadata's title,
description, headline and keywords, an XMP sidecar's fields over the photo's own, and
the IPTC-IIM datasets they replace, read back from real outputs."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from PIL import Image

from hotfolder.config.model import SetMetadata
from hotfolder.engine import iptc
from hotfolder.engine.pipeline import render
from hotfolder.recipes.facts import Described, XmpFields
from tests import sources
from tests.rendering import R

RDF_LI = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li"
DC, XMP, PS = "{http://purl.org/dc/elements/1.1/}", "{http://ns.adobe.com/xap/1.0/}", \
    "{http://ns.adobe.com/photoshop/1.0/}"


def out(src, rendition, described=None) -> Image.Image:
    (o,) = render(src, (rendition,), accepted_formats=("jpeg",), max_image_pixels=10**8, folder="studio",
                  described=described)
    return Image.open(io.BytesIO(o.data))


def texts(im: Image.Image, tag: str) -> list[str]:
    packet = ET.fromstring(im.info["xmp"])
    return [li.text or "" for e in packet.iter(tag) for li in e.iter(RDF_LI)] or \
        [e.text or "" for e in packet.iter(tag)]


def camera_file(tmp_path):
    src = sources.camera_jpeg(tmp_path / "a.jpg", (300, 200), xmp=sources.xmp_packet(
        rating=2, keywords=("harbour",), title="Old title"))
    iim = iptc._app13(iptc.serialise([(2, 25, b"harbour"), (2, 5, b"Old title"), (2, 120, b"Old caption"),
                                      (2, 80, b"Someone")]), False)
    with Image.open(src) as im:
        im.save(src, "JPEG", exif=im.info["exif"], xmp=im.info["xmp"], extra=iim)
    return src


def test_set_metadata_writes_captions_from_templates_over_the_photo_s_own(tmp_path):
    spec = SetMetadata(title="{title|default(Untitled)} #{seq}", description="Shot with {camera}, {folder}",
                       headline="Portfolio", keywords=("studio-select", "{camera}"))
    values = {"title": "First dance", "seq": 42, "camera": "Canon EOS R5"}
    im = out(camera_file(tmp_path), R(width=200, format="jpeg", metadata="keep", set_metadata=spec),
             Described(values, None, ("harbour", "from-sidecar")))
    assert texts(im, f"{DC}title") == ["First dance #42"]
    assert texts(im, f"{DC}description") == ["Shot with Canon EOS R5, studio"]
    assert texts(im, f"{PS}Headline") == ["Portfolio"]
    assert texts(im, f"{DC}subject") == ["harbour", "from-sidecar", "studio-select", "Canon EOS R5"]
    assert im.getexif()[0x010E] == "Shot with Canon EOS R5, studio"
    sets = iptc.datasets(im.info["photoshop"][iptc.IIM_RESOURCE])
    left = {(r, n): v for r, n, v in sets if (r, n) != (2, 25)}
    # object name, caption, headline replaced by the new, keywords by XMP's list: not left to contradict
    assert left == {(1, 90): b"\x1b%G", (2, 80): b"Someone", (2, 5): b"First dance #42",
                    (2, 120): b"Shot with Canon EOS R5, studio", (2, 105): b"Portfolio"}
    assert [v.decode() for r, n, v in sets if (r, n) == (2, 25)] == texts(im, f"{DC}subject")


def test_a_sidecar_s_fields_go_over_the_photo_s_own_where_xmp_is_kept(tmp_path):
    side = XmpFields(rating=5, label="Red", keywords=("portfolio",), title="From Lightroom")
    src = camera_file(tmp_path)
    kept = out(src, R(width=200, format="jpeg", metadata="strip-gps"), Described({}, side, ("harbour", "portfolio")))
    assert texts(kept, f"{XMP}Rating") == ["5"] and texts(kept, f"{XMP}Label") == ["Red"]
    assert texts(kept, f"{DC}title") == ["From Lightroom"]
    assert texts(kept, f"{DC}subject") == ["harbour", "portfolio"]
    stripped = out(src, R(width=200, format="jpeg", metadata="strip-all"), Described({}, side, ()))
    assert "xmp" not in stripped.info  # strip-all: nothing of the sidecar either


def test_a_missing_value_writes_no_field(tmp_path):
    im = out(camera_file(tmp_path), R(width=200, format="jpeg", metadata="strip-all",
                                      set_metadata=SetMetadata(title="{title}", headline="H")),
             Described({"title": None}, None, ()))
    assert texts(im, f"{DC}title") == [] and texts(im, f"{PS}Headline") == ["H"]


def test_a_rating_that_is_no_finite_number_is_no_rating():
    """`inf` and `1e999` raised OverflowError from round(), and the photo failed (an attack
    round's); NaN and words are no rating either."""
    from hotfolder.engine import captions, xmp

    def rated(value: str):
        packet = xmp.Packet.parse(
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="' + value.encode() + b'"/>'
            b'</rdf:RDF></x:xmpmeta>')
        return captions.from_packet(packet).rating

    assert [rated(v) for v in ("inf", "-inf", "1e999", "nan", "five", "4", "4.4", "-1", "6")] == [
        None, None, None, None, None, 4, 4, -1, None]


def test_texts_from_a_name_or_a_caption_are_written_as_xmp_can_hold_them(tmp_path):
    """A file named with bytes that are not UTF-8 (`caf\\xe9.jpg`, which Linux allows) made
    `description: "{stem}"` fail the photo (UnicodeEncodeError), and an IPTC caption's
    control characters, copied by `title: "{title}"`, made the output's XMP unreadable (an
    attack round's findings): bytes that are not UTF-8 are written as `\\xNN`, what XML does
    not allow is left out."""
    import os

    spec = SetMetadata(title="{title}", description="{stem}")
    values = {"title": "Boats\x01\x1b at dawn", "stem": os.fsdecode(b"caf\xe9")}
    im = out(camera_file(tmp_path), R(width=200, format="jpeg", metadata="keep", set_metadata=spec),
             Described(values, None, ()))
    assert texts(im, f"{DC}title") == ["Boats at dawn"]  # ET.fromstring: the packet parses
    assert texts(im, f"{DC}description") == ["caf\\xe9"]
    assert im.getexif()[0x010E] == "caf\\xe9"


def test_iim_text_that_is_not_utf8_is_read_as_windows_1252_as_agency_tools_wrote_it():
    # A picture desk's audit: wire photos whose IIM (no UTF-8 envelope) was written by
    # Windows tools hold cp1252's quotes, dashes and euro sign; read as Latin-1 they became
    # C1 control characters: `„Zitat“` named files `_Zitat_` and captions lost their marks.
    from hotfolder.engine import captions

    caption, title = "„Zitat“ – 5 € für Müller", "Köln"
    iim = iptc.Iim(iptc.serialise([(2, 120, caption.encode("cp1252")), (2, 5, title.encode("cp1252")),
                                   (2, 105, "Łódź".encode())]), False)
    fields = captions.from_iim(iim, [])
    assert (fields.description, fields.title, fields.headline) == (caption, title, "Łódź")
    # a byte cp1252 leaves undefined (0x81) is still read, as Latin-1
    # (a C1 control, as every control character but \t and \n: a space, engine/captions.tidy)
    assert captions.from_iim(iptc.Iim(iptc.serialise([(2, 5, b"a\x81b")]), False), []).title == "a b"


WIRE_CAPTION = "Kanzler Scholz spricht in Berlin, sagte ein Sprecher am Montag.\r\n\r\nFoto: Łukasz Żółć/dpa"
AS_WRITTEN = "Kanzler Scholz spricht in Berlin, sagte ein Sprecher am Montag.\n\nFoto: Łukasz Żółć/dpa"
ONE_LINE = "Kanzler Scholz spricht in Berlin, sagte ein Sprecher am Montag. Foto: Łukasz Żółć/dpa"
NEWS_DESK = """\
folders:
  - inbox: in
    output: out
    archive: archive
    failed: failed
    manifest: "{stem}.json"
    renditions:
      - name: web
        size: {long: 200}
        format: jpeg
        metadata: copyright-only
        filename: "{description}_{stem}.{ext}"
        set_metadata:
          title: "{title}"
          description: "{description}"
      - name: keep
        size: {long: 200}
        format: webp
        metadata: keep
"""


def test_a_wire_caption_s_paragraphs_reach_the_outputs_metadata_as_the_desk_wrote_them(tmp_path):
    # A review: the README's news-desk recipe (`description: "{description}"`) wrote a wire
    # caption of two paragraphs as one line into XMP dc:description, IIM 2:120 and EXIF
    # ImageDescription: its line breaks were made spaces when it was read. They are kept in
    # metadata (\r\n as \n, other control characters out), and are spaces where the caption is
    # shown: file names, explain (and so logs), and where a photo's text is one line.
    import json

    from hotfolder import jobs
    from hotfolder.config import parse
    from hotfolder.engine import facts as reading
    from hotfolder.recipes.explain import shown_fields
    from hotfolder.recipes.facts import Facts, Need
    from hotfolder.spool import moves
    from hotfolder.workers import render
    from tests.attack_files import app13

    cfg = parse(NEWS_DESK, "<test>", tmp_path)
    folder = cfg.folders[0]
    for place in folder.all_dirs():
        place.mkdir(parents=True, exist_ok=True)
    iim = iptc.serialise([(1, 90, b"\x1b%G"), (2, 120, (WIRE_CAPTION + "\x07").encode()),
                          (2, 5, b"Scholz\tin Berlin"), (2, 80, "Łukasz Żółć/dpa".encode())])
    Image.new("RGB", (300, 200), (90, 120, 150)).save(folder.inbox / "wire.jpg", quality=90, extra=app13(iim))
    photo = reading.read(folder.inbox / "wire.jpg", Need(xmp=True), accepted_formats=("jpeg",),
                         max_image_pixels=10**8)
    assert photo.description == ONE_LINE and photo.title == "Scholz in Berlin"  # for names, when:, explain
    assert dict(shown_fields(Facts("wire.jpg", photo=photo)))["description"] == ONE_LINE

    claimed = moves.claim(folder, folder.inbox / "wire.jpg")
    result = render.process_one(jobs.Job(1, folder, claimed.path, claimed.rel, cfg.accepted_formats,
                                         cfg.max_image_pixels))
    assert result.ok, result
    # a name: one line, no newline; `Foto:`'s colon, which Windows refuses, as `_` (templates.portable)
    web = folder.output / (ONE_LINE.replace("/", "_").replace(":", "_") + "_wire.jpg")
    assert sorted(p.name for p in folder.output.iterdir()) == sorted([web.name, "wire_keep.webp", "wire.json"])
    with Image.open(web) as im:
        assert texts(im, f"{DC}description") == [AS_WRITTEN]
        assert texts(im, f"{DC}title") == ["Scholz\tin Berlin"]
        assert im.getexif()[0x010E] == AS_WRITTEN.replace("Łukasz Żółć", "Lukasz Zolc")  # EXIF's ASCII
        found = {(r, n): v for r, n, v in iptc.datasets(im.info["photoshop"][iptc.IIM_RESOURCE])}
    assert found[(2, 120)] == AS_WRITTEN.encode() and found[(2, 5)] == b"Scholz\tin Berlin"
    with Image.open(folder.output / "wire_keep.webp") as im:  # the IIM's caption in a WebP's XMP
        assert texts(im, f"{DC}description") == [AS_WRITTEN]
    # The manifest's caption keeps its paragraphs as the outputs carry them (see workers/manifest.py)
    source = json.loads((folder.output / "wire.json").read_text())["source"]
    assert source["caption"] == AS_WRITTEN and source["title"] == "Scholz in Berlin"


def test_a_caption_read_from_xmp_keeps_its_line_breaks_and_loses_other_controls():
    from hotfolder.engine import captions, xmp

    packet = xmp.Packet.new()
    packet.put(captions.DESCRIPTION, " Erster Absatz.\r\rZweiter\u2028Absatz.\x01\n")
    packet.put(captions.HEADLINE, "Eine\r\nZeile")
    packet.put(captions.SUBJECT, "a\nkeyword")
    fields = captions.from_packet(xmp.Packet.parse(packet.tobytes()))
    assert fields.description == "Erster Absatz.\n\nZweiter\nAbsatz."
    assert fields.headline == "Eine\nZeile" and fields.keywords == ("a keyword",)  # a keyword is one line
