"""PNG, WebP, AVIF and libjpeg-turbo's JPEG (engine/encoders/jpeg: grey, progressive, and
when jpegli cannot load), with Pillow, at the settings chosen by measurement.

Pillow encodes: measured, its JPEG encoder (libjpeg-turbo) writes a 1600×1200 q85 frame
faster than libvips' jpegsave, and its WebP at method 2 is on par with libvips at
effort 2 (bench/stages.py); and Pillow writes exactly the EXIF, XMP and ICC that
engine/metadata chose. AVIF at aom's speed 9 (research/quality FINDINGS.md §6, one
thread, 1600 px): 57-157 ms, every frame under 0.4 s, its files 0.70-0.81x WebP's at the
same SSIMULACRA2 score; speed 8 is 7 % smaller for 2-4x the time (0.30-0.58 s on grainy
frames), Pillow's default speed 6 took 1.19 s.
"""
from __future__ import annotations

import io
from typing import Any

from PIL import PngImagePlugin

from hotfolder.engine.encoders import Embedded, Encoding
from hotfolder.engine.raster import Raster

# Fast settings of no visible loss (bench/pipeline_speed.py --encoders).
ENCODER_OPTIONS: dict[str, dict[str, Any]] = {
    "jpeg": {"optimize": False, "progressive": False},
    "webp": {"method": 2},
    "avif": {"speed": 9, "max_threads": 1},  # see the module's doc; one worker per core uses every core
    "png": {"compress_level": 3},
}


def jpeg(im: Raster, encoding: Encoding) -> bytes:
    options = {**ENCODER_OPTIONS["jpeg"], "quality": encoding.quality}
    if encoding.progressive:  # libjpeg optimises a progressive file's Huffman tables in any case
        options.update(progressive=True, optimize=True)
    # Optimised Huffman tables, for max_bytes' search only: measured on the bench corpus
    # (1600 px), they make a file 0.3 % smaller at q85, 1-3 % at q50, 5-11 % at q30 (about
    # one quality step where the search lands), for 5-10 ms more an encode
    # (bench/stages.py): a file that fits at its quality does not pay for them.
    if encoding.search:
        options["optimize"] = True
    if encoding.metadata.iim:
        options["extra"] = encoding.metadata.iim  # raw marker bytes: Pillow writes no APP13 itself
    return save(im, "JPEG", options, encoding.metadata)


def png(im: Raster, encoding: Encoding) -> bytes:
    options: dict[str, Any] = dict(ENCODER_OPTIONS["png"])
    xmp = encoding.metadata.xmp
    if xmp:  # PNG's place for XMP is an iTXt chunk
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
        options["pnginfo"] = info
    return save(im, "PNG", options, encoding.metadata, xmp=False)


def webp(im: Raster, encoding: Encoding) -> bytes:
    return save(im, "WEBP", {**ENCODER_OPTIONS["webp"], "quality": encoding.quality}, encoding.metadata)


def avif(im: Raster, encoding: Encoding) -> bytes:
    return save(im, "AVIF", {**ENCODER_OPTIONS["avif"], "quality": encoding.quality}, encoding.metadata)


def save(pixels: Raster, pil_format: str, options: dict[str, Any], metadata: Embedded, *,
         xmp: bool = True) -> bytes:
    """Pillow's save() with the metadata: for every encoder that writes through Pillow."""
    im = pixels.image()
    im.info = {}  # Pillow falls back to info (comment, transparency, ...): only what we pass is written
    options["icc_profile"] = metadata.icc
    if metadata.exif:
        options["exif"] = metadata.exif
    if xmp and metadata.xmp:
        options["xmp"] = metadata.xmp
    if metadata.dpi:  # JPEG's JFIF and PNG's pHYs; WebP and AVIF have no such field
        options["dpi"] = metadata.dpi
    buffer = io.BytesIO()
    im.save(buffer, format=pil_format, **options)
    return buffer.getvalue()
