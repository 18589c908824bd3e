"""Camera RAW input, through rawpy (LibRaw): the embedded JPEG preview, or a develop.

A file is a RAW by its extension (its entry in engine/formats); LibRaw then reads the bytes and
refuses, with its own reason, what is not a RAW it knows. Opening reads the header only
(sizes, the flip), so the pixel limit is checked before any pixel is unpacked.

The folder's `raw:` key chooses the pixels:
  preview  the embedded JPEG preview (most cameras embed one at or near full size),
           decoded by Pillow; a RAW without a usable one fails with that reason
  develop  LibRaw demosaics (AHD) with the camera's white balance, to sRGB, 8-bit;
           at half size (2×2 photosites per pixel, no interpolation: a fraction of the
           time, bench/formats.py) when every rendition needs at most half the sensor,
           as a JPEG's DCT draft
  auto     the preview when it covers what the largest rendition needs, else develop

Orientation: the RAW's own flip, applied once by the engine after resampling (LibRaw
is told not to turn). An embedded preview is stored as the sensor saw it; one that a
camera stored already turned (its sides the other way round from the sensor's) is not
turned again, and the preview's own EXIF Orientation is never applied.

Metadata: the EXIF of the embedded JPEG preview (the same policy as any EXIF: GPS
stripped by default). A preview that does not start with its own EXIF gets one from
LibRaw, made of the RAW's own tags (make, model, date, exposure, GPS), without LibRaw's
"dcraw" Software tag. A RAW with no preview, or a bitmap one, has its EXIF read from its
own TIFF directories (engine/tifftags: DNG, NEF, CR2, ARW, PEF, SRW; no pixel decoded):
so the RAW's metadata reaches the outputs in either mode.

Colour: the develop is sRGB, and its EXIF says so (engine/dcf). A preview is in the
profile its JPEG embeds; without one, in Adobe RGB when its EXIF or the RAW's own tags
say so (a camera set to Adobe RGB renders its preview so), else taken as sRGB.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from hotfolder.config.model import Rendition
from hotfolder.engine import dcf, jpegscan, matrixicc, orient, tifftags
from hotfolder.engine.colour import srgb_icc, too_large
from hotfolder.engine.decoders import Decoded, Wanted
from hotfolder.engine.errors import DECODE_ERRORS, EMPTY, InputError, describe, reraise_unless_input
from hotfolder.engine.geometry import SIDEWAYS, draft_size, oriented_size, plans_for
from hotfolder.engine.metadata import Metadata, oversized_profile
from hotfolder.engine.opening import draft, our_pixel_limit, too_many_pixels
from hotfolder.engine.resample import Frame

if TYPE_CHECKING:
    import rawpy

# LibRaw's flip (dcraw's: bit 2 transposes, bits 0 and 1 mirror) as an EXIF orientation.
FLIP_TO_ORIENTATION = {0: 1, 1: 2, 3: 3, 2: 4, 4: 5, 6: 6, 7: 7, 5: 8}
SRGB_GAMMA = (2.4, 12.92)  # LibRaw's default is BT.709's (2.222, 4.5)
SOFTWARE_TAG = 0x0131
DATE_TIME_TAG, EXIF_IFD_TAG, DATE_TAKEN_TAG = 0x0132, 0x8769, 0x9003  # IFD0 DateTime; DateTimeOriginal
STDERR = 2


@dataclass(frozen=True)
class Developed:
    """What a RAW gives the engine: 8-bit RGB pixels as stored, and how to turn them."""

    image: Image.Image | Frame  # a develop: LibRaw's packed RGB, read in place
    size: tuple[int, int]  # what renditions are planned on: the sensor's (a half-size develop is smaller)
    orientation: int
    exif: bytes  # b"" when the preview has none
    srgb: bool  # LibRaw's develop (sRGB); False: the preview, in whatever its JPEG says
    icc: bytes | None = None  # the preview's own profile, if any


def _rawpy():
    """rawpy, imported with the first RAW: it brings LibRaw and numpy (~80 ms), which the
    main process never needs. The workers' forkserver preloads it (forks.PRELOAD)."""
    import rawpy

    return rawpy


