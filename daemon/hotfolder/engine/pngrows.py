"""Whether a PNG's pixel data (its IDAT stream, inflated) is as long as its header says.

A PNG whose zlib stream ends properly but holds fewer rows than its height is whole as a
file: Pillow fills the missing rows with palette entry 0 or black, without an error, and
the rendition is half a picture. libspng says "IDAT stream too short" for the files it
decodes (decoders/png); this asks the same of every other PNG (palette, tRNS, grey with
alpha, fewer than 8 or 16 bits, APNG) before Pillow or libvips decodes it.

The stream is inflated in 1 MB pieces and thrown away, stopping once it is long enough:
18 ms for a 24 MP palette PNG (1 MB), 0.4 s CPU for a 24 MP 16-bit RGB one (94 MB; past
READ_WHOLE such a file is not read into memory, and decoders/png leaves it unchecked;
libvips, which decodes it, fails on short data, in words of its own). A stream that is
damaged or cut short is left to the decoder, whose reason users know.
"""
from __future__ import annotations

import struct
import zlib

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples a pixel
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
PIECE = 1 << 20


def expected_length(width: int, height: int, depth: int, colour_type: int, interlaced: bool) -> int:
    """Bytes of the inflated pixel stream: each row's filter byte and its packed samples,
    per Adam7 pass when interlaced."""
    bits = CHANNELS[colour_type] * depth
    if not interlaced:
        return height * (1 + (width * bits + 7) // 8)
    total = 0
    for x0, y0, dx, dy in ADAM7:
        w, h = max(0, -(-(width - x0) // dx)), max(0, -(-(height - y0) // dy))
        if w and h:
            total += h * (1 + (w * bits + 7) // 8)
    return total


def short_rows(data: bytes) -> bool:
    """True when the IDAT stream ends (a whole zlib stream) before the picture does."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        return False
    width, height, depth, colour_type, _, _, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    if colour_type not in CHANNELS:
        return False
    want = expected_length(width, height, depth, colour_type, interlace == 1)
    inflater, got, pos, end = zlib.decompressobj(), 0, 8, len(data)
    try:
        while pos + 8 <= end:
            length, kind = struct.unpack_from(">I4s", data, pos)
            if kind == b"IDAT":
                piece = data[pos + 8:pos + 8 + length]
                while piece:
                    got += len(inflater.decompress(piece, PIECE))
                    if got >= want:
                        return False
                    piece = inflater.unconsumed_tail
            elif kind == b"IEND":
                break
            pos += 12 + length
    except zlib.error:
        return False  # damaged: the decoder says so
    return inflater.eof and got < want
