"""SSIMULACRA 2.1, estimated fast: how close an encoding looks to the frame it was made
from (100: identical; 90 visually lossless; 80 high quality; 70 medium; 50 low), for
`quality: auto` (engine/autoquality).

A port of the published metric (cloudinary/ssimulacra2 2.1, BSD-3; its constants are
data, copied here): linear sRGB -> XYB (libjxl's opsin matrix, cube root, made
positive), a pyramid of 2x2 box halvings in linear light, per scale and channel the
SSIM' map (no luminance denominator) and two edge maps (ringing: the encoding has an
edge where the frame is smooth; blur: the reverse), their 1- and 4-norms, 108 weights,
and a cubic and a power to 0..100. The reference blurs with libjxl's recursive Gaussian
(sigma 1.5); its impulse response is exactly the 9-tap KERNEL below, zeros outside the
image, so a separable convolution gives the same values.

What the estimate leaves out or samples, measured against the C++ reference (99 pairs
at 1600 px: 32 photos; Pillow JPEG, jpegli, mozjpeg, WebP, AVIF, JPEG XL; q55-95):
  * the terms whose weight is < 0.01 (83 of 108, 56 of them zero; together <= 0.005 %
    of the weighted sum): scale 5, X and B at scale 0 and B at scales 1-2 are never
    computed, and per scale only the norms kept (moves the score by <= 0.022);
  * from 1 MP on, scale 0 is scored on 32-row bands spread over 1/8 of the rows and
    scale 1 over 1/4 of its rows, each band blurred with its 4 rows of real context, so
    every scored pixel has exactly the full metric's value (the norms are pooled over
    the bands): |error| <= 1.64 for reference scores 70-88 (mean +0.55), <= 2.78 above
    88, where the full metric in numpy is 2.4 off too (the reference's float32 recursive
    blur on smooth skies). Under 1 MP (a 400-row frame has only 2 bands) every row is
    scored: 160 pairs at 400 px, |error| <= 0.42;
  * the frame's side (its pyramid, XYB, blur and blurred square) is computed once
    (`Reference`) and reused by every candidate of the search.
Rejected (research/quality FINDINGS.md §2): halving on the sRGB values first (3x cheaper
and close on encoder outputs, but 5.6 off on a box-blurred photo with hard black edges:
tests/test_ssimulacra2.py), scoring at half size (+12.9), leaving scale 0 out (+5.3).

    ref = Reference(frame)   # Pillow RGB or L image: ~15 ms CPU at 1600x1200
    ref.score(decoded)       # the same size: ~20 ms CPU at 1600x1200

An image with alpha is scored as the reference tool does: blended on a dark (0.1) and a
bright (0.9) background, the worse of the two (twice the cost).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image

from hotfolder.engine.xyb_colour import halve, linear, linear_half, xyb

# Impulse response of libjxl's CreateRecursiveGaussian(1.5) run by FastGaussian1D.
KERNEL = np.array([0.0094143683090806, 0.03601111916980404, 0.10933538656838519, 0.21292861967095453,
                   0.26462114997582226, 0.21292865607082884, 0.1093354601930134, 0.03601122797064398,
                   0.009414503312001228], np.float32)
CTX = 4  # the kernel's half-width: rows of context a band needs

# The 108 weights, indexed [channel X/Y/B][scale 0-5][norm 1/4][map ssim/ringing/blur].
WEIGHTS = np.array([
    0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0, 0.0, 0.0004371155730107379, 0.0,
    1.1041726426657346, 0.00066284834129271, 0.00015231632783718752, 0.0, 0.0016406437456599754, 0.0,
    1.8422455520539298, 11.441172603757666, 0.0, 0.0007989109436015163, 0.000176816438078653, 0.0,
    1.8787594979546387, 10.94906990605142, 0.0, 0.0007289346991508072, 0.9677937080626833, 0.0,
    0.00014003424285435884, 0.9981766977854967, 0.00031949755934435053, 0.0004550992113792063, 0.0, 0.0,
    0.0013648766163243398, 0.0, 0.0, 0.0, 0.0, 0.0, 7.466890328078848, 0.0, 17.445833984131262,
    0.0006235601634041466, 0.0, 0.0, 6.683678146179332, 0.00037724407979611296, 1.027889937768264,
    225.20515300849274, 0.0, 0.0, 19.213238186143016, 0.0011401524586618361, 0.001237755635509985,
    176.39317598450694, 0.0, 0.0, 24.43300999870476, 0.28520802612117757, 0.0004485436923833408, 0.0, 0.0,
    0.0, 34.77906344483772, 44.835625328877896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0005313191874358747, 0.0, 0.00016533814161379112,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0004179171803251336, 0.0017290828234722833, 0.0, 0.0020827005846636437,
    0.0, 0.0, 8.826982764996862, 23.19243343998926, 0.0, 95.1080498811086, 0.9863978034400682,
    0.9834382792465353, 0.0012286405048278493, 171.2667255897307, 0.9807858872435379, 0.0, 0.0, 0.0,
    0.0005130064588990679, 0.0, 0.00010854057858411537]).reshape(3, 6, 2, 3)
KEPT = WEIGHTS > 0.01
SCALES = 5  # scale 5 has no kept term
# Per scale: the channels with a kept term ([[Y], [X, Y], [X, Y], [X, Y, B], [X, Y, B]]), and
# which (norm, map) pairs are kept for some channel.
CHANNELS = [tuple(c for c in range(3) if KEPT[c, s].any()) for s in range(SCALES)]
NEEDED: list[np.ndarray] = [np.asarray(KEPT[:, s].any(axis=0)) for s in range(SCALES)]

C2 = np.float32(0.0009)


@dataclass(frozen=True)
class Sampling:
    """How much of the frame is scored: per scale from 0, the share of its rows scored
    in bands (1.0, or a scale not named: all of them)."""

    rows: tuple[float, ...]
    band: int = 32  # rows per band

    def share(self, scale: int) -> float:
        return self.rows[scale] if scale < len(self.rows) else 1.0

    @classmethod
    def for_size(cls, width: int, height: int) -> Sampling:
        if width * height < SMALL:
            return EXACT
        return FAST


SMALL = 1_000_000  # pixels: below, every row and the exact pyramid (the shortcuts measured up to 4.5 off)
EXACT = Sampling(())
FAST = Sampling((0.125, 0.25))  # 1600x1200: ~15 ms a frame, ~20 ms a candidate; |error| <= 1.64 for scores 70-88


def blur(a: np.ndarray, banded: bool) -> np.ndarray:
    """The 9-tap blur over the last two axes, zeros outside the image. `banded`: the
    rows are bands with CTX rows of context at each end (zeros past the image's own
    edge, filled in by `_bands`), and only the band's own rows are returned.

    Each pass is a product with a band matrix over blocks of BLOCK samples (BLAS, one
    thread: OPENBLAS_NUM_THREADS, hotfolder/cli): 1.3-1.5x faster than shifted adds, the
    metric ~10 % cheaper a candidate, the same values within 1e-6."""
    *lead, h, w = a.shape
    rows = _blocks(a, w, _HORIZONTAL)
    if banded:
        return np.matmul(_band_matrix(h - 2 * CTX).T, rows)
    tall = np.zeros((*lead, -(-h // BLOCK) * BLOCK + 2 * CTX, w), np.float32)
    tall[..., CTX:CTX + h, :] = rows
    st = tall.strides
    windows = np.lib.stride_tricks.as_strided(tall, (*lead, -(-h // BLOCK), BLOCK + 2 * CTX, w),
                                              (*st[:-2], BLOCK * st[-2], st[-2], st[-1]))
    out = np.matmul(_VERTICAL, windows)
    return out.reshape(*lead, -1, w)[..., :h, :]


BLOCK = 32  # samples a block of the blur's products


def _blocks(a: np.ndarray, w: int, matrix: np.ndarray) -> np.ndarray:
    """The horizontal pass: the rows cut into blocks of BLOCK (with CTX samples of context,
    zeros past the edges), each block times the band matrix. The overlapping blocks are
    copied out into one matrix first: overlapping rows are no matrix BLAS takes (numpy
    multiplies them in its own loop), one (blocks, BLOCK + 2 CTX) product is: 1.3-1.5x
    faster, the same values within 2e-7. One product per map (the first axis), so a
    frame's map and a candidate's of the same shape are rounded alike (BLAS rounds a row
    by where it falls in the matrix): an identical image still scores 100."""
    *lead, h, _ = a.shape
    n = -(-w // BLOCK)
    padded = np.zeros((*lead, h, n * BLOCK + 2 * CTX), np.float32)
    padded[..., CTX:CTX + w] = a
    st = padded.strides
    windows = np.lib.stride_tricks.as_strided(padded, (*lead, h, n, BLOCK + 2 * CTX),
                                              (*st[:-1], BLOCK * st[-1], st[-1]))
    out = np.empty((*lead, h, n * BLOCK), np.float32)
    for k in range(lead[0] if lead else 1):
        rows = np.ascontiguousarray(windows[k] if lead else windows).reshape(-1, BLOCK + 2 * CTX)
        np.matmul(rows, matrix, out=(out[k] if lead else out).reshape(-1, BLOCK))
    return out[..., :w]


@functools.lru_cache(maxsize=8)
def _band_matrix(n: int) -> np.ndarray:
    """(n + 2 CTX, n): column j is the kernel over inputs j..j + 2 CTX."""
    m = np.zeros((n + 2 * CTX, n), np.float32)
    for j in range(n):
        m[j:j + 2 * CTX + 1, j] = KERNEL
    return m


_HORIZONTAL = _band_matrix(BLOCK)
_VERTICAL = np.ascontiguousarray(_HORIZONTAL.T)


def scales_of(width: int, height: int) -> int:
    """How many of the kept scales the reference computes: scale 0 if the image is at
    least 8 pixels each way, then scale s while scale s-1 is (so the last may be 4x4)."""
    if width < 8 or height < 8:
        return 0
    n, w, h = 1, width, height  # w, h: the size of scale n-1
    while n < SCALES and w >= 8 and h >= 8:
        n += 1
        w, h = (w + 1) // 2, (h + 1) // 2
    return n


def bands(height: int, share: float, band: int) -> list[tuple[int, int]]:
    """(first row, end) of `band`-row bands spread evenly over ~share of `height` rows."""
    n = max(1, round(height * share / band))
    step = height / n
    return [(lo, lo + band) for lo in (max(0, min(int(i * step + (step - band) / 2), height - band)) for i in range(n))]


def _bands(planes: np.ndarray, spans: list[tuple[int, int]], band: int) -> np.ndarray:
    """(3, bands, band + 2 CTX, W): each band of linear planes with CTX rows of context;
    rows past the image are zeros, which is what the blur takes outside it anyway."""
    _, h, w = planes.shape
    out = np.zeros((3, len(spans), band + 2 * CTX, w), np.float32)
    for k, (lo, hi) in enumerate(spans):
        a, b = max(0, lo - CTX), min(h, hi + CTX)
        top = CTX - (lo - a)
        out[:, k, top:top + (b - a)] = planes[:, a:b]
    return out


def _band_rows(rgb8: np.ndarray, spans: list[tuple[int, int]], band: int) -> np.ndarray:
    """Like `_bands`, from HxWx3 sRGB bytes: only the rows a band needs are linearised."""
    h, w = rgb8.shape[:2]
    out = np.zeros((3, len(spans), band + 2 * CTX, w), np.float32)
    for k, (lo, hi) in enumerate(spans):
        a, b = max(0, lo - CTX), min(h, hi + CTX)
        top = CTX - (lo - a)
        out[:, k, top:top + (b - a)] = linear(rgb8[a:b])
    return out


@dataclass(frozen=True)
class _Side:
    """One scale of the frame, what every candidate is compared with."""

    i1: np.ndarray  # its XYB planes (the bands with their context, or the whole planes)
    mu1: np.ndarray  # blurred, on the scored rows
    sigma11: np.ndarray  # blur(i1^2) - mu1^2, on the scored rows
    edge1: np.ndarray  # 1 + |i1 - mu1|, on the scored rows
    banded: bool


def _planes(im: Image.Image | np.ndarray, sampling: Sampling, spans: list[list[tuple[int, int]] | None],
            n: int) -> list[np.ndarray]:
    """Per scale, the linear planes of an opaque RGB image that the metric reads: the
    bands (with their context) where it samples, else the whole planes. Sampled, the
    whole frame is never linearised: only its bands, and its half (linear_half)."""
    band = sampling.band
    if n == 0:
        return []
    rgb8 = np.asarray(im)  # one copy of the frame out of Pillow (none of an array), read by every scale
    current = linear_half(rgb8)
    first = spans[0]
    scales = [_band_rows(rgb8, first, band) if first is not None else linear(rgb8)]
    for s in range(1, n):
        if s > 1:
            current = halve(current)
        these = spans[s]
        scales.append(_bands(current, these, band) if these is not None else current)
    return scales


def _scored_rows(a: np.ndarray, banded: bool) -> np.ndarray:
    return a[..., CTX:-CTX, :] if banded else a


def _pieces(shape: tuple[int, ...], banded: bool) -> list[tuple]:
    """Indexes that cut a scale's planes into pieces small enough to stay in the CPU's
    cache while a piece is blurred and scored (one band, or one channel's plane: at most
    ~260 KB each at 1600 px): measured 20-25 % faster than whole arrays at once."""
    if banded:  # (channels, bands, rows, width)
        return [(slice(None), k) for k in range(shape[1])]
    return [(slice(c, c + 1),) for c in range(shape[0])]  # (channels, rows, width)


class _OneBackground:
    """The metric against one opaque RGB frame."""

    def __init__(self, im: Image.Image | np.ndarray, sampling: Sampling):
        w, h = _size(im)
        self.sampling = sampling
        self.n = scales_of(w, h)
        self.spans: list[list[tuple[int, int]] | None] = []
        for scale in range(self.n):
            rows = -(-h // 2 ** scale)
            share = sampling.share(scale)
            self.spans.append(bands(rows, share, sampling.band) if share < 1 and rows > 2 * sampling.band else None)
        planes = _planes(im, sampling, self.spans, self.n)
        self.sides = []
        for s in range(self.n):
            banded = self.spans[s] is not None
            i1 = xyb(planes[s], CHANNELS[s])
            scored = _scored_rows(i1, banded)
            mu1 = np.empty(scored.shape, np.float32)
            sigma11 = np.empty(scored.shape, np.float32)
            for piece in _pieces(i1.shape, banded):
                one = i1[piece]
                both = np.empty((2, *one.shape), np.float32)
                both[0] = one
                np.multiply(one, one, out=both[1])
                mu, s11 = blur(both, banded)
                mu1[piece] = mu
                s11 -= mu * mu
                sigma11[piece] = s11
            edge1 = np.abs(scored - mu1)
            edge1 += 1
            self.sides.append(_Side(i1, mu1, sigma11, edge1, banded))

    def weighted_sum(self, im: Image.Image | np.ndarray) -> float:
        planes = _planes(im, self.sampling, self.spans, self.n)
        total = 0.0
        for s, side in enumerate(self.sides):
            total += _scale_sum(s, side, xyb(planes[s], CHANNELS[s]))
        return total


def _scale_sum(s: int, side: _Side, i2: np.ndarray) -> float:
    """The weighted norms of one scale: the SSIM' error and the two edge maps of the
    candidate's planes `i2` against the frame's, piece by piece (_pieces)."""
    sums = np.zeros((len(CHANNELS[s]), 3, 2))  # per channel and map: sum of d, sum of d^4
    for piece in _pieces(i2.shape, side.banded):
        channels = piece[0] if not side.banded else slice(None)
        sums[channels] += _sums(s, side.i1[piece], side.mu1[piece], side.sigma11[piece], side.edge1[piece],
                                i2[piece], side.banded)
    pixels = side.mu1[0].size
    total = 0.0
    for k, c in enumerate(CHANNELS[s]):
        for j in range(3):
            if KEPT[c, s, 0, j]:
                total += WEIGHTS[c, s, 0, j] * sums[k, j, 0] / pixels
            if KEPT[c, s, 1, j]:
                total += WEIGHTS[c, s, 1, j] * (sums[k, j, 1] / pixels) ** 0.25
    return total


def _sums(s: int, i1: np.ndarray, mu1: np.ndarray, sigma11: np.ndarray, edge1: np.ndarray, i2: np.ndarray,
          banded: bool) -> np.ndarray:
    """For a piece (channels first): per channel and map (SSIM', ringing, blur), the sum
    of the map and of its 4th power, for the maps and norms scale `s` keeps."""
    three = np.empty((3, *i2.shape), np.float32)
    three[0] = i2
    np.multiply(i2, i2, out=three[1])
    np.multiply(i1, i2, out=three[2])
    mu2, s22, s12 = blur(three, banded)
    need = NEEDED[s]
    maps: list[tuple[int, np.ndarray]] = []
    if need[:, 0].any():  # SSIM' error: 1 - (1 - (mu1 - mu2)^2) (2 sigma12 + C2) / (sigma1^2 + sigma2^2 + C2)
        num_m = mu1 - mu2
        num_m *= num_m
        np.subtract(1, num_m, out=num_m)
        num_s = mu1 * mu2
        np.subtract(s12, num_s, out=num_s)
        num_s *= 2
        num_s += C2
        den = mu2 * mu2
        np.subtract(s22, den, out=den)
        den += sigma11
        den += C2
        num_m *= num_s
        num_m /= den
        np.subtract(1, num_m, out=num_m)
        np.maximum(num_m, 0, out=num_m)
        maps.append((0, num_m))
    if need[:, 1:].any():  # (1 + |i2 - mu2|) / (1 + |i1 - mu1|) - 1: > 0 ringing, < 0 blur
        e = _scored_rows(i2, banded) - mu2
        np.abs(e, out=e)
        e += 1
        e /= edge1
        e -= 1
        if need[:, 1].any():
            maps.append((1, np.maximum(e, 0)))
        if need[:, 2].any():
            np.negative(e, out=e)
            np.maximum(e, 0, out=e)
            maps.append((2, e))
    out = np.zeros((i2.shape[0], 3, 2))
    axes = tuple(range(1, i2.ndim))
    for j, m in maps:  # float32 sums, pairwise (a map is contiguous): within ~3e-8 of float64 ones, in half the time
        if need[0, j]:
            out[:, j, 0] = m.sum(axis=axes)
        if need[1, j]:
            m *= m
            m *= m
            out[:, j, 1] = m.sum(axis=axes)
    return out


BACKGROUNDS = (0.1, 0.9)  # what the reference tool blends a transparent image on (the worse score counts)


class Reference:
    """The frame the encoder gets, prepared once; `score` estimates the SSIMULACRA2 of
    an encoding of it, decoded (a Pillow image of the same size)."""

    def __init__(self, frame: Image.Image | np.ndarray, sampling: Sampling | None = None):
        """`frame`: a Pillow image, or its pixels as an array (HxW, HxWxC bytes), read
        without a copy where it is RGB."""
        self.size = _size(frame)
        self.sampling = sampling or Sampling.for_size(*self.size)
        self.alpha = ("A" in frame.getbands() if isinstance(frame, Image.Image)
                      else frame.ndim == 3 and frame.shape[2] in (2, 4))
        self._sides = [_OneBackground(im, self.sampling) for im in _opaque(frame, self.alpha)]

    def score(self, decoded: Image.Image | np.ndarray) -> float:
        """`decoded`: a Pillow image, or the decoder's array (HxW, HxWxC bytes) as it came:
        an RGB array is read without a copy out of Pillow (~1 ms at 1600x1200)."""
        size = _size(decoded)
        if size != self.size:
            raise ValueError(f"a {size[0]}x{size[1]} image scored against a "
                             f"{self.size[0]}x{self.size[1]} frame")
        opaque = _opaque(decoded, self.alpha)
        return float(min(final(side.weighted_sum(im)) for side, im in zip(self._sides, opaque, strict=True)))


def _size(im: Image.Image | np.ndarray) -> tuple[int, int]:
    return im.size if isinstance(im, Image.Image) else (im.shape[1], im.shape[0])


def _opaque(im: Image.Image | np.ndarray, alpha: bool) -> list[Image.Image | np.ndarray]:
    """The image in RGB: as it is, or blended on each of BACKGROUNDS (8-bit rounding:
    within 0.5/255 of the reference's float blend)."""
    if isinstance(im, np.ndarray):
        if not alpha and im.ndim == 3 and im.shape[2] == 3 and im.dtype == np.uint8:
            return [im]
        im = Image.fromarray(im)
    if not alpha:
        return [im if im.mode == "RGB" else im.convert("RGB")]
    rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
    a = rgba[..., 3:] / 255
    return [Image.fromarray(np.rint(rgba[..., :3] * a + (1 - a) * (255 * bg)).astype(np.uint8)) for bg in BACKGROUNDS]


def final(weighted_sum: float) -> float:
    """The weighted sum of the norms -> the 0..100 score, as the reference maps it."""
    x = weighted_sum * 0.9562382616834844
    x = 2.326765642916932 * x - 0.020884521182843837 * x * x + 6.248496625763138e-05 * x * x * x
    return 100.0 - 10.0 * x ** 0.6276336467831387 if x > 0 else 100.0
