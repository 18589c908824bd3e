"""HEIC/HEIF input: libheif (pi-heif) opens it; FFmpeg (decoders/hevc, the optional extra
`heic-ffmpeg`) or libheif (libde265) decodes the pixels.

Which decoder: FFmpeg's HEVC decoder, where PyAV is installed and the file's primary image
is one the FFmpeg path handles (decoders/heifmeta: one hvc1 image or a grid of them, 8-12
bits, full range, no alpha or overlay), measured 1.5-2.6× faster on every shape tried;
libheif for everything else, and for a file whose size by its boxes is not the one libheif
reads (libheif's word on which image is primary stands). libheif still reads the header
(the pixel limit, its security limits on the boxes), EXIF, XMP and the colour profile.

Through FFmpeg the pixels come as coded: the crop (clap) is applied, and irot/imir become
the orientation the engine turns by after resampling (the output, not the 12 MP frame),
as for a JPEG; a folder with `orient: false` keeps libheif, which always turns a HEIF.
When every rendition is at most half the picture (the JPEG draft's rule), a grid of
4:2:0 tiles is decoded at half size per tile (decoders/hevc).

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
colours by code (`nclx`) with the Display P3 primaries gets libvips' P3 profile, one with
BT.2020's (an SDR curve, or HLG's, made to be shown as SDR) a BT.2020 profile of ours
(engine/matrixicc); PQ (HDR) decoded at 16 bits is tone-mapped to SDR (engine/hdr), and
said; an 8-bit one is not converted, and said.
10- and 12-bit images are decoded to 16 bits once (`DeepPixels` for libheif's buffer,
`ArrayPixels` for FFmpeg's), for the colour conversion; libvips reads the buffer in place.
"""
from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pi_heif
import pyvips
from PIL import Image, ImageFile

from hotfolder.engine import colour, hdr, matrixicc
from hotfolder.engine.decoders import Decoded, Wanted, heifmeta, hevc
from hotfolder.engine.decoders.pillow import eight_bit
from hotfolder.engine.errors import DECODE_ERRORS, InputError, describe, reraise_unless_input
from hotfolder.engine.geometry import draft_size, oriented_size
from hotfolder.engine.metadata import Metadata, read_metadata
from hotfolder.engine.opening import load
from hotfolder.engine.resample import Frame

# How libheif words a refusal by its security limits (image size, tiles, boxes, memory),
# which pi-heif raises as a RuntimeError ("Memory allocation error: Security limit
# exceeded: Image size 70000x70000 exceeds the maximum image size 1073741824\n").
SECURITY_LIMIT = "Security limit exceeded:"
NCLX_P3, NCLX_BT2020 = 12, 9  # colour_primaries: SMPTE EG 432-1 (Display P3's), ITU-R BT.2020's
NCLX_PQ, NCLX_HLG = 16, 18  # transfer_characteristics of HDR: SMPTE ST 2084, ARIB STD-B67

pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def use_threads(threads: int) -> None:
    """libheif's decoding threads (for a HEIC made of a grid of tiles, as phones write them):
    as many as this file has cores, 1 on a busy daemon. pi-heif reads them when it opens a
    file, so engine/decode sets them before opening any (its format is not known yet)."""
    pi_heif.options.DECODE_THREADS = max(1, threads)


