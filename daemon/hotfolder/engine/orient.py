"""EXIF orientation: read it, and turn a frame upright.

The turn is done with Pillow's transpose after resampling, on the (smaller) output:
measured, Pillow turns a 1600×1200 frame in ~1.5 ms, libvips' rot90 takes ~4.5 ms to
memory, and ~8 ms more fused into the resample (bench/stages.py).
"""
from __future__ import annotations

from PIL import Image

from hotfolder.engine.errors import DECODE_ERRORS, reraise_unless_input

ORIENTATION_TAG = 0x0112
TRANSPOSE_FOR = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def valid(value) -> int:
    """An orientation we can apply, or 1 (a missing or nonsensical tag)."""
    return value if value in TRANSPOSE_FOR else 1


def orientation(im: Image.Image) -> int:
    """The EXIF orientation of an opened image (read from its header, before decoding); 1
    when its EXIF cannot be read (engine/metadata leaves it out then, and says so)."""
    try:
        return valid(im.getexif().get(ORIENTATION_TAG, 1))
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        return 1


def upright(im: Image.Image, orientation: int) -> Image.Image:
    """A new image, turned as the orientation says (the same image for 1)."""
    return im if orientation == 1 else im.transpose(TRANSPOSE_FOR[orientation])


def padded(im: Image.Image, canvas: tuple[int, int], background: tuple[int, int, int]) -> Image.Image:
    """`operation: pad`: the picture centred on a canvas of exactly `canvas`, the rest
    `background`: one opaque box. A picture with alpha is put on the background too (L or
    RGB out): its transparency kept between opaque bars showed the page through a band of
    the box in WebP and AVIF, where the JPEG was all `background` (a shop's audit). An L or
    LA picture gets grey bars (the background's luma): steps/pad brings one to RGB first
    when its background is a colour."""
    alpha = im.mode in ("LA", "RGBA")
    if im.size == canvas and not alpha:
        return im
    mode = im.mode[:-1] if alpha else im.mode
    if mode == "L":
        fill: tuple[int, ...] = (round(0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]),)
    else:
        fill = background
    out = Image.new(mode, canvas, fill)
    at = ((canvas[0] - im.width) // 2, (canvas[1] - im.height) // 2)
    if alpha:
        out.paste(im.convert(mode), at, im.getchannel("A"))  # over the background by its alpha
    else:
        out.paste(im, at)
    if "icc_profile" in im.info:
        out.info["icc_profile"] = im.info["icc_profile"]
    return out
