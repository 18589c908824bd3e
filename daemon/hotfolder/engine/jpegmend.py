"""What a JPEG's first libjpeg-turbo warning leaves to mend before it is decoded again,
strictly (decoders/jpeg): TurboJPEG stops at the first warning, and a harmless one hid
the damage behind it (a fuzz round: two stray bytes after APP0 and a scan cut short
rendered half grey through Pillow, which drops every warning).

  * stray bytes between the segments before the first scan ("N extraneous bytes before
    marker 0xdb"): left out, as libjpeg skips them;
  * a few before the end marker (real cameras' files have them), or a run of one byte
    value however long (an encoder's padding): left out. More than PADDING of varied bytes
    is a coded picture longer than its header says (a damaged frame height, a restart
    interval without its markers: the picture comes out grey or cut): damage;
  * the end marker missing ("Premature end of JPEG file") from a file whose first scan
    holds the whole picture (jpegscan.whole_in_first_scan): put back. Every viewer shows
    such a file; a scan cut short still warns when decoded again, and stays truncated.
"""
from __future__ import annotations

import re

from hotfolder.engine import jpegscan
from hotfolder.engine.errors import InputError

EOI = b"\xff\xd9"
STRAY = re.compile(r"(\d+) extraneous bytes before marker 0x([0-9a-f]{2})")
PADDING = 1024  # varied bytes before the end marker taken as padding; the damaged headers measured left 3,972+
ROUNDS = 3  # mends a file may need (stray bytes in its header, then before its end, say)


def mended(said: str, progressive: bool, data: bytes) -> bytes | None:
    """`data` with what the warning `said` points at mended, or None: nothing to mend
    here (Pillow decodes the file, or says why not). InputError for a coded picture
    longer than its header says."""
    lowered = said.lower()
    if "premature end of jpeg file" in lowered:
        if progressive or data.endswith(EOI) or not jpegscan.whole_in_first_scan(data):
            return None
        return data + EOI
    stray = STRAY.search(lowered)
    if stray is None:
        return None
    count, marker = int(stray[1]), int(stray[2], 16)
    if marker == EOI[1]:
        end = jpegscan.end_of_image(data)
        if end is None or end < count:
            return None
        if count > PADDING and len(set(data[end - count:end])) > 1:
            raise InputError("decode", f"its image data is damaged ({count:,} bytes of coded picture past what its "
                                       "header describes: its size or restart interval is wrong): part of the "
                                       "picture would come out grey or cut; copy the file again from where it came "
                                       "from")
        return data[:end - count] + data[end:]
    spans = jpegscan.header_junk(data)
    if not spans:
        return None  # between scans, say: Pillow decodes it as before
    kept, pos = [], 0
    for start, stop in spans:
        kept.append(data[pos:start])
        pos = stop
    kept.append(data[pos:])
    return b"".join(kept)
