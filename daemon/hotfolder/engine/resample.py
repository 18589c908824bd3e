"""Resampling and cropping, on libvips: the pixel work that Pillow does slowest.

Measured on one core (bench/stages.py; DESIGN.md, "The engine"), libvips' lanczos3
resamples a 12 MP file's 1600 px rendition ~2.5× faster than Pillow's LANCZOS (17 vs
42 ms) and cuts the 400 px fill from it ~3× faster; a copy between the two libraries
costs ~1-2 ms. So frames cross to libvips for resampling and come back packed
(engine/raster): into Pillow only for a step that needs it.

Small frames are resampled by Pillow instead: a libvips pipeline costs ~1 ms to set up and
run, more than Pillow's whole resample of a small frame (a 64 px JPEG's recipe: 0.7-0.8 ms
all Pillow against 1.1-1.3 ms with libvips; the two break even between 400×300 and
500×375 source pixels, measured one core, the example recipe). See `SMALL`.

A file is decoded once for all its renditions. Each rendition is resampled from the
smallest frame already made that is still at least as large as it needs (the decoded
frame, or a full-frame resize made for a larger rendition), in the pixels' stored
orientation; turning upright happens after, on the smaller output.

Threads: libvips sizes the thread pool of each pipeline from its concurrency setting
when the pipeline starts, so `render(threads=...)` sets it per file: one thread when
every worker is busy (no oversubscription), more for a lone file on an idle daemon.

Trap: pyvips' `copy_memory()` of an image made by `new_from_memory()` returns the same
pixels without the reference that keeps their Python buffer alive; once the first
wrapper is collected, the pixels are freed under the copy (a segfault). Frames are
therefore materialised with `write_to_memory()` into bytes that the frame owns.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pyvips
from PIL import Image

from hotfolder.engine.geometry import Plan
from hotfolder.engine.raster import Raster

if TYPE_CHECKING:
    import numpy as np

# lanczos2, not lanczos3 (Pillow's LANCZOS, what the SSIM guard's reference uses): 20 % less
# resampling time (2000×1500 -> 1600×1200, one core: 10.6 vs 13.3 ms at best) for an SSIM
# 0.001-0.003 lower (fit 1000 / fit 640 / fill 300 PNG: 0.9935 / 0.9957 / 0.9926 against
# 0.9955 / 0.9977 / 0.9953; the guard asks 0.985). mitchell and linear fail the guard.
KERNEL = "lanczos2"
REDUCING_GAP = 3.0  # box-shrink first only beyond 3x (Pillow's reducing_gap, as before)
SMALL = 400 * 400  # a source frame of at most this many pixels is resampled by Pillow (the module's doc)
BANDS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}

_configured = False
# Packed pixels: libvips' write_to_memory(), `pack`'s strips, a RAW's develop read in place.
Packed = bytes | bytearray | memoryview


def use_threads(threads: int) -> None:
    """libvips threads for the pipelines of this render (read when each one starts)."""
    global _configured
    if not _configured:
        # The operation cache would keep frames of earlier files alive; every render
        # makes new images, so it would never hit anyway.
        pyvips.cache_set_max(0)
        _configured = True
    pyvips.concurrency_set(max(1, threads))


def warm_up() -> None:
    """Load libvips' operations and start its threads before the first file, not during it.
    Never in the forkserver: a process that forks must not have started libvips threads."""
    use_threads(1)
    _materialise(resize(Frame(Image.new("RGB", (8, 8))).vips(), (4, 4), alpha=False))


class Frame:
    """One frame, in Pillow or libvips or both, each made from the other on demand."""

    def __init__(self, pil: Image.Image | None = None, *, data: Packed = b"",
                 mode: str = "", size: tuple[int, int] = (0, 0)):
        self._pil = pil
        self.given = pil is not None  # a Pillow image we were handed (the decoded frame), not one made here
        self.mode = pil.mode if pil is not None else mode
        self.size = pil.size if pil is not None else size
        self._data = data  # packed pixels, owned here: the libvips image points into them
        self._vips: pyvips.Image | None = None

    @classmethod
    def packed(cls, pixels: np.ndarray, mode: str) -> Frame:
        """A decoder's H x W (x bands) uint8 array, without a copy: held as a memoryview
        (`.data`, which keeps the array alive; Frame tests `not data`, which an array refuses)."""
        height, width = pixels.shape[:2]
        return cls(data=pixels.reshape(-1).data, mode=mode, size=(width, height))

    @classmethod
    def rendered(cls, image: pyvips.Image, mode: str) -> Frame:
        return cls(data=_materialise(image), mode=mode, size=(image.width, image.height))

    def pil(self) -> Image.Image:
        if self._pil is None:
            self._pil = Image.frombytes(self.mode, self.size, self._data)
        return self._pil

    def packed_pixels(self) -> Packed | None:
        """The frame's packed pixels (rows of `mode`'s bands, to read only), when it has them and
        no Pillow image yet; else None."""
        return self._data if self._pil is None and self._data else None

    def view(self) -> Image.Image:
        """A Pillow image over the pixels without a copy, to read only (the fingerprint's
        look): unlike pil(), nothing is kept, so the frame's memory stays as it was."""
        if self._pil is not None or not self._data:
            return self.pil()
        return Image.frombuffer(self.mode, self.size, self._data, "raw", self.mode, 0, 1)  # type: ignore[arg-type]

    def take(self) -> tuple[Raster, bool]:
        """This frame's pixels for one output (engine/raster), and whether they are shared (a
        Pillow image other renditions use: copied before drawing on it). A rendered or
        decoded-packed frame hands out its packed pixels, which a raster never writes (a
        paste copies them first; Pillow's form is a copy): the frame stays as it is for later
        renditions, and no copy is made for an output that never needs Pillow. A Pillow image
        made here is handed out once: a later taker gets the packed pixels again."""
        if self.given:
            return Raster.of(self.pil()), True
        if self._pil is not None:
            image, self._pil = self._pil, None
            return Raster.of(image), False
        if not self._data:
            raise RuntimeError("a frame with neither pixels nor an image")
        return Raster(self.mode, self.size, self._data), False

    def vips(self) -> pyvips.Image:
        if self._vips is None:
            if not self._data:
                self._data = pack(self.pil())
            self._vips = pyvips.Image.new_from_memory(self._data, *self.size, BANDS[self.mode], "uchar")
        return self._vips


