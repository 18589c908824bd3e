"""HDR photos whose colour code says PQ (SMPTE ST 2084, ITU-R BT.2100): Canon's HDR-PQ
`.hif`, 10 bits, BT.2020. Decoded at 16 bits (decoders/heif), they are tone-mapped to an
SDR picture: each code value to light in nits (PQ's EOTF), 203 nits (ITU-R BT.2408's HDR
reference white, where SDR's white sits) taken as 1.0, then engine/tonemap's roll-off to
the picture's white point: the 99.9th percentile of its brightest channel (the 0.1 %
above, the sun and speculars, clips), as float TIFFs are; sRGB's curve. The colours stay
in their primaries; the profile made for them (engine/matrixicc) converts them as any
rendition's. Taken as sRGB before, a PQ photo came out dim and flat: its white at 148.

One table of 65536 steps a picture (its white point rounded to 0.01), so one lookup a
sample; the white point is one histogram of the decoded frame.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pyvips

from hotfolder.engine import tonemap

REFERENCE_WHITE = 203.0  # nits: SDR's white in an HDR picture (ITU-R BT.2408)
PEAK = 10000.0  # nits: PQ's code 1.0
WHITE_PERCENTILE = 99.9
M1, M2 = 2610 / 16384, 2523 / 4096 * 128  # SMPTE ST 2084's constants
C1, C2, C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
NOTE = ("the source is HDR (transfer PQ): it is tone-mapped to SDR (its reference white, 203 nits, as SDR's white; "
        "brighter highlights rolled off), so it looks flatter than on an HDR screen")


def nits(signal: np.ndarray) -> np.ndarray:
    """PQ's EOTF: a signal in 0..1 to light in nits."""
    p = np.power(np.clip(signal, 0.0, 1.0), 1 / M2)
    return PEAK * np.power(np.maximum(p - C1, 0.0) / (C2 - C3 * p), 1 / M1)


class ToneMapped:
    """A 16-bit PQ frame (`deep`: a new libvips image at each call, RGB(A) or grey(A)) as a
    16-bit SDR one; the white point is found once."""

    def __init__(self, deep: Callable[[], pyvips.Image]):
        self._deep = deep
        self._white: float | None = None

    def __call__(self) -> pyvips.Image:
        image = self._deep()
        colours = 3 if image.bands >= 3 else 1
        if self._white is None:
            self._white = white_point(image, colours)
        out = image.extract_band(0, n=colours).maplut(_curve(self._white))
        if image.bands > colours:  # alpha, as it is
            out = out.bandjoin(image.extract_band(colours))
        return out.copy(interpretation="rgb16" if colours == 3 else "grey16")


def white_point(image: pyvips.Image, colours: int) -> float:
    """The brightest channel's 99.9th percentile, relative to the reference white; at least 1."""
    brightest = image[0]
    for band in range(1, colours):
        brightest = brightest.maxpair(image[band])
    code = brightest.percent(WHITE_PERCENTILE)
    light = float(nits(np.array(code / 65535)))
    return round(max(1.0, light / REFERENCE_WHITE), 2)


@functools.lru_cache(maxsize=8)
def _curve(white: float) -> pyvips.Image:
    """The table: step i, a 16-bit PQ code, as 16-bit SDR (engine/tonemap)."""
    light = nits(np.arange(65536, dtype=np.float64) / 65535) / REFERENCE_WHITE
    x = pyvips.Image.new_from_memory(light.tobytes(), 65536, 1, 1, "double")
    return tonemap.to_sdr(x, white)
