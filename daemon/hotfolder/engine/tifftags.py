"""The tags of a TIFF-structured file, read by Pillow's TIFF directory reader without
touching its pixels: IFD0 and the EXIF, GPS and Interoperability IFDs it points to.

Used where Pillow cannot open the file as an image: a camera RAW built on TIFF (DNG,
NEF, NRW, CR2, ARW, PEF, SRW) whose preview carries no EXIF (engine/decoders/raw), and
a TIFF of floating-point samples (engine/decoders/floattiff). Other RAWs (CR3, RAF, ORF,
RW2) are not TIFFs: None. And for every TIFF source (engine/opening, floattiff): whether
its strips or tiles can be where its directory says (`misplaced_pixels`).

Cost: the directories' entries and values, not the pixels: 0.35 ms on a 24 MP test DNG
with a 100 KB maker's note, 7.6 ms on one whose IFD0 embeds a 30 MB original
(OriginalRawFileData: Pillow reads every value of an IFD, bounded by the file's size).
"""
from __future__ import annotations

import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from mmap import mmap
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

from hotfolder.engine.errors import DECODE_ERRORS, reraise_unless_input

EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005
MAKER_NOTE = 0x927C
# What IFD0 of a RAW says of the photo (TIFF/EP, EXIF 2.3 IFD0 tags); the rest describes
# its pixels, a thumbnail or the sensor (DNG's colour matrices, strips, SubIFDs).
RAW_PHOTO_TAGS = {
    0x010E,  # ImageDescription
    0x010F,  # Make
    0x0110,  # Model
    0x0131,  # Software
    0x0132,  # DateTime
    0x013B,  # Artist
    0x8298,  # Copyright
}


SAMPLE_KINDS = {1: "unsigned integer", 2: "signed integer", 3: "floating-point", 4: "untyped"}
PHOTOMETRIC = {0: "grey, white at 0", 1: "grey", 2: "RGB", 3: "palette", 4: "mask", 5: "CMYK", 6: "YCbCr",
               8: "CIELab", 9: "ICC Lab", 10: "ITU Lab", 32803: "a sensor's mosaic", 32844: "LogL", 32845: "LogLuv"}


@dataclass(frozen=True)
class Layout:
    """IFD0's samples, as the file says them (BitsPerSample and SampleFormat: the first)."""

    size: tuple[int, int]
    bands: int
    bits: int
    kind: int  # SampleFormat: 1 unsigned integer, 2 signed integer, 3 floating-point
    photometric: int

    def __str__(self) -> str:
        kind = SAMPLE_KINDS.get(self.kind, f"SampleFormat {self.kind}")
        space = PHOTOMETRIC.get(self.photometric, f"photometric {self.photometric}")
        return f"{self.bands} × {self.bits}-bit {kind} samples ({space})"


def layout(tags: Image.Exif | Mapping[int, Any]) -> Layout:
    return Layout((_first(tags.get(256, 0)), _first(tags.get(257, 0))), _first(tags.get(277, 1)),
                  _first(tags.get(258, 1)), _first(tags.get(339, 1)), _first(tags.get(262, -1)))


def unread_samples(tags: Image.Exif | Mapping[int, Any]) -> str | None:
    """Why a TIFF Pillow opened has samples it reads wrong, or None: signed integers (a grey
    16-bit one rendered at half brightness) and 32-bit integers (read as signed: the upper
    half of the range came out black; a fuzz round). Floats are decoders/floattiff's."""
    found = layout(tags)
    if found.kind == 2 or (found.bits == 32 and found.kind in (1, 4)):
        return (f"a TIFF of {found}, which hotfolder cannot read: save it with 8- or 16-bit unsigned integer "
                "samples, or 16- or 32-bit float ones")
    return None


