"""What one worker needs at the pixel limit: the peak resident memory of a process that
renders one file as large as `max_image_pixels` allows, per format, for two recipes.

    python -m bench.memory [--pixels N] [--only NAME,...] [--recipe example|full] [--dir DIR]

Each file is rendered by a fresh process prepared as a worker is (`pipeline.warm_up()`),
and its peak resident set is read from the kernel when it ends (`wait4`'s ru_maxrss):
what a worker adds to the unit's memory while it renders that file. The first row, a
64×64 JPEG, is what a worker costs before any pixel.

Recipes: `example` is the example config's (fit 1600 px JPEG with the text watermark +
fill 400 px WebP); `full` adds a full-size JPEG (`operation: none`), which needs every
pixel decoded and encoded (a JPEG is then decoded at full scale, a RAW developed at
full size): the worst a config can ask.

The sources (4:3, at most --pixels, default the config's default limit) are made once
under --dir and kept (the HEICs take a minute each): flat-ish content, since what a
decoder allocates depends on the size, not the picture.
"""
from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from hotfolder.config.model import Config

DEFAULT_PIXELS = Config.__dataclass_fields__["max_image_pixels"].default
ALL = ("jpeg", "png", "webp", "tiff", "heic", "raw")
HEIC_PIXELS = 5120 * 3840

CHILD = """
import sys
from hotfolder.engine import pipeline
from hotfolder.config.model import Rendition, Watermark
pipeline.warm_up()
mark = Watermark(text="\\u00a9 Example Studio", opacity=0.6, size=0.33, margin=0.02)
renditions = [Rendition(name="web", operation="fit", width=1600, height=1600, format="jpeg", watermark=mark),
              Rendition(name="thumb", operation="fill", width=400, height=400, format="webp", quality=80)]
if sys.argv[3] == "full":
    renditions.insert(0, Rendition(name="full", operation="none", format="jpeg", quality=90))
raw = "develop" if sys.argv[1].endswith(".develop.dng") else "auto"
try:
    pipeline.render(sys.argv[1], renditions, accepted_formats=ALL_FORMATS, max_image_pixels=int(sys.argv[2]), raw=raw)
finally:  # this process's own peak (a forked child's ru_maxrss starts at its parent's)
    with open("/proc/self/status") as f:
        print(next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")))
""".replace("ALL_FORMATS", repr(ALL))


