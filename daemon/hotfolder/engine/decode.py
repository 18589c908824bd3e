"""Open an image safely and decode it: with Pillow (a JPEG at the smallest DCT scale
that still covers every rendition; a HEIC through pi-heif's plugin, engine/heif), or,
for a camera RAW, with LibRaw (engine/raw).

Pillow decodes: measured, its `draft()` decode of a 12 MP JPEG at 1/2 scale is faster
than libvips' `shrink=2` (bench/stages.py), and it keeps in one place what a hostile
file meets: the formats accepted (`formats=`), the pixel limit read from the header
before any pixel is allocated, animations, and the messages users know.

The pixel limit is ours for every format (`max_image_pixels`, checked from the header):
Pillow's own check is lifted while a source is opened, so its message never stands in
for ours; it stays the backstop for any other image the process opens.

16-bit RGB(A) PNGs and TIFFs: Pillow has no 16-bit RGB mode and would keep only the top
8 bits, so after Pillow has read and checked the header, libvips decodes their pixels at
16 bits for the colour conversion (engine/colour.deep_to_target), in strips, straight
into the 8-bit frame each target profile needs: the 16 bits are never all in memory (a
100 MP 16-bit PNG peaked at 2 GB when they were). 10- and 12-bit HEICs are decoded at
16 bits by pi-heif, once; libvips reads libheif's buffer in place.
"""
from __future__ import annotations

import contextlib
import mmap
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import pyvips
from PIL import Image

from hotfolder.config.model import Rendition
from hotfolder.engine import heif, jpegscan, orient, raw
from hotfolder.engine.colour import normalise_mode, srgb_icc
from hotfolder.engine.errors import DECODE_ERRORS, InputError, describe, reraise_unless_input
from hotfolder.engine.geometry import draft_size
from hotfolder.engine.resample import Frame

if TYPE_CHECKING:
    from hotfolder.engine.metadata import Metadata  # which imports this module's format names: not at run time

PIL_FORMATS = {
    "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF",
    "gif": "GIF", "bmp": "BMP", "avif": "AVIF", "heic": heif.PIL_FORMAT,
}
# Read by LibRaw, not Pillow (engine/raw).
RAW = "raw"
# Pillow opens a camera JPEG with a multi-picture (MPF) index as MPO: still a JPEG.
JPEG_FORMATS = {"JPEG", "MPO"}
# Formats whose multi-frame files are animations (a multi-page TIFF is not).
ANIMATED_FORMATS = {"GIF", "WEBP", "PNG", "AVIF"}


# Deep (16-bit per sample) RGB layouts of Pillow's PNG and TIFF readers.
DEEP_RAWMODES = ("RGB;16", "RGBA;16", "RGBX;16")


@dataclass(frozen=True)
class Decoded:
    """A source decoded: 8-bit pixels (L, LA, RGB or RGBA) as stored, or a 16-bit RGB(A)
    frame (libvips ushort) the colour step reduces; and what the file says about them.
    `size` is the picture's full size, which renditions are planned on: the pixels may be
    smaller (a JPEG's DCT draft, a RAW developed at half size)."""

    meta: Metadata
    size: tuple[int, int]
    frame: Image.Image | Frame | None = None  # a Frame: packed pixels (a RAW's develop)
    deep: Callable[[], pyvips.Image] | None = None  # a new pipeline over the 16-bit pixels at each call


def configure(max_image_pixels: int) -> None:
    """Set Pillow's decompression-bomb limit; call once per process."""
    Image.MAX_IMAGE_PIXELS = max_image_pixels


def decode(src: Path, renditions: Sequence[Rendition], *, accepted_formats: Sequence[str],
           max_image_pixels: int, animation: str, raw_mode: str = "auto", threads: int = 1) -> Decoded:
    """Open `src` safely and decode it once, as small as every rendition allows."""
    from hotfolder.engine.metadata import read_metadata  # metadata imports PIL_FORMATS from here

    if raw.is_raw(src):
        if RAW not in accepted_formats:
            raise InputError("open", f"format raw is not accepted (accepted: {', '.join(accepted_formats)})")
        return _decode_raw(src, renditions, max_image_pixels, raw_mode)
    heif.use_threads(threads)
    with open_image(src, accepted_formats, max_image_pixels, animation) as im:
        size = im.size
        if im.format in JPEG_FORMATS:
            check_scans(src)
            draft(im, renditions)
        deep = _deep_pixels(src, im)
        if deep is None:
            load(im)
        meta = read_metadata(im)
        icc = heif.profile(im) if im.format == heif.PIL_FORMAT else meta.icc
        if deep is not None:
            return Decoded(meta.with_icc(icc), size, deep=deep)
        frame, icc = normalise_mode(im, icc)
    return Decoded(meta.with_icc(icc), size, frame=frame)


