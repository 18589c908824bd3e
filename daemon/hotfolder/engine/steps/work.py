"""What the steps pass along: the decoded file (`Source`, one for all its renditions) and
one rendition under way (`Work`). Every step is `apply(work) -> work`.

Light to import (no imaging library): the step modules and, later, their config keys
import this.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hotfolder.engine import formats
from hotfolder.engine.encoders import Embedded

if TYPE_CHECKING:
    from PIL import Image

    from hotfolder.config.model import Rendition
    from hotfolder.engine.geometry import Plan
    from hotfolder.engine.metadata import Metadata
    from hotfolder.engine.raster import Raster
    from hotfolder.engine.resample import Frames
    from hotfolder.recipes.facts import Described


@dataclass(frozen=True)
class Source:
    """A file decoded, and the frames its renditions are resampled from."""

    name: str  # the file's name: format `same` may keep its extension, `{folder}`'s folder beside
    size: tuple[int, int]  # the picture's full size, which renditions are planned on
    meta: Metadata  # what the file carries; `icc` describes the decoded 8-bit frame
    folder: str  # the folder's name, for set_metadata's `{folder}`
    # An 8-bit source has one frame (key None); a 16-bit one a frame per target profile,
    # made from its 16 bits, and the profile each carries.
    frames: Mapping[str | None, Frames]
    profiles: Mapping[str | None, bytes | None] = field(default_factory=dict)
    described: Described | None = None  # the worker's: set_metadata's values, a sidecar's fields

    def frames_for(self, rendition: Rendition) -> Frames:
        return self.frames[self.frames_key(rendition)]

    def frames_key(self, rendition: Rendition) -> str | None:
        return rendition.color_profile if self.profiles else None


@dataclass(frozen=True)
class Work:
    """One rendition under way: each step takes one and returns the next (`replace`)."""

    source: Source
    plan: Plan
    raster: Raster | None = None  # the pixels (engine/raster): none until the resize step cuts them
    shared: bool = False  # they are also a frame other renditions use: copy them before drawing on them
    icc: bytes | None = None  # the profile the pixels are in (the colour step)
    metadata: Embedded = Embedded()  # what the output carries (the metadata step)
    data: bytes = b""  # the output's bytes (the encode step)
    quality: int | None = None  # the quality they were written at (None: the format has none)
    score: float | None = None  # their SSIMULACRA2 estimate with `quality: auto` (engine/autoquality.Found)
    score_measured: bool = False  # measured by the metric, else predicted along the encoder's slope
    notes: tuple[str, ...] = ()  # what the user should hear of (a source XMP that could not be edited)

    @property
    def rendition(self) -> Rendition:
        return self.plan.rendition

    @property
    def pixels(self) -> Raster:
        """The rendition's pixels: packed until a step asks for `image()` (engine/raster)."""
        if self.raster is None:
            raise RuntimeError("a step ran before the resize step made the rendition's pixels")
        return self.raster

    def image(self) -> Image.Image:
        """The pixels as a Pillow image, for a step that works in Pillow."""
        return self.pixels.image()

    @property
    def format(self) -> formats.Format:
        """The format the output is written in."""
        return formats.written(self.rendition.format, self.source.meta.format)
