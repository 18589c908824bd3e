"""JPEG: Pillow opens it (formats, the pixel limit, EXIF, ICC, XMP, IPTC; engine/opening), its
scans are counted before libjpeg runs (engine/jpegscan), then libjpeg-turbo decodes it at the
smallest scale that still covers the largest rendition, straight into packed pixels.

The pixels: through simplejpeg (TurboJPEG, libjpeg-turbo 3.1) for YCbCr and grey files, the
same library Pillow decodes with, so the same pixels (identical at 1/2, measured). Why not
Pillow's `draft` + `load`: Pillow keeps RGB at 4 bytes a pixel and `tobytes()` packs them
again for libvips (2.2 ms a 12 MP file's 1/2 frame; a copy of the whole frame), and its draft
takes only 1/2, 1/4 and 1/8, where libjpeg-turbo scales by any M/8: 3/8 covers a 512 px fit
of a 2040 px photo (765 px instead of 1020: 44 % fewer pixels decoded and resampled; the
SSIM guard holds, tests/test_pipeline.py). Scales are used only at or below 1/2 (the draft
rule, geometry.draft_size): above it libjpeg-turbo's odd scales have no SIMD.

Pillow decodes what simplejpeg does not take: CMYK and YCCK files (converted through their
profile as before; read through by TurboJPEG first, for its warnings), and any file
libjpeg-turbo reports a problem with (`strict`) that engine/jpegmend cannot mend: Pillow then
decodes it or gives the reason users know. Warnings that mean damage fail the file (DAMAGE).

A JPEG's EXIF precedes its pixels, so a sideways photo's need is known before decoding.
"""
from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import ImageFile

from hotfolder.engine import jpegmend, orient
from hotfolder.engine.decoders import Decoded, Wanted
from hotfolder.engine.decoders.pillow import eight_bit
from hotfolder.engine.errors import InputError
from hotfolder.engine.geometry import draft_size
from hotfolder.engine.metadata import read_metadata
from hotfolder.engine.opening import check_markers, draft, load
from hotfolder.engine.resample import Frame

COLOURSPACES = {"RGB": "RGB", "L": "GRAY"}  # Pillow's mode of the file -> what TurboJPEG writes


def decode(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded:
    size = header.size  # the picture's: the draft makes the pixels smaller
    check_markers(src, wanted.data, size[0] * size[1])
    fast = _turbo(src, header, wanted)
    if fast is not None:
        return fast
    if header.mode == "CMYK":
        _check_cmyk(src, header, wanted)
    draft(header, wanted.renditions)
    load(header)
    return eight_bit(header, size, read_metadata(header))


def _turbo(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded | None:
    """The file decoded by TurboJPEG at the smallest M/8 scale (≤ 1/2) that covers every
    rendition, or None: Pillow decodes it."""
    colourspace = COLOURSPACES.get(header.mode)
    if colourspace is None:
        return None
    need = draft_size(wanted.renditions, header.size, orient.orientation(header)) or (0, 0)
    try:
        pixels = _decode_file(src, wanted, colourspace, need)
    except ValueError as exc:
        mended = _after_warning(str(exc), bool(header.info.get("progressive")), src, wanted, colourspace, need)
        if mended is None:
            return None
        pixels = mended
    return Decoded(read_metadata(header), header.size, frame=Frame.packed(pixels, header.mode))


def _check_cmyk(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> None:
    """A CMYK or YCCK file's coded picture read through by TurboJPEG at 1/8 (its warnings
    taken as for RGB files; the pixels stay Pillow's, which converts them through their
    profile): Pillow drops every warning, and a damaged print file rendered scrambled
    (a fuzz round: a scan cut in half, half the picture wrong, no error)."""
    try:
        _decode_file(src, wanted, "CMYK", (1, 1))
    except ValueError as exc:
        _after_warning(str(exc), bool(header.info.get("progressive")), src, wanted, "CMYK", (1, 1))


def _decode_file(src: Path, wanted: Wanted, colourspace: str, need: tuple[int, int]) -> np.ndarray:
    """`_decode` of the bytes read once already (engine/fingerprint), else of the file mapped."""
    if wanted.data is not None:
        return _decode(wanted.data, colourspace, need)
    with open(src, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return _decode(mapped, colourspace, need)


def _after_warning(said: str, progressive: bool, src: Path, wanted: Wanted, colourspace: str,
                   need: tuple[int, int]) -> np.ndarray | None:
    """After libjpeg-turbo's first warning `said`: damage raised; the pixels of a file whose
    fault engine/jpegmend mends, decoded again strictly (its next warning taken in turn);
    None for Pillow to decode. A file past READ_WHOLE (64 MB), not in memory, is not mended."""
    data: bytes | None = None
    for _ in range(jpegmend.ROUNDS):
        if (damage := _damage(said, progressive=progressive)) is not None:
            raise InputError("decode", f"its image data is damaged ({damage}): part of the picture would come out "
                                       "grey or scrambled; copy the file again from where it came from")
        if data is None and (data := wanted.bytes_bounded(src)) is None:
            return None
        closed = data.endswith(jpegmend.EOI)
        data = jpegmend.mended(said, progressive, data)
        if data is None:
            return None
        try:
            return _decode(data, colourspace, need)
        except ValueError as exc:
            if not closed and data.endswith(jpegmend.EOI):
                return None  # its end marker put back, it still ends early: cut short (Pillow says "truncated")
            said = str(exc)
    return None


# libjpeg-turbo's warnings that mean the picture itself is damaged: Pillow decoded such a file
# anyway, its warnings dropped, and a grey or scrambled picture was rendered and archived (a
# fuzz round: zeroed blocks, flipped bits, a scrambled table). Not these: "extraneous bytes
# before marker" (real cameras' files have them, the picture whole: engine/jpegmend), and
# "Premature end of JPEG file", a file cut short (Pillow says "truncated": workers/truncation
# waits for it) or one without its end marker (mended).
DAMAGE = {
    "bad huffman code": "codes no encoder writes",
    "bad arithmetic code": "codes no encoder writes",
    "instead of rst": "its restart markers out of order",
}
# In a baseline file the coded picture ending early leaves the rest grey; in a progressive
# one it may be a refinement scan's end of band run, the picture whole (tests' scan bombs).
ENDS_EARLY = "premature end of data segment"


def _damage(said: str, progressive: bool) -> str | None:
    """Plain words for a TurboJPEG warning that means damaged picture data (its own words
    would read as a file cut short), or None."""
    lowered = said.lower()
    if ENDS_EARLY in lowered and not progressive:
        return "its coded picture ends before its last row"
    return next((plain for words, plain in DAMAGE.items() if words in lowered), None)


def _decode(data: bytes | mmap.mmap, colourspace: str, need: tuple[int, int]) -> np.ndarray:
    return simplejpeg.decode_jpeg(data, colorspace=colourspace, min_width=need[0], min_height=need[1])