def _decode_raw(src: Path, renditions: Sequence[Rendition], max_image_pixels: int, mode: str) -> Decoded:
    from hotfolder.engine.metadata import Metadata

    with raw.open_raw(src, max_image_pixels) as opened:
        got = raw.develop(opened, renditions, mode, max_image_pixels)
    icc = srgb_icc() if got.srgb else got.icc
    meta = Metadata(format=RAW, orientation=got.orientation, exif=got.exif, icc=icc, xmp=None)
    return Decoded(meta, got.size, frame=got.image)


def _deep_pixels(src: Path, im: Image.Image) -> Callable[[], pyvips.Image] | None:
    """The 16-bit pixels of a deep RGB(A) PNG, TIFF or HEIC (as `Decoded.deep`), or None
    for any other image."""
    if im.format in ("PNG", "TIFF") and _rawmode(im).startswith(DEEP_RAWMODES):
        return lambda: _vips_open(src)
    if not heif.is_deep(im):
        return None
    try:
        return heif.DeepPixels(src)
    except RuntimeError as exc:
        raise heif.failure(exc) from None
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        raise InputError("decode", describe(exc).splitlines()[0]) from None


def _rawmode(im: Image.Image) -> str:
    """How the first tile's samples are laid out in the file (Pillow's name, e.g. "RGB;16B")."""
    if not im.tile:
        return ""
    args = im.tile[0].args
    return str(args[0] if isinstance(args, tuple) else args)


def _vips_open(src: Path) -> pyvips.Image:
    """A 16-bit PNG or TIFF's first image, to be read once from top to bottom by libvips
    (the header is Pillow's and passed its checks). A truncated or corrupt file fails
    when the pipeline runs (colour.deep_to_target)."""
    image = pyvips.Image.new_from_file(str(src), access="sequential", fail_on="error")
    if image.format != "ushort" or image.bands not in (3, 4):
        image = image.colourspace("rgb16").cast("ushort")
    return image


@contextlib.contextmanager
def our_pixel_limit():
    """Pillow's decompression-bomb check lifted while a source is opened: ours, from the same
    header, says "more than max_image_pixels" for every format (Pillow's would say its own)."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def open_image(src: Path, accepted_formats: Sequence[str], max_image_pixels: int, animation: str) -> Image.Image:
    """Open the header only, refusing formats not accepted, bombs and (if asked) animations."""
    formats = [PIL_FORMATS[f] for f in accepted_formats if f in PIL_FORMATS]
    try:
        with warnings.catch_warnings(), our_pixel_limit():
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
            with warnings.catch_warnings(), our_pixel_limit():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(src, formats=others) as probe:
                    name = next((f for f, pil in PIL_FORMATS.items() if pil == probe.format), probe.format.lower())
                    return f"format {name} is not accepted (accepted: {accepted})"
        except DECODE_ERRORS as exc:
            reraise_unless_input(exc)
    if src.stat().st_size == 0:
        return "the file is empty"
    return f"not an image in an accepted format (accepted: {accepted})"


def check_scans(src: Path) -> None:
    """Refuse a JPEG with more scans than libjpeg should run (engine/jpegscan), from its
    markers, before any is decoded."""
    with open(src, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        reason = jpegscan.too_many_scans(data)
    if reason is not None:
        raise InputError("decode", reason)


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


def draft(im: Image.Image, renditions: Sequence[Rendition], orientation: int | None = None) -> None:
    """Ask libjpeg for the smallest DCT scale (1/8..1) still covering every rendition.

    A JPEG's EXIF precedes its pixels, so the orientation is known before decoding (a RAW's
    preview is turned by the RAW's flip, given as `orientation`)."""
    o = orient.orientation(im) if orientation is None else orientation
    size = draft_size(renditions, im.size, o)
    if size is not None:
        im.draft(im.mode, size)


def load(im: Image.Image) -> None:
    """Decode the pixels; a truncated or corrupt file fails here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        raise InputError("decode", describe(exc)) from None
    except RuntimeError as exc:  # pi-heif's for libheif's other errors (engine/heif)
        if im.format != heif.PIL_FORMAT:
            raise
        raise heif.failure(exc) from None
