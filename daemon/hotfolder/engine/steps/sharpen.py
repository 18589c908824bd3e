"""Step: output sharpening (`sharpen`): an unsharp mask on the luminance, its strength
scaled by how much the picture was reduced (engine/sharpen, Pillow).

Light to import: Pillow is imported with the first sharpened rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    spec = work.rendition.sharpen
    if spec is None:
        return work
    from hotfolder.engine import sharpen  # Pillow: see the module's doc
    from hotfolder.engine.raster import Raster

    factor = sharpen.downscale_factor(work.source.size, work.plan.frame)
    return replace(work, raster=Raster.of(sharpen.sharpen(work.image(), spec, factor)), shared=False)
