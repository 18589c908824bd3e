"""`quality: auto`: per photo, the lowest quality whose SSIMULACRA2 (engine/ssimulacra2,
estimated on the frame the encoder gets) reaches the rendition's `quality_target`, by a
bounded search from a good start. No imaging library here: the search calls the
encoder and the metric it is given.

Measured (research/quality FINDINGS.md §3: 24 real photos at 1600 px and 8 grainy bench
frames, every encoder, each output scored by the C++ reference): the quality reaching 80
spreads by 5-6 units across photos, and no cheap feature of the frame predicted it better
(residual sd 4.2-5.0 q), so the start is a constant per encoder, its median, and one
score does the rest: the probe. The step from it follows the median slope from the
start to the quality reaching the target, which differs by direction: a photo scoring
below the target at the start climbs steeply (jpegli: 0.76 points a quality unit, median
of the secants on the research's score curves), one above it descends gently (0.39). One
step lands within ±1 of the target for steps up to ~5 q; longer steps are damped (the
slope far from the start is less known; undamped, 2 of 24 photos fell below 77). That
step is kept without a second score: a score costs ~5 JPEG encodes at 1600 px, and the
issue bounds `quality: auto` to 2x a fixed render. So: at most 2 encodes and 1 score.
Simulated on the research's curves (24 real photos, 8 grainy frames, the estimate's
error drawn 20 times per photo): every output >= 78.3, medians 80.4-80.6 on the real
photos, and against one slope for both directions (the research's probe, which measured
>= 77.9 by the reference) 1-20 % fewer bytes in total (jpegli 5 %, AVIF 6 %, JPEG XL 7 %
on the real photos; 20 % for jpegli on the grainy frames it overshot). Then measured,
this code on the 24 real photos (fit 1600, sharpened, watermarked), each output scored
by the C++ reference: minima 78.3-79.7 and medians 80.0-80.8 per format; against one
slope, JPEG's total bytes 0.85x libjpeg-turbo q85's (was 0.89), AVIF's 0.61x its q85's
(was 0.64), at medians 80.3 and 80.1 (were 80.7 and 80.5). Scoring the step
as well and correcting it ("verify") did no better for 40 % more scoring.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CALIBRATED = 80.0  # the target the starts were measured for
HIGH = 85.0  # a target above this may take an encoder's quality up to its `top`


@dataclass(frozen=True)
class Start:
    """Where the search starts for one encoder, and how its score moves with the quality."""

    quality: int  # median quality reaching SSIMULACRA2 80 (real photos, sharpened, watermarked)
    up: float  # median score points per quality unit from the start to the target, photos below it
    down: float  # the same for photos above it
    lo: int  # the search's bounds: below `lo` blocks show; above `hi` the bytes grow for little
    hi: int
    top: int = 0  # the bound for targets above HIGH (0: `hi`): JPEG 4:2:0 at q95 stops near 88

    def slope(self, towards: float) -> float:
        """Score points per quality unit in the direction of `towards` (a score difference)."""
        return self.up if towards > 0 else self.down


# By encoder (engine/encoders name them): 24 real photos, fit 1600 px, sharpen standard +
# the example's watermark; per-photo q reaching 80 in brackets. The slopes: near the
# medians of the secants up and down on the research's curves, chosen in the simulation
# above (the lowest total bytes with every output >= 79.5 without the estimate's error);
# up is gentler than its median (jpegli 0.65 for 0.76): a longer step up, the safe side.
STARTS: dict[str, Start] = {
    "jpegli": Start(81, 0.65, 0.40, 40, 95, top=100),  # [65-92]; q85 scores ~82
    "libjpeg-turbo": Start(79, 0.60, 0.50, 40, 95, top=100),  # [61-90] Pillow, 4:2:0; q85 scores ~83
    "webp": Start(88, 0.80, 0.70, 50, 100),  # [57-94] method 2; its q85 scores only ~77
    "avif": Start(67, 0.50, 0.32, 30, 95),  # [55-79] aom speed 9; q85 scores ~86
    "jxl": Start(80, 1.00, 0.40, 40, 98),  # [55-85] libjxl effort 3
}
# Thumbnails need more: a photo reduced further is denser in detail (fill 400x400, 32
# photos: q reaching 80 is 74-92). Measured for JPEG (one slope, 0.6, both ways); the
# other encoders start from the table above and the first score corrects.
SMALL_STARTS: dict[str, Start] = {
    "jpegli": Start(87, 0.60, 0.60, 40, 95, top=100),
    "libjpeg-turbo": Start(86, 0.60, 0.60, 40, 95, top=100),
}
SMALL = 500_000  # pixels: a frame under this starts from SMALL_STARTS
UNKNOWN = Start(80, 0.6, 0.6, 30, 95)  # an encoder not measured: the first score corrects

ACCEPT = 1.5  # a first score in [target, target + ACCEPT] is kept
MARGIN = 0.5  # the step aims at target + MARGIN: the estimate is within about ±0.5 of the reference (sd)
BIG = 5  # quality units: a longer step is damped
DAMP = 0.7  # of the step past BIG: measured, FreshFlower's 16 q down fell to 76.2 undamped
MAX_ENCODES = 2
MAX_SCORES = 1
# The estimate (engine/ssimulacra2) is off the C++ reference by a mean that depends on the
# encoder's artefacts and grows with the frame. Held out (2026-12-05: 11 phone and camera
# photos, none of the research's, fit 1600 px, each kept output scored by the reference):
# jpegli +0.50 (33 pairs, q75/85/92, every row scored too: the same), libjpeg-turbo +0.58
# (the same 33), AVIF +0.84, JPEG XL +1.32, WebP -0.14; the research's 99 pairs: +0.55 over
# all formats for scores 70-88.
# JPEG at smaller frames: +0.30 at 1000 px, +0.17 at 640 px, +0.03 at 400 px. Uncorrected,
# outputs landed below the target by the reference: medians 79.5 (JPEG), 79.4 (AVIF), 79.2
# (JPEG XL) for 80. The search and the log take the estimate less its encoder's mean: in
# full at BIAS_PIXELS and above, in proportion below (never more than measured there).
BIAS = {"jpegli": 0.5, "libjpeg-turbo": 0.5, "avif": 0.8, "jxl": 1.2, "webp": 0.0}
BIAS_PIXELS = 1600 * 1200


def calibrated(estimate: float, pixels: int, codec: str) -> float:
    """The estimate of an encoding by `codec` of a frame of `pixels`, less the mean by
    which it reads high against the reference."""
    return estimate - BIAS.get(codec, 0.0) * min(1.0, pixels / BIAS_PIXELS)


def start_for(codec: str, pixels: int, target: float) -> Start:
    """The start for `codec` on a frame of `pixels`, moved along its slope from the
    calibrated target (80) to `target`; above HIGH, up to the encoder's `top`."""
    start = SMALL_STARTS.get(codec) if pixels < SMALL else None
    start = start or STARTS.get(codec, UNKNOWN)
    if target == CALIBRATED:
        return start
    hi = max(start.hi, start.top) if target > HIGH else start.hi
    bounded = Start(start.quality, start.up, start.down, start.lo, hi)
    moved = start.quality + (target - CALIBRATED) / start.slope(target - CALIBRATED)
    return Start(_clamp(moved, bounded), start.up, start.down, start.lo, hi)


