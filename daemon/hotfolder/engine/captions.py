"""The descriptive fields of a photo (rating, label, keywords, title, description,
headline): read from an XMP packet (the file's, a sidecar's) and from IPTC-IIM, and
written into an output's XMP (a sidecar's fields, set_metadata's captions).

Where each lives (the IPTC Photo Metadata mapping, as Lightroom and exiftool write it):

  rating       xmp:Rating                        —
  label        xmp:Label                         —
  keywords     dc:subject (rdf:Bag)              IIM 2:25 (one dataset each)
  title        dc:title (rdf:Alt, x-default)     IIM 2:05 object name
  description  dc:description (rdf:Alt)          IIM 2:120 caption/abstract
  headline     photoshop:Headline                IIM 2:105

A packet is data: parsed by engine/xmp (no DTD, no entity), values read as text,
each at most MAX_TEXT characters, at most MAX_KEYWORDS keywords. A text is read as
written (`clip`): its line breaks kept (a wire caption's paragraphs, which the outputs'
metadata carry: \r\n and \r as \n), tabs kept, any other control character a space; a
keyword and a label are one line (`line`). Where a text is shown on one line (file names,
`when:`, explain, logs: engine/facts gives the photo's fields so) its line breaks are
spaces (`shown`).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hotfolder.engine import iptc
from hotfolder.engine.xmp import LI, XML_LANG, Packet, Property, Unreadable, q
from hotfolder.recipes.facts import XmpFields

RATING = Property(q("xmp", "Rating"), "text")
LABEL = Property(q("xmp", "Label"), "text")
SUBJECT = Property(q("dc", "subject"), "bag")
TITLE = Property(q("dc", "title"), "alt")
DESCRIPTION = Property(q("dc", "description"), "alt")
HEADLINE = Property(q("photoshop", "Headline"), "text")
IIM_DATASETS = {"keywords": (2, 25), "title": (2, 5), "description": (2, 120), "headline": (2, 105)}
MAX_TEXT = 2000  # characters a value keeps (IIM's caption allows 2000 bytes; a sidecar is data)
MAX_KEYWORDS = 500


LINE_BREAK = re.compile("\r\n|[\r\u2028\u2029]")  # Photoshop writes IIM's as \r; U+2028/9 are line and paragraph
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # every C0 and C1 control but \t and \n (and DEL)


def tidy(text: str) -> str:
    """`text` as metadata holds it: each line break as \n, tabs kept, any other control
    character a space (never two words glued), no spaces or blank lines around it."""
    return CONTROL.sub(" ", LINE_BREAK.sub("\n", text)).strip()


def _clip(text: str | None) -> str | None:
    """A text as written (`tidy`), at most MAX_TEXT characters: what the outputs' metadata carry."""
    if text is None:
        return None
    return tidy(text)[:MAX_TEXT].rstrip() or None


def shown(text: str | None) -> str | None:
    """A text on one line, as names, `when:`, explain and logs show it: each run of spaces,
    tabs and line breaks one space (a name never holds a newline)."""
    if text is None:
        return None
    return " ".join(text.split()) or None


def _line(text: str | None) -> str | None:
    """A text that is one line whatever it holds (a keyword, a label): its line breaks and tabs one space."""
    if text is None:
        return None
    return " ".join(text.split())[:MAX_TEXT] or None


def _texts(value: ET.Element | str | None) -> list[str]:
    """The values of a property: an attribute's text, an element's text, or its list's items."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    items = value.iter(LI)
    found = [item.text or "" for item in items]
    return found if found else [value.text or ""]


def _alt(value: ET.Element | str | None) -> str | None:
    """A language alternative's x-default (else its first) text."""
    if isinstance(value, ET.Element):
        items = list(value.iter(LI))
        chosen = next((i for i in items if i.get(XML_LANG) == "x-default"), items[0] if items else None)
        if chosen is not None:
            return _clip(chosen.text)
    texts = _texts(value)
    return _clip(texts[0]) if texts else None


# What engine/bylines reads rights fields with, as these are read.
clip, texts, alt_text = _clip, _texts, _alt


