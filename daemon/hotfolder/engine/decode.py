"""Open an image safely and decode it with Pillow, a JPEG at the smallest DCT scale
that still covers every rendition.

Pillow decodes: measured, its `draft()` decode of a 12 MP JPEG at 1/2 scale is faster
than libvips' `shrink=2` (bench/stages.py), and it keeps in one place what a hostile
file meets: the formats accepted (`formats=`), the pixel limit read from the header
before any pixel is allocated, animations, and the messages users know.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Sequence

from PIL import Image

from ..config import Rendition
from . import orient
from .errors import DECODE_ERRORS, InputError, describe, reraise_unless_input
from .geometry import as_stored, plans_for

PIL_FORMATS = {
    "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF",
    "gif": "GIF", "bmp": "BMP", "avif": "AVIF",
}
# Pillow opens a camera JPEG with a multi-picture (MPF) index as MPO: still a JPEG.
JPEG_FORMATS = {"JPEG", "MPO"}
# Formats whose multi-frame files are animations (a multi-page TIFF is not).
ANIMATED_FORMATS = {"GIF", "WEBP", "PNG", "AVIF"}


def configure(max_image_pixels: int) -> None:
    """Set Pillow's decompression-bomb limit; call once per process."""
    Image.MAX_IMAGE_PIXELS = max_image_pixels


def open_image(src: Path, accepted_formats: Sequence[str], max_image_pixels: int, animation: str) -> Image.Image:
    """Open the header only, refusing formats not accepted, bombs and (if asked) animations."""
    formats = [PIL_FORMATS[f] for f in accepted_formats]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(src, formats=formats)
    except Image.UnidentifiedImageError:
        raise InputError("open", _unaccepted_reason(src, accepted_formats)) from None
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        raise InputError("open", describe(exc)) from None
    try:
        _check_pixels(im, max_image_pixels)
        _check_animation(im, animation)
    except BaseException:
        im.close()
        raise
    return im


def _unaccepted_reason(src: Path, accepted_formats: Sequence[str]) -> str:
    """Say which format the file is if it is one we know but this config refuses."""
    accepted = ", ".join(accepted_formats)
    others = [PIL_FORMATS[f] for f in PIL_FORMATS if f not in accepted_formats]
    if others:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(src, formats=others) as probe:
                    return f"format {probe.format.lower()} is not accepted (accepted: {accepted})"
        except DECODE_ERRORS as exc:
            reraise_unless_input(exc)
    if src.stat().st_size == 0:
        return "the file is empty"
    return f"not an image in an accepted format (accepted: {accepted})"


def _check_pixels(im: Image.Image, max_image_pixels: int) -> None:
    width, height = im.size
    if width * height > max_image_pixels:
        raise InputError(
            "open",
            f"{width}x{height} is {width * height:,} pixels, more than max_image_pixels ({max_image_pixels:,})",
        )


def _check_animation(im: Image.Image, animation: str) -> None:
    if animation != "fail" or im.format not in ANIMATED_FORMATS:
        return
    try:
        animated = getattr(im, "is_animated", False)
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        raise InputError("open", describe(exc)) from None
    if animated:
        raise InputError("open", "the image is animated, and this folder is set to `animation: fail`")


def draft(im: Image.Image, renditions: Sequence[Rendition]) -> None:
    """Ask libjpeg for the smallest DCT scale (1/8..1) still covering every rendition.

    A JPEG's EXIF precedes its pixels, so the orientation is known before decoding."""
    o = orient.orientation(im)
    needs = [as_stored(p, o).frame for p in plans_for(renditions, im.size, o)]
    if not needs:
        return
    need_w = max(math.ceil(w) for w, _ in needs)
    need_h = max(math.ceil(h) for _, h in needs)
    if need_w * 2 <= im.width and need_h * 2 <= im.height:
        im.draft(im.mode, (need_w, need_h))


def load(im: Image.Image) -> None:
    """Decode the pixels; a truncated or corrupt file fails here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        raise InputError("decode", describe(exc)) from None
