"""IPTC-IIM, the caption, keywords and credits that news and agency tools (Photo
Mechanic, Photoshop, older Lightroom exports) still write beside XMP: carried from a
JPEG source to JPEG outputs with `metadata: keep` and `strip-gps` (without its location
datasets there, engine/location).

A JPEG keeps IIM in an APP13 segment ("Photoshop 3.0"), as resource 0x0404 of an image
resource block; resource 0x0425 is the MD5 of that IIM, which tells readers (the MWG
guidelines) that XMP and IIM agree, so they prefer XMP. Pillow reads the block
(`info["photoshop"]`) and writes no APP13: the segment is passed to its JPEG encoder
as raw marker bytes (`extra`, what Pillow itself uses for XMP and ICC). Only the IIM is
written (and its digest, when the source's matched it): the block's other resources
(thumbnails, paths, print settings, a second XMP) are not carried. PNG, WebP and AVIF
have no IIM place readers use: XMP carries the same fields there.

`set_metadata` writes the rights into EXIF and XMP; the source's IIM datasets for a
field it sets (by-line, credit, copyright notice) are removed, never left to contradict.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from hotfolder.config.model import SetMetadata
from hotfolder.engine import location

IIM_RESOURCE, DIGEST_RESOURCE = 0x0404, 0x0425
TAG_MARKER = 0x1C
# What set_metadata's fields (and an XMP sidecar's) replace in IIM: by-line (2:80), credit
# (2:110), copyright notice (2:116), object name (2:05), caption (2:120), headline (2:105),
# keywords (2:25).
RIGHTS_DATASETS = {"artist": {(2, 80)}, "credit": {(2, 110)}, "copyright": {(2, 116)}, "title": {(2, 5)},
                   "description": {(2, 120)}, "headline": {(2, 105)}, "keywords": {(2, 25)}}
APP13_HEADER = b"Photoshop 3.0\0"
MAX_SEGMENT = 65533  # a marker segment's data, its length field excluded


@dataclass(frozen=True)
class Iim:
    """A source's IIM: its datasets as stored, and whether its digest said XMP agrees."""

    data: bytes
    in_sync: bool


class Malformed(ValueError):
    """The IIM is not a sequence of datasets."""


def read(photoshop: object) -> Iim | None:
    """The IIM in Pillow's parsed Photoshop block of a JPEG (`info["photoshop"]`), if any."""
    if not isinstance(photoshop, dict) or not isinstance(photoshop.get(IIM_RESOURCE), bytes):
        return None
    data = photoshop[IIM_RESOURCE]
    return Iim(data, photoshop.get(DIGEST_RESOURCE) == hashlib.md5(data).digest()) if data else None


def datasets(data: bytes) -> list[tuple[int, int, bytes]]:
    """(record, number, value) of each dataset, in order."""
    found, pos = [], 0
    while pos < len(data):
        if data[pos] != TAG_MARKER or pos + 5 > len(data):
            if not data[pos:].strip(b"\0"):
                break  # padding
            raise Malformed(f"no dataset at byte {pos}")
        record, number, size = data[pos + 1], data[pos + 2], struct.unpack_from(">H", data, pos + 3)[0]
        pos += 5
        if size & 0x8000:  # an extended dataset: the next (size & 0x7FFF) bytes are its length
            width = size & 0x7FFF
            if width > 4 or pos + width > len(data):
                raise Malformed(f"a dataset length of {width} bytes")
            size, pos = int.from_bytes(data[pos:pos + width], "big"), pos + width
        if pos + size > len(data):
            raise Malformed(f"dataset {record}:{number} runs past the end")
        found.append((record, number, data[pos:pos + size]))
        pos += size
    return found


def serialise(sets: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray()
    for record, number, value in sets:
        out += bytes([TAG_MARKER, record, number])
        if len(value) < 0x8000:
            out += struct.pack(">H", len(value))
        else:
            out += struct.pack(">HI", 0x8004, len(value))
        out += value
    return bytes(out)


def output_segment(iim: Iim, strip_location: bool, credits: SetMetadata | None, notes: list[str],
                   described: object = None) -> bytes:
    """The APP13 segment an output carries (b"" when none): the source's IIM, without the
    location datasets when asked and without the fields `credits` (or `described`, an XMP
    sidecar's fields) set, so no reader sees the old ones beside the new."""
    unwanted = set(location.IIM_DATASETS) if strip_location else set()
    for key, sets in RIGHTS_DATASETS.items():
        if any(getattr(given, key, None) not in (None, ()) for given in (credits, described)):
            unwanted |= sets
    data = iim.data
    if unwanted:
        try:
            data = serialise([d for d in datasets(data) if (d[0], d[1]) not in unwanted])
        except Malformed as exc:
            notes.append(f"the source's IPTC-IIM block cannot be read ({exc}); left out")
            return b""
    segment = _app13(data, iim.in_sync)
    if len(segment) - 2 > MAX_SEGMENT:
        notes.append("the source's IPTC-IIM block is larger than one JPEG segment; left out (XMP carries its fields)")
        return b""
    return segment


def _app13(data: bytes, with_digest: bool) -> bytes:
    body = APP13_HEADER + _resource(IIM_RESOURCE, data)
    if with_digest:
        body += _resource(DIGEST_RESOURCE, hashlib.md5(data).digest())
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def _resource(code: int, data: bytes) -> bytes:
    """An image resource: signature, id, an empty name (padded to even), size, data (padded)."""
    return b"8BIM" + struct.pack(">H", code) + b"\0\0" + struct.pack(">I", len(data)) + data + b"\0" * (len(data) % 2)