def _rating(value: ET.Element | str | None) -> int | None:
    texts = _texts(value)
    try:
        rating = round(float(texts[0].strip())) if texts else None
    except (ValueError, OverflowError):  # not a number, NaN, or inf / 1e999
        return None
    return rating if rating is not None and -1 <= rating <= 5 else None


def keywords_of(values: list[str]) -> tuple[str, ...]:
    """Keywords once each (case aside), in order, blanks dropped."""
    seen: dict[str, str] = {}
    for value in values:
        word = _line(value)
        if word and word.lower() not in seen:
            seen[word.lower()] = word
    return tuple(seen.values())[:MAX_KEYWORDS]


def from_packet(packet: Packet) -> XmpFields:
    return XmpFields(
        rating=_rating(packet.find(RATING)),
        label=_line(next(iter(_texts(packet.find(LABEL))), None)),
        keywords=keywords_of(_texts(packet.find(SUBJECT))),
        title=_alt(packet.find(TITLE)),
        description=_alt(packet.find(DESCRIPTION)),
        headline=_clip(next(iter(_texts(packet.find(HEADLINE))), None)),
    )


def from_xmp(data: bytes | None, notes: list[str], what: str = "the file's XMP packet") -> XmpFields:
    """The fields of a packet; one that cannot be read gives none (and a note)."""
    packet = parsed(data, notes, what)
    return from_packet(packet) if packet is not None else XmpFields()


def parsed(data: bytes | None, notes: list[str], what: str = "the file's XMP packet") -> Packet | None:
    """The packet of `data`; None: none, or one that cannot be read (and a note)."""
    if not data:
        return None
    try:
        return Packet.parse(data)
    except Unreadable as exc:
        notes.append(f"{what} cannot be read ({exc}); its fields are not used")
        return None


def from_iim(iim: iptc.Iim | None, notes: list[str]) -> XmpFields:
    """The fields of a JPEG's IPTC-IIM (UTF-8, else Windows-1252: engine/iptc.text)."""
    if iim is None:
        return XmpFields()
    try:
        sets = iptc.datasets(iim.data)
    except iptc.Malformed as exc:
        notes.append(f"the file's IPTC-IIM cannot be read ({exc}); its fields are not used")
        return XmpFields()
    found: dict[str, list[str]] = {key: [iptc.text(v) for r, n, v in sets if (r, n) == at]
                                   for key, at in IIM_DATASETS.items()}
    return XmpFields(keywords=keywords_of(found["keywords"]),
                     title=_clip(next(iter(found["title"]), None)),
                     description=_clip(next(iter(found["description"]), None)),
                     headline=_clip(next(iter(found["headline"]), None)))


def merged(*layers: XmpFields) -> XmpFields:
    """The first layer's value of each field where it has one (a sidecar's before the
    file's XMP before its IIM); the keywords of all, once each."""
    def first(name: str):
        return next((getattr(layer, name) for layer in layers if getattr(layer, name) is not None), None)

    return XmpFields(rating=first("rating"), label=first("label"), title=first("title"),
                     description=first("description"), headline=first("headline"),
                     keywords=keywords_of([k for layer in layers for k in layer.keywords]))


# --- writing ------------------------------------------------------------------

def put_keywords(packet: Packet, keywords: tuple[str, ...]) -> None:
    """dc:subject as exactly these keywords (an rdf:Bag), wherever the packet held it."""
    packet.remove(SUBJECT)
    if not keywords:
        return
    bag = ET.SubElement(ET.SubElement(packet.description(), SUBJECT.tag), q("rdf", "Bag"))
    for word in keywords:
        ET.SubElement(bag, LI).text = word


def put(packet: Packet, fields: XmpFields) -> None:
    """Each field `fields` has, written over the packet's own; keywords added to its own."""
    if fields.rating is not None:
        packet.put(RATING, str(fields.rating))
    if fields.label is not None:
        packet.put(LABEL, fields.label)
    for prop, value in ((TITLE, fields.title), (DESCRIPTION, fields.description), (HEADLINE, fields.headline)):
        if value is not None:
            packet.put(prop, value)
    if fields.keywords:
        put_keywords(packet, keywords_of([*_texts(packet.find(SUBJECT)), *fields.keywords]))
