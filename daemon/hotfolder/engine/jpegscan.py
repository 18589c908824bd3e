"""How many scans a JPEG has, counted from its markers before libjpeg decodes it.

A progressive JPEG is decoded by running every scan over the whole coefficient buffer,
so the cost is scans × blocks: a 100 MP file of 40,000 near-empty scans (5.8 MB) took
306 s of CPU, and 40,000 × 10-byte scans fit in 400 KB. libjpeg has no limit of its
own; TurboJPEG's is TJPARAM_SCANLIMIT, and libjpeg-turbo's tools and fuzz targets set
it to 500 (Pillow sets none). Real files have 1 (baseline), 3 (a non-interleaved
baseline) or about 10 (libjpeg's and mozjpeg's progressive scripts) scans.

The walk reads markers as libjpeg does: a segment's length skips its body; after a
scan header, the entropy-coded data runs to the next 0xFF that is neither a stuffed
0xFF00, a fill byte nor a restart marker RST0–7 (a regular expression finds it, in C);
the first image ends at EOI (the images an MPO lists after it are never decoded).

A sequential JPEG (SOF0/SOF1: what cameras write) whose first scan holds every component
is decoded in one pass, and libjpeg stops at any later scan ("Didn't expect more than one
scan"): the count ends there, at 1, without reading its entropy-coded data. That walk
cost 1.3 ms of a 12 MP file's ~63 ms render (2.5 MB: the data runs to the end); the
walk is now a few markers long.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

MAX_SCANS = 500
SCAN_BUDGET = 5_000  # scans × megapixels (scan_limit)
MIN_SCANS = 50
SOS, EOI, DQT = 0xDA, 0xD9, 0xDB
SEQUENTIAL = {0xC0, 0xC1}  # SOF of a baseline or extended sequential (Huffman) JPEG
SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # every frame header (not DHT, JPG, DAC)
# Markers without a length: TEM, RST0-7, SOI, EOI.
STANDALONE = {0x01, *range(0xD0, 0xD8), 0xD8, EOI}
# The next marker: 0xFF (fill bytes 0xFF may repeat) then a code that is not 0x00 (a
# stuffed 0xFF in entropy data), 0xFF or RSTn (which libjpeg reads inside a scan).
# Written with a literal first byte, so re scans for it in C: 0.9 ms over a 2.5 MB
# JPEG, where `\xff+(...)` took 18 ms. A search tries a run of fill bytes only from its
# first 0xFF (the lookbehind) and never gives bytes of it back (possessive): retried from
# every 0xFF of a run, a 1 MB run followed by 0x00 cost time in its square (an attack
# round: 131 s for 160 KB; now linear, 0.3 ms for 20 KB). MARKER_AT reads the marker
# at a given offset, as libjpeg does after a segment, whatever byte came before.
NEXT_MARKER = re.compile(rb"\xff(?<!\xff\xff)\xff*+([^\x00\xff\xd0-\xd7])")
MARKER_AT = re.compile(rb"\xff++([^\x00\xff\xd0-\xd7])")


def _next_marker(data, pos: int) -> re.Match | None:
    """The first marker at or after `pos`: the one at `pos` itself if a run of 0xFF there ends
    in a marker code, else the next run's that does."""
    return MARKER_AT.match(data, pos) or NEXT_MARKER.search(data, pos)


def _segments(data) -> Iterator[tuple[int, int]]:
    """(marker code, start of its body) of each segment with a length, then (EOI, the end
    marker's offset) if the first image has one."""
    pos, end = 0, len(data)
    while pos < end:
        found = _next_marker(data, pos)
        if found is None:
            return
        code, pos = found.group(1)[0], found.end()
        if code == EOI:
            yield EOI, pos - 2
            return
        if code in STANDALONE:
            continue
        if pos + 2 > end:
            return
        yield code, pos + 2
        pos += (data[pos] << 8) | data[pos + 1]  # the length counts its own two bytes


def _sequential_components(data, code: int, body: int) -> int:
    """A frame header's component count if it is a sequential Huffman frame, else 0."""
    return data[body + 5] if code in SEQUENTIAL and body + 5 < len(data) else 0  # P, Y, X, then Nf


def count_scans(data, limit: int = MAX_SCANS) -> int:
    """The scans (SOS markers) of the first image in `data` (bytes, or any buffer the
    re module reads: an mmap), counting no further than `limit` + 1; 1 for a sequential
    JPEG whose first scan holds all its components (libjpeg decodes no later one)."""
    scans = 0
    components = 0  # of a sequential frame (its SOF); 0: progressive, or no SOF yet
    for code, body in _segments(data):
        if code in SOF:  # the last before the first scan is the frame libjpeg decodes, if any
            components = _sequential_components(data, code, body)
        elif code == SOS:
            scans += 1
            if scans == 1 and components and body < len(data) and data[body] == components:
                break  # one interleaved scan of a sequential frame: the whole picture
            if scans > limit:
                break
    return scans


def end_of_image(data) -> int | None:
    """The offset of the end marker (EOI) of the first image in `data`, or None."""
    return next((at for code, at in _segments(data) if code == EOI), None)


