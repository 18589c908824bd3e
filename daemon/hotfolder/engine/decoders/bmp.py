"""BMP: Pillow decodes it, but reads neither a V5 header's embedded colour profile
(engine/bmpprofile) nor the alpha mask of a 16-bit bit-field BMP (engine/bmpbits): both
are read here, and a picture with such a mask is decoded from its masks.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PIL import ImageFile

from hotfolder.engine import bmpbits, bmpprofile
from hotfolder.engine.decoders import Decoded, Wanted
from hotfolder.engine.decoders.pillow import eight_bit
from hotfolder.engine.errors import InputError
from hotfolder.engine.metadata import read_metadata
from hotfolder.engine.opening import load


def decode(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded:
    size = header.size
    icc, said = bmpprofile.read(src, wanted.data)
    if icc is not None:
        header.info["icc_profile"] = icc  # as any format's profile is given (Pillow's image carries it)
    meta = read_metadata(header)
    if said is not None:
        meta = replace(meta, notes=(*meta.notes, said))
    layout = bmpbits.alpha_layout(src, wanted.data)
    if layout is None:
        load(header)
        return eight_bit(header, size, meta)
    try:
        frame = bmpbits.decode(src, layout, wanted.data)
    except ValueError as exc:
        raise InputError("decode", str(exc)) from None
    return eight_bit(frame, size, meta)
