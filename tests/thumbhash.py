"""A ThumbHash decoder, the reference's `thumbHashToRGBA` (Evan Wallace, MIT) line for line:
what a web page does with the manifest's `placeholder`, so a test sees the preview the
page shows (its size, its colours), not only the encoder's bytes."""
from __future__ import annotations

import base64
import math


def aspect(hash_: bytes) -> float:
    """`thumbHashToApproximateAspectRatio`: width / height, as the hash says it."""
    has_alpha, landscape = hash_[2] & 0x80, hash_[4] & 0x80
    lx = (5 if has_alpha else 7) if landscape else hash_[3] & 7
    ly = hash_[3] & 7 if landscape else (5 if has_alpha else 7)
    return lx / ly


def decoded(placeholder: str) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """The preview of a manifest's `placeholder` (base64): width, height, RGBA pixels row by row."""
    h_ = base64.b64decode(placeholder)
    header24 = h_[0] | (h_[1] << 8) | (h_[2] << 16)
    header16 = h_[3] | (h_[4] << 8)
    l_dc = (header24 & 63) / 63
    p_dc = ((header24 >> 6) & 63) / 31.5 - 1
    q_dc = ((header24 >> 12) & 63) / 31.5 - 1
    l_scale = ((header24 >> 18) & 31) / 31
    has_alpha = header24 >> 23
    p_scale = ((header16 >> 3) & 63) / 63
    q_scale = ((header16 >> 9) & 63) / 63
    landscape = header16 >> 15
    lx = max(3, (5 if has_alpha else 7) if landscape else header16 & 7)
    ly = max(3, header16 & 7 if landscape else (5 if has_alpha else 7))
    a_dc = (h_[5] & 15) / 15 if has_alpha else 1.0
    a_scale = (h_[5] >> 4) / 15
    start, index = (6 if has_alpha else 5), 0

    def channel(nx: int, ny: int, scale: float) -> list[float]:
        nonlocal index
        ac = []
        for cy in range(ny):
            cx = 0 if cy else 1
            while cx * ny < nx * (ny - cy):
                ac.append((((h_[start + (index >> 1)] >> ((index & 1) << 2)) & 15) / 7.5 - 1) * scale)
                index, cx = index + 1, cx + 1
        return ac

    l_ac = channel(lx, ly, l_scale)
    p_ac = channel(3, 3, p_scale * 1.25)
    q_ac = channel(3, 3, q_scale * 1.25)
    a_ac = channel(5, 5, a_scale) if has_alpha else []
    ratio = aspect(h_)
    w = _round(32 if ratio > 1 else 32 * ratio)
    h = _round(32 / ratio if ratio > 1 else 32)
    pixels = []
    for y in range(h):
        for x in range(w):
            fx = [math.cos(math.pi / w * (x + 0.5) * cx) for cx in range(max(lx, 5 if has_alpha else 3))]
            fy = [math.cos(math.pi / h * (y + 0.5) * cy) for cy in range(max(ly, 5 if has_alpha else 3))]
            lum = l_dc + _sum(l_ac, fx, fy, lx, ly)
            p = p_dc + _sum(p_ac, fx, fy, 3, 3)
            q = q_dc + _sum(q_ac, fx, fy, 3, 3)
            a = a_dc + (_sum(a_ac, fx, fy, 5, 5) if has_alpha else 0)
            b = lum - 2 / 3 * p
            r = (3 * lum - b + q) / 2
            g = r - q
            pixels.append(tuple(int(max(0.0, 255 * min(1.0, v))) for v in (r, g, b, a)))
    return w, h, pixels  # type: ignore[return-value]


def _sum(ac: list[float], fx: list[float], fy: list[float], nx: int, ny: int) -> float:
    """The AC terms at one pixel, in the reference's triangle (`cx * ny < nx * (ny - cy)`;
    for P, Q and A the same as its `cx < n - cy`)."""
    total, j = 0.0, 0
    for cy in range(ny):
        cx = 0 if cy else 1
        while cx * ny < nx * (ny - cy):
            total += ac[j] * fx[cx] * fy[cy] * 2
            j, cx = j + 1, cx + 1
    return total


def _round(x: float) -> int:
    return math.floor(x + 0.5)
