"""TIFFs of floating-point samples (SampleFormat 3): HDR merges, Photoshop's 32-bit mode,
scientific and astronomy tools. Pillow opens none in colour (it has no float RGB mode),
so before the safe open engine/decode asks `layout` (Pillow's TIFF directory reader,
engine/tifftags) and sends such a file here; libvips reads the samples (16- and 32-bit;
libtiff refuses 24- and 64-bit ones, which are refused naming their samples).

What the numbers mean: 1.0 is white. With an RGB profile embedded, they are that
profile's values (Photoshop embeds a linear one in a 32-bit file). Without one they are
linear light in sRGB's primaries (scRGB): what libvips, OpenEXR and Photoshop's 32-bit
mode take them for. Negative values are 0.

Tone mapping, stated (engine/tonemap): a picture within 0..1 (display-referred) is taken
as it is. One with highlights above 1 (scene-referred: an HDR merge) keeps every value
below KNEE (0.8) as it is and rolls the rest off, each channel, along an extended Reinhard
curve (slope 1 at the knee, so no kink) that brings its white point to 1.0: the 99.9th
percentile of its brightest channel, so the 0.1 % above (the sun, speculars) clips. Why: clipping at 1.0
(libvips' own scRGB to sRGB; Photoshop's Exposure and Gamma conversion at 0 and 1.0)
turns an HDR merge's sky and lamps flat white; a curve scaled to the
maximum would darken the whole picture for one specular pixel. This keeps the midtones'
exposure and the highlights' detail, compressed; per channel, a bright colour fades
towards white as film's does. Then sRGB's curve (no profile), at 16 bits: from there
the file is a 16-bit TIFF (engine/colour.deep_to_target converts it to each rendition's
profile from its 16 bits). Grey: the same, to 8 bits.

libvips reads the file twice, in strips (the white point's histogram, then the frame):
the floats are never all in memory. Measured on a 12 MP 32-bit HDR TIFF (144 MB), the
example recipe, one thread: 0.6-0.8 s and a 210 MiB peak, against 0.17-0.2 s and 148 MiB
for the same picture as a 16-bit TIFF (2 shared cores, load 6.7).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import pyvips
from PIL import Image

from hotfolder.engine import orient, tifftags, tonemap
from hotfolder.engine.colour import too_large, usable_profile
from hotfolder.engine.decoders import Decoded, Wanted
from hotfolder.engine.errors import InputError, unpinned
from hotfolder.engine.metadata import TIFF_STRUCTURE_TAGS, Metadata, oversized_profile
from hotfolder.engine.opening import too_many_pixels
from hotfolder.engine.resample import Frame

FLOAT = 3  # SampleFormat
WHITE_PERCENTILE = 99.9
WHITE_STEPS = 4096  # the histogram's steps per 1.0; a white point is found up to 16.0
LUT_STEPS = tonemap.LUT_STEPS  # the tone curve's table (see _curve)
READ_BITS, MINISBLACK, RGB = (16, 32), 1, 2
ICC_TAG, XMP_TAG = 34675, 700


def problem(found: tifftags.Layout) -> str | None:
    """Why libvips cannot read these floats for us, or None."""
    if found.bits not in READ_BITS:
        return f"a TIFF of {found}, which hotfolder cannot read: save it with 16- or 32-bit float samples"
    if found.photometric not in (MINISBLACK, RGB) or found.bands > 4:
        return f"a TIFF of {found}, which hotfolder cannot read: save it as grey or RGB"
    return None


def layout(src: Path) -> tifftags.Layout | None:
    """The samples of a TIFF of floating-point samples, or None: not a TIFF, or not floats."""
    tags = tifftags.read(src)
    if tags is None:
        return None
    found = tifftags.layout(tags)
    return found if found.kind == FLOAT else None


def decode(src: Path, found: tifftags.Layout, wanted: Wanted) -> Decoded:
    if reason := too_many_pixels(found.size, wanted.max_image_pixels):
        raise InputError("open", reason)
    if reason := problem(found):
        raise InputError("decode", reason)
    meta = metadata(src)
    linear = meta.icc is None  # else the profile's own values
    colours = 1 if found.photometric == MINISBLACK else 3
    white = _white_point(_open(src), colours)
    if colours == 1:
        grey = (_tone_mapped(_open(src), colours, white, linear) / 257).rint().cast("uchar")
        try:
            frame = Frame.rendered(grey, "L" if grey.bands == 1 else "LA")
        except pyvips.Error as exc:  # read now: a truncated or corrupt file
            raise InputError("decode", _reason(exc)) from None
        return Decoded(meta, found.size, frame=frame)
    return Decoded(meta, found.size, deep=lambda: _tone_mapped(_open(src), colours, white, linear))


def _open(src: Path) -> pyvips.Image:
    try:
        return pyvips.Image.new_from_file(str(src), access="sequential", fail_on="error")
    except pyvips.Error as exc:
        raise InputError("decode", _reason(exc)) from None


def _reason(exc: pyvips.Error) -> str:
    """libtiff's or libvips' own words ("tiff2vips: Read error at scanline 20; ..."), not
    pyvips' "unable to call percent"."""
    said = [line.strip() for line in (exc.detail or "").splitlines() if line.strip()]
    return unpinned(said[-1] if said else str(exc.message).strip())


