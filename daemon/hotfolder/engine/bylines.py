"""Who made a photo and whose rights it carries, as the photo says (its creator, credit
line and copyright notice), for names (`{artist}`, `{credit}`, `{copyright}`) and the
manifest a CMS imports: read from XMP (dc:creator,
photoshop:Credit, dc:rights), else IPTC-IIM (2:80 by-line, 2:110 credit, 2:116 copyright
notice), else EXIF (Artist, Copyright; ASCII as cameras write them) — XMP first, as
readers prefer it (the MWG's guidelines). Data: values are clipped, as written (their
line breaks kept, for the outputs' metadata; engine/facts shows them on one line for names:
engine/captions), a packet that cannot be read gives nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from hotfolder.engine import captions, iptc
from hotfolder.engine.errors import DECODE_ERRORS
from hotfolder.engine.xmp import Packet, Property, q
from hotfolder.recipes.facts import XmpFields

CREATOR = Property(q("dc", "creator"), "seq")
CREDIT = Property(q("photoshop", "Credit"), "text")
RIGHTS = Property(q("dc", "rights"), "alt")
IIM = {"creator": (2, 80), "credit": (2, 110), "copyright": (2, 116)}
EXIF = {"creator": 0x013B, "copyright": 0x8298}


@dataclass(frozen=True)
class Bylines:
    creator: str | None = None  # several creators joined by "; "
    credit: str | None = None
    copyright: str | None = None


def read(xmp: bytes | None, iim: iptc.Iim | None, exif: bytes | Image.Exif | None,
         notes: list[str]) -> tuple[XmpFields, Bylines]:
    """The photo's own captions (XMP over IPTC-IIM, engine/captions) and its bylines, its XMP
    packet parsed once for both (names and `when:` read them, engine/facts; so do manifests,
    engine/source_facts). A packet that cannot be read gives neither (and a note)."""
    packet = captions.parsed(xmp, notes)
    own = captions.from_packet(packet) if packet is not None else XmpFields()
    return captions.merged(own, captions.from_iim(iim, notes)), of(packet, iim, exif)


def of(packet: Packet | None, iim: iptc.Iim | None, exif: bytes | Image.Exif | None) -> Bylines:
    layers = (_from_xmp(packet), _from_iim(iim), _from_exif(exif))
    return Bylines(**{key: next((layer[key] for layer in layers if layer.get(key)), None)
                      for key in ("creator", "credit", "copyright")})


def _from_xmp(packet: Packet | None) -> dict[str, str | None]:
    if packet is None:
        return {}
    creators = [c for c in map(captions.clip, captions.texts(packet.find(CREATOR))) if c]
    return {"creator": "; ".join(creators) or None,
            "credit": captions.clip(next(iter(captions.texts(packet.find(CREDIT))), None)),
            "copyright": captions.alt_text(packet.find(RIGHTS))}


def _from_iim(iim: iptc.Iim | None) -> dict[str, str | None]:
    if iim is None:
        return {}
    try:
        sets = iptc.datasets(iim.data)
    except iptc.Malformed:
        return {}
    found = {key: [c for c in (captions.clip(iptc.text(v)) for r, n, v in sets if (r, n) == at) if c]
             for key, at in IIM.items()}
    return {key: "; ".join(values) or None for key, values in found.items()}


def _from_exif(raw: bytes | Image.Exif | None) -> dict[str, str | None]:
    if not raw:
        return {}
    exif = raw if isinstance(raw, Image.Exif) else Image.Exif()
    try:
        if not isinstance(raw, Image.Exif):
            exif.load(raw)
        return {key: captions.clip(value) if isinstance(value := exif.get(tag), str) else None
                for key, tag in EXIF.items()}
    except DECODE_ERRORS:
        return {}
