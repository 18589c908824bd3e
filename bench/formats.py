"""What a HEIC, a camera RAW and a wide-gamut photo cost against a plain sRGB JPEG: the
example recipe (fit 1600 px JPEG q85 with the watermark + fill 400 px WebP q80) through
`pipeline.render()`, in this process, one thread, as one worker of a busy daemon.

    python -m bench --only formats          (rows in the main table)
    python -m bench.formats [--repeat 7]    (this table alone)

The sources are made from one 12 MP photo of the bench corpus, with the tests' own
file makers (tests/sources.py): the JPEG itself (sRGB, no profile), the same tagged
Display P3, a HEIC of it (pillow-heif, quality 90, 4:2:0, as a phone writes), and a DNG
whose sensor saw it (12-bit RGGB mosaic) with a full-size embedded JPEG preview, as most
cameras embed. Medians of --repeat, ratios against the sRGB JPEG in the same run.
"""
from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bench import corpus
from bench.stages import FILL, FIT
from bench.timing import median_ms
from hotfolder.config.model import Rendition
from hotfolder.engine import pipeline

ALL = ("jpeg", "png", "webp", "tiff", "heic", "raw")
FULL = Rendition(name="full", operation="fit", width=4000, height=4000, format="jpeg")  # needs the whole sensor


@dataclass(frozen=True)
class Case:
    label: str
    src: Path
    raw: str = "auto"
    renditions: tuple[Rendition, ...] = (FIT, FILL)


def sources(work: Path, photo: Path) -> list[Case]:
    """The sources, made once under `work` (kept: making the HEIC takes seconds)."""
    from tests import sources as make

    work.mkdir(parents=True, exist_ok=True)
    with Image.open(photo) as im:
        picture = im.convert("RGB")
    p3, heic, dng = work / "p3.jpg", work / "photo.heic", work / "photo.dng"
    if not p3.exists():
        picture.save(p3, quality=92, icc_profile=make.display_p3_icc())
    if not heic.exists():
        make.heic(heic, picture, icc=make.display_p3_icc(), quality=90)
    if not dng.exists():
        make.dng(dng, picture, preview_scale=1)
    return [
        Case("sRGB JPEG (the baseline)", photo),
        Case("Display P3 JPEG → sRGB", p3),
        Case("HEIC, Display P3 → sRGB", heic),
        Case("DNG, embedded preview (raw: auto)", dng),
        Case("DNG, develop at half size (raw: develop)", dng, raw="develop"),
        Case("DNG, full develop (fit 4000 px alone, not the recipe)", dng, raw="develop", renditions=(FULL,)),
    ]


def measure(work: Path, photo: Path, repeat: int) -> list[tuple[Case, float]]:
    pipeline.warm_up()
    out = []
    for case in sources(work, photo):
        def once(case=case):
            pipeline.render(case.src, case.renditions, accepted_formats=ALL, max_image_pixels=10**9,
                            raw=case.raw, threads=1)
        out.append((case, median_ms(once, repeat)))
    return out


def table(results: list[tuple[Case, float]]) -> list[tuple[str, str, str]]:
    """(measure, result, ratio) rows; the first case is the baseline."""
    base = results[0][1]
    return [(case.label, f"{ms:.0f} ms", f"{ms / base:.2f}× sRGB JPEG") for case, ms in results]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.formats", description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hotfolder-bench")
    args = p.parse_args(argv)
    photo = corpus.generate(args.dir / "corpus" / "big12", "big12", 1)[0]
    rows = table(measure(args.dir / "formats", photo, args.repeat))
    print("| source → example recipe, one thread | median | ratio |\n|---|---|---|")
    for label, result, ratio in rows:
        print(f"| {label} | {result} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
