"""Encode an output with its format's encoder (engine/formats, engine/encoders), at the
rendition's quality, or with `quality: auto` at the one the search found
(engine/autoencode); with `max_bytes`, at the highest quality, at most that one, that fits.

`max_bytes`: one encode at `quality`; if it is too long, a bisection over [30, quality):
at most ⌈log2(quality − 30)⌉ + 1 more encodes (7 for q85), each a real encode, so the
output is always one measured to fit (DESIGN.md, "The engine", says why not a secant).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from hotfolder.config.model import AUTO_QUALITY, Rendition
from hotfolder.engine import formats
from hotfolder.engine.encoders import Embedded, Encoding, Packed
from hotfolder.engine.errors import ENCODE_ERRORS, InputError, describe, reraise_unless_input
from hotfolder.engine.formats import Format
from hotfolder.engine.raster import Raster

# Every encoder, imported with the engine (as engine/decode's decoders).
ENCODERS: dict[str, Callable[[Raster, Encoding], bytes]] = {
    f.name: f.encoder.resolve() for f in formats.TABLE if f.encoder is not None
}
MIN_QUALITY = 30  # below this a photo shows its blocks: the file fails instead
NAMES = {"jpeg": "JPEG", "webp": "WebP", "avif": "AVIF", "jxl": "JPEG XL"}  # as the log names them to people


@dataclass(frozen=True)
class Encoded:
    """An output's bytes, and the quality and score they were written at."""

    data: bytes
    quality: int | None  # None: the format has no quality
    score: float | None = None  # SSIMULACRA2 (estimated) with `quality: auto` (engine/autoquality.Found)
    measured: bool = False  # the score was measured (else predicted along the encoder's slope, or None)
    encodes: int = 1
    note: str | None = None  # for the log (`rendition_note`): `quality_target` not reached


def encode(im: Raster, fmt: Format, rendition: Rendition, metadata: Embedded) -> Encoded:
    """`im` (in the mode `fmt` takes) encoded as `rendition` asks, carrying `metadata`."""
    if not fmt.quality:
        encoding = Encoding(None, metadata, progressive=rendition.progressive, compression=rendition.compression)
        return Encoded(_save(im, fmt, encoding), None)
    if rendition.quality == AUTO_QUALITY:
        return _auto(im, fmt, rendition, metadata)
    assert isinstance(rendition.quality, int)
    encoding = Encoding(rendition.quality, metadata, progressive=rendition.progressive)
    if rendition.max_bytes is None:
        return Encoded(_save(im, fmt, encoding), rendition.quality)
    fit = _fitting(im, fmt, rendition, replace(encoding, packed=_packed(im)), rendition.quality, rendition.max_bytes)
    return Encoded(fit.data, fit.quality, encodes=fit.encodes)


def _auto(im: Raster, fmt: Format, rendition: Rendition, metadata: Embedded) -> Encoded:
    """`quality: auto`: the search's encoding; if it is longer than `max_bytes`, the
    highest lower quality that fits (its score then unmeasured)."""
    from hotfolder.engine import autoencode, autoquality

    encoding = Encoding(None, metadata, progressive=rendition.progressive, packed=_packed(im))
    found = autoencode.search(im, fmt, encoding, rendition.quality_target, lambda e: _save(im, fmt, e))
    if rendition.max_bytes is None or len(found.data) <= rendition.max_bytes:
        note = autoquality.shortfall(found, rendition.quality_target, NAMES.get(fmt.name, fmt.name.upper()))
        return Encoded(found.data, found.quality, found.score, found.measured, found.encodes, note)
    fit = _fitting(im, fmt, rendition, replace(encoding, quality=found.quality), found.quality, rendition.max_bytes,
                   first=found.data)
    return Encoded(fit.data, fit.quality, None, False, found.encodes + fit.encodes - 1)


def _packed(im: Raster) -> Packed | None:
    """For a frame encoded more than once: its pixels packed once, if RGB (made when first read)."""
    return Packed(im) if im.mode == "RGB" else None


def _save(im: Raster, fmt: Format, encoding: Encoding) -> bytes:
    """One encode: every one passes here (the tests watch it)."""
    try:
        return ENCODERS[fmt.name](im, encoding)
    except ENCODE_ERRORS as exc:  # e.g. WebP refuses sides over 16383 pixels
        reraise_unless_input(exc)
        raise InputError("encode", f"{fmt.name} output: {describe(exc)}") from None


@dataclass(frozen=True)
class Fit:
    quality: int
    data: bytes
    encodes: int  # how many encodes the search took, the first at the rendition's quality included


def _fitting(im: Raster, fmt: Format, rendition: Rendition, encoding: Encoding, quality: int, limit: int,
             first: bytes | None = None) -> Fit:
    """The encoding at the highest quality ≤ `quality` that is at most `limit` bytes
    long; InputError naming the rendition, the limit and the smallest size reached if
    even quality 30 is longer. `first`: the encoding at `quality`, when made already."""
    def encode_at(q: int) -> bytes:
        trial = encoding if q == quality else replace(encoding, quality=q, search=True)
        return _save(im, fmt, trial)

    return highest_fitting(encode_at, limit, quality, f"rendition {rendition.name}: {fmt.name.upper()}", first)


def highest_fitting(encode_at: Callable[[int], bytes], limit: int, quality: int, what: str,
                    first: bytes | None = None) -> Fit:
    """Bisection over the quality: `encode_at(q)` is tried at `quality` first (unless
    `first` is its encoding already), then at most ⌈log2(quality − 30)⌉ + 1 more times
    (7 for quality 85, 8 for 100). The size grows with the quality (nearly always; where
    it does not, the result is still an encoding that was measured to fit, only maybe
    not the best)."""
    data = encode_at(quality) if first is None else first
    encodes, smallest = 1, len(data)
    if len(data) <= limit:
        return Fit(quality, data, encodes)
    floor = min(MIN_QUALITY, quality)
    lo, hi, best = floor, quality, None  # hi: too long; lo: fits, once best is set
    while hi - lo > 1:
        mid = (lo + hi) // 2
        data = encode_at(mid)
        encodes += 1
        if len(data) <= limit:
            lo, best = mid, Fit(mid, data, encodes)
        else:
            hi, smallest = mid, min(smallest, len(data))
    if best is None and floor < quality:
        data = encode_at(floor)
        encodes += 1
        if len(data) <= limit:
            best = Fit(floor, data, encodes)
        smallest = min(smallest, len(data))
    if best is None:
        raise InputError("encode", f"{what} does not fit in max_bytes {limit:,} bytes: even at quality "
                                   f"{floor} it is {smallest:,} bytes; raise max_bytes or make the rendition smaller")
    return Fit(best.quality, best.data, encodes)
