"""Encode an output with Pillow, at the settings chosen by measurement.

Pillow encodes: measured, its JPEG encoder (libjpeg-turbo) writes a 1600×1200 q85 frame
faster than libvips' jpegsave, and its WebP at method 2 is on par with libvips at
effort 2 (bench/stages.py); and Pillow writes exactly the EXIF, XMP and ICC that
`metadata.save_options` chose.
"""
from __future__ import annotations

import io

from PIL import Image

from ..config import Rendition
from .decode import PIL_FORMATS
from .errors import ENCODE_ERRORS, InputError, describe, reraise_unless_input
from .metadata import Metadata, save_options
from .rights import Credits

# Fast settings of no visible loss (bench/pipeline_speed.py --encoders).
ENCODER_OPTIONS = {
    "jpeg": {"optimize": False, "progressive": False},
    "webp": {"method": 2},
    "avif": {"speed": 9, "max_threads": 1},  # speed 8 is 4x slower for 9% less; one worker per core uses every core
    "png": {"compress_level": 3},
}


def encode(im: Image.Image, fmt: str, rendition: Rendition, meta: Metadata,
           credits: Credits | None = None, notes: list[str] | None = None) -> bytes:
    options = dict(ENCODER_OPTIONS[fmt])
    if fmt != "png":
        options["quality"] = rendition.quality
    options.update(save_options(fmt, rendition, meta, credits, notes))
    im.info = {}  # Pillow falls back to info (comment, transparency, ...): only what we pass is written
    buffer = io.BytesIO()
    try:
        im.save(buffer, format=PIL_FORMATS[fmt], **options)
    except ENCODE_ERRORS as exc:  # e.g. WebP refuses sides over 16383 pixels
        reraise_unless_input(exc)
        raise InputError("encode", f"{fmt} output: {describe(exc)}") from None
    return buffer.getvalue()
