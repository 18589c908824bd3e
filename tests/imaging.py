"""Test images made with Pillow (and scikit-image's bundled photos when installed); no network."""
from __future__ import annotations

from pathlib import Path

from PIL import ExifTags, Image, ImageChops, ImageDraw

RED, BLUE, GREY = (220, 20, 20), (20, 20, 220), (128, 128, 128)

# Orientation o: the stored pixels need TRANSPOSE_FOR[o] to look upright; this undoes it.
UNDO_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def marked(size: tuple[int, int] = (120, 80)) -> Image.Image:
    """Grey, with a red block top-left and a blue block top-right: every flip and turn shows."""
    im = Image.new("RGB", size, GREY)
    w, h = size
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, w // 4, h // 4), fill=RED)
    draw.rectangle((w - w // 4, 0, w - 1, h // 4), fill=BLUE)
    return im


def stored_as(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera would store for `upright` shot with EXIF `orientation`."""
    undo = UNDO_ORIENTATION[orientation]
    return upright if undo is None else upright.transpose(undo)


def synthetic_photo(size: tuple[int, int]) -> Image.Image:
    """Photo-like without extra packages: smooth shapes, fine structure and grain."""
    w, h = size
    fractal = Image.effect_mandelbrot(size, (-2.2, -1.2, 1.0, 1.2), 60)
    grain = Image.effect_noise(size, 24)
    gradient = Image.linear_gradient("L").resize(size)
    r = ImageChops.add(fractal, grain, scale=1.3)
    g = ImageChops.blend(gradient, grain, 0.4)
    b = ImageChops.blend(fractal, gradient.transpose(Image.Transpose.ROTATE_90).resize(size), 0.5)
    return Image.merge("RGB", (r, g, b))


def photo_mosaic(size: tuple[int, int]) -> Image.Image:
    """Real photographs (scikit-image's bundled samples) tiled at their native resolution,
    so the image has true photo detail at full size, as a camera file has."""
    from skimage import data

    tiles = [Image.fromarray(f()) for f in (data.astronaut, data.coffee, data.chelsea, data.rocket)]
    canvas = Image.new("RGB", size)
    x = y = row_h = i = 0
    while y < size[1]:
        tile = tiles[i % len(tiles)]
        canvas.paste(tile, (x, y))
        row_h = max(row_h, tile.height)
        x += tile.width
        i += 1
        if x >= size[0]:
            x, y, row_h = 0, y + row_h, 0
    return canvas


def camera_photo(size: tuple[int, int]) -> Image.Image:
    """A camera file's pixel-level softness: the mosaic shot at half the size, enlarged 2x."""
    half = photo_mosaic((size[0] // 2, size[1] // 2))
    return half.resize(size, Image.Resampling.LANCZOS)


def photo(size: tuple[int, int]) -> Image.Image:
    try:
        return camera_photo(size)
    except ImportError:
        return synthetic_photo(size)


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims `width` x `height` (a decompression bomb's shape)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


def camera_exif(orientation: int | None = None) -> bytes:
    """EXIF as a camera writes it: its maker, a GPS position, and the orientation if given."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Camera Maker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    return exif.tobytes()
