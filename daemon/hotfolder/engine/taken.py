"""When a photo was taken, from what the file says, in the Metadata Working Group's order
for the date it was created: EXIF DateTimeOriginal (with its offset), else XMP's
photoshop:DateCreated or exif:DateTimeOriginal, else IPTC-IIM DateCreated (2:55) with
TimeCreated (2:60), else EXIF DateTimeDigitized (or XMP's xmp:CreateDate). Never IFD0's
DateTime: that is when software last saved the file. A wire photo shot in 2003 and saved
by Photoshop in 2008, with its date only in IPTC, was filed under the day it was copied
and stamped `© 2008` (a studio's week on real photos, 2026-12-07).

Each date is the file's data, never trusted: one that is not a real date is no date.
"""
from __future__ import annotations

import datetime as dt
import re

from PIL import Image

from hotfolder.engine import iptc
from hotfolder.engine.errors import DECODE_ERRORS
from hotfolder.engine.xmp import Packet, Unreadable

EXIF_IFD = 0x8769
MODIFIED = 0x0132  # IFD0 DateTime
ORIGINAL, ORIGINAL_OFFSET = 0x9003, 0x9011
DIGITIZED, DIGITIZED_OFFSET = 0x9004, 0x9012
OFFSET = 0x9010  # OffsetTime: IFD0 DateTime's, which cameras also give for the others
IIM_DATE, IIM_TIME = (2, 55), (2, 60)
XMP_CREATED = ("{http://ns.adobe.com/photoshop/1.0/}DateCreated", "{http://ns.adobe.com/exif/1.0/}DateTimeOriginal")
XMP_DIGITIZED = ("{http://ns.adobe.com/xap/1.0/}CreateDate",)

_EXIF_DATE = re.compile(r"(\d{4})[:\-](\d\d)[:\-](\d\d)[ T](\d\d):(\d\d):(\d\d)")
_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)")
# ISO 8601 as XMP writes it: a whole date at least, then hh:mm, :ss, a fraction, Z or ±hh:mm
_XMP_DATE = re.compile(r"\s*(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(?:[.,]\d+)?)?(Z|[+-]\d\d:?\d\d)?)?\s*")


def exif_stamp(stamp: str | None, offset: str | None) -> dt.datetime | None:
    """EXIF's `2024:05:01 14:03:22` with `+02:00`: aware when the offset is given."""
    m = _EXIF_DATE.match(stamp or "")
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    return _made(year, month, day, hour, minute, second, offset)


def _made(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
          offset: str | None = None) -> dt.datetime | None:
    try:
        when = dt.datetime(year, month, day, hour, minute, second)
    except ValueError:  # 0000:00:00 00:00:00, a camera that never had its clock set; February 31st
        return None
    o = _OFFSET.fullmatch((offset or "").strip())
    if o is not None:
        minutes = (int(o.group(2)) * 60 + int(o.group(3))) * (-1 if o.group(1) == "-" else 1)
        if abs(minutes) < 24 * 60:
            when = when.replace(tzinfo=dt.timezone(dt.timedelta(minutes=minutes)))
    return when


def xmp_stamp(text: str | None) -> dt.datetime | None:
    """XMP's `2003-05-01T14:03:22+02:00` (a date alone is midnight; `Z` is UTC)."""
    m = _XMP_DATE.fullmatch(text or "")
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in m.groups()[:6])
    zone = m.group(7)
    return _made(year, month, day, hour, minute, second, "+00:00" if zone == "Z" else zone)


def iim_stamp(date: bytes | None, time: bytes | None) -> dt.datetime | None:
    """IIM's DateCreated `20030501` with TimeCreated `140322+0200` (a date alone is midnight)."""
    d = re.fullmatch(rb"\s*(\d{4})(\d\d)(\d\d)\s*", date or b"")
    if d is None:
        return None
    t = re.fullmatch(rb"\s*(\d\d)(\d\d)(\d\d)([+-]\d{4})?\s*", time or b"")
    hms = (int(t.group(1)), int(t.group(2)), int(t.group(3))) if t else (0, 0, 0)
    zone = t.group(4).decode() if t and t.group(4) else None
    year, month, day = (int(g) for g in d.groups())
    return _made(year, month, day, *hms, offset=zone)