def decode(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded:
    with _file(src, wanted) as file:  # opened, and its boxes read, once for both checks and FFmpeg
        layout = _layout(file)
        if layout is not None and heifmeta.ends_early(layout, file):  # libheif: green tiles, and no word
            raise InputError("decode", "Unexpected end of file: a tile of the picture lies past the file's end")
        fast = _fast(file, layout, header, wanted) if layout is not None and hevc.available() else None
    if fast is not None:
        return fast
    size = header.size  # before load: pi-heif sets the decoded image's
    if is_deep(header):
        return Decoded(_meta(header, deep=True), size, deep=_tone_mapped(_deep_pixels(src), header.info))
    try:
        load(header)
    except RuntimeError as exc:  # pi-heif's, for libheif's errors other than bad data
        raise failure(exc) from None
    return eight_bit(header, size, _meta(header))


@contextmanager
def _file(src: Path, wanted: Wanted) -> Iterator[heifmeta.File]:
    """The bytes the worker read (`wanted.data`), else the file open by descriptor."""
    if wanted.data is not None:
        yield wanted.data
        return
    fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def _layout(file: heifmeta.File) -> heifmeta.Layout | None:
    try:
        return heifmeta.read_layout(file)
    except heifmeta.Unsupported:
        return None  # not one this reader knows: libheif's own errors speak


def through_ffmpeg(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded | None:
    """The file decoded by FFmpeg (decoders/hevc), or None: libheif decodes it."""
    with _file(src, wanted) as file:
        layout = _layout(file)
        return _fast(file, layout, header, wanted) if layout is not None else None


def _fast(file: heifmeta.File, layout: heifmeta.Layout, header: ImageFile.ImageFile,
          wanted: Wanted) -> Decoded | None:
    if oriented_size(layout.stored_size, layout.orientation) != header.size:
        return None  # libheif reads another image as the primary one (a bad pitm): its word stands
    if layout.orientation != 1 and not all(r.orient for r in wanted.renditions):
        return None  # `orient: false` cannot undo a HEIF's turn: libheif applies it
    scale = 2 if _half_will_do(layout, wanted) else 1
    pixels = hevc.decode(file, layout, scale=scale, threads=wanted.threads)
    if pixels is None or (pixels.depth > 8) != is_deep(header):
        return None
    meta = replace(_meta(header, deep=pixels.depth > 8), orientation=layout.orientation)
    if pixels.depth > 8:
        return Decoded(meta, layout.stored_size, deep=_tone_mapped(ArrayPixels(pixels.rgb), header.info))
    return Decoded(meta, layout.stored_size, frame=Frame.packed(pixels.rgb, "RGB"))


def _half_will_do(layout: heifmeta.Layout, wanted: Wanted) -> bool:
    """Whether every rendition is covered by half the picture (the JPEG draft's rule), and the
    half is exact: even sizes (an odd side's half stands for one pixel more: measured, a 0.25 px
    drift cost SSIM 0.970 on a 4031×3023 file) and no crop."""
    even = all(side % 2 == 0 for side in (*layout.tile_size, layout.width, layout.height))
    return even and layout.crop is None and draft_size(wanted.renditions, layout.stored_size,
                                                       layout.orientation) is not None


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


def _meta(header: ImageFile.ImageFile, deep: bool = False) -> Metadata:
    """What the HEIF says, with the profile its colour stands for, and a note when its colour
    code is one hotfolder does not convert (or tone-maps: a PQ one decoded at 16 bits)."""
    meta = read_metadata(header).with_icc(profile_of(header.info, deep))
    said = unconverted(header.info, deep)
    return meta if said is None else replace(meta, notes=(*meta.notes, said))


def profile_of(info: dict, deep: bool = False) -> bytes | None:
    """The ICC profile the HEIF carries, or the one its colour code stands for (`deep`: the
    pixels are decoded at 16 bits, and a PQ picture's are tone-mapped, engine/hdr)."""
    icc = info.get("icc_profile")
    if icc and not colour.too_large(icc):  # too large: left out, and said (engine/metadata)
        return icc
    nclx = info.get("nclx_profile") or {}
    primaries = nclx.get("color_primaries")
    if primaries == NCLX_P3:
        return colour.p3_icc()
    if primaries == NCLX_BT2020 and (nclx.get("transfer_characteristics", 2) in (*SDR_TRANSFERS, NCLX_HLG)
                                     or _pq(info, deep)):
        return matrixicc.bt2020()
    return None


def _pq(info: dict, deep: bool) -> bool:
    """A picture in PQ decoded at 16 bits, with primaries hotfolder converts: tone-mapped."""
    nclx = info.get("nclx_profile") or {}
    return (deep and not info.get("icc_profile") and nclx.get("transfer_characteristics") == NCLX_PQ
            and nclx.get("color_primaries", 2) in SRGB_LIKE_PRIMARIES)


def _tone_mapped(deep, info: dict):
    """The 16-bit pixels as they are, or tone-mapped to SDR if they are PQ's (engine/hdr)."""
    return hdr.ToneMapped(deep) if _pq(info, True) else deep


# nclx codes taken as they are (ISO/IEC 23091-2): primaries BT.709/sRGB, unspecified, BT.601
# (within a few levels of sRGB's), Display P3 and BT.2020 (converted); transfers BT.709,
# unspecified, BT.601, sRGB, BT.2020 10/12-bit (the same curve as BT.709's); HLG is shown as
# the SDR picture it is made to be compatible with (ITU-R BT.2100: its lower part is SDR's
# curve), and said; PQ is not converted.
SRGB_LIKE_PRIMARIES = {1, 2, 5, 6, NCLX_P3, NCLX_BT2020}
SDR_TRANSFERS = {1, 2, 6, 13, 14, 15}
PRIMARIES_NAMES = {4: "BT.470M", 7: "SMPTE 240M", 8: "generic film", 9: "BT.2020", 10: "XYZ", 11: "DCI-P3",
                   22: "EBU 3213"}
TRANSFER_NAMES = {4: "gamma 2.2", 5: "gamma 2.8", 7: "SMPTE 240M", 8: "linear", 9: "log", 10: "log (sqrt)",
                  11: "IEC 61966-2-4", 12: "BT.1361", 16: "PQ (HDR)", 17: "SMPTE 428", 18: "HLG (HDR)"}


def unconverted(info: dict, deep: bool = False) -> str | None:
    """What the log should say of a colour code (no ICC profile) hotfolder does not convert:
    PQ (HDR), other primaries, ... were rendered as if sRGB in silence, an HDR photo dim and
    flat (a fuzz round; Canon's HDR-PQ .hif writes BT.2020 PQ); and of HLG, shown as SDR."""
    nclx = info.get("nclx_profile") or {}
    if info.get("icc_profile") or not nclx:
        return None
    if _pq(info, deep):
        return hdr.NOTE
    primaries, transfer = nclx.get("color_primaries", 2), nclx.get("transfer_characteristics", 2)
    odd = []
    if primaries not in SRGB_LIKE_PRIMARIES or (primaries == NCLX_BT2020 and transfer not in (*SDR_TRANSFERS,
                                                                                               NCLX_HLG)):
        odd.append(f"primaries {PRIMARIES_NAMES.get(primaries, primaries)}")
    if transfer not in (*SDR_TRANSFERS, NCLX_HLG):
        odd.append(f"transfer {TRANSFER_NAMES.get(transfer, transfer)}")
    if not odd:
        return None if transfer != NCLX_HLG else (
            "the source is HDR (transfer HLG): it is rendered as the SDR picture HLG is made to be compatible "
            "with, so its brightest highlights look flatter than on an HDR screen; for more, export it as an SDR "
            "picture from the camera's or editor's HDR conversion")
    return (f"the source's colour is stated by code ({', '.join(odd)}), which hotfolder does not convert: "
            "the picture is taken as sRGB, and its colours are off (an HDR picture comes out dim and flat); "
            "export it as an SDR picture with an ICC profile (Display P3, Adobe RGB or sRGB)")


def coded_colour(src: Path, data: bytes | None) -> tuple[bytes | None, str | None]:
    """The profile an AV1 or HEVC HEIF's colour code (nclx) stands for, and what the log
    should say of a code not converted, read by libheif from its boxes (no pixel decoded);
    (None, None): none stated, or a container libheif cannot read. For AVIFs, whose Pillow
    plugin does not say it (decoders/avif)."""
    try:
        info = pi_heif.open_heif(io.BytesIO(data) if data is not None else str(src)).info
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)
        return None, None
    return profile_of(info), unconverted(info)


class DeepPixels:
    """The primary image of a 10- or 12-bit HEIF at 16 bits (RGB, RGBA or grey), decoded once by
    libheif; each call is a new libvips image over that buffer, read in place. pi-heif's
    Pillow plugin decodes these to 8 bits (Pillow has no 16-bit RGB mode).

    Trap: pi-heif's `data` is a memoryview with no owner (`obj` is None): the buffer is
    freed with the HeifFile, and libvips then reads freed memory (a segfault). The file
    object is kept here, beside the view."""

    def __init__(self, src: Path):
        self._heif = pi_heif.open_heif(src, convert_hdr_to_8bit=False)
        self._data = self._heif.data  # contiguous: open_heif removes the stride
        self._width, self._height = self._heif.size
        # RGB;16, RGBA;16, or a monochrome HEIF's I;16 (one band: read as three, it was
        # refused as "unable to make image from memory")
        self._bands = len(self._data) // (self._width * self._height * 2)

    def __call__(self) -> pyvips.Image:
        return pyvips.Image.new_from_memory(self._data, self._width, self._height, self._bands, "ushort")


class ArrayPixels:
    """A 10- or 12-bit frame FFmpeg decoded (uint16, libheif's scale): each call is a new
    libvips image over the array, read in place; the array lives as long as this object."""

    def __init__(self, rgb: np.ndarray):
        self._rgb = np.ascontiguousarray(rgb)

    def __call__(self) -> pyvips.Image:
        height, width, bands = self._rgb.shape
        return pyvips.Image.new_from_memory(self._rgb.data, width, height, bands, "ushort")


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
