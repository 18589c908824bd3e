"""Encode an output with Pillow, at the settings chosen by measurement.

Pillow encodes: measured, its JPEG encoder (libjpeg-turbo) writes a 1600×1200 q85 frame
faster than libvips' jpegsave, and its WebP at method 2 is on par with libvips at
effort 2 (bench/stages.py); and Pillow writes exactly the EXIF, XMP and ICC that
`metadata.save_options` chose.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from hotfolder.config.model import Rendition, SetMetadata
from hotfolder.engine.decode import PIL_FORMATS
from hotfolder.engine.errors import ENCODE_ERRORS, InputError, describe, reraise_unless_input
from hotfolder.engine.metadata import Metadata, save_options

# Fast settings of no visible loss (bench/pipeline_speed.py --encoders).
ENCODER_OPTIONS = {
    "jpeg": {"optimize": False, "progressive": False},
    "webp": {"method": 2},
    "avif": {"speed": 9, "max_threads": 1},  # speed 8 is 4x slower for 9% less; one worker per core uses every core
    "png": {"compress_level": 3},
}


def encode(im: Image.Image, fmt: str, rendition: Rendition, meta: Metadata,
           credits: SetMetadata | None = None, notes: list[str] | None = None) -> bytes:
    options = dict(ENCODER_OPTIONS[fmt])
    if fmt != "png":
        options["quality"] = rendition.quality
    if fmt == "jpeg":
        options.update(jpeg_options(rendition))
    options.update(save_options(fmt, rendition, meta, credits, notes))
    im.info = {}  # Pillow falls back to info (comment, transparency, ...): only what we pass is written
    if rendition.max_bytes is not None and fmt != "png":
        return encode_within(im, fmt, rendition, options)
    return _save(im, fmt, options)


def _save(im: Image.Image, fmt: str, options: dict) -> bytes:
    buffer = io.BytesIO()
    try:
        im.save(buffer, format=PIL_FORMATS[fmt], **options)
    except ENCODE_ERRORS as exc:  # e.g. WebP refuses sides over 16383 pixels
        reraise_unless_input(exc)
        raise InputError("encode", f"{fmt} output: {describe(exc)}") from None
    return buffer.getvalue()


# --- max_bytes and progressive ------------------------------------------------------

MIN_QUALITY = 30  # below this a photo shows its blocks: the file fails instead


def jpeg_options(rendition: Rendition) -> dict:
    """`progressive` (libjpeg optimises a progressive file's Huffman tables in any case)."""
    return {"progressive": True, "optimize": True} if rendition.progressive else {}


# Optimised Huffman tables, for the search only: measured on the bench corpus (1600 px),
# they make a file 0.3 % smaller at q85, 1-3 % at q50, 5-11 % at q30 (about one quality
# step where the search lands), for 5-10 ms more an encode (bench/stages.py): a file
# that fits at its quality does not pay for them.
SEARCH_OPTIONS = {"jpeg": {"optimize": True}}


@dataclass(frozen=True)
class Fit:
    quality: int
    data: bytes
    encodes: int  # how many encodes the search took, the first at the rendition's quality included


def encode_within(im: Image.Image, fmt: str, rendition: Rendition, options: dict) -> bytes:
    """The encoding at the highest quality ≤ `rendition.quality` that is at most
    `max_bytes` long; InputError naming the rendition, the limit and the smallest size
    reached if even quality 30 is longer."""
    searched = {**options, **SEARCH_OPTIONS.get(fmt, {})}
    fit = highest_fitting(lambda q: _save(im, fmt, options if q == rendition.quality else {**searched, "quality": q}),
                          rendition.max_bytes, rendition.quality, f"rendition {rendition.name}: {fmt.upper()}")
    return fit.data


def highest_fitting(encode_at, limit: int, quality: int, what: str) -> Fit:
    """Bisection over the quality: `encode_at(q)` is tried at `quality` first, then at
    most ⌈log2(quality − 30)⌉ + 1 more times (7 for quality 85, 8 for 100). The size
    grows with the quality (nearly always; where it does not, the result is still an
    encoding that was measured to fit, only maybe not the best)."""
    data = encode_at(quality)
    encodes, smallest = 1, len(data)
    if len(data) <= limit:
        return Fit(quality, data, encodes)
    floor = min(MIN_QUALITY, quality)
    lo, hi, best = floor, quality, None  # hi: too long; lo: fits, once best is set
    while hi - lo > 1:
        mid = (lo + hi) // 2
        data = encode_at(mid)
        encodes += 1
        if len(data) <= limit:
            lo, best = mid, Fit(mid, data, encodes)
        else:
            hi, smallest = mid, min(smallest, len(data))
    if best is None and floor < quality:
        data = encode_at(floor)
        encodes += 1
        if len(data) <= limit:
            best = Fit(floor, data, encodes)
        smallest = min(smallest, len(data))
    if best is None:
        raise InputError("encode", f"{what} does not fit in max_bytes {limit:,} bytes: even at quality "
                                   f"{floor} it is {smallest:,} bytes; raise max_bytes or make the rendition smaller")
    return Fit(best.quality, best.data, encodes)
