"""Scene-referred light (1.0 = white; more in the highlights) to a 16-bit SDR picture: the
one roll-off of float TIFFs (decoders/floattiff) and of HDR photos in PQ (engine/hdr).

A picture within 0..1 is taken as it is. One with highlights above 1 keeps every value
below KNEE (0.8) as it is and rolls the rest off, each channel, along an extended Reinhard
curve (slope 1 at the knee, so no kink) that brings its white point to 1.0. Then sRGB's
curve. Applied as a table of 65536 steps (one lookup a sample): a 12 MP HDR merge took
2.4 s through libvips' pow() and ten arithmetic passes, 0.5 s so.
"""
from __future__ import annotations

import pyvips

KNEE = 0.8  # values below stay as they are (linear: sRGB level 231)
LUT_STEPS = 65535


def rolled_off(x: pyvips.Image, white: float) -> pyvips.Image:
    """Above KNEE: k + (1 − k)·g(t), t = (x − k)/(1 − k), g(t) = t(1 + t/M²)/(1 + t), M the
    white point's t: g(0) = 0 with slope 1, g(M) = 1; below: x."""
    m2 = ((white - KNEE) / (1 - KNEE)) ** 2
    t = (x - KNEE) / (1 - KNEE)
    return (x > KNEE).ifthenelse(KNEE + (1 - KNEE) * (t * (1 + t / m2) / (1 + t)), x)


def to_sdr(x: pyvips.Image, white: float, encode: bool = True) -> pyvips.Image:
    """A table's values `x` (linear light, 1.0 white) rolled off to `white` when above 1,
    clipped to 0..1, encoded with sRGB's curve when `encode`; as 16 bits, in memory."""
    if white > 1.0:
        x = rolled_off(x, white)
    x = x.clamp(min=0, max=1)
    if encode:
        x = (x > 0.0031308).ifthenelse(1.055 * x ** (1 / 2.4) - 0.055, 12.92 * x)
    return (x * 65535).rint().cast("ushort").copy_memory()
