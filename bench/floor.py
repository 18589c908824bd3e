"""The floor: what no engine can avoid for the recipe. Decode at the DCT scale the
largest rendition needs (`draft()`), then encode each rendition's worth of pixels
(a crop of the decoded frame at the output size, in stored orientation), and nothing
else: no resampling, no turning, no metadata, no watermark. An engine's per-file cost
÷ this is what its own work costs on top."""
from __future__ import annotations

import os
from multiprocessing import Pool
from pathlib import Path

from PIL import Image

from bench.recipe import Rendition, fit, output_name


def render(job: tuple[str, str, tuple[Rendition, ...]]) -> str:
    path, outdir, renditions = job
    stem = Path(path).stem
    with Image.open(path, formats=["JPEG"]) as im:
        sizes = [fit(im.size, r.box) for r in renditions]  # the box is square: the same as stored
        im.draft("RGB", max(sizes))
        im.load()
        for r, (w, h) in zip(renditions, sizes, strict=False):
            im.crop((0, 0, w, h)).save(os.path.join(outdir, output_name(stem, r)), "JPEG", quality=r.quality)
    return path


def run(pool: Pool, files, outdir, renditions) -> None:
    pool.map(render, [(str(f), str(outdir), renditions) for f in files], chunksize=1)
