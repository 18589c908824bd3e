"""A text or image mark on every output (engine/watermark.py): watermark."""
from __future__ import annotations

from typing import Any

from hotfolder.config.choices import Position, SizeOf
from hotfolder.config.keys import Key, Step, read_keys
from hotfolder.config.model import Watermark
from hotfolder.config.reader import Context, Reader, section
from hotfolder.config.values import Choice, Float, Int, Nested, Path_, Text

_POSITION_ALIASES = {"centre": "center", "middle": "center", "bottom-centre": "bottom", "top-centre": "top",
                     "bottom-center": "bottom", "top-center": "top",
                     # "did you mean" offers these for lower/upper (`lower-right` was offered top-right)
                     "lower-right": "bottom-right", "lower-left": "bottom-left", "upper-right": "top-right",
                     "upper-left": "top-left", "lower": "bottom", "upper": "top"}

MAPPING_KEYS = (
    Key("text", Text(), None,
        "the mark's text, e.g. `\"© Studio\"`: white on a soft dark halo, legible on white and on busy light "
        "areas. Exactly one of `text` and `image`"),
    Key("image", Path_(), None, "an image file for the mark, e.g. `logo.png` (relative to the config)"),
    Key("position", Choice(Position, aliases=_POSITION_ALIASES), Position.BOTTOM_RIGHT,
        "`top-left`, `top`, `top-right`, `left`, `center`, `right`, `bottom-left`, `bottom`, `bottom-right`"),
    Key("opacity", Float(lo=0.0, hi=1.0, fraction=True), 0.5, "0–1, or a percentage: `60%`"),
    Key("size", Float(lo=0.01, hi=1.0, fraction=True), 0.25,
        "the mark's width as a fraction of the side `size_of` names"),
    Key("size_of", Choice(SizeOf), SizeOf.SHORTER,
        "`shorter`: the same mark on a portrait and a landscape; `width`: the sizing before this version, a "
        "third smaller on a 3:2 portrait; `height`; `longer`: a panorama's mark in proportion to its length"),
    Key("min_size", Int(lo=0, hi=10_000), 120,
        "pixels: the mark is never narrower than this (never wider than the image either), so a panorama's "
        "or a small image's mark stays readable: 120 px sets the example's `© Example Studio` in 15 px type, "
        "capitals 10 px tall (at 80 px, 8 px: hard to read). 0: no minimum"),
    Key("margin", Float(lo=0.0, hi=0.45, fraction=True), 0.02, "fraction of the shorter side"),
)


@section
def read(ctx: Context, data: Any, path: str) -> Watermark:
    r = Reader(ctx, data, path)
    values = read_keys(r, MAPPING_KEYS)
    r.done()
    if (values["text"] is None) == (values["image"] is None) and r.ok("text", "image"):
        r.fail("", "needs exactly one of `text` or `image`")
    return Watermark(**values)


KEYS = (
    Key("watermark", Nested(read), None, "`text: \"© Studio\"` or `image: logo.png`, and where and how large: "
                                         "the keys below"),
)

STEP = Step("watermark", KEYS)
