"""The rendition's steps whose keys the rendition section reads, in the order of the
README's table. Each step declares its keys (and its checks across keys) as a `Step`
in a module that imports only the standard library and hotfolder.config, so it can
move next to its engine code: a step is added by listing its `STEP` here.
"""
from __future__ import annotations

from hotfolder.config.keys import Step
from hotfolder.config.sections.steps import (
    colour,
    encode,
    geometry,
    metadata,
    orient,
    rights,
    sharpen,
    smartcrop,
    watermark,
)

STEPS: tuple[Step, ...] = (
    geometry.STEP,
    encode.STEP,
    orient.STEP,
    metadata.STEP,
    colour.STEP,
    rights.STEP,
    sharpen.STEP,
    smartcrop.STEP,
    watermark.STEP,
)
