"""What the manifest's placeholder costs, by the size of the output it is made from, and
inside a render of a 12 MP JPEG (engine/placeholder; DESIGN "The placeholder's output").

    python -m bench.placeholder [--repeat 15]

CPU time of this process (the machine may be shared), medians, libvips at one thread as in
a busy worker. Two recipes: a srcset with a square thumbnail (w480 is chosen), and one
large fit beside a fill (the 2048 px fit is chosen, the costly case).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("VIPS_CONCURRENCY", "1")

from bench import corpus  # noqa: E402
from hotfolder.config import parse  # noqa: E402
from hotfolder.engine import pipeline  # noqa: E402
from hotfolder.engine import placeholder as placeholders  # noqa: E402
from hotfolder.engine.raster import Raster  # noqa: E402

RECIPES = ("""\
- {name: w1600, size: 1600, format: jpeg}
- {name: w480, size: 480, format: jpeg}
- {name: thumb, operation: fill, size: 200x200, format: webp}
""", """\
- {name: web, size: 2048, format: jpeg}
- {name: thumb, operation: fill, size: 400x400, format: webp}
""")


def cpu_ms(f, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.process_time()
        f()
        times.append((time.process_time() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    repeat = ap.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "12mp.jpg"
        src.write_bytes(corpus.big_jpeg(4000, 3000, 0))
        frame = corpus.photo(4000, 3000, 0).convert("RGB")
        for size in ((200, 200), (480, 360), (1024, 768), (2048, 1536)):
            packed = frame.resize(size).tobytes()
            ms = cpu_ms(lambda: placeholders.of(Raster("RGB", size, packed).image()), repeat)  # noqa: B023
            print(f"placeholder of {size[0]}x{size[1]}: {ms:.2f} ms")
        for recipe in RECIPES:
            folder = "folders:\n  - {inbox: in, output: out, archive: archive, failed: failed, renditions: [%s]}\n"
            cfg = parse(folder % ", ".join(line[2:] for line in recipe.splitlines()), "<bench>", Path(tmp))
            renditions = cfg.folders[0].renditions
            spent: list[float] = []
            made = placeholders.of

            def timed(im, made=made, spent=spent):
                t = time.process_time()
                out = made(im)
                spent.append((time.process_time() - t) * 1000)
                return out

            def render(renditions=renditions, cfg=cfg):
                opened = pipeline.open_source(src, renditions, accepted_formats=cfg.accepted_formats,
                                              max_image_pixels=cfg.max_image_pixels)
                return pipeline.render_with_facts(opened, renditions, placeholder=True)

            pipeline.placeholders.of = timed
            try:
                whole = cpu_ms(render, repeat)
            finally:
                pipeline.placeholders.of = made
            print(textwrap.shorten(recipe.replace("\n", " "), 200))
            print(f"  render {whole:.1f} ms, of which the placeholder {statistics.median(spent):.2f} ms")


if __name__ == "__main__":
    main()
