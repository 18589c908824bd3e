"""Step: `operation: pad`'s box: the picture centred on its canvas, the rest `background`,
a transparent picture put on it too (engine/orient.padded). After the colour step, so
the box is `background` in the output's own profile, as JPEG's flattening is: padded
before it, an 8-bit picture's bars were converted from the source's profile with it,
and `#1e3cc8` on an Adobe RGB photo came out `#0139ce` (a review).

Light to import: Pillow is imported with the first rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    canvas = work.plan.canvas
    if canvas is None:
        return work
    from hotfolder.engine import orient  # Pillow: see the module's doc
    from hotfolder.engine.raster import Raster

    image = picture = work.image()
    icc, background, notes = work.icc, work.rendition.background, list(work.notes)
    if image.mode in ("L", "LA") and len(set(background)) > 1:
        # Colour bars beside a greyscale picture: in RGB, or they came out as the colour's grey.
        from hotfolder.engine import colour

        image, icc = colour.grey_as_rgb(image, icc, work.rendition.color_profile, notes)
    on_canvas = orient.padded(image, canvas, background)
    # padded() hands back the image itself when it fills the canvas: still shared then
    return replace(work, raster=Raster.of(on_canvas), shared=work.shared and on_canvas is picture, icc=icc,
                   notes=tuple(notes))
