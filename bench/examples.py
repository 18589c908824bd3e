"""The README's example images: the example config's watermark on a landscape and on a
portrait of the same size, rendered by the engine from scikit-image's bundled photos.

    python -m bench.examples [--out docs]

Writes docs/watermark-landscape.jpg and docs/watermark-portrait.jpg (600×400 and
400×600). The portrait is stored sideways with EXIF orientation 6, as a camera would,
so the images also show it turned upright. Same inputs, same bytes: run it again after
changing the watermark.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from PIL import Image

from hotfolder.config import load, model
from hotfolder.engine import pipeline
from hotfolder.engine.orient import ORIENTATION_TAG

ROOT = Path(__file__).resolve().parent.parent


def sources(into: Path) -> dict[str, Path]:
    """A 3:2 landscape (coffee) and a 2:3 portrait (the astronaut), as JPEG files."""
    from skimage import data

    landscape = Image.fromarray(data.coffee())  # 600x400
    portrait = Image.fromarray(data.astronaut()).crop((86, 0, 427, 512)).resize((400, 600), Image.Resampling.LANCZOS)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    paths = {"landscape": into / "landscape.jpg", "portrait": into / "portrait.jpg"}
    landscape.save(paths["landscape"], quality=95)
    portrait.transpose(Image.Transpose.ROTATE_90).save(paths["portrait"], quality=95, exif=exif)
    return paths


def example_web_rendition() -> model.Rendition:
    """The example config's `web` rendition (its watermark as configured), at 600 px."""
    example = load(ROOT / "config" / "hotfolder.yaml")
    web = next(r for r in example.folders[0].renditions if r.name == "web")
    return dataclasses.replace(web, width=600, height=600, quality=85)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.examples", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    args = p.parse_args(argv)
    rendition = example_web_rendition()
    with tempfile.TemporaryDirectory() as tmp:
        for name, src in sources(Path(tmp)).items():
            (out,) = pipeline.render(src, [rendition], accepted_formats=("jpeg",), max_image_pixels=10**8)
            target = args.out / f"watermark-{name}.jpg"
            target.write_bytes(out.data)
            print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
                  f"{out.width}×{out.height}, {len(out.data) / 1000:.0f} KB")


if __name__ == "__main__":
    main()
