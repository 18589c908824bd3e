"""Geometry, pure: what size each rendition comes out, which part of the frame it shows,
and where that part lies in the pixels as the file stores them (maybe sideways).

No pixels here, no library: plain arithmetic that the tests check exhaustively.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from hotfolder.config.model import Rendition

T = TypeVar("T")
# EXIF orientation 5..8 store the picture on its side: width and height swap.
SIDEWAYS = (5, 6, 7, 8)


@dataclass(frozen=True)
class Plan:
    """How one rendition is cut from the frame of a given size."""

    rendition: Rendition
    frame: tuple[float, float]  # the whole frame resampled to this size covers the output
    crop: tuple[float, float, float, float] | None  # region of the frame, in fractions
    size: tuple[int, int]  # the resampled picture's size
    canvas: tuple[int, int] | None = None  # pad: the output's size, the picture centred on it (upright)


def plan(rendition: Rendition, size: tuple[int, int]) -> Plan:
    """Output size and crop of `rendition` for an (upright) frame of `size`."""
    w, h = size
    op = rendition.operation
    if op == "fill":
        return _plan_fill(rendition, w, h)
    if op in ("fit", "pad"):
        scale = _fit_scale(rendition, w, h)
        if not rendition.upscale:
            scale = min(scale, 1.0)
    elif op == "scale":
        scale = _given(rendition.scale, rendition, "scale")  # explicit: `upscale` only guards fit and fill
    else:
        scale = 1.0
    out = (max(1, round(w * scale)), max(1, round(h * scale)))
    if op in ("fit", "pad"):  # the limiting side lands exactly on the box
        out = (min(out[0], rendition.width or out[0]), min(out[1], rendition.height or out[1]))
        limit = rendition.long or rendition.short
        if limit:  # the side the limit is on lands exactly on it
            on_width = (w >= h) == bool(rendition.long)
            out = (min(out[0], limit), out[1]) if on_width else (out[0], min(out[1], limit))
    canvas = None
    if op == "pad":
        canvas = (_given(rendition.width, rendition, "width"), _given(rendition.height, rendition, "height"))
    return Plan(rendition, (w * scale, h * scale), None, out, canvas)


def _fit_scale(rendition: Rendition, w: int, h: int) -> float:
    """The scale that fits the box: width and/or height, or as photographers give it (the
    longer or the shorter side, or a number of megapixels)."""
    if rendition.long:
        return rendition.long / max(w, h)
    if rendition.short:
        return rendition.short / min(w, h)
    if rendition.megapixels:
        return math.sqrt(rendition.megapixels * 1_000_000 / (w * h))
    scales = [b / s for b, s in ((rendition.width, w), (rendition.height, h)) if b]
    if not scales:
        raise ValueError(f"rendition {rendition.name}: operation {rendition.operation} without a size")
    return min(scales)


def _plan_fill(rendition: Rendition, w: int, h: int) -> Plan:
    box_w, box_h = _given(rendition.width, rendition, "width"), _given(rendition.height, rendition, "height")
    if w * box_h > h * box_w:  # wider than the box: crop the sides
        crop_w, crop_h = h * box_w / box_h, float(h)
    else:
        crop_w, crop_h = float(w), w * box_h / box_w
    scale = box_w / crop_w
    if scale > 1 and not rendition.upscale:
        # Too small to fill the box: the largest centred crop of the box's shape, not enlarged.
        scale = 1.0
        out = (max(1, round(crop_w)), max(1, round(crop_h)))
    else:
        out = (box_w, box_h)
    fx, fy = crop_w / w, crop_h / h
    crop = ((1 - fx) / 2, (1 - fy) / 2, (1 + fx) / 2, (1 + fy) / 2)
    return Plan(rendition, (w * scale, h * scale), crop, out)


def _given(value: T | None, rendition: Rendition, key: str) -> T:
    """A key the config requires for this operation (fill: width and height; scale: scale)."""
    if value is None:
        raise ValueError(f"rendition {rendition.name}: operation {rendition.operation} without {key}")
    return value


def oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in SIDEWAYS else size


def plans_for(renditions: Sequence[Rendition], stored: tuple[int, int], orientation: int) -> list[Plan]:
    """The plan of each rendition on the frame it shows: upright unless `orient: false`."""
    return [plan(r, oriented_size(stored, orientation if r.orient else 1)) for r in renditions]


def draft_size(renditions: Sequence[Rendition], stored: tuple[int, int], orientation: int) -> tuple[int, int] | None:
    """The smallest size (as stored) a decoder may reduce the frame to and still cover
    every rendition, when that is at most half of it on both sides (a JPEG's DCT scale, a
    RAW's half-size develop); None when the full frame is needed."""
    need = needed_size(renditions, stored, orientation)
    if need is not None and need[0] * 2 <= stored[0] and need[1] * 2 <= stored[1]:
        return need
    return None


def needed_size(renditions: Sequence[Rendition], stored: tuple[int, int], orientation: int) -> tuple[int, int] | None:
    """The smallest size (as stored) that covers every rendition; None without renditions."""
    needs = [as_stored(p, orientation).frame for p in plans_for(renditions, stored, orientation)]
    if not needs:
        return None
    need_w, need_h = (max(math.ceil(side[i]) for side in needs) for i in (0, 1))
    return need_w, need_h


def _swap(pair):
    return (pair[1], pair[0])


# Where an upright point (x, y), in fractions of the frame, lies in the stored pixels,
# for each orientation. (EXIF 6, for instance, is shown by turning the stored pixels
# 90° clockwise: the stored top-left corner ends up top-right.)
_UPRIGHT_TO_STORED = {
    1: lambda x, y: (x, y),
    2: lambda x, y: (1 - x, y),
    3: lambda x, y: (1 - x, 1 - y),
    4: lambda x, y: (x, 1 - y),
    5: lambda x, y: (y, x),
    6: lambda x, y: (y, 1 - x),
    7: lambda x, y: (1 - y, 1 - x),
    8: lambda x, y: (1 - y, x),
}


def stored_crop(crop: tuple[float, float, float, float], orientation: int) -> tuple[float, float, float, float]:
    """The region of the stored pixels that shows the upright region `crop`."""
    to_stored = _UPRIGHT_TO_STORED[orientation]
    (u0, v0), (u1, v1) = to_stored(crop[0], crop[1]), to_stored(crop[2], crop[3])
    return (min(u0, u1), min(v0, v1), max(u0, u1), max(v0, v1))


def as_stored(p: Plan, orientation: int) -> Plan:
    """The same plan in the stored pixels' frame: resample there, turn the (smaller)
    output upright afterwards. `orientation` 1 (or `orient: false`) leaves it as it is."""
    if orientation == 1 or not p.rendition.orient:
        return p
    crop = stored_crop(p.crop, orientation) if p.crop is not None else None
    if orientation in SIDEWAYS:
        return replace(p, frame=_swap(p.frame), crop=crop, size=_swap(p.size))
    return replace(p, crop=crop)
