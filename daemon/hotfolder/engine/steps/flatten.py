"""Step: the mode the output's format takes (`background`): alpha flattened onto the
background where the format has none (JPEG), grey written as RGB where it has no grey
(WebP, AVIF): the format's entry says (engine/formats); engine/colour.convert_for does it.

Light to import: Pillow is imported with the first rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    from hotfolder.engine.colour import convert_for, converts_for  # Pillow: see the module's doc
    from hotfolder.engine.raster import Raster

    if not converts_for(work.pixels.mode, work.format):
        return work  # (packed pixels stay packed)
    return replace(work, raster=Raster.of(convert_for(work.image(), work.format, work.rendition.background)),
                   shared=False)