def _white_point(image: pyvips.Image, colours: int) -> float:
    """1.0, or the brightest channel's 99.9th percentile when it is above 1 (one pass)."""
    brightest = image[0]
    for band in range(1, colours):
        brightest = brightest.maxpair(image[band])
    try:
        steps = (brightest.clamp(min=0, max=65535 / WHITE_STEPS) * WHITE_STEPS).cast("ushort")
        return max(1.0, steps.percent(WHITE_PERCENTILE) / WHITE_STEPS)
    except pyvips.Error as exc:  # a truncated or corrupt file, read now
        raise InputError("decode", _reason(exc)) from None


def _tone_mapped(image: pyvips.Image, colours: int, white: float, linear: bool) -> pyvips.Image:
    """16-bit pixels: the colours rolled off and encoded (see the module's doc) through one
    table of 65536 steps over 0..white, alpha scaled."""
    index = image.extract_band(0, n=colours).clamp(min=0, max=white).linear(LUT_STEPS / white, 0.5).cast("ushort")
    bands = [index.maplut(_curve(white, linear))]
    if image.bands > colours:  # alpha, 0..1
        bands.append(image.extract_band(colours).clamp(min=0, max=1).linear(65535, 0.5).cast("ushort"))
    out = bands[0].bandjoin(bands[1:]) if len(bands) > 1 else bands[0]
    return out.copy(interpretation="rgb16" if colours == 3 else "grey16")


@functools.lru_cache(maxsize=8)
def _curve(white: float, linear: bool) -> pyvips.Image:
    """The table: step i is the value i/LUT_STEPS·white, rolled off above the knee when
    white > 1, then encoded with sRGB's curve when linear; as 16 bits (engine/tonemap).
    Precision: a step is white/65535 of linear light, 0.15 of an 8-bit sRGB level near
    black for a white point of 3, 0.8 at the highest white point read (16)."""
    return tonemap.to_sdr(pyvips.Image.identity(ushort=True).cast("double") * (white / LUT_STEPS), white, linear)


def metadata(src: Path) -> Metadata:
    """EXIF (IFD0 without the layout's tags, and its EXIF and GPS IFDs), ICC and XMP."""
    tags, notes = tifftags.read_noted(src)
    if tags is None:  # read a moment ago: the file changed under us
        raise InputError("open", "the TIFF's directory cannot be read")
    with open(src, "rb") as f:
        head, size = f.read(4), os.fstat(f.fileno()).st_size
    if reason := tifftags.misplaced_pixels(tags, size, tifftags.header_size(head)):
        raise InputError("open", reason)
    icc = tags.get(ICC_TAG) if isinstance(tags.get(ICC_TAG), bytes) else None
    xmp = tags.get(XMP_TAG) if isinstance(tags.get(XMP_TAG), bytes) else None
    orientation = orient.valid(tags.get(orient.ORIENTATION_TAG, 1))
    for tag in TIFF_STRUCTURE_TAGS & set(tags):
        del tags[tag]
    exif = _exif_bytes(tags)
    if icc is not None and too_large(icc):
        notes, icc = (*notes, oversized_profile(icc)), None
    return Metadata(format="tiff", orientation=orientation, exif=exif,
                    icc=icc if icc is not None and usable_profile(icc) else None, xmp=xmp or None, notes=notes)


def _exif_bytes(tags: Image.Exif) -> bytes:
    try:
        return tags.tobytes() if len(tags) else b""
    except (ValueError, TypeError, OSError):  # a value Pillow cannot write back: none rather than no file
        return b""

