"""Step: the mode the output's format takes (`background`): alpha flattened onto the
background where the format has none (JPEG), grey written as RGB where it has no grey
(WebP, AVIF): the format's entry says (engine/formats); engine/colour.convert_for does it.
A grey picture that comes out RGB has its Gray profile converted (engine/colour.grey_as_rgb):
RGB pixels tagged with a Gray profile, as they were, are shown by no viewer as meant.

Light to import: Pillow is imported with the first rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    from hotfolder.engine import colour  # Pillow: see the module's doc
    from hotfolder.engine.raster import Raster

    mode, fmt = work.pixels.mode, work.format
    if not colour.converts_for(mode, fmt):
        return work  # (packed pixels stay packed)
    image, icc, notes = work.image(), work.icc, list(work.notes)
    if mode in ("L", "LA") and (not fmt.grey or (mode == "LA" and not fmt.alpha)):
        image, icc = colour.grey_as_rgb(image, icc, work.rendition.color_profile, notes)
    return replace(work, raster=Raster.of(colour.convert_for(image, fmt, work.rendition.background)),
                   shared=False, icc=icc, notes=tuple(notes))
