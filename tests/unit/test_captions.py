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
    assert captions.from_iim(iptc.Iim(iptc.serialise([(2, 5, b"a\x81b")]), False), []).title == "a\x81b"
