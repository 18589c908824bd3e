"""Rendering helpers of the engine's tests: `pipeline.render` with test defaults."""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from hotfolder.config.model import Rendition
from hotfolder.engine.pipeline import render

ALL_FORMATS = ("jpeg", "png", "webp", "tiff", "gif", "bmp", "avif", "heic", "raw")


def R(**fields) -> Rendition:
    fields.setdefault("name", "r")
    return Rendition(**fields)


def run(src: Path, *renditions: Rendition, accepted=ALL_FORMATS, max_pixels=10_000_000, animation="first-frame",
        raw="auto"):
    return render(src, renditions, accepted_formats=accepted, max_image_pixels=max_pixels, animation=animation,
                  raw=raw)


def run_one(src: Path, rendition: Rendition, **kw) -> Image.Image:
    (out,) = run(src, rendition, **kw)
    im = Image.open(io.BytesIO(out.data))
    assert im.size == (out.width, out.height)
    return im


def near(a, b, tol=40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))
