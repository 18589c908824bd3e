"""The formats Pillow decodes whole: PNG, TIFF, WebP, GIF, BMP, AVIF; and `eight_bit`,
which every Pillow decoder ends with (modes brought to L, LA, RGB or RGBA). An 8-bit grey
TIFF with transparency in separate planes, which Pillow misreads, is libtiff's
(`_grey_alpha_planes`).

Pillow decodes: measured, its `draft()` decode of a 12 MP JPEG at 1/2 scale is faster
than libvips' `shrink=2` (bench/stages.py), and it keeps what a hostile file meets in
one place (engine/opening).

16-bit RGB(A) PNGs and TIFFs (`decode_deep`): Pillow has no 16-bit RGB mode and would
keep only the top 8 bits, so after Pillow has read and checked the header, libvips
decodes their pixels at 16 bits for the colour conversion (engine/colour.deep_to_target),
in strips, straight into the 8-bit frame each target profile needs: the 16 bits are
never all in memory (a 100 MP 16-bit PNG peaked at 2 GB when they were).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvips
from PIL import Image, ImageFile, TiffImagePlugin

from hotfolder.engine.colour import normalise_mode
from hotfolder.engine.decoders import Decoded, Wanted
from hotfolder.engine.errors import InputError
from hotfolder.engine.metadata import Metadata, read_exif_early, read_metadata
from hotfolder.engine.opening import load
from hotfolder.engine.resample import Frame

ORIENTATION, BITS_PER_SAMPLE, COMPRESSION, PLANAR, TILE_WIDTH = 274, 258, 259, 284, 322  # TIFF tags
PHOTOMETRIC, WHITE_IS_ZERO = 262, 0
# Deep (16-bit per sample) RGB layouts of Pillow's PNG and TIFF readers.
DEEP_RAWMODES = ("RGB;16", "RGBA;16", "RGBX;16")


def decode(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded:
    """WebP, GIF, AVIF (and 8-bit PNG and TIFF; BMP through decoders/bmp): the first frame, whole."""
    size = header.size
    read_exif_early(header)  # a TIFF's, from the file that `load` closes
    if isinstance(header, TiffImagePlugin.TiffImageFile) and header.mode == "LA" and header.tag_v2.get(PLANAR) == 2:
        return _grey_alpha_planes(src, header, wanted)
    if isinstance(header, TiffImagePlugin.TiffImageFile) and header.tag_v2.get(ORIENTATION) in (5, 6, 7, 8):
        # Pillow 13 maps an uncompressed one-strip TIFF (grey, RGBA, CMYK, 16-bit grey) with the
        # upright size it reports for these orientations, not the stored one: the picture came
        # out scrambled (a fuzz round). Read, not mapped: Pillow maps only a file it has a name of.
        header.filename = ""
    load(header)
    meta = read_metadata(header)
    return eight_bit(_white_at_zero_turned(header), size, meta)


def _white_at_zero_turned(im: Image.Image) -> Image.Image:
    """A 16-bit grey TIFF whose PhotometricInterpretation is WhiteIsZero (some scanners'
    grey, film scans) with black at zero, as every other grey is: Pillow reads the 8-bit
    one so ("L;I") but keeps a 16-bit one's values as stored, and it came out as its negative."""
    if (not isinstance(im, TiffImagePlugin.TiffImageFile) or im.tag_v2.get(PHOTOMETRIC) != WHITE_IS_ZERO
            or not im.mode.startswith("I;16")):
        return im
    pixels = np.asarray(im)
    turned = Image.fromarray(np.iinfo(pixels.dtype).max - pixels)
    turned.info = im.info
    return turned


def decode_deep(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded:
    """PNG and TIFF: 16-bit RGB(A) read by libvips (see the module's doc), else as `decode`."""
    if not _deep(header):
        return decode(src, header, wanted)
    return Decoded(read_metadata(header), stored_size(header), deep=lambda: _vips_open(src))


def stored_size(header: ImageFile.ImageFile) -> tuple[int, int]:
    """The picture's size as its pixels are stored, which libvips reads. Pillow gives a TIFF
    of orientation 5-8 its upright size (it turns the pixels itself when it loads them): the
    engine, which turns libvips' frame by the orientation, planned the stored frame as if
    upright and drew the picture turned into it, squashed (a fuzz round: 16-bit TIFFs)."""
    if isinstance(header, TiffImagePlugin.TiffImageFile):
        width, height = header.tag_v2.get(256), header.tag_v2.get(257)
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    return header.size


def _grey_alpha_planes(src: Path, header: TiffImagePlugin.TiffImageFile, wanted: Wanted) -> Decoded:
    """An 8-bit grey TIFF with transparency whose two channels are stored apart: Pillow has
    no reader of it (stored raw, "unknown raw mode"; compressed, the transparency came out
    garbage in silence: a review) and libvips reads it wrong too; libtiff (through
    imagecodecs) reads it. As stored: the orientation is the engine's, as for a 16-bit TIFF."""
    import imagecodecs  # imported with the first such file (~65 ms), as decoders/webp

    try:
        planes = imagecodecs.tiff_decode(wanted.bytes_of(src), index=0)
    except imagecodecs.TiffError as exc:
        raise InputError("decode", f"the TIFF is damaged: {exc}") from None
    size = stored_size(header)
    if planes.dtype != "uint8" or planes.shape != (2, size[1], size[0]):
        raise InputError("decode", f"the TIFF's pixels are not what its header says ({size[0]}x{size[1]}, grey "
                                   "with transparency, 8 bits): the file is damaged")
    pixels = np.ascontiguousarray(planes.transpose(1, 2, 0))
    return Decoded(read_metadata(header), size, frame=Frame.packed(pixels, "LA"))


def eight_bit(im: Image.Image, size: tuple[int, int], meta: Metadata) -> Decoded:
    """A decoded Pillow image in a mode the engine works in, with the profile that now
    describes it (a CMYK image is converted to sRGB)."""
    frame, icc = normalise_mode(im, meta.icc)
    return Decoded(meta.with_icc(icc), size, frame=frame)


def _deep(header: ImageFile.ImageFile) -> bool:
    """Whether the file's RGB(A) samples are read at 16 bits by libvips. A TIFF of separate
    planes is the exception either way: stored raw, Pillow names each plane's tile by one
    letter ("R") and reads it as 8 bits (garbage colours: a fuzz round), so libvips reads it;
    in tiles, which libvips cannot read, libtiff through Pillow reads a compressed one (at
    8 bits), and a raw one is refused in words."""
    if isinstance(header, TiffImagePlugin.TiffImageFile) and header.tag_v2.get(PLANAR) == 2:
        bits = header.tag_v2.get(BITS_PER_SAMPLE)
        bits = bits if isinstance(bits, tuple) else (bits,)
        if header.mode not in ("RGB", "RGBA") or not all(b == 16 for b in bits):
            return False
        if TILE_WIDTH not in header.tag_v2:
            return True
        if header.tag_v2.get(COMPRESSION, 1) != 1:
            return False
        raise InputError("decode", "a 16-bit TIFF whose colour planes are stored apart, uncompressed, in tiles, "
                                   "which hotfolder cannot read: save it with its channels interleaved (Photoshop: "
                                   "Pixel Order Interleaved), compressed, or in strips")
    return rawmode(header).startswith(DEEP_RAWMODES)


def rawmode(im: ImageFile.ImageFile) -> str:
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
