"""Decoders, one module per family, each named by its formats' entries (engine/formats):

  jpeg    JPEG: scans counted, decoded at the smallest DCT scale that covers every rendition
  pillow  PNG and TIFF (16-bit RGB(A) read by libvips), GIF, BMP, AVIF, an animated WebP
  webp    WebP: libwebp through imagecodecs (twice as fast as Pillow's reader)
  png     8-bit RGB, RGBA and grey PNG: libspng through imagecodecs; others as `pillow`
  heif    HEIC/HEIF through pi-heif (libheif); 10/12-bit at 16 bits
  raw     camera RAWs through LibRaw: the embedded preview, or a develop
  floattiff  TIFFs of floating-point samples (Pillow has no float RGB mode): libvips,
          tone-mapped to 16 bits; engine/decode sends them here before the safe open

Every decoder has one shape: `decode(src, header, wanted) -> Decoded`. `header` is the
file opened by engine/opening (the format accepted, the pixel limit and animation
checked, nothing decoded yet); None for a format Pillow does not open (`pil` None in
its entry: RAW), whose decoder opens the file and checks the pixel limit itself
(engine/opening.too_many_pixels). engine/decode chooses the decoder.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import pyvips
    from PIL import Image

    from hotfolder.config.model import Rendition
    from hotfolder.engine.metadata import Metadata
    from hotfolder.engine.resample import Frame


@dataclass(frozen=True)
class Wanted:
    """What a decode must give: pixels enough for every rendition, within the limit."""

    renditions: Sequence[Rendition]
    max_image_pixels: int
    raw_mode: str = "auto"  # the folder's `raw:` (decoders/raw)
    threads: int = 1  # the file's threads (libheif decodes a tiled HEIC's tiles side by side)
    data: bytes | None = None  # the file's bytes when read already (engine/fingerprint): read them, not the path

    def bytes_of(self, src: Path) -> bytes:
        """The file's bytes: those read already, else read now."""
        return self.data if self.data is not None else src.read_bytes()

    def bytes_bounded(self, src: Path) -> bytes | None:
        """The file's bytes, or None past READ_WHOLE (64 MB) when not read already: what a
        check or a mend over the whole file may hold, as bounded as the fingerprint's read."""
        from hotfolder.engine.fingerprint import READ_WHOLE

        if self.data is None and src.stat().st_size > READ_WHOLE:
            return None
        return self.bytes_of(src)


@dataclass(frozen=True)
class Decoded:
    """A source decoded: 8-bit pixels (L, LA, RGB or RGBA) as stored, or a 16-bit RGB(A)
    frame (libvips ushort) the colour step reduces; and what the file says about them.
    `size` is the picture's full size, which renditions are planned on: the pixels may be
    smaller (a JPEG's DCT draft, a RAW developed at half size)."""

    meta: Metadata
    size: tuple[int, int]
    frame: Image.Image | Frame | None = None  # a Frame: packed pixels (a RAW's develop)
    deep: Callable[[], pyvips.Image] | None = None  # a new pipeline over the 16-bit pixels at each call
