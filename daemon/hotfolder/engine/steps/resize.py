"""Step: the rendition's size and crop (`operation`, `width`, `height`, `scale`,
`upscale`, `crop`, `orient`): resampled from the smallest frame already made that
covers it (engine/resample, libvips), or, for `fill` with `crop: attention | entropy`,
cut where libvips' smartcrop looks (engine/smartcrop); then turned upright (Pillow,
on the small output: engine/orient). `pad`'s canvas is the pad step's (steps/pad).

Light to import: libvips and Pillow are imported with the first rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.geometry import as_stored
from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    from hotfolder.engine import orient, smartcrop  # Pillow, libvips: see the module's doc
    from hotfolder.engine.raster import Raster

    p, rendition = work.plan, work.rendition
    turn = work.source.meta.orientation if rendition.orient else 1
    frames = work.source.frames_for(rendition)
    if rendition.operation == "fill" and rendition.crop != "center":
        return replace(work, raster=smartcrop.smart_fill(frames, p, turn), shared=False)
    raster, shared = frames.resample(as_stored(p, turn))
    if turn != 1:
        raster, shared = Raster.of(orient.upright(raster.image(), turn)), False
    return replace(work, raster=raster, shared=shared)  # pad's box: the pad step, after the colour step
