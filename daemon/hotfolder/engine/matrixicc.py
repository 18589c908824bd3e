"""ICC profiles for pixels that state their colour without one, made here from the
published definitions: a matrix profile (three colorants and a tone curve), ICC v2, which
every viewer reads (Firefox ignores v4 by default); the same bytes every time (no date),
so a file converted twice is converted the same. The bytes are ours (MIT, as the rest).

Adobe RGB (1998): what a Canon, Nikon or Sony camera set to Adobe RGB writes without a
profile (engine/dcf says when a file is one). From Adobe RGB (1998) Color Image Encoding
(2005): primaries x,y R 0.64 0.33, G 0.21 0.71, B 0.15 0.06; white D65 (0.3127, 0.3290);
a pure power curve of 563/256 (2.19921875). The colorants are adapted to the ICC's D50
with the Bradford transform, as in every matrix profile: they come out as Adobe's own
profile lists them (R 0.60974 0.31111 0.01947, ...); Adobe's AdobeRGB1998.icc has a
licence of its own and is not shipped.

BT.2020: a HEIF or AVIF that says by code (nclx) that its colour is BT.2020's, with an SDR
curve or HLG's, or in PQ once tone-mapped to SDR (decoders/heif, engine/hdr). Primaries
from ITU-R BT.2020: R 0.708 0.292, G 0.170 0.797, B 0.131 0.046, white D65; the sRGB
curve, as a Display P3 one by code is taken (libvips' P3 profile has sRGB's curve):
BT.709's and BT.2020's camera curves are shown through it.
"""
from __future__ import annotations

import functools
import struct

WHITE = (0.3127, 0.3290)  # D65
D50 = (0.9642, 1.0, 0.8249)  # the ICC's connection space illuminant
BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))
ADOBE_RGB = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
ADOBE_GAMMA_256THS = 563  # 2.19921875, as u8Fixed8Number
BT2020 = ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))
# sRGB's curve: Y = (aX + b)^g for X >= d, else cX; written as a table of CURVE_STEPS.
SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
CURVE_STEPS = 1024


@functools.lru_cache(maxsize=1)
def adobe_rgb() -> bytes:
    trc = b"curv\0\0\0\0" + struct.pack(">IH", 1, ADOBE_GAMMA_256THS) + b"\0\0"
    return profile(ADOBE_RGB, trc, "Compatible with Adobe RGB (1998)",
                   "No copyright: made by hotfolder from the published primaries (CC0)")


@functools.lru_cache(maxsize=1)
def bt2020() -> bytes:
    """sRGB's curve as a table of CURVE_STEPS (curveType): ICC v2 has no parametric curve
    (parametricCurveType is v4's), and a v2 profile must hold only v2 types (a review)."""
    g, a, b, c, d = SRGB_CURVE
    steps = [(i / (CURVE_STEPS - 1)) for i in range(CURVE_STEPS)]
    table = [(a * x + b) ** g if x >= d else c * x for x in steps]
    trc = b"curv\0\0\0\0" + struct.pack(f">I{CURVE_STEPS}H", CURVE_STEPS, *(round(v * 65535) for v in table))
    return profile(BT2020, trc, "ITU-R BT.2020 primaries, sRGB curve",
                   "No copyright: made by hotfolder from the published primaries (CC0)")


def profile(primaries, trc: bytes, description: str, copyright_: str) -> bytes:
    """A v2.1 display profile, RGB to XYZ: three colorants (white D65), one shared curve."""
    red, green, blue = _colorants(primaries)
    tags = [(b"desc", _text_description(description)), (b"cprt", b"text\0\0\0\0" + copyright_.encode() + b"\0"),
            (b"wtpt", _xyz(_xyz_of(WHITE))), (b"rXYZ", _xyz(red)), (b"gXYZ", _xyz(green)),
            (b"bXYZ", _xyz(blue)), (b"rTRC", trc), (b"gTRC", trc), (b"bTRC", trc)]
    offset = 128 + 4 + 12 * len(tags)
    table, body, placed = struct.pack(">I", len(tags)), b"", {}
    for signature, data in tags:
        if data not in placed:  # the three curves share one element
            placed[data] = offset + len(body)
            body += data + b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", placed[data], len(data))
    header = (struct.pack(">I", offset + len(body)) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + b"".join(map(_s15, D50))
              + b"\0" * 48)
    assert len(header) == 128
    return header + table + body


def _colorants(primaries) -> list[tuple[float, float, float]]:
    """The XYZ of each primary at full strength, white at Y 1, adapted to D50 (Bradford)."""
    columns = [_xyz_of(p) for p in primaries]
    white = _xyz_of(WHITE)
    scale = _solve([[c[i] for c in columns] for i in range(3)], white)  # primaries' weights that make white
    cone_src, cone_dst = _mul(BRADFORD, white), _mul(BRADFORD, D50)
    adapt = _matmul(_inverse(BRADFORD), _matmul([[cone_dst[i] / cone_src[i] if i == j else 0.0 for j in range(3)]
                                                   for i in range(3)], BRADFORD))
    return [_mul(adapt, [v * s for v in column]) for column, s in zip(columns, scale, strict=True)]


def _xyz_of(xy: tuple[float, float]) -> tuple[float, float, float]:
    x, y = xy
    return x / y, 1.0, (1 - x - y) / y


def _mul(m, v) -> tuple[float, float, float]:
    return tuple(sum(m[i][k] * v[k] for k in range(3)) for i in range(3))


def _matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def _inverse(m):
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return [[(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
            [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
            [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det]]


def _solve(m, v):
    return _mul(_inverse(m), v)


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz(v) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(map(_s15, v))


def _text_description(text: str) -> bytes:
    """ICC v2 textDescriptionType: the ASCII text, and empty Unicode and ScriptCode parts."""
    ascii_ = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + b"\0" * 4 + b"\0" * 4 + b"\0" * 3 + b"\0" * 67
