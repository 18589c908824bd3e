"""IPTC-IIM in JPEG outputs, as a picture desk's CMS reads it (WordPress, older
newsroom systems read IIM's by-line, credit, copyright notice and caption first):
set_metadata's fields written there in UTF-8, and `copyright-only` keeping the source's
rights datasets. Real files, read back with Pillow's IIM reader."""
from __future__ import annotations

import io

from PIL import Image, IptcImagePlugin

from hotfolder.config.model import SetMetadata
from hotfolder.engine import iptc
from hotfolder.recipes.facts import Described
from tests.attack_files import app13
from tests.rendering import R, run

UTF8 = b"\x1b%G"
BYLINE, CREDIT = "Łukasz Żółć/dpa", "© Agence France-Presse"
CAPTION = "Bürgermeister Müller eröffnet die Straße; «Très réussi». Москва 北京"


def wire_photo(path, iim: list[tuple[int, int, bytes]], digest: bool = True):
    Image.new("RGB", (80, 60), (90, 120, 150)).save(path, quality=90, extra=app13(iptc.serialise(iim), digest))
    return path


def iim_of(data: bytes) -> dict:
    return IptcImagePlugin.getiptcinfo(Image.open(io.BytesIO(data))) or {}


def agency_iim() -> list[tuple[int, int, bytes]]:
    return [(1, 90, UTF8), (2, 0, b"\x00\x04"), (2, 80, BYLINE.encode()), (2, 110, CREDIT.encode()),
            (2, 116, "© 2026 dpa".encode()), (2, 120, CAPTION.encode()), (2, 90, "Köln".encode()),
            (2, 25, b"Politik"), (2, 55, b"20261201")]


def test_copyright_only_keeps_the_wire_photo_s_byline_credit_and_copyright_notice_in_iim(tmp_path):
    # A picture desk's audit: an agency photo whose rights are in IIM only (no XMP, as many
    # wire systems send them) lost its byline, credit and copyright under copyright-only,
    # "what a web publisher wants": the output carried no rights at all.
    src = wire_photo(tmp_path / "wire.jpg", agency_iim())
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", metadata="copyright-only"))
    iim = iim_of(out.data)
    assert iim.get((2, 80)) == BYLINE.encode() and iim.get((2, 110)) == CREDIT.encode(), iim
    assert iim.get((2, 116)) == "© 2026 dpa".encode() and iim.get((1, 90)) == UTF8, iim
    assert {(2, 120), (2, 90), (2, 25), (2, 55)}.isdisjoint(iim), iim  # no caption, place, keywords or date


def test_set_metadata_writes_its_fields_into_the_iim_in_utf8(tmp_path):
    # The same audit: set_metadata's credit, byline and caption went to XMP and EXIF (ASCII:
    # "?" for Cyrillic and Chinese) while the IIM datasets were only removed: a CMS reading
    # IIM (WordPress does, then EXIF) found no byline, and a caption of question marks.
    src = wire_photo(tmp_path / "wire.jpg", agency_iim())
    spec = SetMetadata(artist="王小明/新华社", credit="© Agence France-Presse", copyright="© {year} AFP",
                       description="Москва, {title|default(ohne Titel)}", headline="Überschrift")
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", set_metadata=spec))
    sets = iptc.datasets(Image.open(io.BytesIO(out.data)).info["photoshop"][iptc.IIM_RESOURCE])
    found = {(r, n): v for r, n, v in sets}
    assert [(r, n) for r, n, _ in sets].count((2, 80)) == 1  # the new by-line, not beside the old
    assert found[(2, 80)] == "王小明/新华社".encode() and found[(2, 110)] == CREDIT.encode()
    assert found[(2, 120)].decode().startswith("Москва, ") and found[(2, 105)] == "Überschrift".encode()
    assert found[(2, 116)].decode().startswith("© 2") and found[(1, 90)] == UTF8
    assert found[(2, 25)] == b"Politik"  # the rest stays (strip-gps: not the city)
    assert (2, 90) not in found


def test_a_latin_iim_given_set_metadata_becomes_utf8_whole(tmp_path):
    # IIM without an envelope, in Windows-1252 (older agency tools): the new UTF-8 datasets are
    # not put beside it as they are; the envelope says UTF-8 and the old text is converted.
    src = wire_photo(tmp_path / "old.jpg", [(2, 120, "„Zitat“ – 5 €".encode("cp1252")), (2, 25, b"Wirtschaft")],
                     digest=False)
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg",
                        set_metadata=SetMetadata(credit="© Agence France-Presse")))
    iim = iim_of(out.data)
    assert iim.get((1, 90)) == UTF8 and iim.get((2, 120)) == "„Zitat“ – 5 €".encode(), iim
    assert iim.get((2, 110)) == CREDIT.encode(), iim


