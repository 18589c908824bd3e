"""set_metadata and metadata: copyright-only, read back with Pillow (EXIF) and by parsing the XMP."""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from hotfolder.config.model import SetMetadata
from hotfolder.engine import rights
from hotfolder.engine.colour import srgb_icc
from hotfolder.engine.pipeline import GPS_IFD_TAG
from tests.imaging import photo
from tests.rendering import R, opened, render_one

NS = {
    "x": "adobe:ns:meta/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/", "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/", "aux": "http://ns.adobe.com/exif/1.0/aux/",
}
ARTIST, COPYRIGHT, MAKE, MODEL = 0x013B, 0x8298, 0x010F, 0x0110
EXIF_IFD, DATE_ORIGINAL, SERIAL, LENS = 0x8769, 0x9003, 0xA431, 0xA434
# What Lightroom writes, shortened: rights fields as elements and as an attribute, a
# camera serial number, keywords.
SOURCE_XMP = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:aux="http://ns.adobe.com/exif/1.0/aux/"
    photoshop:Credit="Source Agency" aux:SerialNumber="0123456789">
   <dc:rights><rdf:Alt>
    <rdf:li xml:lang="x-default">Source rights</rdf:li><rdf:li xml:lang="de">Quellrechte</rdf:li></rdf:Alt></dc:rights>
   <dc:creator><rdf:Seq><rdf:li>Source Artist</rdf:li></rdf:Seq></dc:creator>
   <dc:subject><rdf:Bag><rdf:li>harbour</rdf:li></rdf:Bag></dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
SIGNED = SetMetadata(artist="Zoë Ångström", copyright="© {year} Zoë Ångström — {folder}",
                     credit="Studio Ø", usage_terms="Web use only; © required")


@pytest.fixture
def camera_jpeg(tmp_path) -> Path:
    """A photo as a camera and Lightroom leave it: make, model, serial, lens, date, GPS, XMP."""
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[ARTIST] = "Canon", "EOS R5", "Source Artist"
    exif[COPYRIGHT] = "Source copyright"
    sub = exif.get_ifd(EXIF_IFD)
    sub[DATE_ORIGINAL], sub[SERIAL], sub[LENS] = "2019:05:01 10:00:00", "SN4242", "RF24-70mm F2.8 L"
    gps = exif.get_ifd(GPS_IFD_TAG)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    path = tmp_path / "IMG_0001.jpg"
    photo((600, 400)).save(path, quality=90, exif=exif, xmp=SOURCE_XMP, icc_profile=SRGB_ICC)
    return path


def one(src: Path, fmt: str = "jpeg", folder: str = "shop", **fields) -> tuple[Image.Image, tuple[str, ...]]:
    out = render_one(src, R(operation="fit", width=300, height=300, format=fmt, **fields), folder=folder)
    return opened(out), out.notes


def xmp_of(im: Image.Image) -> ET.Element | None:
    data = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if data is None:
        return None
    return ET.fromstring(data.encode("utf-8") if isinstance(data, str) else data.strip(b"\0 \n"))


def values(root: ET.Element, prop: str) -> list[str]:
    """Every value the packet holds for `prop` (elements' list items and attributes)."""
    prefix, name = prop.split(":")
    tag = f"{{{NS[prefix]}}}{name}"
    found = []
    for desc in root.iter(f"{{{NS['rdf']}}}Description"):
        if tag in desc.attrib:
            found.append(desc.attrib[tag])
        for element in desc.findall(tag):
            items = element.findall(f".//{{{NS['rdf']}}}li")
            found += [li.text for li in items] if items else [element.text]
    return found


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif", "png"])
def test_set_metadata_is_written_into_exif_and_xmp_of_every_format(camera_jpeg, fmt):
    im, notes = one(camera_jpeg, fmt, set_metadata=SIGNED)
    exif = im.getexif()
    assert exif[ARTIST] == "Zoe Angstrom"
    assert exif[COPYRIGHT] == "(c) 2019 Zoe Angstrom - shop"  # ASCII: (c), no accents, a plain dash
    root = xmp_of(im)
    assert values(root, "dc:creator") == ["Zoë Ångström"]
    assert values(root, "dc:rights") == ["© 2019 Zoë Ångström — shop"]  # the exact text
    assert values(root, "photoshop:Credit") == ["Studio Ø"]
    assert values(root, "xmpRights:UsageTerms") == ["Web use only; © required"]
    assert notes == ()


