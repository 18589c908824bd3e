"""`quality: auto` wired to an encoder: the frame's SSIMULACRA2 side prepared once
(engine/ssimulacra2.Reference), each candidate encoded by the format's encoder, read
back and scored, and the search (engine/autoquality) choosing among them.

Each candidate is a real encode of the frame with its metadata, so the encoding kept is
written as it is: no encode is repeated for the output.
"""
from __future__ import annotations

import importlib
import io
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import simplejpeg
from PIL import Image

from hotfolder.engine import autoquality, ssimulacra2
from hotfolder.engine.autoquality import Found
from hotfolder.engine.encoders import Encoding, jpeg
from hotfolder.engine.formats import Format
from hotfolder.engine.raster import Raster


def search(im: Raster, fmt: Format, encoding: Encoding, target: float,
           save: Callable[[Encoding], bytes]) -> Found:
    """The lowest quality found whose encoding of `im` scores `target`; `save(encoding)`
    is one encode (engine/encode's, so every encode passes one place)."""
    name, pixels = codec(im, fmt, encoding), im.width * im.height
    start = autoquality.start_for(name, pixels, target)
    # The frame packed once, read by the metric and by an encoder that takes packed pixels (jpegli).
    reference = ssimulacra2.Reference(encoding.packed.array if encoding.packed is not None else im.image())

    def encode_at(quality: int) -> bytes:
        return save(replace(encoding, quality=quality))

    def score_of(data: bytes) -> float:
        return autoquality.calibrated(reference.score(read_back(data, fmt)), pixels, name)

    return autoquality.search(encode_at, score_of, start, target)


def codec(im: Raster, fmt: Format, encoding: Encoding) -> str:
    """The encoder that writes `im` (its quality scale is what the search starts from).
    JPEG has two (jpegli; libjpeg-turbo for grey, progressive, or without jpegli)."""
    if fmt.name == "jpeg":
        return jpeg.codec(im, encoding)
    return fmt.name


def read_back(data: bytes, fmt: Format) -> Image.Image | np.ndarray:
    """An encoding decoded to be scored, straight into an array where a decoder gives one:
    a JPEG by TurboJPEG (5.6 ms against 7.7 through Pillow and its copy out, 1600x1200), a
    WebP by libwebp through imagecodecs (20 ms against Pillow's 45: the same libwebp 1.6,
    the same pixels); another by Pillow, or, for a format Pillow does not read (JPEG XL),
    by its encoder module's `decoded(data)`."""
    if fmt.name == "jpeg":
        try:
            return simplejpeg.decode_jpeg(data, colorspace="RGB")
        except ValueError:
            pass  # not one TurboJPEG takes: Pillow reads it
    if fmt.name == "webp":
        import imagecodecs  # ~65 ms to import: with the first WebP search (engine/decoders/webp)

        try:
            return imagecodecs.webp_decode(data)
        except imagecodecs.WebpError:
            pass  # Pillow reads it, or says why not
    if fmt.pil is None:
        assert fmt.encoder is not None
        module = importlib.import_module(fmt.encoder.target.partition(":")[0])
        return module.decoded(data)
    with Image.open(io.BytesIO(data), formats=[fmt.pil]) as im:
        im.load()
        return im
