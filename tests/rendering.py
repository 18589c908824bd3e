"""The engine's tests' one way in: `pipeline.render` with test defaults (every accepted
format, a 10 MP limit), so a change to render's signature is one edit here."""
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
        raw="auto", **engine):
    """Every output of `src` (render's own list); `engine`: render's other keywords (threads, folder)."""
    return render(src, renditions, accepted_formats=accepted, max_image_pixels=max_pixels, animation=animation,
                  raw=raw, **engine)


def render_one(src: Path, rendition: Rendition, **kw):
    """The one output of `src` for one rendition: its bytes, size and notes."""
    (out,) = run(src, rendition, **kw)
    return out


def opened(out) -> Image.Image:
    """An output's bytes as a loaded image, of the size the output says."""
    im = Image.open(io.BytesIO(out.data))
    im.load()
    assert im.size == (out.width, out.height)
    return im


def run_one(src: Path, rendition: Rendition, **kw) -> Image.Image:
    return opened(render_one(src, rendition, **kw))


def near(a, b, tol=40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))