def decode(src: Path, header: None, wanted: Wanted) -> Decoded:
    """The RAW's pixels as `wanted.raw_mode` chooses (see the module's doc). `header` is
    None: Pillow does not open a RAW, LibRaw does (and checks the pixel limit)."""
    with open_raw(src, wanted.max_image_pixels) as opened:
        got = develop(opened, wanted.renditions, wanted.raw_mode, wanted.max_image_pixels)
    return Decoded(_metadata(src, got), got.size, frame=got.image)


def _metadata(src: Path, got: Developed) -> Metadata:
    """The EXIF carried (the preview's, else the RAW's own tags) and the pixels' profile."""
    own, notes = tifftags.read_noted(src)
    if got.exif:
        exif, notes = got.exif, ()  # the preview's (a JPEG's: 64 KB at most); the RAW's own not copied
    else:
        exif = tifftags.raw_photo_exif(own) if own is not None else b""
    if got.srgb:
        icc: bytes | None = srgb_icc()
        exif = _said_srgb(exif)
    else:
        icc = got.icc
        if icc is not None and too_large(icc):  # a preview's, up to a JPEG's 16 MB (an attack round)
            notes, icc = (*notes, oversized_profile(icc)), None
        if icc is None and (_names_adobe_rgb(got.exif) or (own is not None and dcf.names_adobe_rgb(own))):
            icc = matrixicc.adobe_rgb()
    return Metadata(format="raw", orientation=got.orientation, exif=exif, icc=icc, xmp=None, notes=notes)


def _names_adobe_rgb(raw: bytes) -> bool:
    exif = Image.Exif()
    if raw:
        exif.load(raw)
    return dcf.names_adobe_rgb(exif)


def _said_srgb(raw: bytes) -> bytes:
    """EXIF that says sRGB where it said the camera's colour space: the develop is sRGB."""
    if not raw:
        return raw
    exif = Image.Exif()
    exif.load(raw)
    dcf.mark_converted(exif, dcf.SRGB)
    return exif.tobytes()


def _reason(exc: Exception) -> str:
    text = exc.args[0] if exc.args else ""
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return text.strip() or type(exc).__name__


@contextlib.contextmanager
def _libraw_messages():
    """What LibRaw prints about bad data while inside (its default handler writes to stderr:
    rawpy gives no other), kept off the worker's log stream and yielded as a list of lines
    without the file name, to give a failure its reason ("Unexpected end of file")."""
    lines: list[str] = []
    saved = os.dup(STDERR)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), STDERR)
        try:
            yield lines
        finally:
            os.dup2(saved, STDERR)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode("utf-8", "replace").splitlines():
                lines.append(line.rsplit(": ", 1)[-1].strip())


# What a file named as a RAW may really be, by its first bytes (a JPEG saved as `.dng` was
# only "not a camera RAW that LibRaw can read": a fuzz round).
SIGNATURES = ((b"\xff\xd8\xff", "JPEG (.jpg)"), (b"\x89PNG\r\n\x1a\n", "PNG (.png)"), (b"GIF8", "GIF (.gif)"),
              (b"BM", "BMP (.bmp)"))


