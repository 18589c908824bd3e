"""The watermark, with Pillow: a text or image mark, made once per size and cached,
composited onto the finished frame.

Its width is a fraction (`size`) of the image's shorter side by default (`size_of`), so
a portrait and a landscape of the same size get the same mark; `size_of: width` is the
sizing of before (a third smaller on a 3:2 portrait), `longer` sizes a panorama's mark
by its length. It is never narrower than `min_size` pixels: a 1600x240 panorama's mark
at 0.33 of its shorter side was 80 px, its type 10 px, its capitals 8 px tall. A text mark is white glyphs on a
soft dark halo that hugs them (a knocked-out, blurred dilation of the glyphs): on white
or on busy light areas the glyphs keep a dark surround, on dark ones their own light;
tests/unit/test_watermark.py measures the contrast on each.

Pillow composites only the mark's box (~0.1 ms for the example's 400 px mark); libvips'
composite2 passes over the whole frame (~13 ms; bench/stages.py), so the paste stays here.

Memory: marks are kept by what they are made of (the text, or the SHA-256 of the image
file's bytes), least recently used out first past MARK_BUDGET; a watermark file is
kept decoded (at most SOURCE_BUDGET, reduced to fit) under its digest, not under its
name and mtime: a file replaced six times by 8000x8000 images kept 1.8 GB when each
mtime was a new entry. A watermark file is held to max_image_pixels like any image.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from collections import OrderedDict
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from hotfolder.config.model import Watermark
from hotfolder.engine.errors import DECODE_ERRORS, WatermarkError, describe
from hotfolder.engine.raster import Raster


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


def watermark_raster(pixels: Raster, wm: Watermark) -> Raster:
    """`apply_watermark` on a rendition's pixels: an RGB frame still packed gets the mark
    pasted into its box alone (engine/raster), the same pixels as Pillow's paste, with no
    copy of the whole frame into Pillow; any other, through Pillow."""
    if not (pixels.packed and pixels.mode == "RGB"):
        return Raster.of(apply_watermark(pixels.image(), wm))
    mark = mark_image(wm, mark_width(pixels.size, wm))
    pixels.paste(mark.convert("RGB"), mark_position(pixels.size, mark.size, wm), mark)
    return pixels


def mark_width(size: tuple[int, int], wm: Watermark) -> int:
    """The mark's width in pixels: `size` of the side `size_of` names, at least `min_size`,
    never wider than the image."""
    w, h = size
    side = {"shorter": min(w, h), "width": w, "height": h, "longer": max(w, h)}[wm.size_of]
    return max(1, min(w, max(wm.min_size, round(side * wm.size))))


def mark_position(size: tuple[int, int], mark: tuple[int, int], wm: Watermark) -> tuple[int, int]:
    (w, h), (mw, mh) = size, mark
    margin = round(wm.margin * min(w, h))
    pos = wm.position
    x = margin if pos.endswith("left") else w - mw - margin if pos.endswith("right") else (w - mw) // 2
    y = margin if pos.startswith("top") else h - mh - margin if pos.startswith("bottom") else (h - mh) // 2
    return max(0, x), max(0, y)  # a mark wider than the image starts at the edge


class ByteBudget:
    """Images by key, least recently used first out once their pixels pass `budget`
    bytes; one larger than the budget is not kept."""

    def __init__(self, budget: int):
        self.budget, self.used = budget, 0
        self._items: OrderedDict[object, Image.Image] = OrderedDict()

    def get(self, key) -> Image.Image | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key, image: Image.Image) -> Image.Image:
        size = _nbytes(image)
        if key in self._items:
            self.used -= _nbytes(self._items.pop(key))
        if size <= self.budget:
            while self.used + size > self.budget:
                self.used -= _nbytes(self._items.popitem(last=False)[1])
            self._items[key] = image
            self.used += size
        return image


def _nbytes(image: Image.Image) -> int:
    return image.width * image.height * len(image.getbands())


# Measured: the example's 400 px text mark is 400x71 RGBA, 114 KB; a 2,000 px one 2.8 MB.
MARK_BUDGET = 32 * 2**20
SOURCE_BUDGET = 64 * 2**20  # a 4096x4096 RGBA logo
_marks = ByteBudget(MARK_BUDGET)
_sources = ByteBudget(SOURCE_BUDGET)
_digests: OrderedDict[tuple, str] = OrderedDict()  # (path, stat) -> SHA-256 of its bytes
DIGESTS_KEPT = 16


def mark_image(wm: Watermark, width: int) -> Image.Image:
    """The mark `width` pixels wide: kept, or made now (and kept)."""
    if wm.text is not None:
        key: tuple = ("text", wm.text, width, wm.opacity)
    else:
        if wm.image is None:  # the config gives every mark a text or an image
            raise ValueError("a watermark without a text or an image")
        path = Path(wm.image)
        digest, data = _digest(path)
        key = ("image", digest, width, wm.opacity)
    mark = _marks.get(key)
    if mark is not None:
        return mark
    if wm.text is not None:
        return _marks.put(key, _text_mark(wm.text, width, wm.opacity))
    source = _mark_source(path, digest, data, width)
    height = max(1, round(source.height * width / source.width))
    return _marks.put(key, _fade(source.resize((width, height), Image.Resampling.LANCZOS), wm.opacity))


def _digest(path: Path) -> tuple[str, bytes | None]:
    """The SHA-256 of the file's bytes, read again only when its stat changes (and the
    bytes, when they were read now)."""
    try:
        st = path.stat()
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if key in _digests:
            _digests.move_to_end(key)
            return _digests[key], None
        data = path.read_bytes()
    except OSError as exc:
        raise WatermarkError(path, exc.strerror or str(exc)) from None
    _digests[key] = hashlib.sha256(data).hexdigest()
    while len(_digests) > DIGESTS_KEPT:
        _digests.popitem(last=False)
    return _digests[key], data


def _mark_source(path: Path, digest: str, data: bytes | None, width: int) -> Image.Image:
    """The watermark file decoded, at least `width` wide when it is: the copy kept under
    its digest, or decoded again (a mark wider than the kept, reduced copy)."""
    kept = _sources.get(digest)
    if kept is not None and (kept.width >= width or kept.info.get("whole")):
        return kept
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise WatermarkError(path, exc.strerror or str(exc)) from None
    source = _decode_mark(path, data)
    _sources.put(digest, _within(source, SOURCE_BUDGET))
    return source


def _within(image: Image.Image, budget: int) -> Image.Image:
    """`image`, or a copy reduced to fit `budget` bytes; `info["whole"]` when not reduced."""
    if _nbytes(image) <= budget:
        image.info["whole"] = True
        return image
    scale = (budget / _nbytes(image)) ** 0.5
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _decode_mark(path: Path, data: bytes) -> Image.Image:
    """The watermark file's pixels (RGBA), held to the pixel limit (Pillow's, set from
    max_image_pixels by opening.configure)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return im.convert("RGBA")
    except DECODE_ERRORS as exc:
        raise WatermarkError(path, describe(exc)) from None


def check_image(wm: Watermark) -> None:
    """WatermarkError if this mark's image cannot be used now, as `mark_image` would
    raise it; decoded without keeping it (the supervisor re-checks a paused folder)."""
    if wm.image is None:
        return
    path = Path(wm.image)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WatermarkError(path, exc.strerror or str(exc)) from None
    _decode_mark(path, data)


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
    size = max(4, round(100 * width / length))
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    pad = max(2, round(size / 6))
    glyphs = Image.new("L", (max(1, int(right - left)) + 2 * pad, max(1, int(bottom - top)) + 2 * pad), 0)
    ImageDraw.Draw(glyphs).text((pad - left, pad - top), text, font=font, fill=255)
    return glyphs


def _fade(mark: Image.Image, opacity: float) -> Image.Image:
    if opacity < 1.0:
        mark.putalpha(mark.getchannel("A").point(lambda a: round(a * opacity)))
    return mark