@dataclass(frozen=True)
class Found:
    """The encoding kept, and how the search got there."""

    quality: int
    data: bytes
    score: float | None  # the estimate of the kept encoding: measured, predicted, or None (see `search`)
    measured: bool
    encodes: int
    scores: int
    trace: tuple[tuple[int, float | None, int], ...]  # (quality, score or None, bytes) per encode
    highest: bool = False  # `quality` is the highest the search takes (its start's `hi`)


def _clamp(q: float, start: Start) -> int:
    return int(min(start.hi, max(start.lo, round(q))))


def search(encode_at: Callable[[int], bytes], score_of: Callable[[bytes], float], start: Start,
           target: float) -> Found:
    """The lowest quality found whose encoding scores at least `target`.

    1. Encode at the start and score it: kept if in [target, target + ACCEPT], or if no
       step can move it (a bound).
    2. Else one step along the encoder's median slope (up or down) to target + MARGIN,
       damped past BIG, within the start's [lo, hi]: encoded and kept. Its score is
       predicted along the slope for a step up to BIG (within about ±1: the slope's
       spread), and unknown (None) past it, where the slope is not known well enough to
       say (Path: q81 scored 66.7, the damped step to q95 scored 86)."""
    q0 = _clamp(start.quality, start)
    first = encode_at(q0)
    s0 = float(score_of(first))
    trace: list[tuple[int, float | None, int]] = [(q0, s0, len(first))]
    slope = start.slope(target + MARGIN - s0)
    step = (target + MARGIN - s0) / slope
    if abs(step) > BIG:
        step = (BIG + (abs(step) - BIG) * DAMP) * (1 if step > 0 else -1)
    q1 = _clamp(q0 + step, start)
    if target <= s0 <= target + ACCEPT or q1 == q0:
        return Found(q0, first, s0, True, 1, 1, tuple(trace), q0 == start.hi)
    second = encode_at(q1)
    trace.append((q1, None, len(second)))
    predicted = s0 + slope * (q1 - q0) if abs(q1 - q0) <= BIG else None
    return Found(q1, second, predicted, False, 2, 1, tuple(trace), q1 == start.hi)


def shortfall(found: Found, target: float, encoder: str) -> str | None:
    """What to tell the user when the search kept its highest quality short of `target`
    (measured there), or maybe short (the first score fell short and the step to the
    highest was kept unscored); None when it was reached, or is predicted to be. Measured
    on a web publisher's 8 photos at fit 960 (2026-12-07): WebP at quality 100 scores
    85.1-88.2, AVIF at 95 84.4-89.4, JPEG at 100 87.7-94.0, so a target of 90 or 95 wrote
    each WebP and AVIF at its largest, saying nothing but its score."""
    first = found.trace[0][1]
    if not found.highest or first is None or first >= target or (found.score is not None and found.score >= target):
        return None
    if found.measured:
        return (f"quality_target {target:g} not reached: {encoder} at quality {found.quality} (the highest "
                f"`quality: auto` takes) scores {found.score:.1f} on this photo, and was written so, its largest "
                f"file; lower quality_target to what {encoder} reaches, or set a fixed quality")
    return (f"quality_target {target:g} perhaps not reached: quality {found.trace[0][0]} scored {first:.1f}, and "
            f"quality {found.quality}, the highest `quality: auto` takes for {encoder}, was written unscored, its "
            f"largest file (grain, noise or dithering?); max_bytes or a fixed quality bounds such photos' bytes")