def test_the_source_xmp_is_edited_not_duplicated(camera_jpeg):
    im, _ = one(camera_jpeg, set_metadata=SetMetadata(copyright="© Studio", credit="Studio"), metadata="keep")
    root = xmp_of(im)
    assert values(root, "dc:rights") == ["© Studio"]  # the x-default and the German one replaced by one value
    assert values(root, "photoshop:Credit") == ["Studio"]  # was an attribute: not kept beside the new one
    assert values(root, "dc:creator") == ["Source Artist"]  # not set here: the source's stays
    assert values(root, "dc:subject") == ["harbour"] and values(root, "aux:SerialNumber") == ["0123456789"]
    assert root.tag == "{adobe:ns:meta/}xmpmeta" and len(root.findall(f"{{{NS['rdf']}}}RDF")) == 1
    raw = im.info["xmp"]
    assert raw.startswith(b"<?xpacket begin=") and raw.rstrip().endswith(b"<?xpacket end=\"w\"?>")
    assert b"<dc:rights>" in raw and b"aux:SerialNumber" in raw  # the source's prefixes kept
    exif = im.getexif()
    assert exif[ARTIST] == "Source Artist" and exif[COPYRIGHT] == "(c) Studio" and exif[MAKE] == "Canon"


def test_an_xmp_packet_that_cannot_be_parsed_is_replaced_and_said_so(tmp_path):
    src = tmp_path / "broken.jpg"
    photo((300, 200)).save(src, xmp=b"<x:xmpmeta><rdf:RDF><rdf:Description>unclosed")
    im, notes = one(src, set_metadata=SetMetadata(artist="Ann"), metadata="keep")
    assert values(xmp_of(im), "dc:creator") == ["Ann"]
    assert len(notes) == 1 and "cannot be read" in notes[0] and "replaced" in notes[0]


def test_copyright_only_leaves_no_camera_lens_gps_dates_or_serial_numbers(camera_jpeg):
    im, _ = one(camera_jpeg, metadata="copyright-only")
    exif = im.getexif()
    assert dict(exif) == {ARTIST: "Source Artist", COPYRIGHT: "Source copyright"}
    assert not exif.get_ifd(EXIF_IFD) and not exif.get_ifd(GPS_IFD_TAG)
    root = xmp_of(im)
    assert values(root, "dc:creator") == ["Source Artist"] and values(root, "photoshop:Credit") == ["Source Agency"]
    assert sorted(values(root, "dc:rights")) == ["Quellrechte", "Source rights"]  # kept whole
    assert values(root, "aux:SerialNumber") == [] and values(root, "dc:subject") == []
    assert im.info["icc_profile"] == srgb_icc()  # the source's sRGB, as the compact one (color_profile: srgb)


def test_copyright_only_with_set_metadata_keeps_only_the_rights_fields_signed_over(camera_jpeg):
    im, _ = one(camera_jpeg, "webp", metadata="copyright-only", set_metadata=SetMetadata(artist="Ann"))
    assert dict(im.getexif()) == {ARTIST: "Ann", COPYRIGHT: "Source copyright"}
    root = xmp_of(im)
    assert values(root, "dc:creator") == ["Ann"] and values(root, "aux:SerialNumber") == []


def test_copyright_only_keeps_the_orientation_of_an_output_left_sideways(tmp_path):
    exif = Image.Exif()
    exif[0x0112], exif[MAKE] = 6, "Canon"
    src = tmp_path / "side.jpg"
    photo((300, 200)).save(src, exif=exif)
    im, _ = one(src, metadata="copyright-only", orient=False)
    assert dict(im.getexif()) == {0x0112: 6}
    upright, _ = one(src, metadata="copyright-only")
    assert dict(upright.getexif()) == {} and xmp_of(upright) is None  # nothing to keep: nothing written


def test_strip_all_with_set_metadata_writes_only_the_fields_set(camera_jpeg):
    im, _ = one(camera_jpeg, "png", metadata="strip-all", set_metadata=SetMetadata(copyright="© Ann"))
    assert dict(im.getexif()) == {COPYRIGHT: "(c) Ann"}
    assert values(xmp_of(im), "dc:rights") == ["© Ann"] and values(xmp_of(im), "dc:creator") == []