# Pillow's tobytes() gathers the pixels in chunks and joins them: twice the packed size
# at its peak (600 MB more for a 100 MP RGB frame). Above PACK_WHOLE, frames are packed
# a strip at a time into one buffer; below it (a 12 MP JPEG's 2000x1500 draft is 9 MB),
# tobytes() as before.
PACK_WHOLE = 32 * 2**20
STRIP = 4 * 2**20


def pack(im: Image.Image) -> bytes | bytearray:
    """`im`'s pixels, packed (what libvips' new_from_memory reads), at most a strip more
    than their own size in memory while it runs."""
    row = im.width * BANDS.get(im.mode, len(im.getbands()))
    if row * im.height <= PACK_WHOLE:
        return im.tobytes()
    packed = bytearray(row * im.height)
    rows = max(1, STRIP // row)
    for top in range(0, im.height, rows):
        strip = im.crop((0, top, im.width, min(im.height, top + rows))).tobytes()
        packed[top * row:top * row + len(strip)] = strip
    return packed


def _materialise(image: pyvips.Image) -> bytes:
    """Run the pipeline; its pixels, packed."""
    try:
        return image.write_to_memory()
    except pyvips.Error as exc:
        if "out of memory" in str(exc):
            raise MemoryError(str(exc).strip()) from None  # retried as an attempt, like Pillow's
        raise


def resize(image: pyvips.Image, size: tuple[int, int], *, alpha: bool) -> pyvips.Image:
    """`image` resampled to exactly `size` (libvips rounds width × scale to the nearest)."""
    hscale, vscale = size[0] / image.width, size[1] / image.height
    if not alpha:
        return image.resize(hscale, vscale=vscale, kernel=KERNEL, gap=REDUCING_GAP)
    # Resample colour weighted by alpha, as Pillow does: transparent pixels' colour
    # must not bleed into the visible edge.
    return (image.premultiply()
            .resize(hscale, vscale=vscale, kernel=KERNEL, gap=REDUCING_GAP)
            .unpremultiply().rint().cast("uchar"))


def pixel_box(crop: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """A crop in fractions as whole pixels (left, top, width, height), at least 1×1."""
    x0, y0 = min(width - 1, round(crop[0] * width)), min(height - 1, round(crop[1] * height))
    x1, y1 = max(x0 + 1, round(crop[2] * width)), max(y0 + 1, round(crop[3] * height))
    return x0, y0, min(x1, width) - x0, min(y1, height) - y0


def _pillow_resize(image: Image.Image, p: Plan) -> Image.Image:
    """`p`'s output resampled by Pillow (LANCZOS; RGBA and LA weighted by alpha), a new image."""
    crop = p.crop or (0.0, 0.0, 1.0, 1.0)
    box = (crop[0] * image.width, crop[1] * image.height, crop[2] * image.width, crop[3] * image.height)
    return image.resize(p.size, Image.Resampling.LANCZOS, box=box)


class Frames:
    """The decoded frame and every full-frame resize made from it, in stored orientation."""

    def __init__(self, base: Image.Image | Frame, threads: int = 1):
        use_threads(threads)
        self.mode = base.mode
        self.alpha = base.mode in ("LA", "RGBA")
        self.ladder = [base if isinstance(base, Frame) else Frame(base)]

    def resample(self, p: Plan) -> tuple[Raster, bool]:
        """The output of `p` (engine/raster), and whether other renditions may reuse it
        (so it must be copied before drawing on it)."""
        source = self._smallest_covering(p.frame)
        if p.crop is None and source.size == p.size:
            return source.take()
        if source.size[0] * source.size[1] <= SMALL:
            return Raster.of(_pillow_resize(source.pil(), p)), False
        image = source.vips()
        if p.crop is not None:
            image = image.crop(*pixel_box(p.crop, image.width, image.height))
        frame = Frame.rendered(resize(image, p.size, alpha=self.alpha), self.mode)
        if p.crop is None:
            self.ladder.append(frame)
        return frame.take()

    def full_frame(self, size: tuple[int, int]) -> Frame:
        """The whole frame at `size` (stored orientation), made from the smallest covering
        one and kept for later renditions: what a smart crop is cut from."""
        source = self._smallest_covering(size)
        if source.size == size:
            return source
        frame = Frame.rendered(resize(source.vips(), size, alpha=self.alpha), self.mode)
        self.ladder.append(frame)
        return frame

    def _smallest_covering(self, frame: tuple[float, float]) -> Frame:
        covering = [f for f in self.ladder if f.size[0] >= frame[0] - 0.5 and f.size[1] >= frame[1] - 0.5]
        if not covering:
            return self.ladder[0]  # upscaling: start from the decoded frame
        return min(covering, key=lambda f: f.size[0] * f.size[1])
