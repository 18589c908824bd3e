"""A BMP's own colour profile, which Pillow does not read: a BITMAPV5HEADER says in its
colour-space type whether a profile is embedded ('MBED': its offset from the header's
start, and its size) or linked ('LINK': a file name). ImageMagick embeds the source's
profile so; an Adobe RGB photo saved as BMP was taken as sRGB in silence (flat colours).

A linked profile is a name written by someone else's machine: data, never a path to
open. It is said in the log, as is an embedded one that lies outside the file.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from hotfolder.engine.colour import MAX_PROFILE_BYTES
from hotfolder.engine.metadata import profile_left_out

FILE_HEADER = 14  # "BM", the file's size, two reserved words, the pixels' offset
V5_SIZE = 124  # BITMAPV5HEADER's own size: V4 (108) has the colour-space type, not the profile
CS_TYPE, PROFILE_DATA, PROFILE_SIZE = 56, 112, 116  # offsets in the V5 header
MBED, LINK = b"DEBM", b"KNIL"  # 'MBED' and 'LINK' as the little-endian DWORD stores them


def read(src: Path, data: bytes | None = None) -> tuple[bytes | None, str | None]:
    """The profile embedded in the BMP at `src` (`data`: its bytes, when read already), and
    what the log should say of one that is not used (None, None: the BMP has no profile of
    its own)."""
    with (io.BytesIO(data) if data is not None else open(src, "rb")) as f:
        head = f.read(FILE_HEADER + V5_SIZE)
        if len(head) < FILE_HEADER + V5_SIZE or head[:2] != b"BM":
            return None, None
        v5 = head[FILE_HEADER:]
        if int.from_bytes(v5[:4], "little") < V5_SIZE:
            return None, None
        kind = v5[CS_TYPE:CS_TYPE + 4]
        if kind == LINK:
            return None, profile_left_out("the BMP names a colour profile file instead of embedding one (a name is "
                                          "not followed)")
        if kind != MBED:
            return None, None
        offset = int.from_bytes(v5[PROFILE_DATA:PROFILE_DATA + 4], "little")
        size = int.from_bytes(v5[PROFILE_SIZE:PROFILE_SIZE + 4], "little")
        start, end = FILE_HEADER + offset, len(data) if data is not None else os.fstat(f.fileno()).st_size
        if not 0 < size <= MAX_PROFILE_BYTES or start < FILE_HEADER + V5_SIZE or start + size > end:
            return None, profile_left_out(f"the BMP's embedded colour profile cannot be read (its header places "
                                          f"{size:,} bytes at byte {start:,} of a {end:,}-byte file)")
        f.seek(start)
        return f.read(size), None

