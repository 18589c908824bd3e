"""JPEG: jpegli (Google's encoder from libjxl, through the pyjpegli wheel) where it can
write the frame, libjpeg-turbo (Pillow, engine/encoders/pillow) otherwise.

Why jpegli (research/quality FINDINGS.md §4; bytes at the same SSIMULACRA2 score as
Pillow's, real photos): -12 % at 400 px, -15 % at 1600 px, -19 % at 2048 px, for 1.1-1.5x
Pillow's encode time (+2 ms at 1600 px). mozjpeg's trellis (in the pyvips-binary wheel's
libjpeg) gains the same at about 10x the encode time; libvips' `quant_table=3` alone
-10 % at 2.1x. The README's dependency table says why the wheel is acceptable.

jpegli writes RGB, 4:2:0, baseline, and no metadata: grey frames, `progressive: true` and
frames past JPEGLI_MAX_PIXELS (the memory bound) stay with libjpeg-turbo, and the EXIF,
XMP, ICC and IPTC-IIM segments are put in by engine/encoders/jpegmarkers, the same bytes
Pillow would write. If pyjpegli cannot be imported, or fails its check when the engine
loads (a broken wheel), or raises on a frame, libjpeg-turbo writes it: the output is
never lost to the newer encoder.
"""
from __future__ import annotations

import io

from PIL import Image

from hotfolder.engine.encoders import Encoding, jpegmarkers, pillow
from hotfolder.engine.raster import Raster

JPEGLI = "jpegli"
LIBJPEG = "libjpeg-turbo"
# Past this, libjpeg-turbo writes the frame: jpegli holds the whole frame (packed RGB and its
# own buffers), ~1.7 bytes a pixel more at the worker's peak (measured, a 27 MP full-size
# output of a 6000x4500 WebP: 528 MiB against 482 MiB), which would break the 17 bytes a
# pixel engine/memory.worker_peak (the unit's MemoryMax) allows. Up to 12 MP the extra is
# at most ~20 MiB, inside WORKER_BASE's headroom (64 MiB for 43-47 measured); jpegli's
# gains were measured at 400-2048 px renditions (README "Quality: auto").
JPEGLI_MAX_PIXELS = 12_000_000


def _load_jpegli():
    """pyjpegli, if it imports and encodes a small frame that decodes back to its size."""
    try:
        import pyjpegli
    except ImportError:
        return None
    try:
        data = pyjpegli.encode(bytes(16 * 8 * 3), 16, 8, quality=80)
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
            if im.size != (16, 8):
                return None
    except Exception:  # noqa: BLE001 - any failure of the check means the wheel is not usable
        return None
    return pyjpegli


_jpegli = _load_jpegli()


def codec(im: Raster, encoding: Encoding) -> str:
    """The encoder that writes `im` with `encoding` (the quality scales differ: the
    `quality: auto` search starts from the encoder's own calibration)."""
    if (_jpegli is not None and im.mode == "RGB" and not encoding.progressive
            and im.width * im.height <= JPEGLI_MAX_PIXELS):
        return JPEGLI
    return LIBJPEG


def encode(im: Raster, encoding: Encoding) -> bytes:
    if codec(im, encoding) == JPEGLI:
        assert _jpegli is not None and encoding.quality is not None
        try:
            pixels = encoding.packed.rgb if encoding.packed is not None else im.rgb()
            data = _jpegli.encode(pixels, im.width, im.height, quality=encoding.quality)
        except RuntimeError:  # jpegli's own error on this frame: the one Pillow's libjpeg-turbo writes
            return pillow.jpeg(im, encoding)
        return jpegmarkers.with_metadata(data, encoding.metadata)
    return pillow.jpeg(im, encoding)
