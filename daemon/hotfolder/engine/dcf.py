"""What a camera's EXIF says of its pixels' colour space, and what an output's says.

A camera set to Adobe RGB embeds no ICC profile: per DCF (CIPA DC-009, the Design rule
for Camera File system) it writes `ColorSpace = 0xFFFF` (Uncalibrated) and, in the
Interoperability IFD, `InteropIndex = "R03"` (a DCF option file: Adobe RGB); an sRGB file
says `ColorSpace = 1` and "R98". Some cameras and RAW converters write `ColorSpace = 2`
(not in the standard; exiftool and darktable read it as Adobe RGB). Read as darktable
reads them: 2, or 0xFFFF with R03. Only formats whose entry says `dcf` (JPEG, TIFF, a
RAW's preview): a HEIC's colour is in its own box (`colr`: a profile or an nclx code).

An output converted to another profile must not keep the source's claim: `mark_converted`
sets ColorSpace to 1 for sRGB, else 0xFFFF (its ICC profile says the rest), and drops R03.
"""
from __future__ import annotations

from PIL import Image

from hotfolder.engine.errors import DECODE_ERRORS

EXIF_IFD, INTEROP_IFD = 0x8769, 0xA005
COLOR_SPACE, INTEROP_INDEX = 0xA001, 0x0001
SRGB, ADOBE_RGB, UNCALIBRATED = 1, 2, 0xFFFF
ADOBE_RGB_INDEX = "R03"


def names_adobe_rgb(exif: Image.Exif) -> bool:
    """Whether the tags say Adobe RGB (1998): ColorSpace 2, or Uncalibrated with R03.
    Damaged tags say nothing (the file is not failed for them)."""
    try:
        space = exif.get_ifd(EXIF_IFD).get(COLOR_SPACE)
        if space == ADOBE_RGB:
            return True
        return space == UNCALIBRATED and _index(exif) == ADOBE_RGB_INDEX
    except DECODE_ERRORS:
        return False


def mark_converted(exif: Image.Exif, space: int) -> None:
    """Say `space` (SRGB or UNCALIBRATED) where the source said its own, and drop R03:
    the pixels were converted. A file that said nothing is left saying nothing."""
    ifd = exif.get_ifd(EXIF_IFD)
    if COLOR_SPACE in ifd:
        ifd[COLOR_SPACE] = space
    if _index(exif) == ADOBE_RGB_INDEX:
        interop = exif.get_ifd(INTEROP_IFD)
        del interop[INTEROP_INDEX]
        if not interop:  # no empty IFD left behind
            ifd.pop(INTEROP_IFD, None)


def _index(exif: Image.Exif) -> str:
    value = exif.get_ifd(INTEROP_IFD).get(INTEROP_INDEX, "")
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip("\0 ")
