"""Metadata, with Pillow (the better tool for editing EXIF and XMP): what the source
carries, and what each output keeps of it (`Rendition.metadata`):

  keep       EXIF (Orientation removed once the pixels are upright) + ICC + XMP, and a
             JPEG's IPTC-IIM into JPEG outputs (engine/iptc).
  strip-gps  the same without the location (engine/location): EXIF's GPS IFD, XMP's
             location properties (the rest of the packet kept), IPTC-IIM's location
             datasets. A packet that cannot be parsed is left out (and said).
  strip-all  no EXIF, no XMP, no comment. The ICC profile is kept: dropping it
             changes the colours, which no user wants.
  copyright-only  the source's rights fields only (engine/rights.py) + ICC.
`set_metadata` writes its fields over any of these (engine/rights.py).
A JPEG comment is never copied.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from PIL import Image

from hotfolder.config.model import Rendition, SetMetadata
from hotfolder.engine import captions, formats, iptc, location, orient, rights
from hotfolder.engine.encoders import Embedded
from hotfolder.engine.errors import DECODE_ERRORS, InputError, describe, reraise_unless_input
from hotfolder.engine.xmp import Packet, Unreadable, q
from hotfolder.recipes.facts import Described, XmpFields

GPS_IFD_TAG = 0x8825
# TIFF tags that describe the pixel layout of a TIFF source, not the photo: never copied.
TIFF_STRUCTURE_TAGS = {
    254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320,
    322, 323, 324, 325, 338, 339, 340, 341, 530, 531, 532, 700, 33723, 34377, 34675,
}
XMP_ORIENTATION = re.compile(rb'(tiff:Orientation="|<tiff:Orientation>)\d')


@dataclass(frozen=True)
class Metadata:
    format: str  # config name of the source format: jpeg, png, ...
    orientation: int
    exif: bytes  # raw EXIF ("Exif\0\0" + TIFF), b"" if none
    icc: bytes | None
    xmp: bytes | None
    iim: iptc.Iim | None = None  # a JPEG's IPTC-IIM (engine/iptc)

    def with_icc(self, icc: bytes | None) -> Metadata:
        return self if icc == self.icc else replace(self, icc=icc)


def read_metadata(im: Image.Image) -> Metadata:
    """EXIF, ICC and XMP of the decoded image (after load: PNG may keep eXIf after the pixels)."""
    icc = im.info.get("icc_profile") or None
    xmp = im.info.get("xmp") or None
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    try:
        exif = im.getexif()
        if im.format == "TIFF":
            for tag in TIFF_STRUCTURE_TAGS & set(exif):
                del exif[tag]
        orientation = exif.get(orient.ORIENTATION_TAG, 1)
        raw = exif.tobytes() if len(exif) else b""
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        raise InputError("orient", f"the EXIF data is corrupt: {describe(exc)}") from None
    known = formats.of_pil(im.format)
    return Metadata(format=known.name if known is not None else "png", orientation=orient.valid(orientation),
                    exif=raw, icc=icc, xmp=xmp, iim=iptc.read(im.info.get("photoshop")))


def embedded(fmt: formats.Format, rendition: Rendition, meta: Metadata, credits: SetMetadata | None = None,
             notes: list[str] | None = None, described: Described | None = None) -> Embedded:
    """What one output in `fmt` carries. `credits`: the fields to write (engine/rights.py);
    `described`: an XMP sidecar's fields, written over the source's where the policy keeps
    XMP (`keep`, `strip-gps`), and the photo's own keywords; `notes` gets what the user
    should hear of."""
    icc = meta.icc if fmt.icc else None
    if rendition.metadata == "strip-all" and credits is None:
        return Embedded(icc=icc)
    notes = [] if notes is None else notes
    sidecar = described.sidecar if described is not None and rendition.metadata in ("keep", "strip-gps") else None
    exif, xmp = _output_exif_xmp(rendition, meta, credits, notes, sidecar, described.keywords if described else ())
    iim = None
    if fmt.iptc and meta.iim is not None and rendition.metadata in ("keep", "strip-gps"):
        iim = iptc.output_segment(meta.iim, rendition.metadata == "strip-gps", credits, notes, sidecar) or None
    return Embedded(exif=exif if fmt.exif else b"", xmp=xmp if fmt.xmp else None, icc=icc, iim=iim)


def _output_exif_xmp(rendition: Rendition, meta: Metadata, credits: SetMetadata | None, notes: list[str],
                     sidecar: XmpFields | None, keywords: tuple[str, ...]) -> tuple[bytes, bytes | None]:
    if rendition.metadata == "copyright-only":
        return rights.copyright_only(meta.exif, meta.xmp, rendition, meta.orientation, credits, notes)
    exif = output_exif(meta.exif, rendition)
    xmp = output_xmp(meta.xmp, rendition, meta.orientation, notes)
    if sidecar:
        xmp = _with_sidecar(xmp, sidecar, notes)
    if credits is not None:
        exif, xmp = rights.signed(exif, xmp, credits, notes, keywords)
    return exif, xmp


def _with_sidecar(xmp: bytes | None, sidecar: XmpFields, notes: list[str]) -> bytes:
    """The output's packet with an XMP sidecar's fields over its own (the sidecar is the
    newer word: Lightroom writes there what it was told after the shot)."""
    try:
        packet = Packet.parse(xmp) if xmp else Packet.new()
    except Unreadable as exc:
        notes.append(f"the source's XMP packet cannot be read ({exc}); replaced by the XMP sidecar's fields")
        packet = Packet.new()
    captions.put(packet, sidecar)
    return packet.tobytes()


def output_exif(raw: bytes, rendition: Rendition) -> bytes:
    if not raw or rendition.metadata == "strip-all":
        return b""
    exif = Image.Exif()
    exif.load(raw)
    if rendition.orient:
        exif.pop(orient.ORIENTATION_TAG, None)
    if rendition.metadata == "strip-gps":
        exif.pop(GPS_IFD_TAG, None)
    return exif.tobytes() if len(exif) else b""


def output_xmp(xmp: bytes | None, rendition: Rendition, orientation: int,
               notes: list[str] | None = None) -> bytes | None:
    if not xmp or rendition.metadata == "strip-all":
        return None
    upright = rendition.orient and orientation != 1
    if rendition.metadata == "strip-gps":
        return _without_location(xmp, upright, [] if notes is None else notes)
    return XMP_ORIENTATION.sub(rb"\g<1>1", xmp) if upright else xmp


def _without_location(xmp: bytes, upright: bool, notes: list[str]) -> bytes | None:
    """The packet without its location (engine/location), the rest kept; as it came when
    it holds none. A packet that cannot be parsed cannot be cleaned: it is left out."""
    try:
        packet = Packet.parse(xmp)
    except Unreadable as exc:
        notes.append(f"the source's XMP packet cannot be read ({exc}); left out, since its location "
                     "could not be removed")
        return None
    if not packet.remove_where(location.is_location):
        return XMP_ORIENTATION.sub(rb"\g<1>1", xmp) if upright else xmp
    if upright:
        packet.set_everywhere(q("tiff", "Orientation"), "1")
    return packet.tobytes()
