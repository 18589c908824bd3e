"""The steps of one rendition, in order: each a small module with one entry point,
`apply(work) -> work` (steps/work), as imgproxy's pipeline is a list of steps, one
small file each. engine/pipeline runs them for every rendition of a file.

Adding a step is a module here and a line in `STEPS`. A step that does not apply to a
rendition returns the work it was given. Every step module is light to import (no
imaging library: Pillow and libvips come with its first run), so the config can read
what a step declares without loading them (tests/unit/test_engine_registries.py checks).
"""
from __future__ import annotations

from collections.abc import Callable

from hotfolder.engine.steps import colour, encode, flatten, metadata, pad, resize, sharpen, watermark
from hotfolder.engine.steps.work import Work

Step = Callable[[Work], Work]

STEPS: tuple[Step, ...] = (
    resize.apply,  # cut from the frame ladder (or smart-cropped), turned upright
    colour.apply,  # into the rendition's colour profile
    pad.apply,  # pad's box, in that profile (its background as JPEG's flattening takes it)
    flatten.apply,  # the mode the output's format takes (alpha onto the background)
    sharpen.apply,  # the unsharp mask, after resampling, before the mark
    watermark.apply,  # the mark, on the finished pixels
    metadata.apply,  # what the output carries: the policy, then the rights fields
    encode.apply,  # the bytes, within max_bytes
)
