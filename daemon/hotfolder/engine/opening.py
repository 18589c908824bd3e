"""Opening a source safely, the one place a hostile file meets Pillow before its decoder:
the formats accepted (`formats=`), the pixel limit read from the header before any pixel
is allocated, animations, a JPEG's scans counted before libjpeg runs, and the messages
users know. Every decoder (engine/decoders) starts from here; a RAW's LibRaw header and
its embedded preview are held to the same pixel limit and scan count.

The pixel limit is ours for every format (`max_image_pixels`, checked from the header):
Pillow's own check is lifted while a source is opened, so its message never stands in
for ours; it stays the backstop for any other image the process opens.
"""
from __future__ import annotations

import contextlib
import io
import mmap
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from PIL import Image, ImageFile, PngImagePlugin, TiffImagePlugin

from hotfolder.config.model import Rendition
from hotfolder.engine import formats, jpegscan, orient, pngchunks, tifftags, unopened
from hotfolder.engine.errors import DECODE_ERRORS, InputError, describe, reraise_unless_input
from hotfolder.engine.geometry import draft_size

# A PNG's text chunk, decompressed, may be this long (Pillow's own limit is 1 MB, and a
# longer one failed the whole file): Photoshop's DocumentAncestors alone grow an XMP to
# MBs (engine/metadata drops them). Parsing a 4.5 MB packet peaks at +19 MiB, within
# engine/memory's WORKER_BASE headroom. Pillow still bounds all text of a file to 64 MB.
PngImagePlugin.MAX_TEXT_CHUNK = 4 * 2**20


def configure(max_image_pixels: int) -> None:
    """Set Pillow's decompression-bomb limit; call once per process."""
    Image.MAX_IMAGE_PIXELS = max_image_pixels


@contextlib.contextmanager
def our_pixel_limit() -> Iterator[None]:
    """Pillow's decompression-bomb check lifted while a source is opened: ours, from the same
    header, says "more than max_image_pixels" for every format (Pillow's would say its own)."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def too_many_pixels(size: tuple[int, int], max_image_pixels: int) -> str | None:
    """Why a picture of `size` is refused, or None."""
    width, height = size
    if width * height <= max_image_pixels:
        return None
    return (f"{width}x{height} is {width * height:,} pixels, more than max_image_pixels ({max_image_pixels:,}): "
            "raise it to take such files (a worker needs up to 17 bytes a pixel of it), or drop a smaller export")


def open_image(src: Path, accepted_formats: Sequence[str], max_image_pixels: int,
               animation: str, data: bytes | None = None, name: str | None = None) -> ImageFile.ImageFile:
    """Open the header only, refusing formats not accepted, bombs and (if asked) animations.
    `data`: the file's bytes, read already (engine/fingerprint), opened instead of the path;
    `name`: the file's name, where `src` is not named so (fingerprint.Original.reading)."""
    pil_names = [f.pil for f in map(formats.get, accepted_formats) if f.pil is not None]
    if reason := _refused_structure(src, data, pil_names):
        raise InputError("open", reason)
    try:
        with warnings.catch_warnings(), our_pixel_limit():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(src if data is None else io.BytesIO(data), formats=pil_names)
    except Image.UnidentifiedImageError:
        raise InputError("open", unopened.reason(src, accepted_formats, name)) from None
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        raise InputError("open", describe(exc)) from None
    try:
        if reason := too_many_pixels(im.size, max_image_pixels):
            raise InputError("open", reason)
        if isinstance(im, TiffImagePlugin.TiffImageFile) and (
                reason := tifftags.unread_samples(im.tag_v2) or _misplaced_tiff_pixels(im, src, data)):
            raise InputError("open", reason)
        _check_animation(im, animation)
    except BaseException:
        im.close()
        raise
    return im


def _refused_structure(src: Path, data: bytes | None, pil_names: Sequence[str]) -> str | None:
    """A TIFF cut into more strips or tiles, or a PNG of more chunks, than Pillow should walk
    (it makes a Python entry of each: engine/tifftags.MAX_PIECES, engine/pngchunks), asked
    before it opens the file; from `data` when the bytes were read already."""
    if "TIFF" not in pil_names and "PNG" not in pil_names:
        return None
    if data is not None:
        return tifftags.too_many_pieces(io.BytesIO(data)) or pngchunks.too_many(data)
    try:
        with open(src, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return None  # Pillow says what an empty file is
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                return tifftags.too_many_pieces(mapped) or pngchunks.too_many(mapped)
    except ValueError:  # emptied between the two calls: Pillow says what it is now
        return None
    except OSError as exc:
        reraise_unless_input(exc)
        return None


def _misplaced_tiff_pixels(im: TiffImagePlugin.TiffImageFile, src: Path, data: bytes | None) -> str | None:
    if data is None:
        with open(src, "rb") as f:
            head, size = f.read(4), os.fstat(f.fileno()).st_size
    else:
        head, size = data[:4], len(data)
    return tifftags.misplaced_pixels(im.tag_v2, size, tifftags.header_size(head))


def _check_animation(im: Image.Image, animation: str) -> None:
    known = formats.of_pil(im.format)
    if animation != "fail" or known is None or not known.animation:
        return
    try:
        animated = getattr(im, "is_animated", False)
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        raise InputError("open", describe(exc)) from None
    if animated:
        raise InputError("open", "the image is animated, and this folder is set to `animation: fail`")


def check_markers(src: Path, data: bytes | None = None, pixels: int = 0) -> None:
    """Refuse a JPEG of `pixels` with more scans than libjpeg should run over them, or a
    flat quantisation table (engine/jpegscan.refused), from its markers, before any is
    decoded; from `data` when the bytes were read already."""
    if data is not None:
        reason = jpegscan.refused(data, pixels)
    else:
        with open(src, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            reason = jpegscan.refused(mapped, pixels)
    if reason is not None:
        raise InputError("decode", reason)


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
    except RuntimeError as exc:  # libavif's own ("Decoding of color planes failed"): the file's, not ours
        if im.format != "AVIF" or isinstance(exc, RecursionError | NotImplementedError):
            raise
        raise InputError("decode", describe(exc)) from None
