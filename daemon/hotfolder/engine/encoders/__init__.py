"""Encoders, named by their formats' entries (engine/formats):

  jpeg    JPEG: jpegli (pyjpegli), libjpeg-turbo (Pillow) where jpegli cannot write or load;
          jpegmarkers puts the metadata segments in for jpegli
  pillow  PNG, WebP, AVIF at measured settings, and libjpeg-turbo's JPEG
  jxl     JPEG XL through imagecodecs (libjxl), EXIF and XMP in its container's boxes
  tiff    TIFF, lossless (deflate, LZW or none), its directory by Pillow's writer: EXIF,
          XMP, IPTC-IIM and ICC as tags

Every encoder has one shape: `encode(pixels, encoding) -> bytes`, the rendition's pixels
(engine/raster: packed, or a Pillow image) in the mode its format takes
(engine/colour.convert_for) and what to write; engine/encode calls
it (once, for each quality max_bytes' search tries, or for each `quality: auto`
candidate) and turns what it raises about the image into the file's reason. Nothing in
an `Encoding` is Pillow's, so an encoder of another library takes the same; a frame
encoded more than once comes with its pixels packed once (`Packed`: jpegli reads them,
and the `quality: auto` metric). The module
of a format Pillow cannot read back (JPEG XL) also has `decoded(data) -> Image`, which
the `quality: auto` search scores (engine/autoencode).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from hotfolder.engine.raster import Buffer, Raster


@dataclass(frozen=True)
class Embedded:
    """The metadata one output carries (engine/metadata chose it)."""

    exif: bytes = b""  # "Exif\0\0" + TIFF, or b"": none
    xmp: bytes | None = None  # a whole packet
    icc: bytes | None = None
    iim: bytes | None = None  # a whole APP13 segment (IPTC-IIM), for JPEG (TIFF takes its datasets)
    dpi: tuple[float, float] | None = None  # JFIF's or pHYs' density, as the EXIF says it (engine/metadata)


class Packed:
    """An RGB frame's pixels packed once (as they are, or Pillow's `tobytes`, ~1.2 ms at
    1600x1200), for every encode of a search and the `quality: auto` metric, instead of
    once each."""

    def __init__(self, pixels: Raster):
        assert pixels.mode == "RGB"
        self.size = pixels.size
        self._pixels: Raster | None = pixels

    @cached_property
    def rgb(self) -> Buffer:
        assert self._pixels is not None
        data, self._pixels = self._pixels.rgb(), None
        return data

    @cached_property
    def array(self) -> np.ndarray:
        """The same bytes as an HxWx3 array (read-only, no copy)."""
        import numpy as np

        return np.frombuffer(self.rgb, np.uint8).reshape(self.size[1], self.size[0], 3)


@dataclass(frozen=True)
class Encoding:
    """What one encode writes."""

    quality: int | None  # None for a format without one (its entry's `quality`)
    metadata: Embedded = Embedded()
    progressive: bool = False  # the rendition's `progressive` (JPEG)
    compression: str | None = None  # the rendition's `compression` (TIFF; None: the format's first)
    search: bool = False  # one of max_bytes' trial encodes: JPEG optimises its Huffman tables
    # The frame's pixels packed, when it is encoded more than once (an encoder that takes
    # packed bytes reads them here); always of the image the encode is given.
    packed: Packed | None = field(default=None, compare=False, repr=False)
