"""What a web page shows before an image loads: a ThumbHash (a ~25-byte blurred preview,
base64 in the manifest) and a dominant colour (`#rrggbb`), from one rendition's pixels.

ThumbHash is Evan Wallace's algorithm (MIT), written here from its published
description in numpy: a DCT of the luminance (up to 7 coefficients a side), two chroma
channels (3) and alpha (5), quantised to nibbles. It matches the reference JavaScript
package (`thumbhash` 0.1.1) byte for byte (tests/unit/test_placeholder.py holds it to
the package's own output): rounding as JavaScript's Math.round does (halves up, where
Python's round() goes to even), and every product and sum in the reference's order, so
a coefficient that is exactly zero (a ramp) lands on the same side of a half. A channel
with no variation at all (one colour, an even alpha) has coefficients that are only
rounding noise, which differs with the last bit of the cosine (V8's against the C
library's): its scale is 0, so those nibbles decode to nothing either way. ~3 ms CPU for
100x100; the PyPI ports measured 45-59 ms, and one fails on alpha (research/quality
FINDINGS.md §7).

The dominant colour: the most populous cell of a 512-cell RGB histogram (3 bits a
channel) of a 64x64 reduction, reported as the mean of its pixels. On contact sheets of
32 photos, 512 cells agreed with k-means (6 ms) on nearly every photo, where 4,096 cells
(sharp's `dominant`) often picked a small saturated or near-black cell. "Dominant" is
the most pixels: a dark background wins over a bright subject.

Of which output (`chosen`): the smallest that shows the photo in its own shape, a srcset's
`fit` widths, rather than the smallest of all, often a square `fill` thumbnail: the page
shows the photo in that shape, and a square blur-up cropped from it was the wrong picture
in the wrong box. Decided from the outputs' sizes alone, so `rerender --rendition` decides
the same from a manifest's (workers/untouched.placeholder).
"""
from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

MAX_SIDE = 100  # ThumbHash's input limit
DOMINANT_SIDE = 64


@dataclass(frozen=True)
class Placeholder:
    thumbhash: str  # base64
    dominant_color: str  # "#rrggbb"


