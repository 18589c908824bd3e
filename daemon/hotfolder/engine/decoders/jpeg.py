"""JPEG: its scans counted before libjpeg runs (engine/jpegscan), then decoded at the
smallest DCT scale that still covers the largest rendition (`draft`): a JPEG's EXIF
precedes its pixels, so a sideways photo's need is known before decoding. Measured,
Pillow's draft decode of a 12 MP JPEG at 1/2 scale is faster than libvips' `shrink=2`
(DESIGN.md, "The engine")."""
from __future__ import annotations

from pathlib import Path

from PIL import ImageFile

from hotfolder.engine.decoders import Decoded, Wanted
from hotfolder.engine.decoders.pillow import eight_bit
from hotfolder.engine.metadata import read_metadata
from hotfolder.engine.opening import check_scans, draft, load


def decode(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded:
    size = header.size  # the picture's: the draft makes the pixels smaller
    check_scans(src, wanted.data)
    draft(header, wanted.renditions)
    load(header)
    return eight_bit(header, size, read_metadata(header))
