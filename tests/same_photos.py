"""Real photos and their copies for the duplicate tests: scikit-image's bundled photographs
(no network), a resized and recompressed copy, the same photo stored turned with its EXIF
tag, and a second shot of the scene (the camera moved: a window shifted by 15 % of its
width, which the measurements put 20-32 bits away, DESIGN.md "Duplicates")."""
from __future__ import annotations

import io

from PIL import Image

from tests.imaging import stored_as

ORIENTATION = 0x0112


def scene(which: str = "astronaut") -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, which)()).convert("RGB")


def jpeg(im: Image.Image, quality: int = 92, orientation: int = 1) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation != 1:
        exif[ORIENTATION] = orientation
    im.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def shot(im: Image.Image, shift: float = 0.0) -> Image.Image:
    """An 80 % window of the scene, moved right by `shift` of its width (and half that down)."""
    w, h = im.size
    ww, wh = int(w * 0.8), int(h * 0.8)
    dx, dy = int(ww * shift), int(wh * shift / 2)
    return im.crop((dx, dy, dx + ww, dy + wh))


def card(which: str = "astronaut") -> dict[str, bytes]:
    """The issue's studio drop: a photo, a resized and recompressed copy, the same photo stored
    turned (EXIF 6), and a second shot of the scene; each as JPEG bytes."""
    first = shot(scene(which))
    return {
        "first": jpeg(first),
        "resized": jpeg(first.resize((first.width * 3 // 4, first.height * 3 // 4), Image.Resampling.LANCZOS), 70),
        "turned": jpeg(stored_as(first, 6), 90, orientation=6),
        "second": jpeg(shot(scene(which), 0.15)),
    }
