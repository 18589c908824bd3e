"""Encoders, named by their formats' entries (engine/formats):

  pillow  JPEG, PNG, WebP, AVIF, at measured settings

Every encoder has one shape: `encode(image, encoding) -> bytes`, a Pillow image in the
mode its format takes (engine/colour.convert_for) and what to write; engine/encode calls
it (once, or for each quality max_bytes' search tries) and turns what it raises about
the image into the file's reason. An encoder for another library (libvips' `jxlsave`)
takes the same `Encoding`: nothing in it is Pillow's.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Embedded:
    """The metadata one output carries (engine/metadata chose it)."""

    exif: bytes = b""  # "Exif\0\0" + TIFF, or b"": none
    xmp: bytes | None = None  # a whole packet
    icc: bytes | None = None
    iim: bytes | None = None  # a whole APP13 segment (IPTC-IIM), for JPEG
    dpi: tuple[float, float] | None = None  # JFIF's or pHYs' density, as the EXIF says it (engine/metadata)


@dataclass(frozen=True)
class Encoding:
    """What one encode writes."""

    quality: int | None  # None for a format without one (its entry's `quality`)
    metadata: Embedded = Embedded()
    progressive: bool = False  # the rendition's `progressive` (JPEG)
    search: bool = False  # one of max_bytes' trial encodes: JPEG optimises its Huffman tables
