"""A source's IPTC-IIM fields in an output's XMP, for formats that carry no IIM (WebP,
PNG, AVIF, JPEG XL): an agency photo whose byline, credit and caption are in IIM only
came out of WebP with none of them. Each field goes where XMP's own would be (the IPTC
mapping: by-line dc:creator, credit photoshop:Credit, copyright notice dc:rights,
object name dc:title, caption dc:description, headline photoshop:Headline, keywords
dc:subject), only where the packet has none: the XMP's own value is the newer word (the
MWG's guidelines). No place: a JPEG keeps those in its IIM, and `strip-gps` strips them.
"""
from __future__ import annotations

from hotfolder.engine import bylines, captions, iptc
from hotfolder.engine.xmp import Packet, Unreadable
from hotfolder.recipes.facts import XmpFields

RIGHTS = {"creator": bylines.CREATOR, "credit": bylines.CREDIT, "copyright": bylines.RIGHTS}
CAPTIONS = {"title": captions.TITLE, "description": captions.DESCRIPTION, "headline": captions.HEADLINE}


def filled(xmp: bytes | None, iim: iptc.Iim | None, rights_only: bool) -> bytes | None:
    """`xmp` with the IIM's fields it lacks (`rights_only`: the rights ones, copyright-only's);
    as it came when there is nothing to add or it cannot be parsed (it is said elsewhere)."""
    if iim is None:
        return xmp
    said = bylines.of(None, iim, None)
    wanted = {key: (prop, getattr(said, key)) for key, prop in RIGHTS.items()}
    fields = XmpFields() if rights_only else captions.from_iim(iim, [])
    if not rights_only:
        wanted |= {key: (prop, getattr(fields, key)) for key, prop in CAPTIONS.items()}
    try:
        packet = Packet.parse(xmp) if xmp else Packet.new()
    except Unreadable:
        return xmp
    added = False
    for prop, value in wanted.values():
        if value and packet.find(prop) is None:
            packet.put(prop, value)
            added = True
    if fields.keywords and packet.find(captions.SUBJECT) is None:
        captions.put_keywords(packet, fields.keywords)
        added = True
    return packet.tobytes() if added else xmp
