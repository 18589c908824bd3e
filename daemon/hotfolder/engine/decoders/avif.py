"""AVIF: Pillow's plugin (libavif) decodes it, as every format `pillow.decode` takes. Its
colour stated by code (nclx) rather than by an ICC profile is not reported by that plugin:
libheif (pi-heif) reads it from the container, and Display P3 by code is converted as a
HEIC's is (decoders/heif.profile). It was rendered unconverted, up to 118 levels off (a
fuzz round: `avifenc --cicp 12/13/0`).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PIL import ImageFile

from hotfolder.engine.decoders import Decoded, Wanted, heif, pillow


def decode(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded:
    decoded = pillow.decode(src, header, wanted)
    if decoded.meta.icc is None and (icc := heif.coded_profile(src, wanted.data)) is not None:
        return replace(decoded, meta=decoded.meta.with_icc(icc))
    return decoded