def unreadable_layout(tags: Image.Exif | Mapping[int, Any]) -> str:
    """Why a TIFF whose samples Pillow has no mode for is refused, and what to save it as."""
    found = layout(tags)
    said = f"a TIFF of {found}, which hotfolder cannot read"
    if found.photometric in (0, 1) and found.bands == 2:  # grey with transparency, past 8 bits
        return f"{said}: save it with 8-bit samples, or without its transparency (16-bit grey reads)"
    if found.photometric == 0 and found.bands == 1 and found.bits == 16:  # in Motorola order (a Mac scanner's)
        return (f"{said}: save it with black at 0 (BlackIsZero, as editors save grey), or in the IBM PC "
                "(Intel) byte order")
    if found.photometric == 5 and found.bands > 4:  # CMYK with transparency (or spot channels)
        return f"{said}: save it without its transparency and extra channels, or as RGB with transparency"
    return f"{said}: save it as 8- or 16-bit RGB (with or without transparency), or as grey"


STRIP_OFFSETS, TILE_OFFSETS = 273, 324
BYTE_COUNTS = {STRIP_OFFSETS: 279, TILE_OFFSETS: 325}  # StripByteCounts, TileByteCounts


def header_size(head: bytes) -> int:
    """Bytes of a TIFF's header, from its first 4: no strip or tile of pixels starts inside it."""
    return 16 if head[2:4] in (b"\x2b\x00", b"\x00\x2b") else 8  # BigTIFF (43), else classic (42)


# Strips or tiles of IFD0 past which a TIFF is refused before Pillow opens it: Pillow makes a
# Python entry of each and reads them one by one (~8 µs each): 4,000,000 one-row strips of 8
# px, all pointing at one 24-byte run (16 MB), held a worker 22 s at 1.6 GB (an attack
# round). A scanner writing one row a strip makes ~20,000 for an A3 page at 1200 dpi.
MAX_PIECES = 100_000


def too_many_pieces(f: BinaryIO | mmap) -> str | None:
    """Why the TIFF read from `f` is refused for its strips' or tiles' number, or None (also
    for a file that is no classic TIFF), from IFD0's table alone."""
    head = f.read(16)
    if len(head) < 8 or head[:2] not in (b"II", b"MM"):
        return None
    order = "<" if head[:2] == b"II" else ">"
    if is_tiff(head):
        entries = _entries_at(f, struct.unpack_from(order + "I", head, 4)[0], order)
    elif head[2:4] in (b"\x2b\x00", b"\x00\x2b") and len(head) == 16:  # a BigTIFF, which Pillow opens too
        entries = _entries_at(f, struct.unpack_from(order + "Q", head, 8)[0], order, big=True)
    else:
        return None
    for tag, _, count in entries:
        if tag in BYTE_COUNTS and count > MAX_PIECES:
            what = "strips" if tag == STRIP_OFFSETS else "tiles"
            return (f"the TIFF's picture is cut into {count:,} {what}, more than any scanner or camera writes "
                    f"({MAX_PIECES:,} at most; each is read on its own): save it again with fewer (more rows a "
                    "strip, or tiles of 256 px)")
    return None


def misplaced_pixels(tags: Mapping[int, Any], file_size: int, header: int = 8) -> str | None:
    """Why IFD0's pixels cannot be where it says they are, or None: a strip or tile whose
    offset lies inside the `header` or past the file's end. A writer that never filled its
    offsets in leaves 0, and a reader takes the header and the directory for pixels: the
    rendition is noise (Pillow reads it so), not an error, unless this is asked first."""
    for tag, what in ((STRIP_OFFSETS, "strip"), (TILE_OFFSETS, "tile")):
        offsets, counts = _values(tags.get(tag)), _values(tags.get(BYTE_COUNTS[tag]))
        for number, offset in enumerate(offsets):
            if not isinstance(offset, int):
                return f"the TIFF's {what} {number} has no offset a reader can follow: the file is damaged"
            if offset < header and number < len(counts) and counts[number] == 0:
                return (f"the TIFF's {what} {number} has no pixels (offset {offset}, 0 bytes: a sparse file, as "
                        f"GDAL writes, or one whose writer never stored them); hotfolder reads a TIFF whose every "
                        f"{what} is stored: save it again with all its pixels")
            if offset < header:
                return (f"the TIFF is damaged: its {what} {number} says its pixels start at byte {offset}, "
                        f"inside the file's {header}-byte header (its writer did not record where they are); "
                        "save it again from the program that made it")
            if offset >= file_size:
                return (f"the TIFF is truncated: its {what} {number} starts at byte {offset}, past the file's end "
                        f"at {file_size}")
    return None


