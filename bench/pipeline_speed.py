"""Time pipeline.render() on a 12 MP JPEG -> fit 1600 JPEG q85 against the naive ways.

    python bench/pipeline_speed.py [--repeat 15] [--encoders]

All figures come from the same run (median of --repeat, single core, warm cache), so
the ratios compare like with like. --encoders also times the output formats at the
settings pipeline.ENCODER_OPTIONS uses against the slower ones it does not.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # run as a script: `bench` importable

from imaging import photo  # noqa: E402

from bench.timing import median_ms  # noqa: E402
from hotfolder.config.model import Rendition  # noqa: E402
from hotfolder.engine import pipeline  # noqa: E402

FIT = Rendition(name="web", operation="fit", width=1600, height=1600, format="jpeg", quality=85)


def naive(src: Path) -> bytes:
    with Image.open(src) as im:
        w, h = im.size
        scale = 1600 / max(w, h)
        out = im.resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def thumbnail(src: Path) -> bytes:
    with Image.open(src) as im:
        im.thumbnail((1600, 1600), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def rendered(src: Path, renditions=(FIT,)) -> list[pipeline.Output]:
    return pipeline.render(src, renditions, accepted_formats=["jpeg"], max_image_pixels=100_000_000)


def time_encoders(repeat: int) -> None:
    im = photo((1600, 1200))
    cases = [
        ("jpeg", {"quality": 85, **pipeline.ENCODER_OPTIONS["jpeg"]}),
        ("jpeg", {"quality": 85, "optimize": True}),
        ("webp", {"quality": 85, "method": 0}),
        ("webp", {"quality": 85, "method": 2}),
        ("webp", {"quality": 85, "method": 4}),
        ("avif", {"quality": 85, "speed": 8, "max_threads": 1}),
        ("avif", {"quality": 85, "speed": 9, "max_threads": 1}),
        ("png", {"compress_level": 1}),
        ("png", {"compress_level": 3}),
        ("png", {"compress_level": 6}),
    ]
    print("\nencoders, 1600x1200 photo:")
    for fmt, options in cases:
        size = 0

        def save(fmt=fmt, options=options):
            nonlocal size
            buf = io.BytesIO()
            im.save(buf, fmt, **options)
            size = buf.tell()

        ms = median_ms(save, max(3, repeat // 3))
        print(f"  {fmt:5} {str(options):60} {ms:7.1f} ms {size / 1024:8.0f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--encoders", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photo.jpg"
        photo((4000, 3000)).save(src, quality=92)
        print(f"source: 4000x3000 JPEG q92, {src.stat().st_size / 1e6:.1f} MB; Pillow {Image.__version__}")
        three = (
            FIT,
            Rendition(name="medium", operation="fit", width=800, height=800, format="jpeg"),
            Rendition(name="thumb", operation="fill", width=200, height=200, format="jpeg"),
        )
        times = {
            "render() fit 1600 q85": median_ms(lambda: rendered(src), args.repeat),
            "naive open->resize->save": median_ms(lambda: naive(src), args.repeat),
            "thumbnail()->save": median_ms(lambda: thumbnail(src), args.repeat),
            "render() 1600 + 800 + fill 200": median_ms(lambda: rendered(src, three), args.repeat),
        }
    ours = times["render() fit 1600 q85"]
    for name, ms in times.items():
        print(f"  {name:32} {ms:7.1f} ms   x{ms / ours:.2f} of render()")
    if args.encoders:
        time_encoders(args.repeat)


if __name__ == "__main__":
    main()
