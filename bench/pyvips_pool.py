"""What a libvips user would write: multiprocessing.Pool.map over pyvips'
`thumbnail` (shrink-on-load, auto-rotate, lanczos3), the largest rendition from the
file and each smaller one from it (`thumbnail_image`), saved with `jpegsave`.

One libvips thread per process, as each worker of a busy daemon: N processes on N
cores already use every core (libvips' default, a thread per core in each process,
would oversubscribe them)."""
from __future__ import annotations

import os
from multiprocessing import Pool
from pathlib import Path

import pyvips

from bench.recipe import Rendition, output_name


def render(job: tuple[str, str, tuple[Rendition, ...]]) -> str:
    path, outdir, renditions = job
    pyvips.concurrency_set(1)
    stem = Path(path).stem
    ordered = sorted(renditions, key=lambda r: -r.box)
    current = None
    for r in ordered:
        if current is None:
            current = pyvips.Image.thumbnail(path, r.box, height=r.box, size="down")
        else:
            current = current.thumbnail_image(r.box, height=r.box, size="down")
        current = current.copy_memory() if len(ordered) > 1 else current  # read again by the next one
        current.jpegsave(os.path.join(outdir, output_name(stem, r)), Q=r.quality)
    return path


def run(pool: Pool, files, outdir, renditions) -> None:
    pool.map(render, [(str(f), str(outdir), renditions) for f in files], chunksize=1)
