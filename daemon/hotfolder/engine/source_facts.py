"""What a manifest says of an original, from what its decoder read: its size upright,
when it was taken and with what camera (EXIF). The EXIF is the file's: data to show,
never trusted to be well formed (a damaged or odd value is left out, never raised).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image

from hotfolder.engine.errors import DECODE_ERRORS
from hotfolder.engine.geometry import oriented_size
from hotfolder.engine.metadata import Metadata
from hotfolder.engine.rights import DATETIME_ORIGINAL_TAG, DATETIME_TAG, EXIF_IFD_TAG

MAKE_TAG, MODEL_TAG = 0x010F, 0x0110
OFFSET_TIME_ORIGINAL_TAG = 0x9011  # "+02:00": EXIF 2.31's time zone of DateTimeOriginal
MAX_TEXT = 64  # characters of a camera's name kept
STAMP = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
OFFSET = re.compile(r"[+-]\d{2}:\d{2}")


@dataclass(frozen=True)
class SourceFacts:
    width: int  # upright, as the renditions were planned on
    height: int
    taken: str | None  # ISO 8601: "2024-06-01T12:00:00" (+ the offset when the EXIF gives one)
    camera: str | None  # "Canon EOS R5": the make, then the model (the make once)


def of(size: tuple[int, int], meta: Metadata) -> SourceFacts:
    width, height = oriented_size(size, meta.orientation)
    exif = _exif(meta.exif)
    if exif is None:
        return SourceFacts(width, height, None, None)
    return SourceFacts(width, height, _taken(exif), _camera(exif))


def _exif(raw: bytes) -> Image.Exif | None:
    if not raw:
        return None
    exif = Image.Exif()
    try:
        exif.load(raw)
        exif.get_ifd(EXIF_IFD_TAG)  # read now: a damaged IFD is no facts, not a failure later
    except DECODE_ERRORS:
        return None
    return exif


def _taken(exif: Image.Exif) -> str | None:
    ifd = exif.get_ifd(EXIF_IFD_TAG)
    for stamp in (ifd.get(DATETIME_ORIGINAL_TAG), exif.get(DATETIME_TAG)):
        m = STAMP.match(stamp.strip()) if isinstance(stamp, str) else None
        if m and 1800 <= int(m.group(1)) <= 9999 and 1 <= int(m.group(2)) <= 12 and 1 <= int(m.group(3)) <= 31:
            offset = ifd.get(OFFSET_TIME_ORIGINAL_TAG) if stamp is ifd.get(DATETIME_ORIGINAL_TAG) else None
            zone = offset.strip() if isinstance(offset, str) and OFFSET.fullmatch(offset.strip()) else ""
            return "{}-{}-{}T{}:{}:{}".format(*m.groups()) + zone
    return None


def _text(value: object) -> str:
    """A printable, bounded text of an EXIF ASCII value ("" for anything else)."""
    if not isinstance(value, str):
        return ""
    printable = "".join(c for c in value.replace("\0", " ") if c.isprintable())
    return " ".join(printable.split())[:MAX_TEXT]


def _camera(exif: Image.Exif) -> str | None:
    make, model = _text(exif.get(MAKE_TAG)), _text(exif.get(MODEL_TAG))
    if make and model.lower().startswith(make.lower()):  # "Canon" + "Canon EOS R5"
        make = ""
    return " ".join(part for part in (make, model) if part) or None
