"""The rendition's geometry (engine/geometry.py): operation, size, scale, upscale."""
from __future__ import annotations

from typing import Any

from hotfolder.config.choices import Operation
from hotfolder.config.keys import Key, Step
from hotfolder.config.reader import Reader, recorded
from hotfolder.config.values import NO_SIZE, Bool, Choice, Float, Size

KEYS = (
    Key("operation", Choice(Operation, aliases={"crop": "fill", "cover": "fill", "resize": "fit", "contain": "fit"}),
        Operation.FIT,
        "`fit` (within the box, aspect kept), `fill` (cover the box, cropped to exactly its size: see `crop`; "
        "a picture too small to cover it, unless `upscale`, gives the largest centred crop of the box's shape, "
        "not enlarged: a 32 px icon's 200x200 is 32x32, a 1x2000 strip's 1x1: read the manifest's sizes), "
        "`scale` (by `scale:` factor), `pad` (within the box, then centred on `background` to exactly the box's "
        "size: letterboxed), `none`"),
    Key("size", Size(), NO_SIZE,
        "`1600x1200` (`1600 x 1200px`, `{width: 1600, height: 1200}` too), `1600` (a square box), or `[1600, null]` "
        "(width only; `{width: 1600}`); fit needs one side, fill and pad "
        "both. For fit, as photographers give it: `{long: 2048}` (the longer side, a portrait's height), "
        "`{short: 1080}` (the shorter side), `{megapixels: 2}` (about 2,000,000 pixels, the aspect kept)",
        fields=("width", "height", "long", "short", "megapixels")),
    Key("scale", Float(lo=0.001, hi=16.0), None, "factor for `operation: scale`, e.g. 0.5"),
    Key("upscale", Bool(), False, "let fit/fill enlarge small images"),
)


def check(r: Reader, values: dict[str, Any]) -> None:
    """What each operation needs of size and scale. A wrong operation is one problem:
    nothing is said of size or scale against an operation that was not written."""
    if not r.ok("operation"):
        return
    operation, scale = values["operation"], values["scale"]
    width, height, long, short, megapixels = values["size"]
    photographers = long is not None or short is not None or megapixels is not None
    with recorded():
        if operation == Operation.FIT and values["size"] == NO_SIZE and r.ok("size"):
            r.fail("size", "leaves both sides free (0 or null frees a side): give at least one for operation fit "
                           "(e.g. size: 1600x1600, or {long: 2048})" if r.has("size") else
                           "is required for operation fit (e.g. size: 1600x1600, or {long: 2048})")
        if operation in (Operation.FILL, Operation.PAD) and (width is None or height is None) and r.ok("size"):
            shape = "{long: …}, {short: …} or {megapixels: …} fit a box only with operation fit; " \
                if photographers else ""
            r.fail("size", f"{shape}needs both width and height for operation {operation} (e.g. size: 400x400)")
        if operation == Operation.SCALE and scale is None and r.ok("scale"):
            r.fail("scale", "is required for operation scale (e.g. scale: 0.5)")
        if operation != Operation.SCALE and scale is not None:
            r.fail("scale", f"only applies to operation scale, not {operation}: remove it, or use operation: scale")
        if operation in (Operation.NONE, Operation.SCALE) and r.has("size"):
            why = ("scale sets the size): remove it" if operation == Operation.SCALE
                   else "the picture keeps its size): remove it, or use operation: fit")
            r.fail("size", f"does not apply to operation {operation} ({why}")


STEP = Step("geometry", KEYS, check)
