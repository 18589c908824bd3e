"""A HEIC's primary image through FFmpeg's HEVC decoder (PyAV: the optional extra
`hotfolder[heic-ffmpeg]`), tile by tile into one RGB buffer. decoders/heif chooses it.

Why: libde265, libheif's HEVC decoder, took 0.51 s of each 12 MP iPhone HEIC; FFmpeg's
decodes the same 48 tiles in about half the time on one thread (measured on six real
iPhone files: decode + conversion + assembly 1.6-1.9× faster than libheif's decode;
2.0× for a 10-bit Canon HIF, 1.5× for a 12 MP single image; DESIGN.md, "The engine").

How (decoders/heifmeta reads the layout):
  - each tile's bitstream (length-prefixed NAL units, as an MP4 sample) goes to one `hevc`
    CodecContext opened on the items' shared `hvcC`; no demuxer, no stream per tile;
  - each decoded tile is converted YUV -> RGB by swscale at once and copied into its place
    in one buffer of the output's size (edge tiles cut): the only full-size buffer; a
    tile's RGB (768 KB for 512²) is transient;
  - 8-bit: swscale's unscaled converter repeats chroma (nearest), as libheif 1.23 does:
    within ±2 of libheif's pixels on every file tried (a float conversion with bilinear
    chroma is off by up to 48 at colour edges). 10/12-bit: POINT | ACCURATE_RND, within
    one level at the file's depth (the default path is off by up to 173/1023 on saturated
    colours), scaled as libheif's 16-bit output (value << (16 - depth));
  - matrix and range: the item's `nclx`, else the HEVC VUI; unspecified is BT.601, full
    range, as libheif reads them. Limited range is left to libheif: swscale is off by up
    to 4 levels there in every mode tried (no phone sample writes it);
  - `scale=2`, a draft like a JPEG's DCT scale: luma averaged 2×2 per tile (exact: tiles
    start on even coordinates), 4:2:0 chroma taken as it is (already half size), converted
    as 4:4:4. A quarter of the pixels converted, kept and resampled: SSIM 0.995 for the
    1600 px rendition of a 12 MP file; a 10-bit file renders in half the time (its 16 ->
    8-bit colour conversion runs on a quarter), an 8-bit one in the same time with a 9 MB
    frame instead of 36.

Anything unexpected (a pixel format, a tile of another size than its `ispe`, an FFmpeg
error) returns None: libheif decodes the file and gives its own reason if it is broken.

Licence: PyPI's `av` wheels link GPL libraries (libx264, libx265) into libavcodec, so a
worker that imports `av` has GPL code mapped. Running it is fine; a distributed bundle
with the extra is GPL-bound. hotfolder itself does not need it (README, "Dependencies").
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from hotfolder.engine.decoders.heifmeta import File, Layout, Unsupported, item_data

EIGHT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}
DEEPER = {"yuv420p10le", "yuv420p12le", "yuv422p10le", "yuv422p12le", "yuv444p10le", "yuv444p12le"}
FULL_RANGE, LIMITED_RANGE = 2, 1  # FFmpeg's AVCOL_RANGE_JPEG / _MPEG
UNSPECIFIED_MATRIX = 2
# nclx / VUI matrix_coefficients -> swscale's name; anything else (0: GBR, 12-14: ...) -> libheif
MATRICES = {1: "ITU709", 2: "ITU601", 5: "ITU601", 6: "ITU601", 9: "BT2020", 10: "BT2020"}


@functools.cache
def _av() -> Any:
    """PyAV, or None where the extra is not installed."""
    try:
        import av
    except ImportError:
        return None
    return av


def available() -> bool:
    return _av() is not None


def warm_up() -> None:
    """Load FFmpeg and open one HEVC decoder before the first file (in a worker, not in the
    forkserver: FFmpeg's libraries are loaded after the fork)."""
    av = _av()
    if av is not None:
        av.CodecContext.create("hevc", "r")


@dataclass(frozen=True)
class Pixels:
    rgb: np.ndarray  # (H, W, 3) as stored (cropped, not turned): uint8, or uint16 at libheif's scale
    depth: int  # bits per sample in the file


def decode(file: File, layout: Layout, *, scale: int = 1, threads: int = 1) -> Pixels | None:
    """The primary image's pixels at 1/scale, or None: not for this path (libheif decodes it)."""
    av = _av()
    if av is None:
        return None
    try:
        return _assemble(av, file, layout, scale, threads)
    except (av.error.FFmpegError, Unsupported, ValueError):
        return None


def _assemble(av: Any, file: File, layout: Layout, scale: int, threads: int) -> Pixels | None:
    (tw, th), (width, height) = layout.tile_size, (layout.width, layout.height)
    whole = layout.tile_size == (width, height)  # one coded image: its RGB is the picture, not copied
    out: np.ndarray | None = None
    convert: _Converter | None = None
    for i, frame in _frames(av, file, layout, threads):
        if frame.width != tw or frame.height != th:
            return None
        if convert is None:
            convert = _Converter.for_frame(av, frame, layout, scale)
            if convert is None:
                return None
            if not whole:
                out = np.empty((-(-height // scale), -(-width // scale), 3), convert.dtype)
        if whole:
            out = convert(frame)
            continue
        assert out is not None
        row, col = divmod(i, layout.columns)
        x0, y0 = col * tw // scale, row * th // scale
        w, h = min(tw // scale, out.shape[1] - x0), min(th // scale, out.shape[0] - y0)
        out[y0:y0 + h, x0:x0 + w] = convert(frame)[:h, :w]
    if out is None or convert is None:
        return None
    if layout.crop is not None:  # rare (a clap): a copy, as the engine reads packed pixels
        left, top, right, bottom = layout.crop
        out = out[top:bottom, left:right]
    return Pixels(np.ascontiguousarray(out), convert.depth)


def _frames(av: Any, file: File, layout: Layout, threads: int) -> Iterator[tuple[int, Any]]:
    """(tile index, decoded frame), in order: every tile to one decoder.

    Every tile's bytes are found before the decoder starts: a file cut short (a tile past
    its end) raises here, not between two packets. A frame-threaded decoder given up with
    packets in flight (the generator dropped by an error) hung in FFmpeg's teardown, 8 runs
    of 10 on a grid HEIC cut short (a fuzz round): after an error the decoder is drained
    before it goes."""
    packets = [item_data(tile, layout.idat, file) for tile in layout.tiles]
    cc = av.CodecContext.create("hevc", "r")
    cc.extradata = layout.hvcc
    cc.thread_count = max(1, threads)  # PyAV's default, 0, is "every core": a busy worker has one
    if threads > 1:
        cc.thread_type = "FRAME"  # tiles are independent pictures: several decode at once
    cc.open()
    if (cc.width, cc.height) != layout.tile_size:  # the SPS's size, before any tile allocates it
        raise Unsupported("a tile whose coded size is not its ispe")
    pending: list[int] = []
    drained = False
    try:
        for i, data in enumerate(packets):
            pending.append(i)
            for frame in cc.decode(av.Packet(data)):
                yield pending.pop(0), frame
        drained = True
        for frame in cc.decode(None):
            yield pending.pop(0), frame
    finally:
        if not drained and threads > 1:
            _drain(av, cc)


def _drain(av: Any, cc: Any) -> None:
    """Let a frame-threaded decoder finish what it holds (its errors are the file's, said
    already), so that freeing it finds its threads idle."""
    try:
        for _ in cc.decode(None):
            pass
    except (av.error.FFmpegError, ValueError):
        pass


class _Converter:
    """YUV -> RGB of one tile (at 1/scale), with the file's matrix and depth."""

    def __init__(self, av: Any, matrix: int, depth: int, half: _Half | None):
        from av.video.reformatter import ColorRange, Interpolation

        self.depth, self.half = depth, half
        self.dtype = np.uint8 if depth == 8 else np.uint16
        self.options = dict(
            format="rgb24" if depth == 8 else "rgb48le", src_colorspace=MATRICES[matrix],
            src_color_range=ColorRange.JPEG, dst_color_range=ColorRange.JPEG, threads=1,
            interpolation=None if depth == 8 else Interpolation.POINT | Interpolation.ACCURATE_RND)

    @classmethod
    def for_frame(cls, av: Any, frame: Any, layout: Layout, scale: int) -> _Converter | None:
        name = frame.format.name
        if name not in EIGHT | DEEPER:
            return None  # monochrome and the rest: libheif
        depth = 8 if name in EIGHT else int(name[-4:-2])
        if layout.nclx is not None:
            matrix, full = layout.nclx[2], layout.nclx[3]
        else:
            matrix = frame.colorspace if frame.colorspace in MATRICES else UNSPECIFIED_MATRIX
            full = frame.color_range != LIMITED_RANGE  # unspecified reads as full, as libheif
        if matrix not in MATRICES or not full:
            return None
        half = None
        if scale == 2:
            if not name.startswith(("yuv420p", "yuvj420p")):
                return None
            half = _Half(av, layout.tile_size, depth)
        return cls(av, matrix, depth, half)

    def __call__(self, frame: Any) -> np.ndarray:
        source = self.half.fill(frame) if self.half is not None else frame
        rgb = source.reformat(**self.options).to_ndarray()  # a view of the converted frame's memory
        if self.depth != 8:  # swscale fills 16 bits; libheif gives value << (16 - depth): in place
            shift = 16 - self.depth
            np.right_shift(rgb, shift, out=rgb)
            np.left_shift(rgb, shift, out=rgb)
        return rgb


class _Half:
    """A 4:2:0 tile at half size as a 4:4:4 frame: luma 2×2 box (rounded), chroma as it is."""

    def __init__(self, av: Any, tile_size: tuple[int, int], depth: int):
        self.w, self.h = tile_size[0] // 2, tile_size[1] // 2
        self.dtype = np.uint8 if depth == 8 else np.uint16
        self.frame = av.VideoFrame(self.w, self.h, "yuvj444p" if depth == 8 else f"yuv444p{depth}le")
        self.planes = [_plane(self.frame, i, self.h, self.w, self.dtype) for i in range(3)]

    def fill(self, frame: Any) -> Any:
        y = _plane(frame, 0, 2 * self.h, 2 * self.w, self.dtype).astype(np.uint32)
        self.planes[0][...] = (y[0::2, 0::2] + y[1::2, 0::2] + y[0::2, 1::2] + y[1::2, 1::2] + 2) >> 2
        for i in (1, 2):
            self.planes[i][...] = _plane(frame, i, self.h, self.w, self.dtype)
        return self.frame


def _plane(frame: Any, index: int, rows: int, cols: int, dtype: Any) -> np.ndarray:
    plane = frame.planes[index]
    itemsize = np.dtype(dtype).itemsize
    return np.frombuffer(plane, dtype).reshape(-1, plane.line_size // itemsize)[:rows, :cols]
