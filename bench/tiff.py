"""TIFF outputs: bytes and encode time of each lossless compression, Pillow's writer
(libtiff) against libvips' tiffsave, on the corpus's photos at 1600 and 4000 px (the
4000x3000 frame of `bench.corpus.photo`, and it downscaled with Lanczos to 1600 px: the
grain averages out as a camera frame's does). One thread, medians of `--runs`.

    python -m bench.tiff [--count 4] [--runs 3]

The figures chose `compression: deflate` (with the horizontal predictor) as the default
(engine/encoders/tiff.py; README "TIFF outputs"). Pillow's and libvips' writers are
measured beside hotfolder's own for reference: neither writes the EXIF (see the encoder's doc).
"""
from __future__ import annotations

import argparse
import io
import statistics
import time

from PIL import Image

from bench.corpus import photo

# name -> Pillow's save options (the predictor is a tag libtiff reads: 317, 2 = horizontal)
PILLOW = {
    "none": {"compression": "raw"},
    "lzw": {"compression": "tiff_lzw", "tiffinfo": {317: 2}},
    "deflate": {"compression": "tiff_adobe_deflate", "tiffinfo": {317: 2}},
    "deflate-nopred": {"compression": "tiff_adobe_deflate"},
}
VIPS = {
    "none": {"compression": "none"},
    "lzw": {"compression": "lzw", "predictor": "horizontal"},
    "deflate": {"compression": "deflate", "predictor": "horizontal"},
}


def ours(im: Image.Image, compression: str) -> bytes:
    """hotfolder's encoder; `deflate-6`: at zlib's level 6 (libtiff's) instead of its own."""
    from hotfolder.engine.encoders import Encoding, tiff
    from hotfolder.engine.raster import Raster

    level = tiff.ZLIB_LEVEL
    if compression == "deflate-6":
        compression, tiff.ZLIB_LEVEL = "deflate", 6
    try:
        return tiff.encode(Raster.of(im), Encoding(None, compression=compression))
    finally:
        tiff.ZLIB_LEVEL = level


def pillow_tiff(im: Image.Image, options: dict) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, "TIFF", **options)
    return buffer.getvalue()


def vips_tiff(im: Image.Image, options: dict) -> bytes:
    import pyvips

    frame = pyvips.Image.new_from_memory(im.tobytes(), im.width, im.height, 3, "uchar")
    return frame.tiffsave_buffer(**options)


def timed(fn, runs: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        size = len(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times), size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        import pyvips
        pyvips.cache_set_max(0)
        pyvips.concurrency_set(1)
    except ImportError:
        pyvips = None
    rows: dict[tuple[int, str], list[tuple[float, int]]] = {}
    for index in range(args.count):
        big = photo(4000, 3000, index)
        for frame in (big.resize((1600, 1200), Image.Resampling.LANCZOS), big):
            for name in ("deflate", "deflate-6", "lzw", "none"):
                rows.setdefault((frame.width, f"hotfolder {name}"), []).append(
                    timed(lambda n=name, f=frame: ours(f, n), args.runs))
            for name, options in PILLOW.items():
                rows.setdefault((frame.width, f"pillow {name}"), []).append(
                    timed(lambda o=options, f=frame: pillow_tiff(f, dict(o)), args.runs))
            if pyvips is not None:
                for name, options in VIPS.items():
                    rows.setdefault((frame.width, f"vips {name}"), []).append(
                        timed(lambda o=options, f=frame: vips_tiff(f, o), args.runs))
    print(f"{'px':>5} {'writer':<22} {'ms (median)':>12} {'MB (median)':>12} {'x raw':>6}")
    for (px, name), found in rows.items():
        raw = px * (px * 3 // 4) * 3  # 4:3 RGB, bytes
        ms = statistics.median(t for t, _ in found) * 1000
        size = statistics.median(s for _, s in found)
        print(f"{px:>5} {name:<22} {ms:>12.0f} {size / 1e6:>12.2f} {size / raw:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