def header_junk(data) -> list[tuple[int, int]]:
    """(start, end) of the bytes between the segments before the first scan that belong to
    none (libjpeg skips them, "extraneous bytes before marker")."""
    spans, pos, end = [], 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            found = NEXT_MARKER.search(data, pos)
            if found is None:
                break
            spans.append((pos, found.start()))
            pos = found.start()
            continue
        found = MARKER_AT.match(data, pos)
        if found is None:
            break
        code, pos = found.group(1)[0], found.end()
        if code in (SOS, EOI):
            break
        if code not in STANDALONE:
            pos += (data[pos] << 8) | data[pos + 1]
    return spans


def header_cut_short(data) -> bool:
    """Whether `data` ends inside the segments before its first scan (an upload under way);
    not a file that ends with its end marker before any scan (tables only: damaged)."""
    end = len(data)
    for code, body in _segments(data):
        if code == EOI:
            return False  # ended before any scan: whole, and damaged
        if body - 2 + ((data[body - 2] << 8) | data[body - 1]) > end:
            return True
        if code == SOS:
            return False
    return True


def frame_precision(data) -> int | None:
    """The sample precision (bits) of the first frame header, or None: none in `data`."""
    for code, body in _segments(data):
        if code in SOF:
            return data[body] if body < len(data) else None
        if code == SOS:
            return None
    return None


def whole_in_first_scan(data) -> bool:
    """Whether the first scan holds the whole picture: a sequential Huffman frame (SOF0/1)
    whose first scan interleaves every component. Not an arithmetic-coded frame, whose
    decoder reads a marker inside a scan as more zeros, without a warning."""
    components = 0
    for code, body in _segments(data):
        if code in SOF:
            components = _sequential_components(data, code, body)
        elif code == SOS:
            return bool(components) and body < len(data) and data[body] == components
    return False


def scan_limit(pixels: int) -> int:
    """The scans a JPEG of `pixels` may have: MAX_SCANS, fewer for a large picture, as the
    cost is scans × pixels. 490 empty scans over a 120 MP frame (a 474 KB file) took 9-13 s
    of CPU (a fuzz round): ~0.19 ms a scan a megapixel, so SCAN_BUDGET bounds a file to ~1 s;
    never below MIN_SCANS (real files have about ten)."""
    megapixels = max(1, pixels // 1_000_000)
    return max(MIN_SCANS, min(MAX_SCANS, SCAN_BUDGET // megapixels))


def too_many_scans(data, pixels: int) -> str | None:
    """Why the JPEG in `data`, a picture of `pixels`, is refused (scan_limit), or None."""
    limit = scan_limit(pixels)
    scans = count_scans(data, limit)
    if scans <= limit:
        return None
    return (f"the JPEG has more than {limit} scans: refused as a decoding bomb (each scan of a progressive "
            f"JPEG costs a pass over the whole picture; cameras and encoders write about ten)")


def flat_quantiser(data) -> int | None:
    """The number of a quantisation table (DQT) before the first scan whose DC entry is 0,
    or None. T.81 allows 1-255 (1-65535 at 16 bits); libjpeg takes a 0 without a warning
    and every block of the channels using it loses its mean: a picture of flat grey or
    washed out (a fuzz round zeroed a table). A zero elsewhere in a table only drops one
    frequency: left to render."""
    for code, body in _segments(data):
        if code == SOS:
            return None
        if code != DQT or body + 2 > len(data):
            continue
        pos, end = body, min(len(data), body - 2 + ((data[body - 2] << 8) | data[body - 1]))
        while pos + 2 < end:
            wide, table = data[pos] >> 4, data[pos] & 0x0F
            dc = (data[pos + 1] << 8 | data[pos + 2]) if wide else data[pos + 1]
            if dc == 0:
                return table
            pos += 1 + (128 if wide else 64)
    return None


# Segments before the first scan past which a JPEG is refused: each walk of them is Python's
# (several look at the header), and 1,000,000 empty APP segments in 4 MB took 4 s of a
# worker, 16 MB 14 s (an attack round). A camera's have a few dozen; a profile in APP2
# pieces at most 255.
MAX_HEADERS = 5_000


def _headers_past(data, limit: int) -> bool:
    """Whether more than `limit` segments come before the first scan."""
    for count, (code, _) in enumerate(_segments(data), 1):
        if code in (SOS, EOI):
            return False
        if count > limit:
            return True
    return False


def refused(data, pixels: int) -> str | None:
    """Why the JPEG in `data`, a picture of `pixels`, is refused from its markers before
    any pixel is decoded (too many segments or scans; a flat quantisation table), or None."""
    if _headers_past(data, MAX_HEADERS):
        return (f"the JPEG has more than {MAX_HEADERS:,} segments before its picture (a camera's have a few "
                "dozen): refused as a decoding bomb")
    if (reason := too_many_scans(data, pixels)) is not None:
        return reason
    if (table := flat_quantiser(data)) is not None:
        return (f"the JPEG is damaged: its quantisation table {table} is 0 where it scales each block's mean (the "
                "standard allows 1-255), so the picture would come out flat grey; copy it again from where it "
                "came from")
    return None
