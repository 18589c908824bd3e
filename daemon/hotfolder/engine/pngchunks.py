"""A PNG's chunks, walked by their headers (8 bytes each) without reading their data.

`too_many` is asked before Pillow opens a PNG: Pillow handles every chunk in Python
(~3 µs each, before and after the pixels), and a 62 MB file of 3,000,000 empty text
chunks held a worker 16 s at 826 MB (an attack round). A real PNG has a few dozen
chunks besides its pixel data (IDAT) and, in an APNG, its frames' (fcTL, fdAT).
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from mmap import mmap

SIGNATURE = b"\x89PNG\r\n\x1a\n"
PIXEL_CHUNKS = {b"IDAT", b"fcTL", b"fdAT"}
MAX_OTHER_CHUNKS = 10_000
# All chunks: libpng writes pixel data in 8 KB chunks (a 4 GB PNG makes 500,000); 2,000,000
# empty IDATs (24 MB) took 4 s to open and load.
MAX_CHUNKS = 500_000


def walk(data: bytes | mmap) -> Iterator[bytes]:
    """The kind of each chunk in order, up to IEND or the data's end."""
    pos, end = len(SIGNATURE), len(data)
    while pos + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, pos)
        yield kind
        if kind == b"IEND":
            return
        pos += 12 + length


def too_many(data: bytes | mmap) -> str | None:
    """Why the PNG in `data` is refused for its number of chunks, or None (also for data
    that is no PNG)."""
    if bytes(data[:len(SIGNATURE)]) != SIGNATURE:
        return None
    others = 0
    for count, kind in enumerate(walk(data), 1):
        if count > MAX_CHUNKS:
            return (f"the PNG is cut into more than {MAX_CHUNKS:,} chunks, more than any program writes, and each "
                    "is read on its own: save it again")
        if kind not in PIXEL_CHUNKS:
            others += 1
            if others > MAX_OTHER_CHUNKS:
                return (f"the PNG holds more than {MAX_OTHER_CHUNKS:,} chunks besides its pixels (text or "
                        "private ones), more than any program writes, and each is read on its own: save it "
                        "again with its metadata kept short")
    return None