def shape(pixels: int) -> tuple[int, int]:
    """The largest 4:3 frame (even sides) of at most `pixels`."""
    width = int(math.sqrt(pixels * 4 / 3)) // 2 * 2
    height = min(width * 3 // 4, pixels // width) // 2 * 2
    return width, height


def _picture(size: tuple[int, int]):
    """RGB gradients with a little grain (libvips: fast at 100 MP)."""
    import pyvips

    width, height = size
    x = pyvips.Image.xyz(width, height)
    r = (x[0] * (255 / width)).cast("uchar")
    g = (x[1] * (255 / height)).cast("uchar")
    b = ((x[0] + x[1]) * (255 / (width + height))).cast("uchar")
    noise = pyvips.Image.gaussnoise(width, height, sigma=6, mean=0)
    return (r.bandjoin([g, b]) + noise).cast("uchar").copy(interpretation="srgb")


def make_sources(work: Path, pixels: int, only: set[str] | None) -> dict[str, Path]:
    """name → file, each made once (kept under `work`)."""
    from tests import sources

    work.mkdir(parents=True, exist_ok=True)
    size = shape(pixels)
    tag = f"{size[0]}x{size[1]}"
    made: dict[str, Path] = {}

    def want(name: str, filename: str) -> Path | None:
        if only and name not in only:
            return None
        path = work / f"{tag}.{filename}"
        made[name] = path
        return None if path.exists() else path

    picture = _picture(size)
    if p := want("jpeg", "baseline.jpg"):
        picture.jpegsave(str(p), Q=90, subsample_mode="on")
    if p := want("jpeg-progressive", "progressive.jpg"):
        picture.jpegsave(str(p), Q=90, interlace=True, subsample_mode="on")
    if p := want("png", "rgb8.png"):
        picture.pngsave(str(p), compression=1)
    if p := want("png-16-bit-rgba", "rgba16.png"):
        deep = (picture.cast("ushort") * 257).cast("ushort").bandjoin(65535).copy(interpretation="rgb16")
        deep.pngsave(str(p), compression=1, bitdepth=16)
    if p := want("tiff-16-bit", "rgb16.tif"):
        rgb16 = (picture.cast("ushort") * 257).cast("ushort").copy(interpretation="rgb16")
        rgb16.tiffsave(str(p), compression="deflate")
    if p := want("tiff-cmyk", "cmyk.tif"):
        picture.icc_transform("cmyk", input_profile="srgb").tiffsave(str(p), compression="deflate")
    if p := want("webp", "photo.webp"):
        picture.webpsave(str(p), Q=80, effort=0)
    # Phones and cameras write large HEICs as grids of tiles, which pillow-heif does not;
    # its single images above ~20 MP do not decode here (libde265: "did not give a
    # decompressed image" at 5760x4320). These are 5120x3840; libheif decodes a grid into
    # one buffer, so per pixel the two cost the same.
    heic_size = shape(min(pixels, HEIC_PIXELS))
    heic_picture = picture.crop(0, 0, *heic_size)
    if p := want("heic", f"{heic_size[0]}x{heic_size[1]}.heic"):
        from PIL import Image

        sources.heic(p, Image.frombytes("RGB", heic_size, heic_picture.write_to_memory()), quality=80)
    if p := want("heic-10-bit", f"{heic_size[0]}x{heic_size[1]}.10-bit.heic"):
        import numpy as np

        array = np.frombuffer(heic_picture.write_to_memory(), np.uint8).reshape(heic_size[1], heic_size[0], 3)
        sources.heic(p, array.astype(np.uint16) * 4, quality=80)
    if p := want("raw-develop", "sensor.develop.dng"):
        _dng(p, size)
    return made


def _dng(path: Path, size: tuple[int, int]) -> None:
    """A DNG of `size` photosites, a flat grey mosaic, no preview: developed in full."""
    import numpy as np

    from tests import sources

    width, height = size
    mosaic = np.full((height, width), 1200, "<u2")
    mosaic[::7] = 2400
    raw = {254: (4, 0), 256: (4, width), 257: (4, height), 258: (3, 16), 259: (3, 1), 262: (3, 32803),
           277: (3, 1), 278: (4, height), 284: (3, 1), 33421: (3, [2, 2]), 33422: (1, [0, 1, 1, 2]),
           50714: (4, 0), 50717: (4, sources.WHITE_LEVEL)}
    ifd0 = {271: (2, "Hotfolder"), 272: (2, "Test DNG"), 274: (3, 1),
            50706: (1, [1, 4, 0, 0]), 50707: (1, [1, 1, 0, 0]), 50708: (2, "Hotfolder Test DNG"),
            50721: (10, [(round(v * 10000), 10000) for v in sources.XYZ_TO_SRGB]), 50778: (3, 21),
            50728: (5, [(1, 1)] * 3)}
    path.write_bytes(sources._tiff(({**ifd0, **raw}, mosaic.tobytes()), {}))


def peak_rss_mb(src: Path, pixels: int, recipe: str) -> tuple[float, str]:
    """The peak resident set (VmHWM) of a fresh worker-like process rendering `src`, in
    MiB, and what went wrong if it failed."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(src), str(pixels), recipe],
                          capture_output=True, text=True, check=False)
    error = done.stderr.strip().splitlines()
    return int(done.stdout.split()[-1]) / 1024, (error[-1] if done.returncode and error else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    p.add_argument("--pixels", type=int, default=DEFAULT_PIXELS)
    p.add_argument("--only", default="", help="comma-separated source names")
    p.add_argument("--recipe", default="example,full")
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hotfolder-bench" / "memory")
    args = p.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    made = make_sources(args.dir, args.pixels, only or None)
    small = args.dir / "small.jpg"
    if not small.exists():
        _picture((64, 64)).jpegsave(str(small))
    width, height = shape(args.pixels)
    print(f"sources {width}×{height} ({width * height / 1e6:.1f} MP), max_image_pixels {args.pixels:,}\n")
    recipes = args.recipe.split(",")
    print("| source | file | " + " | ".join(f"peak RSS, {r}" for r in recipes) + " |")
    print("|---|---|" + "---|" * len(recipes))
    for name, src in [("64×64 JPEG (a worker before any pixel)", small), *made.items()]:
        cells = []
        for recipe in recipes:
            mb, error = peak_rss_mb(src, args.pixels, recipe)
            cells.append(f"{mb:,.0f} MiB" + (f" (failed: {error[:80]})" if error else ""))
        print(f"| {name} | {src.stat().st_size / 1e6:.1f} MB | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