def _really(src: Path) -> str | None:
    try:
        with open(src, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP (.webp)"
    if head[4:8] == b"ftyp":
        return "HEIC or AVIF (.heic, .avif)"
    return next((name for magic, name in SIGNATURES if head.startswith(magic)), None)


def open_raw(src: Path, max_image_pixels: int) -> rawpy.RawPy:
    """The RAW opened (its header parsed, no pixel unpacked), refused if too large."""
    rawpy = _rawpy()
    if src.stat().st_size == 0:
        raise InputError("open", EMPTY)
    try:
        with _libraw_messages():
            raw = rawpy.imread(str(src))
    except (rawpy.LibRawFileUnsupportedError, rawpy.LibRawIOError) as exc:  # not a RAW, or too short for one
        really = _really(src)
        hint = f"; it is a {really} file: give it that extension" if really else ""
        raise InputError("open", f"not a camera RAW that LibRaw can read (LibRaw: {_reason(exc)}){hint}") from None
    except rawpy.LibRawError as exc:
        raise InputError("open", f"LibRaw: {_reason(exc)}") from None
    too_many = too_many_pixels((raw.sizes.width, raw.sizes.height), max_image_pixels)
    if too_many:
        raw.close()
        raise InputError("open", too_many)
    return raw


def develop(raw: rawpy.RawPy, renditions: Sequence[Rendition], mode: str, max_image_pixels: int) -> Developed:
    """The pixels `mode` asks for (see the module's doc)."""
    rawpy = _rawpy()
    sizes = raw.sizes
    stored = (sizes.width, sizes.height)
    orientation = FLIP_TO_ORIENTATION.get(sizes.flip, 1)
    preview = _Preview.of(raw, stored, orientation, max_image_pixels)
    if mode == "preview" and preview.unusable:
        raise InputError("decode", f"the RAW has no usable embedded preview ({preview.unusable}); "
                                   "set the folder's raw: to develop or auto")
    if mode == "preview" or (mode == "auto" and not preview.unusable
                             and preview.covers(renditions, stored, orientation)):
        return preview.decode(renditions)
    half = draft_size(renditions, stored, orientation) is not None
    with _libraw_messages() as printed:
        failure: str | None = None
        try:
            pixels = raw.postprocess(use_camera_wb=True, output_color=rawpy.ColorSpace.sRGB, output_bps=8,
                                     gamma=SRGB_GAMMA, user_flip=0, half_size=half)
        except rawpy.LibRawError as exc:
            failure = _reason(exc)
    if failure is not None:
        said = "; ".join(dict.fromkeys(line for line in printed if line))
        raise InputError("decode", f"the RAW data could not be read (LibRaw: {failure}{': ' + said if said else ''})")
    raw.close()  # LibRaw's own buffers (10 bytes a photosite), before the pixels are used
    height, width, _ = pixels.shape
    frame = Frame(data=pixels.data, mode="RGB", size=(width, height))  # packed RGB: no copy
    return Developed(frame, stored, orientation, preview.exif, srgb=True)


@dataclass(frozen=True)
class _Preview:
    """The embedded preview, its header read (a JPEG is decoded only if it is used)."""

    unusable: str  # why it cannot be used; "" when it can
    jpeg: bytes = b""
    bitmap: Image.Image | None = None
    size: tuple[int, int] = (0, 0)
    orientation: int = 1
    exif: bytes = b""  # carried by a develop too
    icc: bytes | None = None

    @classmethod
    def of(cls, raw: rawpy.RawPy, stored: tuple[int, int], orientation: int, max_image_pixels: int) -> _Preview:
        """The preview, or why it cannot be used: its pixels are held to `max_image_pixels`
        like any image's (LibRaw hands out a bitmap preview of whatever size its tags say,
        zero-filled past the file's end: 121 MP from a 8 KB DNG), and a JPEG's scans to
        engine/jpegscan's limit, before any pixel is copied or decoded."""
        rawpy = _rawpy()
        try:
            thumb = raw.extract_thumb()
        except rawpy.LibRawError as exc:
            return cls(f"LibRaw: {_reason(exc)}")
        data = thumb.data  # bytes for a JPEG, an array for a bitmap
        if thumb.format == rawpy.ThumbFormat.JPEG and isinstance(data, bytes):
            try:
                with our_pixel_limit(), Image.open(io.BytesIO(data), formats=["JPEG"]) as jpeg:
                    size, exif, icc = jpeg.size, _carried_exif(jpeg), jpeg.info.get("icc_profile") or None
            except DECODE_ERRORS as exc:
                reraise_unless_input(exc)
                return cls(f"its JPEG cannot be read: {describe(exc)}")
            too_many = too_many_pixels(size, max_image_pixels) or jpegscan.refused(data, size[0] * size[1])
            if too_many:
                return cls(too_many)
            found = cls("", jpeg=data, size=size, exif=exif, icc=icc)
        elif (thumb.format == rawpy.ThumbFormat.BITMAP and not isinstance(data, bytes)
              and data.ndim == 3 and data.shape[2] == 3):
            height, width, _ = data.shape
            if too_many := too_many_pixels((width, height), max_image_pixels):
                return cls(too_many)
            bitmap = Image.fromarray(data, "RGB")
            found = cls("", bitmap=bitmap, size=bitmap.size)
        else:
            return cls(f"its preview is in a form hotfolder cannot use ({thumb.format.name})")
        # A preview the camera stored already turned has its sides the other way round.
        turned = orientation in SIDEWAYS and (found.size[0] > found.size[1]) != (stored[0] > stored[1])
        return replace(found, orientation=1 if turned else orientation)

    def covers(self, renditions: Sequence[Rendition], stored: tuple[int, int], orientation: int) -> bool:
        """Whether the preview is at least as large as every rendition needs of the RAW, upright."""
        width, height = oriented_size(self.size, self.orientation)
        return all(width >= p.frame[0] - 0.5 and height >= p.frame[1] - 0.5
                   for p in plans_for(renditions, stored, orientation))

    def decode(self, renditions: Sequence[Rendition]) -> Developed:
        """Its pixels; a JPEG at the smallest DCT scale that covers every rendition."""
        if self.bitmap is not None:
            return Developed(self.bitmap, self.size, self.orientation, self.exif, srgb=False)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(self.jpeg), formats=["JPEG"]) as jpeg:
                    draft(jpeg, renditions, self.orientation)
                    jpeg.load()
                    image = jpeg.convert("RGB")
        except DECODE_ERRORS as exc:
            reraise_unless_input(exc)
            raise InputError("decode", f"the RAW's embedded preview cannot be decoded: {describe(exc)}") from None
        return Developed(image, self.size, self.orientation, self.exif, srgb=False, icc=self.icc)