def of(im: Image.Image) -> Placeholder:
    """The placeholder of an image (a rendition's pixels: any mode, any size)."""
    # The output chosen may be large (a 2048 px fit, where a 200 px fill was): an opaque RGB
    # one is first box-averaged by a whole factor to no less than twice what is made of it,
    # and made RGBA only then (a box filter of an opaque alpha is opaque): 21.8 ms -> ~3 ms
    # at 2048x1536 (DESIGN "The placeholder's output"). One with alpha as before (resize
    # weighs colour by alpha; reduce does not).
    rgba = im.convert("RGBA") if im.mode != "RGB" else im.reduce(max(1, max(im.size) // (2 * MAX_SIDE)))
    small = rgba.copy()
    small.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    dominant = rgba.resize(_within(rgba.size, DOMINANT_SIDE), Image.Resampling.BOX)
    return Placeholder(base64.b64encode(thumbhash(np.asarray(small.convert("RGBA")))).decode("ascii"),
                       dominant_color(np.asarray(dominant)))


def keeps_shape(size: tuple[int, int], photo: tuple[int, int]) -> bool:
    """An output of `size` shows the whole photo (upright `photo`) in its own shape: no
    fill's crop, no pad's bars (a fit, a scale; a fill or pad whose box has the photo's
    shape too). Its sides in the photo's proportion to within the rounding of each to a
    whole pixel: w = pw * s + e1, h = ph * s + e2 with |e| <= 1 (a side made at least 1)."""
    (w, h), (pw, ph) = size, photo
    return abs(w * ph - h * pw) <= pw + ph


def chosen(sizes: Sequence[tuple[int, int]], photo: tuple[int, int]) -> list[int]:
    """Which of outputs of these pixel sizes the placeholder is of: the smallest (fewest
    pixels) of those that keep the photo's shape (keeps_shape), else of all; every one of
    that size (a srcset's w480 in JPEG and WebP are one picture)."""
    ones = [i for i, size in enumerate(sizes) if keeps_shape(size, photo)] or list(range(len(sizes)))
    least = min((sizes[i][0] * sizes[i][1] for i in ones), default=0)
    return [i for i in ones if sizes[i][0] * sizes[i][1] == least]


def _within(size: tuple[int, int], side: int) -> tuple[int, int]:
    w, h = size
    scale = min(1.0, side / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _round(x: float) -> int:
    """JavaScript's Math.round: halves go up."""
    return math.floor(x + 0.5)


def _sum(terms: np.ndarray) -> float:
    """The sum in the order a loop adds them (numpy's sum pairs them: another rounding)."""
    return float(np.add.accumulate(terms.ravel())[-1])


def _channel(plane: np.ndarray, nx: int, ny: int) -> tuple[float, list[float], float]:
    """A channel's DC, its AC coefficients scaled to 0..1 (the triangle cx * ny < nx * (ny
    - cy), row by row), and their scale. Every product and sum in the reference's order:
    exact zeros (a flat or ramp image) then round as the reference's do."""
    h, w = plane.shape
    xs, ys = np.arange(w) + 0.5, np.arange(h) + 0.5
    dc, ac = 0.0, []
    for cy in range(ny):
        fy = np.cos(math.pi / h * cy * ys)
        cx = 0
        while cx * ny < nx * (ny - cy):
            fx = np.cos(math.pi / w * cx * xs)
            f = _sum(plane * fx[None, :] * fy[:, None]) / (w * h)
            if cx or cy:
                ac.append(f)
            else:
                dc = f
            cx += 1
    scale = max((abs(f) for f in ac), default=0.0)
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale


def thumbhash(rgba: np.ndarray) -> bytes:
    """The ThumbHash of HxWx4 bytes (not premultiplied), at most 100x100."""
    h, w = rgba.shape[:2]
    if w > MAX_SIDE or h > MAX_SIDE:
        raise ValueError(f"{w}x{h} does not fit in {MAX_SIDE}x{MAX_SIDE}")
    px = rgba.reshape(-1, 4).astype(np.float64)
    alpha = px[:, 3] / 255
    total_alpha = _sum(alpha)
    average = np.array([_sum(alpha / 255 * px[:, c]) for c in range(3)])
    if total_alpha:
        average = average / total_alpha
    has_alpha = total_alpha < w * h
    limit = 5 if has_alpha else 7
    lx = max(1, _round(limit * w / max(w, h)))
    ly = max(1, _round(limit * h / max(w, h)))
    r, g, b = (average[c] * (1 - alpha) + alpha / 255 * px[:, c] for c in range(3))  # on the average colour
    l_dc, l_ac, l_scale = _channel(((r + g + b) / 3).reshape(h, w), max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _channel(((r + g) / 2 - b).reshape(h, w), 3, 3)
    q_dc, q_ac, q_scale = _channel((r - g).reshape(h, w), 3, 3)
    landscape = w > h
    header24 = (_round(63 * l_dc) | (_round(31.5 + 31.5 * p_dc) << 6) | (_round(31.5 + 31.5 * q_dc) << 12)
                | (_round(31 * l_scale) << 18) | (int(has_alpha) << 23))
    header16 = ((ly if landscape else lx) | (_round(63 * p_scale) << 3) | (_round(63 * q_scale) << 9)
                | (int(landscape) << 15))
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    acs = [l_ac, p_ac, q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _channel(alpha.reshape(h, w), 5, 5)
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
        acs.append(a_ac)
    nibbles = [_round(15 * f) for ac in acs for f in ac]
    for i in range(0, len(nibbles), 2):
        out.append(nibbles[i] | ((nibbles[i + 1] << 4) if i + 1 < len(nibbles) else 0))
    return bytes(out)


def dominant_color(rgba: np.ndarray, bits: int = 3) -> str:
    """The mean of the pixels in the most populous cell of a 2^(3 bits)-cell RGB
    histogram of HxWx3 or HxWx4 bytes (pixels more than half transparent left out)."""
    px = rgba.reshape(-1, rgba.shape[-1])
    if px.shape[1] == 4 and (px[:, 3] > 127).any():
        px = px[px[:, 3] > 127]
    px = px[:, :3].astype(np.int32)
    shift = 8 - bits
    cell = ((px[:, 0] >> shift) << (2 * bits)) | ((px[:, 1] >> shift) << bits) | (px[:, 2] >> shift)
    top = int(np.bincount(cell, minlength=1 << (3 * bits)).argmax())
    mean = px[cell == top].mean(axis=0)
    return "#{:02x}{:02x}{:02x}".format(*(int(v + 0.5) for v in mean))
