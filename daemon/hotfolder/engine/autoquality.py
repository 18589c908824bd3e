"""`quality: auto`: per photo, the lowest quality whose SSIMULACRA2 (engine/ssimulacra2,
estimated on the frame the encoder gets) reaches the rendition's `quality_target`, by a
bounded search from a good start. No imaging library here: the search calls the
encoder and the metric it is given.

Measured (research/quality FINDINGS.md §3: 24 real photos at 1600 px and 8 grainy bench
frames, every encoder, each output scored by the C++ reference): the quality reaching 80
spreads by 5-6 units across photos, and no cheap feature of the frame predicted it better
(residual sd 4.2-5.0 q), so the start is a constant per encoder, its median, and one
score does the rest. The score's slope per quality unit spreads by about ±25 %, so one
step along the median slope lands within ±1 of the target for steps up to ~5 q: such a
step is kept without a second score (a score costs ~5 JPEG encodes at 1600 px). A longer
step is damped, scored, and corrected once along the secant through both scores. So:
at most 3 encodes and 2 scores (the issue allows 4 encodes); 1.7-1.8 encodes and 1-1.3
scores on average. With the damped probe alone every one of 24 real photos scored >= 77.9
(reference), medians 80.3-81.2 per encoder; undamped, 2 fell below 77.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CALIBRATED = 80.0  # the target the starts were measured for


@dataclass(frozen=True)
class Start:
    """Where the search starts for one encoder, and how its score moves with the quality."""

    quality: int  # median quality reaching SSIMULACRA2 80 (real photos, sharpened, watermarked)
    slope: float  # median score points per quality unit there
    lo: int  # the search's bounds: below `lo` blocks show;
    hi: int  # JPEG's is 100: 4:2:0 at q95 stops near 88, short of a target of 90 (AVIF, JPEG XL reach it sooner)


# By encoder (engine/encoders name them): 24 real photos, fit 1600 px, sharpen standard +
# the example's watermark; per-photo q reaching 80 in brackets.
STARTS: dict[str, Start] = {
    "jpegli": Start(81, 0.45, 40, 100),  # [65-92]; flatter than libjpeg's: q85 scores ~82
    "libjpeg-turbo": Start(79, 0.58, 40, 100),  # [61-90] Pillow, 4:2:0; q85 scores ~83
    "webp": Start(88, 0.80, 50, 100),  # [57-94] method 2; its q85 scores only ~77
    "avif": Start(67, 0.38, 30, 95),  # [55-79] aom speed 9; q85 scores ~86
    "jxl": Start(80, 0.65, 40, 98),  # [55-85] libjxl effort 3
}
# Thumbnails need more: a photo reduced further is denser in detail (fill 400x400, 32
# photos: q reaching 80 is 74-92). Measured for JPEG; the other encoders start from the
# table above and the first score corrects.
SMALL_STARTS: dict[str, Start] = {
    "jpegli": Start(87, 0.60, 40, 100),
    "libjpeg-turbo": Start(86, 0.60, 40, 100),
}
SMALL = 500_000  # pixels: a frame under this starts from SMALL_STARTS
UNKNOWN = Start(80, 0.6, 30, 95)  # an encoder not measured: the first score corrects

ACCEPT = 1.5  # a scored encode in [target, target + ACCEPT] is kept
MARGIN = 0.5  # a step aims at target + MARGIN: the estimate is within about ±0.5 of the reference (sd)
BIG = 5  # quality units: a longer step is damped, scored and corrected
DAMP = 0.7  # measured: undamped, 2 of 24 photos fell below 77 (a step of 16 q on FreshFlower)
MAX_ENCODES = 3
MAX_SCORES = 2


def start_for(codec: str, pixels: int, target: float) -> Start:
    """The start for `codec` on a frame of `pixels`, moved along its slope from the
    calibrated target (80) to `target`."""
    start = SMALL_STARTS.get(codec) if pixels < SMALL else None
    start = start or STARTS.get(codec, UNKNOWN)
    if target == CALIBRATED:
        return start
    moved = _clamp(start.quality + (target - CALIBRATED) / start.slope, start)
    return Start(moved, start.slope, start.lo, start.hi)


@dataclass(frozen=True)
class Found:
    """The encoding kept, and how the search got there."""

    quality: int
    data: bytes
    score: float  # the estimate of the kept encoding: measured, or predicted along the slope (`measured`)
    measured: bool
    encodes: int
    scores: int
    trace: tuple[tuple[int, float | None, int], ...]  # (quality, score or None, bytes) per encode


def _clamp(q: float, start: Start) -> int:
    return int(min(start.hi, max(start.lo, round(q))))


def search(encode_at: Callable[[int], bytes], score_of: Callable[[bytes], float], start: Start,
           target: float) -> Found:
    """The lowest quality found whose encoding scores at least `target`.

    1. Encode at the start and score it: kept if in [target, target + ACCEPT].
    2. One step along the encoder's median slope to target + MARGIN. Up to BIG quality
       units: encoded and kept, its score predicted along the slope.
    3. Longer: damped past BIG, encoded and scored; kept if in [target, target + ACCEPT],
       else one secant step through both scores, encoded and kept (predicted).
    The quality stays within the start's [lo, hi]; a step that cannot move (a bound)
    keeps the best scored encoding: the smallest reaching the target, else the highest."""
    trace: list[tuple[int, float | None, int]] = []
    kept: dict[int, bytes] = {}

    def encode(q: int) -> bytes:
        kept[q] = data = encode_at(q)
        trace.append((q, None, len(data)))
        return data

    def scored(q: int) -> float:
        score = float(score_of(kept[q]))
        trace[-1] = (q, score, trace[-1][2])
        return score

    def found(q: int, score: float, measured: bool) -> Found:
        return Found(q, kept[q], score, measured, len(trace), sum(1 for t in trace if t[1] is not None), tuple(trace))

    def best() -> Found:
        points = [(q, s) for q, s, _ in trace if s is not None]
        reaching = [p for p in points if p[1] >= target]
        q, s = min(reaching) if reaching else max(points, key=lambda p: p[1])
        return found(q, s, True)

    q0 = _clamp(start.quality, start)
    encode(q0)
    s0 = scored(q0)
    if target <= s0 <= target + ACCEPT:
        return found(q0, s0, True)
    step = (target + MARGIN - s0) / start.slope
    if abs(step) <= BIG:
        q1 = _clamp(q0 + step, start)
        if q1 == q0:
            return best()
        encode(q1)
        return found(q1, s0 + start.slope * (q1 - q0), False)
    damped = (BIG + (abs(step) - BIG) * DAMP) * (1 if step > 0 else -1)
    q1 = _clamp(q0 + damped, start)
    if q1 == q0:
        return best()
    encode(q1)
    s1 = scored(q1)
    if target <= s1 <= target + ACCEPT:
        return found(q1, s1, True)
    slope = (s1 - s0) / (q1 - q0)  # the secant, if it is within 4x of the median slope
    if not start.slope / 4 <= slope <= start.slope * 4:
        slope = start.slope
    q2 = _clamp(q1 + (target + MARGIN - s1) / slope, start)
    if q2 in kept:
        return best()
    encode(q2)
    return found(q2, s1 + slope * (q2 - q1), False)
