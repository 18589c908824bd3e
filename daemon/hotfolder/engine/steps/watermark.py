"""Step: the watermark (`watermark`), a text or image mark composited onto its box
(engine/watermark, Pillow); drawn on a copy when the frame is another rendition's too,
and on packed pixels without making the whole frame a Pillow image (engine/raster).

Light to import: Pillow is imported with the first watermarked rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    spec = work.rendition.watermark
    if spec is None:
        return work
    from hotfolder.engine.watermark import watermark_raster  # Pillow: see the module's doc

    raster = work.pixels.copy() if work.shared else work.pixels  # never draw on a frame other renditions reuse
    return replace(work, raster=watermark_raster(raster, spec), shared=False)
