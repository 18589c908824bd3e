"""Output sharpening, with Pillow: an unsharp mask on the luminance, after resampling
and before the watermark, its strength scaled by how much the picture was reduced.

The mask: the difference between the luminance and its Gaussian blur (sigma `radius`,
in output pixels), times `amount`, where it is at least `threshold` levels, is added to
every colour band (alpha untouched). Sharpening the luminance only, as Lightroom and
libvips' `sharpen` do, makes no colour fringes, and blurs one band instead of three.

Measured on one core (bench/stages.py; DESIGN.md, "The engine"), on a 1600×1200 frame:
this mask 25-30 ms; Pillow's `UnsharpMask` (every band, the same blur) 2.4-2.8× as
long; libvips' `sharpen` (through LabS and back) 5-6× as long; libvips' integer `conv`
is fast but, with a sharpening kernel's negative weights, off by up to 64 levels. A radius up to 0.7 blurs
with a 3×3 Gaussian kernel (the sampled Gaussian: closer to the exact blur than Pillow's
box-based GaussianBlur, and twice as fast); larger ones with GaussianBlur.

Scaling. What limits output sharpening is the noise and the camera's own sharpening,
both at the source's pixel scale: a downscale by f averages f² source pixels into one,
and leaves ~1/f of the noise (measured, lanczos3: noise σ × f stays between 8.95 and
9.30 for f from 1.2 to 8). Per pixel, a larger downscale is not softer (measured: the
output's Laplacian energy grows with f): it bears more sharpening. The amount applied is

    amount × strength(f),  strength(f) = max(0.25, (1 − 1/f) / (1 − 1/4))

the share of pixel-level noise the downscale removed, relative to a downscale by 4:
0.27 at f = 1.25, 0.67 at 2, 1.0 at 4, 1.17 at 8, never above 4/3; 0.25 for an output
that is not reduced (a sharpen asked for is never silently nothing). f is the linear
reduction of the whole picture (the square root of the area ratio), so it holds for
fit, fill and scale alike and for any orientation.
"""
from __future__ import annotations

import functools
import math

from PIL import Image, ImageChops, ImageFilter

from hotfolder.config.model import Sharpen

REFERENCE_DOWNSCALE = 4.0  # the downscale at which `amount` applies as given
MIN_STRENGTH = 0.25
KERNEL3_MAX_RADIUS = 0.7  # at 0.7 the 3x3 kernel leaves out ~4 % of the Gaussian's weight; more beyond


def downscale_factor(source: tuple[int, int], frame: tuple[float, float]) -> float:
    """How much the whole picture was reduced: `source` pixels (as decoded, before any
    DCT scaling) resampled to `frame`. Below 1 for an enlargement."""
    return math.sqrt((source[0] * source[1]) / max(1e-9, frame[0] * frame[1]))


def strength(factor: float) -> float:
    """The share of `amount` applied after a downscale by `factor` (see the module's doc)."""
    if factor <= 1.0:
        return MIN_STRENGTH
    return max(MIN_STRENGTH, (1 - 1 / factor) / (1 - 1 / REFERENCE_DOWNSCALE))


def sharpen(im: Image.Image, spec: Sharpen, factor: float) -> Image.Image:
    """A new image: `im` (L, LA, RGB or RGBA) with the unsharp mask of `spec` applied."""
    amount = spec.amount * strength(factor)
    bands = im.split()
    colour, alpha = (bands[:3], bands[3:]) if im.mode in ("RGB", "RGBA") else (bands[:1], bands[1:])
    luma = im.convert("L") if len(colour) == 3 else colour[0]
    # The difference from the blur, offset by 128 so that it fits in 8 bits; one table
    # applies the amount and the threshold.
    detail = ImageChops.subtract(luma, _blur(luma, spec.radius), 1, 128).point(_gain_table(amount, spec.threshold))
    sharpened = [ImageChops.add(band, detail, 1, -128) for band in colour]
    return Image.merge(im.mode, sharpened + list(alpha))


def _blur(band: Image.Image, radius: float) -> Image.Image:
    if radius <= KERNEL3_MAX_RADIUS:
        return band.filter(_gaussian3(radius))
    return band.filter(ImageFilter.GaussianBlur(radius))


@functools.lru_cache(maxsize=16)
def _gaussian3(sigma: float) -> ImageFilter.Kernel:
    side = math.exp(-1 / (2 * sigma * sigma))
    weights = [side, 1.0, side]
    return ImageFilter.Kernel((3, 3), [a * b for a in weights for b in weights], scale=sum(weights) ** 2)


@functools.lru_cache(maxsize=64)
def _gain_table(amount: float, threshold: int) -> list[int]:
    """Offset difference (128 = none) → offset correction: `amount` times the difference
    where it reaches `threshold`, else none."""
    return [128 if abs(v - 128) < threshold else max(0, min(255, round(128 + amount * (v - 128))))
            for v in range(256)]
