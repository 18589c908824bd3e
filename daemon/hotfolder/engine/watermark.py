"""The watermark, with Pillow: a text or image mark, made once per size and cached,
composited onto the finished frame.

Its width is a fraction (`size`) of the image's shorter side by default (`size_of`), so
a portrait and a landscape of the same size get the same mark; `size_of: width` is the
sizing of before (a third smaller on a 3:2 portrait). A text mark is white glyphs on a
soft dark halo that hugs them (a knocked-out, blurred dilation of the glyphs): on white
or on busy light areas the glyphs keep a dark surround, on dark ones their own light;
tests/test_watermark.py measures the contrast on each.

Pillow composites only the mark's box (~0.1 ms for the example's 400 px mark); libvips'
composite2 passes over the whole frame (~13 ms; bench/stages.py), so the paste stays here.
"""
from __future__ import annotations

import functools
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from ..config import Watermark
from .errors import DECODE_ERRORS, WatermarkError, describe


def apply_watermark(im: Image.Image, wm: Watermark) -> Image.Image:
    """Composite the watermark onto `im` (in place unless its mode needs converting) and return it."""
    mark = mark_image(wm, mark_width(im.size, wm))
    x, y = mark_position(im.size, mark.size, wm)
    if im.mode in ("RGBA", "LA"):
        rgba = im if im.mode == "RGBA" else im.convert("RGBA")
        rgba.alpha_composite(mark, (x, y))
        return rgba
    im.paste(mark.convert(im.mode), (x, y), mark)
    return im


def mark_width(size: tuple[int, int], wm: Watermark) -> int:
    """The mark's width in pixels: `size` of the side `size_of` names, never wider than the image."""
    w, h = size
    side = {"shorter": min(w, h), "width": w, "height": h}[wm.size_of]
    return max(1, min(w, round(side * wm.size)))


def mark_position(size: tuple[int, int], mark: tuple[int, int], wm: Watermark) -> tuple[int, int]:
    (w, h), (mw, mh) = size, mark
    margin = round(wm.margin * min(w, h))
    pos = wm.position
    x = margin if pos.endswith("left") else w - mw - margin if pos.endswith("right") else (w - mw) // 2
    y = margin if pos.startswith("top") else h - mh - margin if pos.startswith("bottom") else (h - mh) // 2
    return max(0, x), max(0, y)  # a mark wider than the image starts at the edge


def mark_image(wm: Watermark, width: int) -> Image.Image:
    if wm.text is not None:
        return _text_mark(wm.text, width, wm.opacity)
    path = Path(wm.image)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise WatermarkError(path, exc.strerror or str(exc)) from None
    return _image_mark(path, mtime, width, wm.opacity)


def check_image(wm: Watermark) -> None:
    """WatermarkError if this mark's image cannot be used now, as `mark_image` would
    raise it; decoded without keeping it (the supervisor re-checks a paused folder)."""
    if wm.image is None:
        return
    path = Path(wm.image)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise WatermarkError(path, exc.strerror or str(exc)) from None
    _load_mark.__wrapped__(path, mtime)


@functools.lru_cache(maxsize=64)
def _text_mark(text: str, width: int, opacity: float) -> Image.Image:
    """White text on a dark halo (readable on any photo), its glyphs `width` pixels wide."""
    glyphs = text_glyphs(text, width)
    spread = max(3, round(glyphs.height / 8) | 1)  # odd: the size of MaxFilter
    halo = glyphs.filter(ImageFilter.MaxFilter(spread)).filter(ImageFilter.GaussianBlur(spread / 3))
    # Full strength up to the glyphs' edge, fading outwards; none under the glyphs,
    # whose light then shows at its full `opacity` over any background.
    halo = ImageChops.multiply(halo.point(lambda v: min(255, 2 * v)), ImageChops.invert(glyphs))
    mark = Image.new("RGBA", glyphs.size, (0, 0, 0, 0))
    mark.putalpha(halo)
    light = Image.new("RGBA", glyphs.size, (255, 255, 255, 0))
    light.putalpha(glyphs)
    return _fade(Image.alpha_composite(mark, light), opacity)


def text_glyphs(text: str, width: int) -> Image.Image:
    """The text's coverage (L), `width` pixels wide, with room around it for its halo:
    the same size as the mark."""
    probe = ImageFont.load_default(size=100)
    length = max(1.0, probe.getlength(text))
    font = ImageFont.load_default(size=max(4, round(100 * width / length)))
    left, top, right, bottom = font.getbbox(text)
    pad = max(2, round(font.size / 6))
    glyphs = Image.new("L", (max(1, right - left) + 2 * pad, max(1, bottom - top) + 2 * pad), 0)
    ImageDraw.Draw(glyphs).text((pad - left, pad - top), text, font=font, fill=255)
    return glyphs


@functools.lru_cache(maxsize=64)
def _image_mark(path: Path, mtime_ns: int, width: int, opacity: float) -> Image.Image:
    source = _load_mark(path, mtime_ns)
    height = max(1, round(source.height * width / source.width))
    return _fade(source.resize((width, height), Image.Resampling.LANCZOS), opacity)


@functools.lru_cache(maxsize=8)
def _load_mark(path: Path, mtime_ns: int) -> Image.Image:
    """The watermark file, decoded once per process (a new mtime reloads it)."""
    try:
        with Image.open(path) as im:
            return im.convert("RGBA")
    except DECODE_ERRORS as exc:
        raise WatermarkError(path, describe(exc)) from None


def _fade(mark: Image.Image, opacity: float) -> Image.Image:
    if opacity < 1.0:
        mark.putalpha(mark.getchannel("A").point(lambda a: round(a * opacity)))
    return mark
