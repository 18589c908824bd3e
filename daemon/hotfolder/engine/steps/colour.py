"""Step: the rendition's colour profile (`color_profile`): an 8-bit frame converted on
the output, after resampling (engine/colour, libvips' LittleCMS); a 16-bit source's
frames were converted from their 16 bits when the file was decoded, and carry their
profile already.

Light to import: libvips and Pillow are imported with the first rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    source, rendition = work.source, work.rendition
    key = source.frames_key(rendition)
    if key is not None:  # converted at decode, from 16 bits
        return replace(work, icc=source.profiles[key])
    from hotfolder.engine import colour  # Pillow, libvips: see the module's doc

    converted, icc = colour.to_target(work.pixels, source.meta.icc, rendition.color_profile)
    return replace(work, raster=converted, shared=work.shared and converted is work.raster, icc=icc)