def test_set_metadata_gives_a_jpeg_without_iim_one_holding_its_fields(tmp_path):
    src = tmp_path / "staff.jpg"
    Image.new("RGB", (80, 60), (90, 120, 150)).save(src, quality=90)
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", metadata="strip-all",
                        set_metadata=SetMetadata(artist=BYLINE, credit=CREDIT)))
    iim = iim_of(out.data)
    assert iim.get((2, 80)) == BYLINE.encode() and iim.get((2, 110)) == CREDIT.encode(), iim
    assert iim.get((1, 90)) == UTF8, iim


def test_set_metadata_keywords_leave_the_iim_every_keyword_not_none(tmp_path):
    # The IIM's keywords were removed for set_metadata's (XMP holds the whole list), so a
    # reader of IIM found no keyword at all: the photo's own and the new are written there.
    src = wire_photo(tmp_path / "wire.jpg", agency_iim())
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg",
                        set_metadata=SetMetadata(keywords=("Köln", "Wahl 2026"))),
                 described=Described({}, None, ("Politik", "Köln")))
    sets = iptc.datasets(Image.open(io.BytesIO(out.data)).info["photoshop"][iptc.IIM_RESOURCE])
    assert [v.decode() for r, n, v in sets if (r, n) == (2, 25)] == ["Politik", "Köln", "Wahl 2026"]


def test_copyright_only_s_iim_keywords_are_its_xmp_s_the_set_ones_only(tmp_path):
    # copyright-only keeps none of the photo's keywords in XMP: its IIM listed them beside the
    # set ones all the same (a reader of IIM and one of XMP saw two lists).
    src = wire_photo(tmp_path / "wire.jpg", agency_iim())
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", metadata="copyright-only",
                        set_metadata=SetMetadata(keywords=("Wahl 2026",))),
                 described=Described({}, None, ("Politik", "Köln")))
    sets = iptc.datasets(Image.open(io.BytesIO(out.data)).info["photoshop"][iptc.IIM_RESOURCE])
    assert [v.decode() for r, n, v in sets if (r, n) == (2, 25)] == ["Wahl 2026"]


def _xmp_values(im: Image.Image) -> dict[str, list[str]]:
    import xml.etree.ElementTree as ET

    data = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or b""
    if not data:
        return {}
    root = ET.fromstring(data if isinstance(data, bytes) else data.encode())
    li = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li"
    found: dict[str, list[str]] = {}
    for el in root.iter():
        name = el.tag.rsplit("}", 1)[-1]
        if name in ("creator", "rights", "title", "description", "subject", "Credit", "Headline", "City"):
            found[name] = [i.text or "" for i in el.iter(li)] or [el.text or ""]
    return found


def test_a_wire_photo_s_iim_reaches_a_webp_s_xmp(tmp_path):
    # A picture desk's audit: the README says WebP, PNG and AVIF carry IIM's fields in XMP;
    # an agency photo with its caption and credits in IIM only came out of WebP with none of
    # them: no byline, no credit, no caption. XMP's own values stay first.
    src = wire_photo(tmp_path / "wire.jpg", agency_iim())
    (webp,) = run(src, R(operation="fit", width=40, height=40, format="webp"))
    xmp = _xmp_values(Image.open(io.BytesIO(webp.data)))
    assert xmp.get("creator") == [BYLINE] and xmp.get("Credit") == [CREDIT], xmp
    assert xmp.get("rights") == ["© 2026 dpa"] and xmp.get("description") == [CAPTION], xmp
    assert xmp.get("subject") == ["Politik"] and "City" not in xmp, xmp  # strip-gps: no place
    (rights,) = run(src, R(operation="fit", width=40, height=40, format="webp", metadata="copyright-only"))
    xmp = _xmp_values(Image.open(io.BytesIO(rights.data)))
    assert set(xmp) == {"creator", "Credit", "rights"}, xmp


