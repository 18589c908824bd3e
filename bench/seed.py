"""The seed's approach, as most people write it: multiprocessing.Pool.map over a
naive Image.open -> resize -> save (no draft, no orientation, one decode per rendition)."""
from __future__ import annotations

import os
from multiprocessing import Pool
from pathlib import Path

from PIL import Image

from bench.recipe import Rendition, fit, output_name


def render(job: tuple[str, str, tuple[Rendition, ...]]) -> str:
    path, outdir, renditions = job
    stem = Path(path).stem
    for r in renditions:
        img = Image.open(path)
        img = img.resize(fit(img.size, r.box), Image.LANCZOS)
        img.save(os.path.join(outdir, output_name(stem, r)), quality=r.quality)
    return path


def run(pool: Pool, files, outdir, renditions) -> None:
    pool.map(render, [(str(f), str(outdir), renditions) for f in files])
