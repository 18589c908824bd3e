"""JPEG XL through imagecodecs (BSD-3; its wheel bundles libjxl 0.11, BSD-3), at effort 3.

Why effort 3 (research/quality FINDINGS.md §5.2, libjxl 0.11.2, 1600 px, one thread):
36-70 ms, 7-8x a Pillow JPEG encode; effort 5 and 7 save at most 5 % at the same
SSIMULACRA2 score for 7-20x the time. At score 80 its files are 0.62x Pillow's JPEG and
0.69x WebP's (median of 32 photos): the smallest of the formats here.

imagecodecs writes a bare codestream and takes no metadata: the EXIF and XMP go in
boxes of the ISO BMFF container JPEG XL defines (ISO/IEC 18181-2), written here. No
ICC profile can be given: libjxl is told the 8-bit frame is sRGB and encodes it in XYB
from there, so the config refuses `format: jxl` with another `color_profile`
(config/sections/steps/encode.py) and the format's entry says `icc=False`.
"""
from __future__ import annotations

import struct

import imagecodecs
import numpy as np

from hotfolder.engine.encoders import Embedded, Encoding
from hotfolder.engine.raster import Raster

EFFORT = 3
SIGNATURE = b"\x00\x00\x00\x0cJXL \r\n\x87\n"  # the container's first box
FTYP = b"ftyp" + b"jxl " + b"\x00\x00\x00\x00" + b"jxl "
EXIF_PREFIX = b"Exif\x00\x00"  # what engine/metadata's EXIF starts with; the box holds the TIFF bytes


def distance(quality: int) -> float:
    """libjxl's own mapping of a 0-100 quality to a Butteraugli distance (`cjxl -q`), so
    `quality:` means what it means to cjxl users: 90 -> 1.0 (visually lossless), 80 -> 1.9."""
    if quality >= 30:
        return 0.1 + (100 - quality) * 0.09
    return 6.4 + 2.5 ** ((30 - quality) / 5.0) / 6.25


def encode(im: Raster, encoding: Encoding) -> bytes:
    assert encoding.quality is not None
    pixels = im.array()  # L (2-D), LA, RGB, RGBA: what imagecodecs takes
    codestream = imagecodecs.jpegxl_encode(pixels, effort=EFFORT, distance=distance(encoding.quality), numthreads=1)
    return contained(bytes(codestream), encoding.metadata)  # typed bytes | bytearray: a ~50 KB copy


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def contained(codestream: bytes, metadata: Embedded) -> bytes:
    """The codestream alone when there is no metadata, else in the container with an
    `Exif` box (a 4-byte offset to the TIFF header, 0, then the TIFF bytes) and an
    `xml ` box (the XMP packet) before the `jxlc` box (checked with libjxl's jxlinfo and
    djxl, exiftool, and libvips' jxlload)."""
    tiff = metadata.exif[len(EXIF_PREFIX):] if metadata.exif.startswith(EXIF_PREFIX) else metadata.exif
    if not tiff and not metadata.xmp:
        return codestream
    boxes = [SIGNATURE, box(b"ftyp", FTYP[4:])]
    if tiff:
        boxes.append(box(b"Exif", b"\x00\x00\x00\x00" + tiff))
    if metadata.xmp:
        boxes.append(box(b"xml ", metadata.xmp))
    boxes.append(box(b"jxlc", codestream))
    return b"".join(boxes)


def decoded(data: bytes) -> np.ndarray:
    """An encoding of ours read back (the `quality: auto` search scores it), as the
    decoder's array (HxW or HxWxC bytes): Pillow has no JPEG XL reader."""
    return imagecodecs.jpegxl_decode(data, numthreads=1)
