"""Metadata, with Pillow (the better tool for editing EXIF and XMP): what the source
carries, and what each output keeps of it (`Rendition.metadata`):

  keep       EXIF (Orientation removed once the pixels are upright) + ICC + XMP, and a
             JPEG's IPTC-IIM into JPEG outputs (engine/iptc).
  strip-gps  the same without the location (engine/location): EXIF's GPS IFD (and the IIM, XMP and Photoshop
             resources some tools copy into EXIF: EMBEDDED_BLOCKS), XMP's
             location properties (the rest of the packet kept), IPTC-IIM's location
             datasets. A packet that cannot be parsed is left out (and said).
  strip-all  no EXIF, no XMP, no comment. The ICC profile is kept: dropping it
             changes the colours, which no user wants.
  copyright-only  the source's rights fields only (engine/rights.py) + ICC.
`set_metadata` writes its fields over any of these (engine/rights.py).
A JPEG comment is never copied.

An output's EXIF describes the output (`Pixels`): ExifImageWidth/Height its own size,
ColorSpace its colour after a conversion (engine/dcf), and a density that JFIF (or
PNG's pHYs) states too: the source EXIF's X/YResolution and unit, else the density its
own format states (JFIF's, pHYs': a scanner's JPEG has no EXIF), else 72 dpi.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, replace

from PIL import Image

from hotfolder.config.model import Rendition, SetMetadata
from hotfolder.engine import captions, colour, dcf, formats, iim_in_xmp, iptc, location, matrixicc, orient, rights
from hotfolder.engine.encoders import Embedded, jpegmarkers
from hotfolder.engine.errors import DECODE_ERRORS, describe, reraise_unless_input
from hotfolder.engine.xmp import Packet, Unreadable, q
from hotfolder.recipes.facts import Described, XmpFields

GPS_IFD_TAG = 0x8825
# TIFF tags that describe the pixel layout of a TIFF source, not the photo: never copied.
TIFF_STRUCTURE_TAGS = {
    254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320,
    322, 323, 324, 325, 338, 339, 340, 341, 530, 531, 532, 700, 33723, 34377, 34675,
}
# What no output carries, from any source: Photoshop's layered document in a TIFF's IFD0
# (ImageSourceData, 37724: every layer unflattened, hidden and unretouched ones too, often
# megabytes). It was copied into each output's EXIF (a fuzz round: "Photoshop Document
# Data" in a 300 px PNG), and past 64 KB it failed every JPEG output.
NEVER_COPIED = {37724}
# Copies of other metadata some tools keep inside EXIF's IFD0: the IPTC-IIM (IPTC-NAA, where
# a TIFF has it), the XMP (XMLPacket) and Photoshop's resources (IIM and XMP again). strip-gps
# leaves them out: their city and places are not removed there (exiftool read IPTC City and
# XMP photoshop:City from every strip-gps output). The file's own IIM and XMP are kept, cleaned.
EMBEDDED_BLOCKS = {33723, 700, 34377}
XMP_ORIENTATION = re.compile(rb'(tiff:Orientation="|<tiff:Orientation>)\d')
X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT = 0x011A, 0x011B, 0x0128
PER_INCH, PER_CENTIMETRE = 2, 3  # EXIF ResolutionUnit
EXIF_IFD_TAG, PIXEL_WIDTH, PIXEL_HEIGHT = 0x8769, 0xA002, 0xA003  # ExifImageWidth/Height


@dataclass(frozen=True)
class Metadata:
    format: str  # config name of the source format: jpeg, png, ...
    orientation: int
    exif: bytes  # raw EXIF ("Exif\0\0" + TIFF), b"" if none
    icc: bytes | None
    xmp: bytes | None
    iim: iptc.Iim | None = None  # a JPEG's IPTC-IIM (engine/iptc)
    dpi: tuple[float, float] | None = None  # the density stated outside EXIF (JFIF, pHYs), if any
    notes: tuple[str, ...] = ()  # what every output's log should say of the source's metadata

    def with_icc(self, icc: bytes | None) -> Metadata:
        return self if icc == self.icc else replace(self, icc=icc)


def read_exif_early(im: Image.Image) -> None:
    """Read the EXIF's sub-IFDs while the file is open: a TIFF's are read from the file
    itself, which `load` closes (an Interoperability IFD, which cameras write, then failed
    as "the EXIF data is corrupt: seek of closed file"). What fails here fails again, and
    is reported, in `read_metadata`. Other formats' EXIF is in memory (and a PNG's
    `getexif` would decode the pixels to find an eXIf after them)."""
    if im.format != "TIFF":
        return
    try:
        exif = im.getexif()
        for ifd in (EXIF_IFD_TAG, GPS_IFD_TAG, dcf.INTEROP_IFD):
            exif.get_ifd(ifd)
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)


def read_metadata(im: Image.Image) -> Metadata:
    """EXIF, ICC and XMP of the decoded image (after load: PNG may keep eXIf after the pixels).
    An RGB JPEG or TIFF without a profile whose EXIF says Adobe RGB (a camera's, engine/dcf)
    is given the profile it stands for."""
    icc = im.info.get("icc_profile") or None
    xmp = im.info.get("xmp") or None
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    try:
        if len(given := im.info.get("exif") or b"") > MAX_EXIF_BYTES:  # not even parsed: seconds for 3 MB
            raise _Oversized(f"it is {len(given):,} bytes, more than any camera writes")
        exif = im.getexif()
        for tag in (TIFF_STRUCTURE_TAGS | NEVER_COPIED if im.format == "TIFF" else NEVER_COPIED) & set(exif):
            del exif[tag]
        orientation = exif.get(orient.ORIENTATION_TAG, 1)
        if (values := _values_in(exif)) > MAX_EXIF_VALUES:
            raise _Oversized(f"it holds {values:,} values, more than any camera writes (a tag of thousands "
                             f"of fractions, which take seconds to write back)")
        if getattr(exif, "bigtiff", False):  # a BigTIFF's: Pillow writes a BigTIFF head it cannot read back
            exif.bigtiff = False  # (every BigTIFF failed at render, a checker found); EXIF is classic TIFF
        raw = exif.tobytes() if len(exif) else b""
        notes: tuple[str, ...] = ()
    except (*DECODE_ERRORS, _Oversized) as exc:
        # The picture is whole: a PNG's eXIf, a WebP's or a HEIC's EXIF of garbage failed it,
        # where a JPEG's was passed over (a fuzz round). Left out, and said, as an XMP is.
        if not isinstance(exc, _Oversized):
            reraise_unless_input(exc)
        exif, orientation, raw = Image.Exif(), 1, b""
        notes = (f"the source's EXIF cannot be read ({describe(exc)}): left out, and the picture is shown as "
                 "stored (no EXIF orientation)",)
    if (said := _profile_unread(im, icc)) is not None:
        notes += (said,)
        icc = None
    known = formats.of_pil(im.format)
    if icc is None and known is not None and known.dcf and im.mode in ("RGB", "RGBA") and dcf.names_adobe_rgb(exif):
        icc = matrixicc.adobe_rgb()
    return Metadata(format=known.name if known is not None else "png", orientation=orient.valid(orientation),
                    exif=raw, icc=icc, xmp=xmp, iim=iptc.of_image(im), notes=notes,
                    dpi=_stated_dpi(im))


def _stated_dpi(im: Image.Image) -> tuple[float, float] | None:
    """The density a JPEG's JFIF or a PNG's pHYs states in units (Pillow's `dpi`; an
    aspect ratio alone gives none), or None."""
    try:
        x, y = im.info["dpi"]
        return float(x), float(y)
    except (KeyError, TypeError, ValueError):
        return None


# Values in a source's EXIF (IFD0, Exif, GPS and Interop IFDs; a tuple counts its items) past
# which it is left out: a camera's hold a few hundred (a MakerNote is one value, its bytes).
# Pillow writes each fraction back through Fraction arithmetic (~19 µs): a PNG whose three
# IFDs point at one blob of 2,000,000 rationals held a worker to its timeout three attempts
# running, each rendition writing it again (an attack round).
MAX_EXIF_VALUES = 20_000
MAX_EXIF_BYTES = 1 << 20  # a PNG's, WebP's or HEIC's EXIF (a JPEG's holds 64 KB at most)
SUB_IFDS = (0x8769, 0x8825, 0xA005)  # Exif, GPS, Interop


class _Oversized(ValueError):
    """A source's EXIF holds more values than any camera writes."""


def _values_in(exif: Image.Exif) -> int:
    def count(ifd) -> int:
        return sum(len(v) if isinstance(v, tuple) else 1 for v in ifd.values())

    return count(exif) + sum(count(exif.get_ifd(tag)) for tag in SUB_IFDS if tag in exif)


ICC_SEGMENT = b"ICC_PROFILE\0"  # how a JPEG's APP2 segments of a profile start


def _profile_unread(im: Image.Image, icc: bytes | None) -> str | None:
    """Why the source's colour profile is left out, or None: one LittleCMS cannot read, a
    JPEG's profile in APP2 segments that do not add up (one missing, repeated, or
    numbered wrong: Pillow drops it), or a PNG's iCCP chunk that does not decompress
    (Pillow drops it too). Without the note the picture was taken as sRGB
    in silence (an Adobe RGB photo off by up to 142 levels: a fuzz round)."""
    if icc is not None and colour.too_large(icc):
        return oversized_profile(icc, im.mode)
    if icc is not None:
        if not colour.unreadable_profile(icc):
            return None
        what = f"the source's colour profile ({len(icc):,} bytes) cannot be read"
    elif any(kind == "APP2" and body.startswith(ICC_SEGMENT) for kind, body in getattr(im, "applist", ())):
        what = "the source's colour profile is incomplete (its JPEG segments do not add up: one missing or repeated)"
    elif im.format == "PNG" and "icc_profile" in im.info:  # the key, None: an iCCP that does not inflate
        what = "the source's colour profile (its PNG iCCP chunk) cannot be decompressed"
    else:
        return None
    return profile_left_out(what, im.mode)


def oversized_profile(icc: bytes, mode: str = "RGB") -> str:
    """The note for a source's profile too large to read (engine/colour.MAX_PROFILE_BYTES)."""
    return profile_left_out(f"the source's colour profile is {len(icc):,} bytes, more than any device's "
                            f"({colour.MAX_PROFILE_BYTES >> 20} MB at most), and is left out unread", mode)


def profile_left_out(what: str, mode: str = "RGB") -> str:
    """The note for a source's colour profile that is not used: `what` happened, and what the
    picture is taken as instead."""
    taken = "its CMYK is taken as a press's (libvips' CMYK profile)" if mode == "CMYK" else \
        "the picture is taken as sRGB"
    return f"{what}: {taken}, and its colours may be off; export it again with its profile"


@dataclass(frozen=True)
class Pixels:
    """What an output's EXIF says of its own pixels: their size, and the EXIF ColorSpace
    after a conversion (engine/dcf: SRGB or UNCALIBRATED; None: not converted)."""

    size: tuple[int, int]
    colour_space: int | None = None


@dataclass(frozen=True)
class Density:
    """Pixels per unit, as EXIF says it (per inch or per centimetre)."""

    x: float
    y: float
    unit: int = PER_INCH

    @property
    def dpi(self) -> tuple[float, float]:
        """What JFIF and pHYs are given (Pillow's `dpi`)."""
        per_inch = 2.54 if self.unit == PER_CENTIMETRE else 1.0
        return self.x * per_inch, self.y * per_inch


DEFAULT_DENSITY = Density(72.0, 72.0)  # EXIF's default, and what cameras write


def embedded(fmt: formats.Format, rendition: Rendition, meta: Metadata, credits: SetMetadata | None = None,
             notes: list[str] | None = None, pixels: Pixels | None = None,
             described: Described | None = None) -> Embedded:
    """What one output in `fmt` carries. `credits`: the fields to write (engine/rights.py);
    `notes` gets what the user should hear of; `pixels`: the output's own, which its EXIF
    and density then describe; `described`: an XMP sidecar's fields, written over the
    source's where the policy keeps XMP (`keep`, `strip-gps`), and the photo's own keywords."""
    icc = meta.icc if fmt.icc else None
    dpi = density(meta.exif, meta.dpi).dpi if pixels is not None else None
    if rendition.metadata == "strip-all" and credits is None:
        return Embedded(icc=icc, dpi=dpi)
    notes = [] if notes is None else notes
    sidecar = described.sidecar if described is not None and rendition.metadata in ("keep", "strip-gps") else None
    if not fmt.iptc and fmt.xmp and meta.iim is not None and rendition.metadata != "strip-all":
        # No IIM in this format: its fields in XMP, where the packet lacks them (engine/iim_in_xmp)
        meta = replace(meta, xmp=iim_in_xmp.filled(meta.xmp, meta.iim, rendition.metadata == "copyright-only"))
    exif, xmp = _output_exif_xmp(rendition, meta, credits, notes, pixels, sidecar,
                                 described.keywords if described else ())
    iim = None
    if fmt.iptc:  # the source's IIM as the policy keeps it, and set_metadata's fields (strip-all: only these)
        kept = meta.iim if rendition.metadata in ("keep", "strip-gps", "copyright-only") else None
        own = described.keywords if described and rendition.metadata != "copyright-only" else ()  # as its XMP
        listed = captions.keywords_of([*own, *(credits.keywords if credits else ()), *(sidecar.keywords if sidecar
                                                                                         else ())])
        iim = iptc.output_segment(kept, rendition.metadata == "strip-gps", credits, notes, sidecar,
                                  rights_only=rendition.metadata == "copyright-only", keywords=listed) or None
    if fmt.name == "jpeg":
        exif, xmp = _fitting_a_jpeg(exif, xmp, notes)
    return Embedded(exif=exif if fmt.exif else b"", xmp=xmp if fmt.xmp else None, icc=icc, iim=iim, dpi=dpi)


JPEG_EXIF_MAX = jpegmarkers.MAX_SEGMENT  # one APP1 segment: what libjpeg and Pillow hold
JPEG_XMP_MAX = jpegmarkers.MAX_SEGMENT - len(jpegmarkers.XMP_HEADER)
ANCESTORS = q("photoshop", "DocumentAncestors")


def _fitting_a_jpeg(exif: bytes, xmp: bytes | None, notes: list[str]) -> tuple[bytes, bytes | None]:
    """EXIF and XMP as one JPEG segment each holds them; what does not fit is left out of
    this output, with a note. Either failed the whole file ("EXIF data is too long")."""
    if len(exif) > JPEG_EXIF_MAX:
        notes.append(f"the EXIF is {len(exif):,} bytes, more than the {JPEG_EXIF_MAX:,} a JPEG's segment holds: "
                     "left out of this output (the original keeps it)")
        exif = b""
    if xmp is not None and len(xmp) > JPEG_XMP_MAX:
        notes.append(f"the XMP is {len(xmp):,} bytes, more than the {JPEG_XMP_MAX:,} a JPEG's segment holds: "
                     "left out of this output (the original keeps it)")
        xmp = None
    return exif, xmp


def _without_ancestors(xmp: bytes) -> bytes:
    """The packet without Photoshop's DocumentAncestors: the id of every document ever
    pasted into this one, kept by Photoshop for ever (170 KB and 2 MB in a fuzz round's
    files, copied into each 400 px thumbnail). No photo's metadata; as it came when it
    cannot be parsed."""
    try:
        packet = Packet.parse(xmp)
    except Unreadable:
        return xmp
    return packet.tobytes() if packet.remove_where(lambda tag: tag == ANCESTORS) else xmp


def _output_exif_xmp(rendition: Rendition, meta: Metadata, credits: SetMetadata | None, notes: list[str],
                     pixels: Pixels | None, sidecar: XmpFields | None,
                     keywords: tuple[str, ...]) -> tuple[bytes, bytes | None]:
    if rendition.metadata == "copyright-only":
        return rights.copyright_only(meta.exif, meta.xmp, rendition, meta.orientation, credits, notes)
    exif = output_exif(meta.exif, rendition, pixels, meta.dpi)
    xmp = output_xmp(meta.xmp, rendition, meta.orientation, notes)
    if sidecar:
        xmp = _with_sidecar(xmp, sidecar, notes)
        if sidecar.description and exif:  # EXIF's caption too, as XMP's and IIM's (a camera's "OLYMPUS DIGITAL CAMERA")
            exif = rights.described(exif, sidecar.description)
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


def output_exif(raw: bytes, rendition: Rendition, pixels: Pixels | None = None,
                stated: tuple[float, float] | None = None) -> bytes:
    if not raw or rendition.metadata == "strip-all":
        return b""
    exif = Image.Exif()
    exif.load(raw)
    if rendition.orient:
        exif.pop(orient.ORIENTATION_TAG, None)
    if rendition.metadata == "strip-gps":
        for tag in (GPS_IFD_TAG, *EMBEDDED_BLOCKS):
            exif.pop(tag, None)
    if pixels is not None and len(exif):
        _describe(exif, pixels, density(raw, stated), said=_exif_density(raw) is not None)
    return exif.tobytes() if len(exif) else b""


def _describe(exif: Image.Exif, pixels: Pixels, found: Density, said: bool) -> None:
    """Make `exif` say what the output is (the module's doc): its size where the source
    gave one, its colour space after a conversion, its density (written in when the
    source's EXIF `said` none, so EXIF and JFIF agree)."""
    photo = exif.get_ifd(EXIF_IFD_TAG)
    for tag, value in ((PIXEL_WIDTH, pixels.size[0]), (PIXEL_HEIGHT, pixels.size[1])):
        if tag in photo:
            photo[tag] = value
    if pixels.colour_space is not None:
        dcf.mark_converted(exif, pixels.colour_space)
    if not said:
        exif[X_RESOLUTION], exif[Y_RESOLUTION], exif[RESOLUTION_UNIT] = found.x, found.y, found.unit


def density(raw: bytes, stated: tuple[float, float] | None = None) -> Density:
    """The source EXIF's resolution; else `stated`, the dpi its format says outside EXIF
    (JFIF, pHYs: a scanner's JPEG, a PNG from most editors); else 72 dpi. Only a density
    JFIF can state counts (a unit of inches or centimetres, 1 to 65535 dpi)."""
    found = _exif_density(raw)
    if found is not None:
        return found
    if stated is not None and _stateable(Density(*stated)):
        return Density(*stated)
    return DEFAULT_DENSITY


@functools.lru_cache(maxsize=8)
def _exif_density(raw: bytes) -> Density | None:
    if not raw:
        return None
    exif = Image.Exif()
    try:
        exif.load(raw)
        found = Density(float(exif[X_RESOLUTION]), float(exif[Y_RESOLUTION]), int(exif.get(RESOLUTION_UNIT, PER_INCH)))
    except (*DECODE_ERRORS, ArithmeticError):  # absent, or not a number
        return None
    return found if _stateable(found) else None


def _stateable(found: Density) -> bool:
    return found.unit in (PER_INCH, PER_CENTIMETRE) and all(math.isfinite(v) and 1 <= v <= 65535 for v in found.dpi)


def output_xmp(xmp: bytes | None, rendition: Rendition, orientation: int,
               notes: list[str] | None = None) -> bytes | None:
    if not xmp or rendition.metadata == "strip-all":
        return None
    if b"DocumentAncestors" in xmp:
        xmp = _without_ancestors(xmp)
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
