"""The metadata segments of a JPEG, for an encoder that writes none (jpegli through
pyjpegli takes pixels only): JFIF (APP0: its density), EXIF (APP1), XMP (APP1), the ICC
profile (APP2, in chunks) and IPTC-IIM (APP13, made whole by engine/iptc), put right
after the SOI marker, as Pillow and libjpeg-turbo write them (the same bytes, the same
limits and messages).
"""
from __future__ import annotations

import struct

from hotfolder.engine.encoders import Embedded

MAX_SEGMENT = 65533  # bytes after a marker's length field can count (65535 - 2)
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
ICC_HEADER = b"ICC_PROFILE\x00"  # + the chunk's number and the count, 1-based
ICC_CHUNK = MAX_SEGMENT - len(ICC_HEADER) - 2
SOI = b"\xff\xd8"


def segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def jfif(dpi: tuple[float, float] | None) -> bytes:
    """libjpeg's JFIF 1.01 segment: the density in dots per inch, or an aspect of 1:1."""
    x, y = (round(dpi[0]), round(dpi[1])) if dpi else (0, 0)
    unit, x, y = (1, x, y) if x > 0 and y > 0 else (0, 1, 1)
    return segment(0xE0, b"JFIF\x00\x01\x01" + struct.pack(">BHH", unit, x, y) + b"\x00\x00")


def segments(metadata: Embedded) -> bytes:
    """The APPn segments that carry `metadata`; ValueError (as Pillow's) for one too long."""
    out = [jfif(metadata.dpi)]
    if metadata.exif:  # "Exif\0\0" + TIFF already
        if len(metadata.exif) > MAX_SEGMENT:
            raise ValueError("EXIF data is too long")
        out.append(segment(0xE1, metadata.exif))
    if metadata.xmp:
        if len(metadata.xmp) > MAX_SEGMENT - len(XMP_HEADER):
            raise ValueError("XMP data is too long")
        out.append(segment(0xE1, XMP_HEADER + metadata.xmp))
    if metadata.icc:
        chunks = [metadata.icc[i:i + ICC_CHUNK] for i in range(0, len(metadata.icc), ICC_CHUNK)]
        if len(chunks) > 255:
            raise ValueError("ICC profile is too long")
        out += [segment(0xE2, ICC_HEADER + bytes((n, len(chunks))) + chunk) for n, chunk in enumerate(chunks, 1)]
    if metadata.iim:
        out.append(metadata.iim)
    return b"".join(out)


def with_metadata(jpeg: bytes, metadata: Embedded) -> bytes:
    """`jpeg` (starting with SOI) with the segments of `metadata` right after its SOI."""
    if not jpeg.startswith(SOI):
        raise ValueError("the encoder's output does not start with a JPEG SOI marker")
    return SOI + segments(metadata) + jpeg[2:]
