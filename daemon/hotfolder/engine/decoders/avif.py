"""AVIF: Pillow's plugin (libavif) decodes it, as every format `pillow.decode` takes, and
turns its rotation and mirror (irot, imir) into an EXIF orientation. Two things it drops
are read from the container here:

* colour stated by code (nclx) rather than by an ICC profile: libheif (pi-heif) reads it,
  and Display P3 by code is converted as a HEIC's is (decoders/heif.profile_of). It was
  rendered unconverted, up to 118 levels off (a fuzz round: `avifenc --cicp 12/13/0`);
* the crop (clean aperture, `clap`): applied to the decoded pixels, as stored, before
  the orientation turns them (MIAF puts the crop first; a crop listed after a turn is
  not applied, and said). `avifenc --crop` files came out whole (a fuzz round).
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageFile

from hotfolder.engine.decoders import Decoded, Wanted, heif, heifmeta, pillow


def decode(src: Path, header: ImageFile.ImageFile, wanted: Wanted) -> Decoded:
    decoded = pillow.decode(src, header, wanted)
    if decoded.meta.icc is None:
        icc, said = heif.coded_colour(src, wanted.data)
        if icc is not None:
            decoded = replace(decoded, meta=decoded.meta.with_icc(icc))
        if said is not None:
            decoded = replace(decoded, meta=replace(decoded.meta, notes=(*decoded.meta.notes, said)))
    return _cropped(src, wanted.data, decoded)


def _cropped(src: Path, data: bytes | None, decoded: Decoded) -> Decoded:
    frame = decoded.frame
    if not isinstance(frame, Image.Image):
        return decoded
    try:
        box = aperture(src, data, frame.size)
    except heifmeta.Unsupported as exc:
        note = f"the AVIF's crop (clean aperture) is not applied ({exc}): the picture is shown whole"
        return replace(decoded, meta=replace(decoded.meta, notes=(*decoded.meta.notes, note)))
    if box is None:
        return decoded
    out = frame.crop(box)
    return replace(decoded, frame=out, size=out.size)


def aperture(src: Path, data: bytes | None, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The crop box (left, top, right, bottom) of the AVIF's clean aperture in a picture of
    `size` as coded, or None: none, or the whole picture. Unsupported: one not applied.
    Also what `when:` conditions see (engine/facts), so they judge the picture rendered."""
    if data is not None:
        props = heifmeta.primary_props(data)
    else:
        from hotfolder.engine.fingerprint import is_pinned  # a descriptor's own link: followed on purpose

        fd = os.open(src, os.O_RDONLY | (0 if is_pinned(src) else os.O_NOFOLLOW))
        try:
            props = heifmeta.primary_props(fd)
        finally:
            os.close(fd)
    if not props or not any(p.kind == "clap" for p in props):
        return None
    box, _ = heifmeta.transforms(props, *size)
    return None if box is None or box == (0, 0, *size) else box