def test_year_is_when_the_photo_was_taken_or_else_this_year(tmp_path, camera_jpeg):
    spec = SetMetadata(copyright="{year} {folder}")
    assert rights.credits_for(spec, Image.open(camera_jpeg).getexif().tobytes(), "shop").copyright == "2019 shop"
    plain = tmp_path / "plain.jpg"
    photo((100, 100)).save(plain)
    im, _ = one(plain, set_metadata=spec, folder="photos")
    assert values(xmp_of(im), "dc:rights") == [f"{dt.date.today().year} photos"]


@pytest.mark.parametrize("text, spelt", [
    ("© 2026 Ann", "(c) 2026 Ann"), ("Ånne Müller-Lüdenscheidt", "Anne Muller-Ludenscheidt"),
    ("Straße ™ ® ℗", "Strasse (TM) (R) (p)"), ("“Quotes” ‘and’ … – —", "\"Quotes\" 'and' ... - -"),
    ("東京写真", None), ("Москва, Bürgermeister", None), ("plain ASCII", "plain ASCII"),
    ("Köln, 6 May\nPhoto:\tAnn\r\n", "Koln, 6 May\nPhoto:\tAnn\r\n"),  # line breaks and tabs are ASCII
])
def test_exif_text_is_spelt_in_ascii(text, spelt):
    assert rights.ascii_text(text) == spelt


def test_a_field_with_no_ascii_spelling_is_left_out_of_exif_not_written_as_question_marks(camera_jpeg):
    # A picture desk's audit: a caption naming Москва and 北京 was written to EXIF
    # ImageDescription as "?????? ??", and a Chinese byline as "???": what Windows and
    # the readers that look at EXIF showed. Left out there (the source's too: it would
    # contradict), as XMP and IPTC-IIM carry the exact text; what has a spelling is spelt.
    im, _ = one(camera_jpeg, set_metadata=SetMetadata(description="Москва 北京", artist="王小明",
                                                       copyright="© Łukasz Żółć"))
    exif = im.getexif()
    assert rights.DESCRIPTION_TAG not in exif and rights.ARTIST_TAG not in exif, dict(exif)
    assert exif[rights.COPYRIGHT_TAG] == "(c) Lukasz Zolc"
    assert values(xmp_of(im), "dc:description") == ["Москва 北京"] and values(xmp_of(im), "dc:creator") == ["王小明"]


def test_a_caption_of_two_lines_stays_in_exif(camera_jpeg):
    # `description: |` (a YAML block: the caption, then "Foto: {artist}" on a line of its
    # own) was left out of EXIF ImageDescription whole, as if it had Cyrillic in it: its
    # line break is ASCII (before 13abb1e it was written as '?').
    im, _ = one(camera_jpeg, set_metadata=SetMetadata(description="Demo am Dom\nFoto: Ann Smith"))
    assert im.getexif()[rights.DESCRIPTION_TAG] == "Demo am Dom\nFoto: Ann Smith"


@pytest.mark.parametrize("packet", [
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
    b'<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
    b'<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description>&g;</rdf:Description>'
    b'</rdf:RDF></x:xmpmeta>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description>&e;</rdf:Description>'
    b'</rdf:RDF></x:xmpmeta>',
], ids=["entity-expansion", "external-entity"])
def test_a_hostile_xmp_packet_is_refused_and_replaced(tmp_path, packet):
    src = tmp_path / "hostile.jpg"
    photo((200, 100)).save(src, xmp=packet)
    im, notes = one(src, set_metadata=SetMetadata(artist="Ann"), metadata="keep")
    assert values(xmp_of(im), "dc:creator") == ["Ann"] and b"root:" not in im.info["xmp"]
    assert len(notes) == 1 and "cannot be read" in notes[0]


def test_a_keyword_template_of_the_photo_s_keywords_gives_each_of_them_not_one_joined():
    # A picture desk's audit: copyright-only keeps no keyword, so `keywords: "{keywords}"`
    # carried them over as one keyword "Köln, Politik" (the field's text, joined).
    from hotfolder.recipes.filters import Items

    spec = SetMetadata(keywords=("{keywords}", "web", "{keywords|first}"))
    credits = rights.credits_for(spec, b"", "desk", {"keywords": Items(("Köln", "Paris, France"), ", ")})
    assert credits.keywords == ("Köln", "Paris, France", "web", "Köln")