def test_a_tiff_s_iim_is_read_as_a_jpeg_s(tmp_path):
    # A picture desk's audit: print-archive scans are TIFFs with their caption and credits in
    # IPTC-IIM (TIFF tag 33723, as Photoshop and scanning software write it): not read, so
    # names, the manifest and the outputs had none of it.
    from PIL import TiffImagePlugin

    from hotfolder.engine import facts
    from hotfolder.recipes.facts import Need

    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[33723], tags.tagtype[33723] = iptc.serialise(agency_iim()), 7
    src = tmp_path / "scan.tif"
    Image.new("RGB", (80, 60), (90, 120, 150)).save(src, tiffinfo=tags)
    photo = facts.read(src, Need(xmp=True), accepted_formats=("tiff",), max_image_pixels=10**8)
    assert (photo.description, photo.artist, photo.credit) == (CAPTION, BYLINE, CREDIT)
    (jpeg, webp) = run(src, R(name="j", operation="fit", width=40, height=40, format="jpeg"),
                       R(name="w", operation="fit", width=40, height=40, format="webp"))
    iim = iim_of(jpeg.data)
    assert iim.get((2, 80)) == BYLINE.encode() and iim.get((2, 120)) == CAPTION.encode(), iim
    assert (2, 90) not in iim  # strip-gps: no city
    assert _xmp_values(Image.open(io.BytesIO(webp.data))).get("creator") == [BYLINE]


def test_what_set_metadata_writes_into_iim_is_cut_to_the_standard_s_limits_at_a_character(tmp_path):
    # A review: set_metadata's values went into IIM whole, past IPTC-IIM 4.2's limits (by-line
    # 32 bytes, copyright notice 128, caption 2000, keywords 64 each): exiftool reads them, but
    # newsroom systems refuse the file or cut the value mid-character. Each is cut at a
    # character that fits whole (never half a UTF-8 letter, nor a letter without its accent),
    # XMP keeps the whole text, and one note per output says which fields and to what.
    byline = "Łukasz Żółć-Brzęczyszczykłowski/dpa"  # 42 bytes: byte 32 falls inside 'ł'
    caption = "Demonstranten vor dem Rathaus. " * 70 + "Foto: Łukasz Żółć/dpa"  # ~2200 bytes
    keyword = "Bundestagswahl " + "e\u0301" * 30  # decomposed é: byte 64 between 'e' and its accent
    src = wire_photo(tmp_path / "wire.jpg", agency_iim())
    spec = SetMetadata(artist=byline, description=caption, keywords=(keyword,), credit="dpa")
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", set_metadata=spec))
    sets = iptc.datasets(Image.open(io.BytesIO(out.data)).info["photoshop"][iptc.IIM_RESOURCE])
    found = {(r, n): v.decode() for r, n, v in sets if (r, n) != (2, 25)}  # UTF-8 whole: decode() is strict
    words = [v.decode() for r, n, v in sets if (r, n) == (2, 25)]
    assert found[(2, 80)] == "Łukasz Żółć-Brzęczyszczyk"  # 31 bytes: the 'ł' does not fit whole
    assert len(found[(2, 120)].encode()) <= 2000 and caption.startswith(found[(2, 120)])
    assert len(found[(2, 120)].encode()) > 1990 and found[(2, 110)] == "dpa"
    assert words[-1] == "Bundestagswahl " + "e\u0301" * 16  # 63 bytes: the next 'e' without its accent, no
    assert iptc.fitting("Fans 👨\u200d👩\u200d👧 jubeln", 18) == "Fans"  # nor a family emoji cut to a man
    xmp = _xmp_values(Image.open(io.BytesIO(out.data)))
    assert xmp["creator"] == [byline] and xmp["description"] == [caption] and keyword in xmp["subject"]
    (note,) = [n for n in out.notes if "IPTC-IIM" in n]
    assert "By-line (2:80) 32 bytes" in note and "Caption/Abstract (2:120) 2000 bytes" in note, note
    assert "Keywords (2:25) 64 bytes" in note and "Credit" not in note, note


def test_a_value_within_the_limits_is_written_whole_and_said_nothing_of(tmp_path):
    src = wire_photo(tmp_path / "wire.jpg", agency_iim())
    spec = SetMetadata(artist="Łukasz Żółć-Brzęczyszc/dpa", description="x" * 2000)  # 32 and 2000 bytes
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", set_metadata=spec))
    iim = iim_of(out.data)
    assert iim[(2, 80)] == "Łukasz Żółć-Brzęczyszc/dpa".encode() and iim[(2, 120)] == b"x" * 2000
    assert not [n for n in out.notes if "IPTC-IIM" in n], out.notes