def _values(value: object) -> tuple:
    return () if value is None else value if isinstance(value, tuple) else (value,)


def _first(value: object) -> int:
    """A tag's first value (BitsPerSample and SampleFormat give one per sample); 0 for junk."""
    if isinstance(value, tuple):
        value = value[0] if value else 0
    return int(value) if isinstance(value, (int, float)) else 0


MAGIC = (b"II*\0", b"MM\0*")  # little- and big-endian classic TIFF (BigTIFF is not read here)


def is_tiff(head: bytes) -> bool:
    """Whether a file starting with `head` (its first 4 bytes or more) is a TIFF `read` reads."""
    return head[:4] in MAGIC


def read(src: Path) -> Image.Exif | None:
    """IFD0 of `src` with its EXIF, GPS and Interoperability IFDs loaded (the file is
    closed after), or None when `src` is not a TIFF or its directories cannot be read."""
    return read_noted(src)[0]


def read_noted(src: Path) -> tuple[Image.Exif | None, tuple[str, ...]]:
    """`read`, and what the log should say of a directory left unread (`_overfull`)."""
    try:
        with open(src, "rb") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns of tags past the file's end, and skips them
            head = f.read(4)
            if not is_tiff(head):
                return None, ()
            order = "<" if head[:2] == b"II" else ">"
            f.seek(0)
            exif = Image.Exif()
            exif.load_from_fp(f)
            notes = _unread_overfull(exif, f, order)
            for ifd in (EXIF_IFD, GPS_IFD, INTEROP_IFD):  # read now: they are read lazily, from `f`
                exif.get_ifd(ifd)
            return exif, notes
    except DECODE_ERRORS as exc:
        reraise_unless_input(exc)  # the disk's error, not the file's
        return None, ()


# Values of the numeric types in an EXIF, GPS or Interoperability IFD past which it is left
# unread: a camera's hold a few hundred. Pillow reads an IFD's every value into Python objects
# (~2.5 µs a fraction) and writing them back costs ~19 µs each: a 16 MB DNG of 2,000,000
# fractions in its EXIF IFD held a worker 71 s at 900 MB (an attack round). The IFD's
# table is walked first (12 bytes an entry), so such an IFD is never read. engine/metadata
# bounds a Pillow-opened source's EXIF the same way (MAX_EXIF_VALUES).
MAX_IFD_VALUES = 20_000
# IFD0's photo tags (RAW_PHOTO_TAGS) are text: one holding more numbers than this is not copied.
MAX_PHOTO_TAG_VALUES = 64
# IFD0's tags that may hold that many values in a real file, and are read for its layout: the
# strips' and tiles' offsets and sizes (bounded by engine/opening), a 16-bit palette, SubIFDs.
LAYOUT_TAGS = {273, 279, 320, 324, 325, 330}
NUMERIC_TYPES = {3, 4, 5, 8, 9, 10, 11, 12, 13, 16, 17, 18}  # SHORT ... DOUBLE, IFD, LONG8: a value each


