"""HEIC/HEIF input, through pi-heif (libheif with libde265; decode only: no GPL x265 encoder).

pi-heif is registered as a Pillow plugin, so a HEIC is opened like any other format
(`formats=`, the pixel limit from its header, EXIF and ICC in `info`) and decoded by
`load()`. Only the primary image is decoded: thumbnails, depth maps and auxiliary
images (alpha, HDR gain maps) are not even listed.

Orientation: libheif applies the file's own transforms (irot, imir, clap) while
decoding, as the HEIF standard asks, so the pixels come out upright; the EXIF
Orientation tag of a HEIF is informational (MIAF) and pi-heif resets it to 1 when
the file is opened. An iPhone writes both (irot 270° and EXIF 6, the same turn): it is
turned once. A tag without a transform is not applied, as libheif, Apple and libvips
show such a file.

Colour: an ICC profile (`prof`/`rICC`) is read like a JPEG's; a file that describes its
colours by code (`nclx`) with the Display P3 primaries gets libvips' P3 profile.
10- and 12-bit images are decoded to 16 bits by pi-heif, once (`DeepPixels`), for the
colour conversion; libvips reads libheif's buffer in place.
"""
from __future__ import annotations

from pathlib import Path

import pi_heif
import pyvips
from PIL import Image, ImageFile

from hotfolder.engine import colour
from hotfolder.engine.decoders import Decoded, Wanted
from hotfolder.engine.decoders.pillow import eight_bit
from hotfolder.engine.errors import DECODE_ERRORS, InputError, describe, reraise_unless_input
from hotfolder.engine.metadata import read_metadata
from hotfolder.engine.opening import load

# How libheif words a refusal by its security limits (image size, tiles, boxes, memory),
# which pi-heif raises as a RuntimeError ("Memory allocation error: Security limit
# exceeded: Image size 70000x70000 exceeds the maximum image size 1073741824\n").
SECURITY_LIMIT = "Security limit exceeded:"
NCLX_P3 = 12  # colour_primaries: SMPTE EG 432-1, Display P3's

pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def use_threads(threads: int) -> None:
    """libheif's decoding threads (for a HEIC made of a grid of tiles, as phones write them):
    as many as this file has cores, 1 on a busy daemon. pi-heif reads them when it opens a
    file, so engine/decode sets them before opening any (its format is not known yet)."""
    pi_heif.options.DECODE_THREADS = max(1, threads)


def decode(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded:
    size = header.size  # before load: pi-heif sets the decoded image's
    if is_deep(header):
        deep = _deep_pixels(src)
        return Decoded(read_metadata(header).with_icc(profile(header)), size, deep=deep)
    try:
        load(header)
    except RuntimeError as exc:  # pi-heif's, for libheif's errors other than bad data
        raise failure(exc) from None
    return eight_bit(header, size, read_metadata(header).with_icc(profile(header)))


def _deep_pixels(src: Path) -> DeepPixels:
    try:
        return DeepPixels(src)
    except RuntimeError as exc:
        raise failure(exc) from None
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        raise InputError("decode", describe(exc).splitlines()[0]) from None


def is_deep(im: Image.Image) -> bool:
    return im.info.get("bit_depth", 8) > 8


def profile(im: Image.Image) -> bytes | None:
    """The ICC profile the HEIF carries, or the one its nclx colour code stands for."""
    icc = im.info.get("icc_profile")
    if icc:
        return icc
    nclx = im.info.get("nclx_profile") or {}
    return colour.p3_icc() if nclx.get("color_primaries") == NCLX_P3 else None


class DeepPixels:
    """The primary image of a 10- or 12-bit HEIF at 16 bits (RGB or RGBA), decoded once by
    libheif; each call is a new libvips image over that buffer, read in place. pi-heif's
    Pillow plugin decodes these to 8 bits (Pillow has no 16-bit RGB mode).

    Trap: pi-heif's `data` is a memoryview with no owner (`obj` is None): the buffer is
    freed with the HeifFile, and libvips then reads freed memory (a segfault). The file
    object is kept here, beside the view."""

    def __init__(self, src: Path):
        self._heif = pi_heif.open_heif(src, convert_hdr_to_8bit=False)
        self._data = self._heif.data  # contiguous: open_heif removes the stride
        self._width, self._height = self._heif.size
        self._bands = 4 if self._heif.has_alpha else 3

    def __call__(self) -> pyvips.Image:
        return pyvips.Image.new_from_memory(self._data, self._width, self._height, self._bands, "ushort")


def failure(exc: RuntimeError) -> InputError | MemoryError:
    """What a RuntimeError of pi-heif's (libheif's errors other than bad input) means: a
    security limit is the file's fault, worded as our reasons are; a failed allocation
    may pass (retried, as a MemoryError); anything else is libheif's reason for the file."""
    text = " ".join(str(exc).split())  # one line: libheif ends its messages with a newline
    _, limit, said = text.partition(SECURITY_LIMIT)
    if limit:
        said = said.strip()
        return InputError("decode", f"the HEIF is over a libheif security limit ({said[:1].lower() + said[1:]})")
    if text.startswith("Memory allocation error"):
        return MemoryError(text)
    return InputError("decode", f"libheif: {text}")