def test_the_source_s_own_iim_past_the_limits_is_carried_as_it_came(tmp_path):
    # The agency's datasets are its words, not ours: kept whole (an IIM-only wire photo's JPEG
    # outputs have no XMP copy of them, so a cut would lose the rest for good).
    long_caption = ("Ein langer Agenturtext. " * 100).strip().encode()
    src = wire_photo(tmp_path / "wire.jpg", [(1, 90, UTF8), (2, 80, ("Ł" * 30).encode()), (2, 120, long_caption)])
    out = run(src, R(operation="fit", width=40, height=40, format="jpeg", metadata="keep"),
              R(name="s", operation="fit", width=40, height=40, format="jpeg",
                set_metadata=SetMetadata(credit="dpa")))
    for each in out:
        iim = iim_of(each.data)
        assert iim[(2, 80)] == ("Ł" * 30).encode() and iim[(2, 120)] == long_caption, iim
        assert not [n for n in each.notes if "IPTC-IIM" in n], each.notes


def test_an_xmp_sidecar_s_caption_title_and_headline_take_their_place_in_the_iim():
    """A Lightroom sidecar's caption removed the source's IIM caption (never two that
    contradict) but wrote nothing in its place: an IIM reader of the JPEG (a newsroom CMS,
    WordPress) found no caption, title or headline at all (a review). The sidecar's words are
    written there now, as its XMP has them; set_metadata's, when it sets one, come over them."""
    from hotfolder.recipes.facts import XmpFields

    source = iptc.Iim(iptc.serialise(agency_iim()), False)
    sidecar = XmpFields(title="Eröffnung", description="Neue Brücke\n\nFoto: dpa", headline="Brücke offen",
                        keywords=("Köln",))
    notes: list[str] = []
    segment = iptc.output_segment(source, True, None, notes, sidecar, keywords=("Köln",))
    data = segment[segment.index(b"8BIM") + 12:]  # past the resource's header (type, id, name, length)
    found = {(r, n): v for r, n, v in iptc.datasets(data)}
    assert (found[(2, 5)], found[(2, 120)], found[(2, 105)]) == (
        "Eröffnung".encode(), "Neue Brücke\n\nFoto: dpa".encode(), "Brücke offen".encode())
    assert found[(2, 80)] == BYLINE.encode(), "the source's byline, which the sidecar does not set, stays"
    assert (2, 90) not in found, "strip-gps: the city is still left out"
    credits = SetMetadata(headline="Set by the desk")
    segment = iptc.output_segment(source, True, credits, notes, sidecar, keywords=("Köln",))
    found = {(r, n): v for r, n, v in iptc.datasets(segment[segment.index(b"8BIM") + 12:])}
    assert found[(2, 105)] == b"Set by the desk" and found[(2, 120)] == "Neue Brücke\n\nFoto: dpa".encode()


def test_an_xmp_sidecar_s_caption_replaces_the_camera_s_words_in_exif(tmp_path):
    """A studio's week with real photos: a Konica Minolta frame (EXIF ImageDescription "KONICA
    MINOLTA DIGITAL CAMERA", as Olympus, Minolta and some phones write) with a Lightroom
    sidecar's caption: its output's XMP and IIM said the caption, its EXIF still the camera's
    words, which readers of EXIF (Windows' Properties, many galleries) showed as the caption."""
    from hotfolder.recipes.facts import XmpFields

    src = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[0x010E], exif[0x010F] = "OLYMPUS DIGITAL CAMERA", "OLYMPUS IMAGING CORP."
    Image.new("RGB", (80, 60), (90, 120, 150)).save(src, quality=90, exif=exif.tobytes())
    for policy in ("keep", "strip-gps"):
        (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", metadata=policy),
                     described=Described(sidecar=XmpFields(description="Moss and bark.\nBürgerpark")))
        written = Image.open(io.BytesIO(out.data)).getexif()
        assert written[0x010E] == "Moss and bark.\nBurgerpark", written  # EXIF is ASCII: the accent dropped
        assert written[0x010F] == "OLYMPUS IMAGING CORP.", "the rest of the EXIF stays"
        assert iim_of(out.data)[(2, 120)] == "Moss and bark.\nBürgerpark".encode()
    # a caption with no ASCII spelling: the camera's words are left out, not kept beside it
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", metadata="keep"),
                 described=Described(sidecar=XmpFields(description="Москва")))
    assert 0x010E not in Image.open(io.BytesIO(out.data)).getexif()
    # set_metadata's description still comes over the sidecar's
    (out,) = run(src, R(operation="fit", width=40, height=40, format="jpeg", metadata="keep",
                        set_metadata=SetMetadata(description="Set by the desk")),
                 described=Described(sidecar=XmpFields(description="Moss and bark.")))
    assert Image.open(io.BytesIO(out.data)).getexif()[0x010E] == "Set by the desk"