def tag(exif: Image.Exif | None, number: int):
    """The value of EXIF tag `number`, in IFD0 or else the EXIF IFD; None when it is in
    neither, or the IFD is damaged."""
    if exif is None:
        return None
    if number in exif:
        return exif.get(number)
    try:
        return exif.get_ifd(EXIF_IFD).get(number)
    except DECODE_ERRORS:
        return None


def _exif_tag(exif: Image.Exif | None, number: int) -> str | None:
    value = tag(exif, number)
    return value.strip("\0 ") if isinstance(value, str) else None


def _xmp_value(packet: Packet | None, tags: tuple[str, ...]) -> dt.datetime | None:
    for desc in packet.descriptions() if packet is not None else ():
        for tag in tags:
            element = desc.find(tag)
            text = element.text if element is not None else desc.attrib.get(tag)
            if (when := xmp_stamp(text)) is not None:
                return when
    return None


def _iim_value(iim: iptc.Iim | None) -> dt.datetime | None:
    if iim is None:
        return None
    try:
        sets = {(record, number): value for record, number, value in iptc.datasets(iim.data)}
    except iptc.Malformed:
        return None
    return iim_stamp(sets.get(IIM_DATE), sets.get(IIM_TIME))


def of(exif: Image.Exif | None, xmp: bytes | None = None, iim: iptc.Iim | None = None,
       ) -> tuple[dt.datetime | None, str]:
    """When the photo was taken and what said so (`exif`, `xmp`, `iptc`; `""`: nothing did).
    The XMP is parsed only when the EXIF has no DateTimeOriginal."""
    offset = _exif_tag(exif, OFFSET)
    when = exif_stamp(_exif_tag(exif, ORIGINAL), _exif_tag(exif, ORIGINAL_OFFSET) or offset)
    if when is not None:
        return when, "exif"
    packet = _packet(xmp)
    if (when := _xmp_value(packet, XMP_CREATED)) is not None:
        return when, "xmp"
    if (when := _iim_value(iim)) is not None:
        return when, "iptc"
    if (when := exif_stamp(_exif_tag(exif, DIGITIZED), _exif_tag(exif, DIGITIZED_OFFSET) or offset)) is not None:
        return when, "exif"
    if (when := _xmp_value(packet, XMP_DIGITIZED)) is not None:
        return when, "xmp"
    return None, ""


def year_of(exif: bytes | Image.Exif | None, xmp: bytes | None = None, iim: iptc.Iim | None = None) -> int | None:
    """The year the photo was taken (`of`), else the year its EXIF's DateTimeOriginal or, last,
    its DateTime (when software last saved it) begins with."""
    if isinstance(exif, bytes):
        exif = loaded(exif)
    when, _ = of(exif, xmp, iim)
    years = [when.year] if when is not None else []
    for tag in (ORIGINAL, MODIFIED):  # `2019:00:00 00:00:00`: no date, but its year
        m = re.match(r"\s*(\d{4})[:\-]", _exif_tag(exif, tag) or "")
        years += [int(m.group(1))] if m else []
    return next((year for year in years if 1800 <= year <= 9999), None)


def loaded(raw: bytes) -> Image.Exif | None:
    """EXIF bytes as Pillow's Exif, its IFD read now (a damaged one is no facts and no date,
    never a failure later); None for none or a damaged one."""
    if not raw:
        return None
    exif = Image.Exif()
    try:
        exif.load(raw)
        exif.get_ifd(EXIF_IFD)
    except DECODE_ERRORS:
        return None
    return exif


def _packet(xmp: bytes | None) -> Packet | None:
    if not xmp:
        return None
    try:
        return Packet.parse(xmp)
    except Unreadable:  # said where the packet's fields are read (engine/captions)
        return None
