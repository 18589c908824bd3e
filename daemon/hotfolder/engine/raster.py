"""One rendition's pixels as the steps pass them along: packed bytes, as libvips wrote
them, until a step needs a Pillow image, which from then on is their only form.

Why: a copy between the two forms costs ~1.1 ms each way at 1600x1200 (Pillow keeps RGB
as 4 bytes a pixel, so neither direction is free), and the example's JPEG rendition
needed two of them for nothing: libvips' frame into Pillow for the watermark, Pillow's
back to packed RGB for jpegli. Here the watermark is pasted into the packed pixels (a copy
of them: the frame stays as other renditions are resampled from it), and jpegli reads
them as they are. A step that needs Pillow (sharpen, turning upright, WebP's
encoder) asks for `image()` and pays the copy once.

The packed buffer is never written: it may be a frame of the ladder (engine/resample) or
a decoder's array. The first paste works on a copy of its own.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    Buffer = bytes | bytearray | memoryview

BANDS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


class Raster:
    """Pixels in one form at a time: packed (`mode`, `size`, the bytes) or a Pillow image."""

    __slots__ = ("mode", "size", "_packed", "_owned", "_image")

    def __init__(self, mode: str, size: tuple[int, int], packed: Buffer):
        if mode not in BANDS:
            raise ValueError(f"packed pixels of mode {mode!r}")
        self.mode, self.size = mode, size
        self._packed: Buffer | None = packed
        self._owned = False  # `_packed` is a copy of our own, to paste into
        self._image: Image.Image | None = None

    @classmethod
    def of(cls, image: Image.Image) -> Raster:
        """A Pillow image as a raster (its only form from the start)."""
        raster = cls.__new__(cls)
        raster.mode, raster.size = image.mode, image.size
        raster._packed, raster._owned, raster._image = None, False, image
        return raster

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    @property
    def packed(self) -> bool:
        """Still in packed form: no step has asked for Pillow yet."""
        return self._image is None

    def image(self) -> Image.Image:
        """The Pillow image: made from the packed pixels at the first call, then the only form."""
        if self._image is None:
            from PIL import Image

            assert self._packed is not None
            self._image = Image.frombytes(self.mode, self.size, self._packed)
            self._packed = None
        return self._image

    def rgb(self) -> Buffer:
        """The pixels packed: the packed form as it is, or the Pillow image's `tobytes()`."""
        if self._image is None:
            assert self._packed is not None
            return self._packed
        return self._image.tobytes()

    def array(self) -> np.ndarray:
        """The pixels as an H x W (x bands) uint8 array: a view of the packed form, read-only."""
        import numpy as np

        if self._image is not None:
            return np.asarray(self._image)
        shape = (self.height, self.width) if self.mode == "L" else (self.height, self.width, BANDS[self.mode])
        view = np.frombuffer(self.rgb(), np.uint8).reshape(shape)
        view.flags.writeable = False
        return view

    def copy(self) -> Raster:
        """A raster to draw on without touching this one (packed: the same bytes, which a
        paste copies before writing)."""
        if self._image is not None:
            return Raster.of(self._image.copy())
        assert self._packed is not None
        return Raster(self.mode, self.size, self._packed)

    def paste(self, im: Image.Image, xy: tuple[int, int], mask: Image.Image) -> None:
        """Pillow's `paste(im, xy, mask)`: in packed form, onto the box it covers alone."""
        x, y = xy
        if self._image is not None or x < 0 or y < 0:  # (the watermark's position is never negative)
            self.image().paste(im, xy, mask)
            return
        import numpy as np
        from PIL import Image

        assert self._packed is not None
        if not self._owned:
            self._packed, self._owned = bytearray(self._packed), True
        whole = np.frombuffer(self._packed, np.uint8).reshape(self.height, self.width, -1)
        box = whole[y:y + im.height, x:x + im.width]  # clipped at the edges, as Pillow's paste clips
        if box.size == 0:
            return
        region = Image.frombytes(self.mode, (box.shape[1], box.shape[0]), box.tobytes())
        region.paste(im, (0, 0), mask)
        box[...] = np.asarray(region).reshape(box.shape)
