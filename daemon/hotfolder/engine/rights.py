"""Copyright, credit and captions in the outputs: `set_metadata` and `metadata: copyright-only`.

Each field goes where readers look for it (the IPTC Photo Metadata mapping, as
exiftool and Lightroom write it):

  artist       EXIF Artist (0x013B)      XMP dc:creator (rdf:Seq)
  copyright    EXIF Copyright (0x8298)   XMP dc:rights (rdf:Alt, x-default)
  credit       —                         XMP photoshop:Credit ("Credit Line")
  usage_terms  —                         XMP xmpRights:UsageTerms (rdf:Alt, x-default)
  title        —                         XMP dc:title (rdf:Alt, x-default)
  description  EXIF ImageDescription     XMP dc:description (rdf:Alt, x-default)
  headline     —                         XMP photoshop:Headline
  keywords     —                         XMP dc:subject (rdf:Bag), added to the photo's own

and in a JPEG's IPTC-IIM (engine/iptc.WRITTEN_AS) all but usage terms; keywords as XMP lists them.

Each is a template (recipes/templates.py), filled in here with the values the worker
gives (`credits_for`).

EXIF's Artist and Copyright are ASCII: `©` is spelt `(c)`, accents are dropped; a text
with a character that has no ASCII spelling (Cyrillic, Chinese) is left out of EXIF
rather than written with `?` for it (Windows showed a caption "?????? ??"); XMP and a
JPEG's IPTC-IIM carry the exact text. A field set here replaces the source's value in both places; the
source's other XMP stays as it was. `copyright-only` keeps of the source only the four
rights fields (and the ICC profile, and the orientation tag of an output left sideways by
`orient: false`): no camera, lens, GPS, dates or serial numbers.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Mapping

from PIL import Image

from hotfolder.config.model import SET_METADATA_KEYS, Rendition, SetMetadata
from hotfolder.engine import captions, iptc, orient, taken, xmp
from hotfolder.engine.xmp import Packet, Property, Unreadable, q
from hotfolder.recipes import templates
from hotfolder.recipes.facts import XmpFields
from hotfolder.recipes.filters import Items

ARTIST_TAG, COPYRIGHT_TAG, DESCRIPTION_TAG = 0x013B, 0x8298, 0x010E
EXIF_TAGS = {"artist": ARTIST_TAG, "copyright": COPYRIGHT_TAG, "description": DESCRIPTION_TAG}
RIGHTS_TAGS = (ARTIST_TAG, COPYRIGHT_TAG)  # what copyright-only keeps of the source's EXIF
RIGHTS_PROPERTIES = {
    "artist": Property(q("dc", "creator"), "seq"),
    "copyright": Property(q("dc", "rights"), "alt"),
    "credit": Property(q("photoshop", "Credit"), "text"),
    "usage_terms": Property(q("xmpRights", "UsageTerms"), "alt"),
}
XMP_PROPERTIES = {**RIGHTS_PROPERTIES, "title": captions.TITLE, "description": captions.DESCRIPTION,
                  "headline": captions.HEADLINE}

# What NFKD does not take apart; the rest loses its accents.
ASCII_SPELLING = {
    "©": "(c)", "℗": "(p)", "®": "(R)", "™": "(TM)", "–": "-", "—": "-", "‐": "-", "−": "-",
    "‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "…": "...",
    "\u00a0": " ", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "€": "EUR",
}


def credits_for(spec: SetMetadata | None, exif: bytes, folder: str,
                values: Mapping[str, object] | None = None, xmp_data: bytes | None = None,
                iim: iptc.Iim | None = None) -> SetMetadata | None:
    """The fields of one output: `spec`'s templates filled in with `values` (the worker's:
    the photo's fields as it writes them, line breaks kept, `{seq}`, …), `{year}` (the year
    the photo was taken, from its EXIF, XMP or IIM: engine/taken; else this year) and
    `{folder}`. A field whose template gives nothing (a missing value) is not written. Line
    breaks are kept (\r\n as \n), other control characters left out (XML's) or made
    spaces: XMP, IIM and EXIF hold a caption's paragraphs."""
    if spec is None:
        return None
    given = {"folder": folder, **(values or {}), "year": taken.year_of(exif, xmp_data, iim) or dt.date.today().year}

    def filled(text: str) -> str | None:  # line breaks kept (a caption's paragraphs), as \n
        return captions.tidy(xmp.writable(templates.fill(templates.parsed(text, templates.METADATA_FIELDS),
                                                         given))) or None

    keywords = tuple(word for text in spec.keywords for given_word in _each(text, given, filled)
                     if (word := captions.shown(given_word)))  # a keyword is one line
    return SetMetadata(**{key: filled(text) for key, text in fields(spec)}, keywords=keywords)


def _each(text: str, given: Mapping[str, object], filled: Callable[[str], str | None]) -> list[str | None]:
    """The keywords one keyword template gives: `{keywords}` alone is each of the photo's (its
    text joins them: "Köln, Politik" was one keyword), anything else one text."""
    template = templates.parsed(text, templates.METADATA_FIELDS)
    part = template.parts[0] if len(template.parts) == 1 else None
    value = given.get("keywords")
    if isinstance(part, templates.Field) and part.name == "keywords" and not part.filters and not part.spec \
            and isinstance(value, Items):
        return [xmp.writable(word).strip() or None for word in value.items]
    return [filled(text)]


def fields(credits: SetMetadata) -> list[tuple[str, str]]:
    """The text fields that are set, in order (keywords are a list: `credits.keywords`)."""
    return [(key, getattr(credits, key)) for key in SET_METADATA_KEYS
            if key != "keywords" and getattr(credits, key) is not None]


def ascii_text(text: str) -> str | None:
    """The nearest ASCII spelling of `text` (for EXIF's ASCII fields), None when a character has none.
    Line breaks and tabs are ASCII: a caption of two lines stays (it was left out whole)."""
    spelt = "".join(ASCII_SPELLING.get(c, c) for c in text)
    plain = "".join(c for c in unicodedata.normalize("NFKD", spelt) if not unicodedata.combining(c))
    return plain if all(32 <= ord(c) < 127 or c in "\t\n\r" for c in plain) else None


def signed(exif: bytes, xmp: bytes | None, credits: SetMetadata, notes: list[str],
           keywords: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """The output's EXIF and XMP with `credits` written into both, replacing the values
    they held; its keywords added to the packet's own and the photo's (`keywords`: IPTC's,
    a sidecar's). A packet that cannot be read is replaced by one holding the credits
    (said in `notes`)."""
    out = Image.Exif()
    if exif:
        out.load(exif)
    for key, value in fields(credits):
        if key in EXIF_TAGS:
            spelt = ascii_text(value)
            if spelt is None:
                out.pop(EXIF_TAGS[key], None)  # the source's would contradict the XMP
            else:
                out[EXIF_TAGS[key]] = spelt
    packet = _packet_or_new(xmp, notes, "replaced by one holding only set_metadata's fields")
    for key, value in fields(credits):
        packet.put(XMP_PROPERTIES[key], value)
    if credits.keywords:
        captions.put(packet, XmpFields(keywords=(*keywords, *credits.keywords)))
    return out.tobytes(), packet.tobytes()


def described(exif: bytes, caption: str) -> bytes:
    """The output's EXIF with `caption` as its ImageDescription (an XMP sidecar's, which its
    XMP and IIM hold): ASCII, as EXIF is; one with no ASCII spelling removes the source's
    (a camera's "OLYMPUS DIGITAL CAMERA" would contradict the XMP)."""
    out = Image.Exif()
    if exif:
        out.load(exif)
    spelt = ascii_text(caption)
    if spelt is None:
        out.pop(DESCRIPTION_TAG, None)
    else:
        out[DESCRIPTION_TAG] = spelt
    return out.tobytes() if len(out) else b""


def copyright_only(exif: bytes, xmp: bytes | None, rendition: Rendition, orientation: int,
                   credits: SetMetadata | None, notes: list[str]) -> tuple[bytes, bytes | None]:
    """EXIF and XMP holding only the source's rights fields, then `credits` over them."""
    source, out = Image.Exif(), Image.Exif()
    if exif:
        source.load(exif)
    for tag in RIGHTS_TAGS:
        if isinstance(source.get(tag), str) and source[tag].strip():
            out[tag] = source[tag]
    if not rendition.orient and orientation != 1:
        out[orient.ORIENTATION_TAG] = orientation  # the pixels stay as stored: viewers still need to turn them
    kept = Packet.new()
    found = _packet_or_new(xmp, notes, "left out: its rights fields could not be kept") if xmp else None
    for prop in RIGHTS_PROPERTIES.values():
        value = found.find(prop) if found is not None else None
        if value is not None:
            kept.put(prop, value)
    if credits is not None:
        exif_out, xmp_out = signed(out.tobytes() if len(out) else b"", kept.tobytes(), credits, notes)
        return exif_out, xmp_out
    has_rights = any(len(d) or set(d.attrib) - {q("rdf", "about")} for d in kept.descriptions())
    return (out.tobytes() if len(out) else b""), (kept.tobytes() if has_rights else None)


def _packet_or_new(xmp: bytes | None, notes: list[str], what_instead: str) -> Packet:
    if not xmp:
        return Packet.new()
    try:
        return Packet.parse(xmp)
    except Unreadable as exc:
        notes.append(f"the source's XMP packet cannot be read ({exc}); {what_instead}")
        return Packet.new()
