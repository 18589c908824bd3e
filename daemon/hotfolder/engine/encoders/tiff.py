"""TIFF: 8 bits a channel, lossless, written here: the strips compressed with zlib
(`deflate`, with the horizontal predictor) or imagecodecs' LZW (`lzw`, with it too) or
left as they are (`none`), the directory written by Pillow's TIFF directory writer.

Why not Pillow's TIFF writer nor libvips' tiffsave (bench/tiff.py, Pillow 13 with
libtiff 4.7, libvips 8.18): Pillow compresses through libtiff, which refuses the EXIF
sub-IFD ("Bad LONG8 or IFD8 value for EXIFIFDOffset": the EXIF and GPS IFDs cannot be
written at all), and its uncompressed writer, which can, is 3 bytes a pixel; tiffsave
writes no EXIF (neither IFD0's Make nor the Exif IFD come out). Pillow's directory
writer is the one every output's EXIF goes through (engine/metadata), so the TIFF's
tags are those bytes' tags: IFD0 (Make, Model, Artist, Copyright, …), the Exif and GPS
IFDs, with the pixel layout, resolution, XMP (700), IPTC-IIM (33723) and ICC (34675)
beside them.

What is written: RGB (photometric 2), RGBA with its alpha as an unassociated extra
sample (ExtraSamples 2, what Photoshop reads as transparency), grey L (photometric 1,
BlackIsZero) and LA; strips of about STRIP_BYTES uncompressed, little-endian (or the
EXIF's own byte order). Read back by Pillow, tifffile and libvips (tests/unit/test_tiff.py).

Memory: the strips are made one at a time, then joined once: measured (ru_maxrss, a 6000x4000
JPEG rendered at full size), 8.1 bytes a pixel over the worker's base for `compression: none`
(the largest file), 5.0 for `deflate`, against 7.4 for PNG and the 17 engine/memory allows.
"""
from __future__ import annotations

import zlib

import numpy as np
from PIL import Image

from hotfolder.engine import iptc
from hotfolder.engine.encoders import Embedded, Encoding
from hotfolder.engine.raster import Raster

COMPRESSIONS = ("deflate", "lzw", "none")  # the first is the default (README "TIFF outputs")
CODE = {"none": 1, "lzw": 5, "deflate": 8}  # TIFF's Compression values (8: Adobe Deflate)
PREDICTOR_HORIZONTAL = 2
# zlib's fastest level: measured (bench/tiff.py, 1600 px), 4x faster than level 6 (libtiff's
# and libvips' default) for files 2-3 % larger, and still 8-13 % smaller than LZW's
ZLIB_LEVEL = 1
STRIP_BYTES = 256 * 1024  # uncompressed bytes a strip holds (libtiff writes 8 KB; Photoshop larger)
EXIF_PREFIX = b"Exif\x00\x00"

# Tags
(WIDTH, LENGTH, BITS, COMPRESSION, PHOTOMETRIC, STRIP_OFFSETS, SAMPLES, ROWS_PER_STRIP, STRIP_COUNTS,
 X_RES, Y_RES, PLANAR, RES_UNIT, PREDICTOR, EXTRA_SAMPLES, XMP, IPTC_NAA, ICC) = (
    256, 257, 258, 259, 262, 273, 277, 278, 279, 282, 283, 284, 296, 317, 338, 700, 33723, 34675)
# What the EXIF may not say in a TIFF's IFD0: its pixel layout is this file's (engine/metadata
# leaves a TIFF source's out already; a JPEG's EXIF may carry some), and XMP, IIM, ICC and
# Photoshop's resources are written from what engine/metadata chose for this output.
STRUCTURE = {254, 255, 256, 257, 258, 259, 262, 266, 269, 273, 277, 278, 279, 280, 281, 284, 317, 320, 322,
             323, 324, 325, 338, 339, 340, 341, 513, 514, 530, 531, 532, 700, 33723, 34377, 34675, 37724}
LAYOUT = {"L": (1, 1, None), "LA": (2, 1, 2), "RGB": (3, 2, None), "RGBA": (4, 2, 2)}  # samples, photometric, extra
UNASSOCIATED_ALPHA = 2
EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005
# Tags whose value is an offset into the file: in a TIFF a reader follows them into these bytes.
# The source's own (SubIFDs 330, GlobalParametersIFD 400) point at what was not carried over.
POINTERS = {EXIF_IFD, GPS_IFD, INTEROP_IFD, 330, 400}


