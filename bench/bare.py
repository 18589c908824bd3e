"""The physical-limit reference: draft() to the smallest DCT scale still >= the
largest rendition, LANCZOS resize, orientation applied after, one decode shared by
all renditions (largest first, smaller ones from it), encode. No watching, claiming,
atomic writes or bookkeeping: what the daemon's pipeline should come close to."""
from __future__ import annotations

import os
from multiprocessing import Pool
from pathlib import Path

from PIL import Image

from bench.recipe import Rendition, fit, output_name

# EXIF orientation -> transpose that shows the stored pixels upright
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def render(job: tuple[str, str, tuple[Rendition, ...]]) -> str:
    path, outdir, renditions = job
    stem = Path(path).stem
    with Image.open(path, formats=["JPEG"]) as im:
        orientation = im.getexif().get(0x0112, 1)
        ordered = sorted(renditions, key=lambda r: -r.box)
        target = fit(im.size, ordered[0].box)  # box is square: same in stored orientation
        im.draft("RGB", target)
        current = im.resize(target, Image.Resampling.LANCZOS) if im.size != target else im.copy()
    if orientation in TRANSPOSE:
        current = current.transpose(TRANSPOSE[orientation])
    for r in ordered:
        size = fit(current.size, r.box)
        if size != current.size:
            current = current.resize(size, Image.Resampling.LANCZOS)
        current.save(os.path.join(outdir, output_name(stem, r)), "JPEG", quality=r.quality)
    return path


def run(pool: Pool, files, outdir, renditions) -> None:
    pool.map(render, [(str(f), str(outdir), renditions) for f in files], chunksize=1)