def _unread_overfull(exif: Image.Exif, f: BinaryIO, order: str) -> tuple[str, ...]:
    """Leave out of `exif` (before Pillow reads them) IFD0's tags and the EXIF, GPS and
    Interoperability IFDs holding more than MAX_IFD_VALUES values, and IFD0's photo tags of
    more than MAX_PHOTO_TAG_VALUES; what the log should say of them."""
    f.seek(4)
    notes = []
    for tag, kind, count in _entries_at(f, int.from_bytes(f.read(4), "little" if order == "<" else "big"), order):
        if kind in NUMERIC_TYPES and tag not in LAYOUT_TAGS and tag in exif and (
                count > MAX_IFD_VALUES or (tag in RAW_PHOTO_TAGS and count > MAX_PHOTO_TAG_VALUES)):
            del exif[tag]  # unread (`pop` reads the value first: 4.9 s for 2,000,000 fractions, a review)
            if count > MAX_IFD_VALUES:
                notes.append(f"the source's tag {tag} holds {count:,} values, more than any camera writes: left out")
    for tag, name in ((EXIF_IFD, "EXIF"), (GPS_IFD, "GPS")):
        if isinstance(offset := exif.get(tag), int) and (values := _values_at(f, offset, order)) > MAX_IFD_VALUES:
            del exif[tag]
            notes.append(_overfull(name, values))
    if EXIF_IFD in exif and isinstance(offset := exif.get_ifd(EXIF_IFD).get(INTEROP_IFD), int) and (
            values := _values_at(f, offset, order)) > MAX_IFD_VALUES:
        exif.get_ifd(EXIF_IFD).pop(INTEROP_IFD, None)  # the IFD as read: its Interoperability is not read then
        notes.append(_overfull("Interoperability", values))
    return tuple(notes)


def _overfull(name: str, values: int) -> str:
    return (f"the source's {name} directory holds {values:,} values, more than any camera writes (a tag of "
            f"thousands of fractions, which take seconds to read and write): left out")


def _values_at(f: BinaryIO, offset: int, order: str) -> int:
    """The values of the numeric types the IFD at `offset` claims, from its table alone."""
    return sum(count for _, kind, count in _entries_at(f, offset, order) if kind in NUMERIC_TYPES)


def _entries_at(f: BinaryIO | mmap, offset: int, order: str, big: bool = False) -> list[tuple[int, int, int]]:
    """(tag, type, count) of each entry of the IFD at `offset`, as far as the file holds it.
    `big`: a BigTIFF's IFD (an 8-byte number of entries, entries of 20 bytes, 8-byte counts)."""
    number, entry = ("Q", "HHQ") if big else ("H", "HHI")
    size, width = (8, 20) if big else (2, 12)
    try:
        f.seek(offset)
    except (ValueError, OverflowError):  # past a mapping's end (a file seeks anywhere, and reads nothing there)
        return []
    head = f.read(size)
    if len(head) < size:
        return []
    entries = min(struct.unpack(order + number, head)[0], 1 << 16)  # a classic IFD's most; a BigTIFF's bounded so
    table = f.read(width * entries)
    return [struct.unpack_from(order + entry, table, width * i) for i in range(len(table) // width)]


def raw_photo_exif(tags: Image.Exif) -> bytes:
    """The EXIF a RAW's own tags (`read`) make, b"" when none: IFD0's photo tags (make,
    model, date, artist, copyright), the EXIF IFD without the maker's note (tens of KB,
    its offsets the RAW's own; a JPEG segment holds 64 KB), and the GPS IFD (stripped by
    the policy later)."""
    out = Image.Exif()
    try:
        for tag in RAW_PHOTO_TAGS & set(tags):
            out[tag] = tags[tag]
        photo = {tag: value for tag, value in tags.get_ifd(EXIF_IFD).items() if tag != MAKER_NOTE}
        if photo:
            interop = tags.get_ifd(INTEROP_IFD)
            if INTEROP_IFD in photo and interop:
                photo[INTEROP_IFD] = dict(interop)
            else:
                photo.pop(INTEROP_IFD, None)
            out[EXIF_IFD] = photo
        gps = tags.get_ifd(GPS_IFD)
        if gps:
            out[GPS_IFD] = dict(gps)
        return out.tobytes() if len(out) else b""
    except DECODE_ERRORS as exc:  # a value Pillow cannot write back: no EXIF rather than no file
        reraise_unless_input(exc)
        return b""