def encode(im: Raster, encoding: Encoding) -> bytes:
    compression = encoding.compression or COMPRESSIONS[0]
    pixels = im.array()
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, samples = pixels.shape
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[samples]
    if im.mode != mode or pixels.dtype != np.uint8:
        raise ValueError(f"TIFF output of mode {im.mode}: hotfolder writes 8-bit L, LA, RGB or RGBA")
    stride = width * samples
    rows = max(1, min(height, STRIP_BYTES // max(stride, 1)))
    strips = [_strip(pixels[y:y + rows], compression) for y in range(0, height, rows)]
    ifd = _directory(encoding.metadata)
    _, photometric, extra = LAYOUT[mode]
    ifd[WIDTH], ifd[LENGTH] = width, height
    ifd[BITS] = (8,) * samples
    ifd[COMPRESSION] = CODE[compression]
    ifd[PHOTOMETRIC] = photometric
    ifd[SAMPLES] = samples
    ifd[ROWS_PER_STRIP] = rows
    ifd[PLANAR] = 1
    if extra is not None:
        ifd[EXTRA_SAMPLES] = extra
    if compression != "none":
        ifd[PREDICTOR] = PREDICTOR_HORIZONTAL
    offsets, at = [], 0
    for strip in strips:  # relative to the end of the directory: Pillow's writer adds where that is
        offsets.append(at)
        at += len(strip)
    ifd[STRIP_OFFSETS] = tuple(offsets)
    ifd[STRIP_COUNTS] = tuple(len(s) for s in strips)
    head_and_ifd = ifd.tobytes(8)[len(EXIF_PREFIX):]
    return b"".join((head_and_ifd, *strips))


def _directory(metadata: Embedded) -> Image.Exif:
    """IFD0 of the output: the EXIF's tags (and its Exif and GPS IFDs), less the structure,
    with the output's resolution, XMP, IPTC-IIM and ICC profile."""
    ifd = Image.Exif()
    tiff = metadata.exif[len(EXIF_PREFIX):] if metadata.exif.startswith(EXIF_PREFIX) else metadata.exif
    if tiff:
        ifd.load(tiff)
    else:
        ifd.endian = "<"
    ifd = _rebuilt(ifd)
    for tag in STRUCTURE & set(ifd):
        del ifd[tag]
    if metadata.dpi is not None:  # the density every output states (engine/metadata): per inch
        ifd[X_RES], ifd[Y_RES] = metadata.dpi
        ifd[RES_UNIT] = 2
    if metadata.xmp:
        ifd[XMP] = metadata.xmp
    if metadata.iim and (data := iptc.datasets_of(metadata.iim)):
        # UNDEFINED, its bytes as they are. Photoshop types it LONG (exiftool: "non-standard format
        # (undef)" otherwise), but LONGs are swapped by a reader in the other byte order: libvips read
        # the IIM of a big-endian file typed LONG byte-swapped (tried); bytes are read alike everywhere
        ifd[IPTC_NAA] = data
    if metadata.icc:
        ifd[ICC] = metadata.icc
    return ifd


def _rebuilt(loaded: Image.Exif) -> Image.Exif:
    """`loaded`'s IFD0 with its Exif and GPS IFDs (and the Exif IFD's Interop) as directories
    of their own, each left out when it holds nothing, and no other pointer: an Exif IFD of
    no entries (the output's EXIF gets one to state its size in, from a scanner's EXIF with
    only Make) is a directory libtiff refuses to read ("zero tag directories"), and a crafted
    EXIF whose Exif IFD points back at IFD0 had its pointers copied as stale offsets into
    this file, which exiftool -validate followed forever."""
    ifd = Image.Exif()
    ifd.endian = loaded.endian or "<"
    for tag, value in loaded.items():
        if tag not in POINTERS:
            ifd[tag] = value
    for tag in (EXIF_IFD, GPS_IFD):
        if tag not in loaded:
            continue
        sub = {k: v for k, v in loaded.get_ifd(tag).items() if k not in POINTERS}
        if tag == EXIF_IFD and INTEROP_IFD in loaded.get_ifd(tag):
            interop = {k: v for k, v in loaded.get_ifd(INTEROP_IFD).items() if k not in POINTERS}
            if interop:
                sub[INTEROP_IFD] = interop
        if sub:
            ifd[tag] = sub
    return ifd


def _strip(rows: np.ndarray, compression: str) -> bytes:
    if compression == "none":
        return rows.tobytes()
    predicted = rows.copy()  # each sample less the same sample of the pixel to its left, mod 256
    predicted[:, 1:] -= rows[:, :-1]
    if compression == "deflate":
        return zlib.compress(predicted.tobytes(), ZLIB_LEVEL)
    import imagecodecs

    return bytes(imagecodecs.lzw_encode(predicted.tobytes()))
