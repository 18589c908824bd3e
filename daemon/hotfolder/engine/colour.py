"""Pixel modes and colour, with Pillow: bring whatever was decoded to L, LA, RGB or RGBA,
and give each encoder the mode it needs.

A CMYK image is converted to sRGB through its ICC profile when it has one (LittleCMS,
as Pillow's ImageCms), and then carries the sRGB profile. 16- and 32-bit grey is
scaled to 8 bits, not clipped.
"""
from __future__ import annotations

import functools
import io

from PIL import Image, ImageCms


@functools.lru_cache(maxsize=1)
def srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def normalise_mode(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Bring any decoded mode to L, LA, RGB or RGBA (what resampling and the encoders handle well).

    Returns the image and the ICC profile that now describes it.
    """
    mode = im.mode
    if mode in ("L", "RGB") and "transparency" in im.info:
        return im.convert(mode + "A"), icc  # tRNS: a colour that means transparent
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im, icc
    if mode in ("P", "PA"):
        return im.convert("RGBA" if im.has_transparency_data else "RGB"), icc
    if mode == "1":
        return im.convert("L"), icc
    if mode.startswith("I") or mode == "F":
        return _to_8bit(im), icc
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc)
    has_alpha = "A" in im.getbands() or "a" in im.getbands()
    return im.convert("RGBA" if has_alpha else "RGB"), None  # other colour spaces: the profile no longer fits


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey to L, scaled (a plain convert() clips everything above 255 to white)."""
    if im.mode.startswith("I;16") and im.mode != "I;16":
        im = im.convert("I")
    if im.mode == "I;16":
        top = 65535
    else:
        low, high = im.getextrema()
        top = 1.0 if im.mode == "F" and high <= 1.0 else (255 if high <= 255 else 65535 if high <= 65535 else high)
    if top != 255:
        im = im.point(lambda v: v * (255 / top))
    return im.convert("L")


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(im, source, srgb(), outputMode="RGB")
            return rgb, srgb().tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the plain formula
    return im.convert("RGB"), None


def convert_for(im: Image.Image, fmt: str, background: tuple[int, int, int]) -> Image.Image:
    """The mode the encoder of `fmt` needs; alpha is flattened onto `background` for JPEG."""
    if fmt == "jpeg" and im.mode in ("LA", "RGBA"):
        flat = Image.new("RGB", im.size, background)
        flat.paste(im, (0, 0), im)
        return flat
    if fmt in ("webp", "avif") and im.mode in ("L", "LA"):
        return im.convert("RGB" if im.mode == "L" else "RGBA")
    return im
