"""Deterministic benchmark corpus, built from the photographs bundled with scikit-image.

Nothing is downloaded: the source photographs ship inside the scikit-image wheel
(skimage/data/*.png|jpg). They are scaled, cropped and tiled into full-size frames,
with a fixed film-grain noise field (so the JPEGs carry a realistic amount of detail,
3-5 MB at 12 MP q90) and per-file variations (tile choice, crop, flip, grain offset),
so every file differs and the same arguments always give the same bytes.

Sets:
  big12  4000x3000 JPEG q90 (12 MP); EXIF orientation 3/6/8 on some files, pixels
         stored rotated so that the image displays upright once the tag is applied
  big24  6000x4000 JPEG q90 (24 MP), same variations
  png    2000x1500 RGBA PNG with a soft alpha mask
  small  64x64 JPEG, for backlog tests: a distinct window of a source per file
         by a JPEG comment segment holding the index (100,000 files in seconds)

    python -m bench.corpus --out DIR --set big12|big24|png|small --count N
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import os
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SETS = {
    # name: (width, height, extension)
    "big12": (4000, 3000, "jpg"),
    "big24": (6000, 4000, "jpg"),
    "png": (2000, 1500, "png"),
    "small": (64, 64, "jpg"),
}
SOURCES = (
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
    "motorcycle_left.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png",
)
TILE = 1000  # px; a 12 MP frame is 4x3 tiles, a 24 MP frame 6x4
GRAIN = 6  # uniform grain amplitude (+-), about sigma 3.7 on 0..255
ORIENTATION = 0x0112
# EXIF orientation -> the transpose that stores an upright image so that applying
# the tag (PIL.ImageOps.exif_transpose) shows it upright again
STORE = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,   # viewer turns it 90 degrees clockwise
    8: Image.Transpose.ROTATE_270,  # viewer turns it 90 degrees counter-clockwise
}


def data_dir() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-image is needed for the corpus: pip install scikit-image "
                         "(or pip install -e '.[bench]')")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


@cache
def source(name: str) -> Image.Image:
    with Image.open(data_dir() / name) as im:
        return im.convert("RGB")


@cache
def grain(size: int) -> np.ndarray:
    rng = np.random.default_rng(20240601)
    return rng.integers(-GRAIN, GRAIN + 1, size=(size, size, 3), dtype=np.int16)


def orientation_for(index: int) -> int | None:
    """None: no EXIF at all; 1: upright; 3/6/8: rotated (half of the files)."""
    return (None, 6, 1, 3, 1, 8)[index % 6]


def photo(width: int, height: int, index: int) -> Image.Image:
    """An upright width x height frame of photo tiles; deterministic in index."""
    rng = np.random.default_rng(index)
    cols, rows = -(-width // TILE), -(-height // TILE)
    tw, th = -(-width // cols), -(-height // rows)
    frame = np.empty((rows * th, cols * tw, 3), dtype=np.uint8)
    noise = grain(max(tw, th))
    for r in range(rows):
        for c in range(cols):
            src = source(SOURCES[int(rng.integers(len(SOURCES)))])
            zoom = 1.0 + 0.5 * float(rng.random())  # crop 1/zoom of the source
            sw, sh = src.size
            scale = max(tw / sw, th / sh) * zoom
            cw, ch = tw / scale, th / scale
            x0 = float(rng.random()) * (sw - cw)
            y0 = float(rng.random()) * (sh - ch)
            tile = src.resize((tw, th), Image.Resampling.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch))
            if rng.random() < 0.5:
                tile = tile.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            shift = tuple(int(v) for v in rng.integers(0, noise.shape[0], size=2))
            n = np.roll(noise, shift, axis=(0, 1))[:th, :tw]
            a = np.asarray(tile, dtype=np.int16) + n
            frame[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = np.clip(a, 0, 255).astype(np.uint8)
    return Image.fromarray(frame[:height, :width])


def exif_bytes(index: int, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "hotfolder-bench"  # Make
    exif[0x0110] = f"corpus #{index}"  # Model
    exif[0x0132] = "2024:06:01 12:00:00"  # DateTime
    exif[ORIENTATION] = orientation
    return exif.tobytes()


def big_jpeg(width: int, height: int, index: int) -> bytes:
    im = photo(width, height, index)
    orientation = orientation_for(index)
    kwargs = {}
    if orientation is not None:
        if orientation in STORE:
            im = im.transpose(STORE[orientation])
        kwargs["exif"] = exif_bytes(index, orientation)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **kwargs)
    return buf.getvalue()


def alpha_png(width: int, height: int, index: int) -> bytes:
    im = photo(width, height, index)
    rng = np.random.default_rng(index + 1_000_003)
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    mx, my = (int(v) for v in rng.integers(width // 20, width // 6, size=2))
    draw.ellipse((mx, my, width - mx, height - my), fill=255)
    mask = mask.filter(ImageFilter.BoxBlur(max(4, width // 60)))
    im.putalpha(mask)
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=3)
    return buf.getvalue()


def small_jpeg(index: int) -> bytes:
    """A distinct 64x64 picture per index: a window of one of the sources, at a place and
    zoom drawn from the index. (One picture made distinct by a comment, as before, made
    every file a look-alike of the first: each flagged and logged as one, which no real
    batch of small files is.)"""
    rng = np.random.default_rng(1_000_000 + index)
    src = source(SOURCES[index % len(SOURCES)])
    sw, sh = src.size
    side = float(rng.uniform(96, min(sw, sh) / 2))
    x0, y0 = float(rng.random()) * (sw - side), float(rng.random()) * (sh - side)
    im = src.resize((64, 64), Image.Resampling.LANCZOS, box=(x0, y0, x0 + side, y0 + side))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


# A set whose pictures changed is named anew, so that a corpus made before is not reused.
VERSIONS = {"small": "small-v2"}


def name_for(set_name: str, index: int) -> str:
    return f"{VERSIONS.get(set_name, set_name)}_{index:06d}.{SETS[set_name][2]}"


def make(set_name: str, index: int, size: tuple[int, int] | None = None) -> bytes:
    width, height = size or SETS[set_name][:2]
    if set_name == "small":
        return small_jpeg(index)
    if set_name == "png":
        return alpha_png(width, height, index)
    return big_jpeg(width, height, index)


def generate(out: str | os.PathLike, set_name: str, count: int, *, start: int = 0,
             size: tuple[int, int] | None = None, force: bool = False,
             verbose: bool = False) -> list[Path]:
    """Write files start..start+count-1 of a set into out; existing files are kept
    (the content is deterministic) unless force. Returns the paths in order."""
    if set_name not in SETS:
        raise ValueError(f"unknown set {set_name!r}; use one of {', '.join(SETS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if size is not None and set_name != "small":
        out_names = [f"{set_name}-{size[0]}x{size[1]}_{i:06d}.{SETS[set_name][2]}"
                     for i in range(start, start + count)]
    else:
        out_names = [name_for(set_name, i) for i in range(start, start + count)]
    paths = []
    t0 = time.perf_counter()
    existing = set(os.listdir(out)) if not force else set()
    for i, name in zip(range(start, start + count), out_names, strict=False):
        path = out / name
        paths.append(path)
        if name in existing:
            continue
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(make(set_name, i, size))
        os.replace(tmp, path)
        if verbose and set_name != "small":
            print(f"  {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    if verbose:
        print(f"{set_name}: {count} files in {out} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return paths


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder to write into (created)")
    p.add_argument("--set", dest="set_name", required=True, choices=sorted(SETS))
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--start", type=int, default=0, help="first index (default 0)")
    p.add_argument("--size", type=_size, help="WxH instead of the set's default (not for small)")
    p.add_argument("--force", action="store_true", help="rewrite files that already exist")
    args = p.parse_args(argv)
    generate(args.out, args.set_name, args.count, start=args.start, size=args.size,
             force=args.force, verbose=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