def _carried_exif(jpeg: Image.Image) -> bytes:
    """The preview's EXIF, without its Orientation (the RAW's flip decides, applied by the
    engine) and without the Software tag LibRaw writes into an EXIF it makes."""
    exif = libraw_made(jpeg.getexif())
    exif.pop(orient.ORIENTATION_TAG, None)
    return exif.tobytes() if len(exif) else b""


def libraw_made(exif: Image.Exif) -> Image.Exif:
    """A preview's EXIF as the camera would have said it: one LibRaw made of the RAW's own
    tags (its Software "dcraw v9.26") puts the shot's time (DateTimeOriginal, else DateTime)
    into IFD0's DateTime only, and no DateTimeOriginal, so `{taken}` fell back to the copy's
    modification time and the outputs said nothing of when the photo was taken (the wedding
    audit: a card's RAWs named by the time of `cp -r`, hours from their camera JPEGs). Its
    DateTime is given as DateTimeOriginal, and LibRaw's Software tag left out. A RAW that
    says no date has LibRaw's timestamp 0 there, the epoch in local time: left out, not taken
    for the shot's time (it named such a RAW 1970/0101-000000_…, its outputs dated 1970)."""
    if not str(exif.get(SOFTWARE_TAG, "")).startswith("dcraw"):
        return exif
    del exif[SOFTWARE_TAG]
    stamp = exif.get(DATE_TIME_TAG)
    if isinstance(stamp, str) and stamp.strip("\0 ") in _epoch():
        del exif[DATE_TIME_TAG]
        return exif
    photo = exif.get_ifd(EXIF_IFD_TAG)
    if isinstance(stamp, str) and stamp.strip("\0 ") and DATE_TAKEN_TAG not in photo:
        photo[DATE_TAKEN_TAG] = stamp
        exif[EXIF_IFD_TAG] = dict(photo)
    return exif


def _epoch() -> tuple[str, str]:
    """LibRaw's DateTime of a RAW with no date (its timestamp 0): the epoch as the process's
    local time writes it (the time zone may change: the daemon's TZ, a test's), and as UTC."""
    return (time.strftime(EXIF_DATE, time.localtime(0)), time.strftime(EXIF_DATE, time.gmtime(0)))


EXIF_DATE = "%Y:%m:%d %H:%M:%S"
