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
have no IIM place readers use: XMP carries the same fields there (engine/iim_in_xmp).

`set_metadata`'s fields are written here too, in UTF-8 (envelope 1:90 `ESC % G`), in
place of the source's datasets for them (never beside them, to contradict): newsroom
systems and WordPress read IIM's by-line, credit and caption before XMP. A source IIM in
another character set (no envelope: Windows-1252, as older agency tools wrote it) is
converted to UTF-8 whole then, so one block never mixes two. `copyright-only` keeps the
source's by-line, credit and copyright notice: the rights fields it keeps of XMP. What we
write is cut to IPTC-IIM 4.2's limits (LIMITS: a by-line 32 bytes, a caption 2000) at a
character, the whole text in XMP; the source's own datasets are carried as they came.
"""
from __future__ import annotations

import hashlib
import struct
import unicodedata
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
# Where set_metadata's text fields are written (usage terms have no IIM dataset; keywords
# are written as the output's XMP lists them: the photo's own, then the set ones).
WRITTEN_AS = {"artist": (2, 80), "credit": (2, 110), "copyright": (2, 116), "title": (2, 5),
              "description": (2, 120), "headline": (2, 105)}
# The most bytes IPTC-IIM 4.2 lets each written dataset hold (keywords: each one). exiftool
# reads longer values, but strict readers (newsroom systems, older DAMs) refuse them or cut
# them mid-character: what set_metadata writes past these is cut at a character, the full
# text kept in XMP (which has no limit), and said once per output (`cut_to_fit`).
LIMITS = {(2, 80): 32, (2, 110): 32, (2, 116): 128, (2, 5): 64, (2, 105): 256, (2, 120): 2000, (2, 25): 64}
NAMES = {(2, 80): "By-line", (2, 110): "Credit", (2, 116): "Copyright Notice", (2, 5): "Object Name",
         (2, 105): "Headline", (2, 120): "Caption/Abstract", (2, 25): "Keywords"}
KEPT_RIGHTS = {(2, 80), (2, 110), (2, 116)}  # copyright-only's: XMP's creator, credit, rights
CHARSET, UTF8 = (1, 90), b"\x1b%G"  # the envelope's coded character set: ISO 2022's escape for UTF-8
NOT_TEXT = {(2, 0), (2, 200), (2, 201), (2, 202)}  # record version, object preview: bytes, not text
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


IPTC_NAA_TAG = 33723  # a TIFF's IIM (Photoshop and scanning software write it there)


def of_image(im: object) -> Iim | None:
    """The IIM of an opened image: a JPEG's Photoshop block, else a TIFF's IPTC-NAA tag (its
    raw bytes: Photoshop labels them 4-byte integers, so Pillow's parsed value is one
    number; Pillow's own IIM reader takes `_tagdata` as this does). A TIFF's carries no
    digest: not known to agree with its XMP."""
    found = read(getattr(im, "info", {}).get("photoshop"))
    if found is not None:
        return found
    raw = getattr(getattr(im, "tag_v2", None), "_tagdata", None)
    data = raw.get(IPTC_NAA_TAG) if isinstance(raw, dict) else None
    return Iim(bytes(data), False) if isinstance(data, bytes | bytearray) and data else None


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


def text(raw: bytes) -> str:
    """A dataset's text: UTF-8 when it is; else Windows-1252, what the Windows tools that
    wrote IIM without an envelope used (Latin-1 read its quotes, dashes and euro sign as
    control characters); Latin-1 for the five bytes cp1252 leaves undefined."""
    for charset in ("utf-8", "cp1252"):
        try:
            return raw.decode(charset)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


def output_segment(iim: Iim | None, strip_location: bool, credits: SetMetadata | None, notes: list[str],
                   described: object = None, rights_only: bool = False, keywords: tuple[str, ...] = ()) -> bytes:
    """The APP13 segment an output carries (b"" when none): the source's IIM (if any), without
    the location datasets when asked, without the fields `credits` (or `described`, an XMP
    sidecar's fields) set, so no reader sees the old ones beside the new, and with their own
    (`credits`' over the sidecar's); `rights_only` (copyright-only): of the source's, only its rights datasets;
    `keywords`: every keyword the output's XMP lists, written in place of the IIM's when
    keywords are set (else an IIM reader found none)."""
    unwanted = set(location.IIM_DATASETS) if strip_location else set()
    for key, pairs in RIGHTS_DATASETS.items():
        if any(getattr(given, key, None) not in (None, ()) for given in (credits, described)):
            unwanted |= pairs
    # set_metadata's fields, else an XMP sidecar's (its caption, title, headline): their datasets
    # were removed above, and an IIM reader found none at all in their place (a review)
    texts: list[tuple[int, int, str]] = [
        (*at, value) for key, at in WRITTEN_AS.items()
        if (value := _given(credits, key) or _given(described, key)) is not None]
    if (2, 25) in unwanted:
        texts += [(2, 25, word) for word in keywords]
    written = cut_to_fit(texts, notes)
    if iim is None and not written:
        return b""
    data = iim.data if iim is not None else b""
    if unwanted or written or rights_only:
        try:
            sets = [d for d in datasets(data) if (d[0], d[1]) not in unwanted
                    and (not rights_only or (d[0], d[1]) in KEPT_RIGHTS | {CHARSET})]
        except Malformed as exc:
            notes.append(f"the source's IPTC-IIM block cannot be read ({exc}); left out")
            if not written:
                return b""
            sets = []
        if written:
            sets = _in_utf8(sets) + written
        if not any(record == 2 for record, _, _ in sets):
            return b""  # copyright-only of a source with no rights in its IIM
        data = serialise(sorted(sets, key=lambda d: (d[0], d[1])))  # (stable: keywords keep their order)
    segment = _app13(data, iim.in_sync if iim is not None else True)
    if not segment:  # past one segment's 64 KB: every output of such a photo failed on packing its length
        notes.append("the source's IPTC-IIM block is larger than one JPEG segment; left out (XMP carries its fields)")
        return b""
    return segment


def _given(fields: object, key: str) -> str | None:
    value = getattr(fields, key, None)
    return value if isinstance(value, str) else None


def cut_to_fit(texts: list[tuple[int, int, str]], notes: list[str]) -> list[tuple[int, int, bytes]]:
    """The datasets we write, each in UTF-8 and at most its LIMITS' bytes: a longer value is
    cut before the first character that does not fit whole (`fitting`), and one note says
    which fields were cut and to what. The source's own datasets are never passed here: they
    are carried as they came (output_segment), the photo's words and not ours; an IIM-only wire
    photo's JPEG outputs have no XMP copy of them, so a cut would lose the rest for good."""
    out, cut = [], {}
    for record, number, value in texts:
        data = value.encode()
        limit = LIMITS.get((record, number))
        if limit is not None and len(data) > limit:
            data = fitting(value, limit).encode()
            cut[(record, number)] = limit
        out.append((record, number, data))
    if cut:
        said = ", ".join(f"{NAMES[at]} ({at[0]}:{at[1]:02}) {limit} bytes" for at, limit in cut.items())
        notes.append(f"IPTC-IIM holds at most {said} (IPTC-IIM 4.2): cut there at a character in this "
                     "output's IIM, which strict readers would refuse past it; its XMP has the whole text")
    return out


def fitting(text: str, limit: int) -> str:
    """The longest start of `text` whose UTF-8 is at most `limit` bytes that ends between two
    characters a reader shows as two: never inside a letter's bytes, never between a letter and
    its combining accent (a decomposed `é`, a Mac's), nor inside an emoji joined by ZWJ or
    given a variation selector; trailing spaces dropped."""
    kept = len(text.encode()[:limit].decode("utf-8", "ignore"))
    while 0 < kept < len(text) and (_joins(text[kept]) or text[kept - 1] == ZWJ):
        kept -= 1
    return text[:kept].rstrip()


ZWJ = "\u200d"


def _joins(char: str) -> bool:
    """Whether `char` belongs to the character before it (a combining mark, a joiner, a variation selector)."""
    return unicodedata.category(char) in ("Mn", "Mc", "Me") or char == ZWJ or "\ufe00" <= char <= "\ufe0f" \
        or "\U000e0100" <= char <= "\U000e01ef"


def _in_utf8(sets: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """The datasets with an envelope saying UTF-8, their text converted to it unless it said so already."""
    if any((r, n) == CHARSET and v == UTF8 for r, n, v in sets):
        return sets
    converted = [(r, n, v if r != 2 or (r, n) in NOT_TEXT else text(v).encode())
                 for r, n, v in sets if (r, n) != CHARSET]
    return [(*CHARSET, UTF8), *converted]


def datasets_of(segment: bytes) -> bytes:
    """The IIM datasets of an APP13 segment `output_segment` made: what a TIFF's IPTC-NAA
    tag (33723) holds, where Photoshop writes a TIFF's IIM (b"" if the segment holds none)."""
    pos = 4 + len(APP13_HEADER)  # the marker and length, then the header
    while pos + 12 <= len(segment) and segment[pos:pos + 4] == b"8BIM":
        code = struct.unpack_from(">H", segment, pos + 4)[0]
        name = segment[pos + 6]
        pos += 6 + (name + 2) // 2 * 2  # a Pascal string, padded to even
        size = struct.unpack_from(">I", segment, pos)[0]
        pos += 4
        if code == IIM_RESOURCE:
            return segment[pos:pos + size]
        pos += size + size % 2
    return b""


def _app13(data: bytes, with_digest: bool) -> bytes:
    body = APP13_HEADER + _resource(IIM_RESOURCE, data)
    if with_digest:
        body += _resource(DIGEST_RESOURCE, hashlib.md5(data).digest())
    if len(body) + 2 > MAX_SEGMENT:
        return b""  # more than one APP13 segment holds (its length is 16 bits)
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def _resource(code: int, data: bytes) -> bytes:
    """An image resource: signature, id, an empty name (padded to even), size, data (padded)."""
    return b"8BIM" + struct.pack(">H", code) + b"\0\0" + struct.pack(">I", len(data)) + data + b"\0" * (len(data) % 2)
