"""Step: the mode the output's format takes (`background`): alpha flattened onto the
background where the format has none (JPEG), grey written as RGB where it has no grey
(WebP, AVIF): the format's entry says (engine/formats); engine/colour.convert_for does it.

Light to import: Pillow is imported with the first rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    from hotfolder.engine.colour import convert_for  # Pillow: see the module's doc

    converted = convert_for(work.pixels, work.format, work.rendition.background)
    return replace(work, image=converted, shared=work.shared and converted is work.image)
