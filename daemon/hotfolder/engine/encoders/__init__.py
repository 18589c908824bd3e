"""Encoders, named by their formats' entries (engine/formats):

  jpeg    JPEG: jpegli (pyjpegli), libjpeg-turbo (Pillow) where jpegli cannot write or load;
          jpegmarkers puts the metadata segments in for jpegli
  pillow  PNG, WebP, AVIF at measured settings, and libjpeg-turbo's JPEG
  jxl     JPEG XL through imagecodecs (libjxl), EXIF and XMP in its container's boxes

Every encoder has one shape: `encode(image, encoding) -> bytes`, a Pillow image in the
mode its format takes (engine/colour.convert_for) and what to write; engine/encode calls
it (once, for each quality max_bytes' search tries, or for each `quality: auto`
candidate) and turns what it raises about the image into the file's reason. Nothing in
an `Encoding` is Pillow's, so an encoder of another library takes the same. The module
of a format Pillow cannot read back (JPEG XL) also has `decoded(data) -> Image`, which
the `quality: auto` search scores (engine/autoencode).
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
