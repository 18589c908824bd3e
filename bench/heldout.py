"""`quality: auto` judged by the C++ reference SSIMULACRA2 on photos of your own: the scores
the outputs reach, and their bytes against a fixed q85 (issue 24's "done when").

    python -m bench.heldout PHOTOS --ssimulacra2 BIN [--format jpeg] [--box 1600] [--sharpen]

PHOTOS: a folder of real photos (JPEG, HEIC, PNG, ...). BIN: the reference tool
(cloudinary/ssimulacra2, built with cmake: it needs libhwy, lcms2, libjpeg and libpng
headers); not part of hotfolder. Each photo goes through `pipeline.render()` four times,
fit BOX px (sharpened `standard` with --sharpen): as PNG (the frame the encoder gets: the
reference), at `quality: auto` (target 80), and at a fixed 85; for JPEG also at 85 by
libjpeg-turbo, the JPEG encoder before jpegli ("today's q85"). The reference scores each
encoding against the PNG. Prints one JSON line per photo, then the minimum and median
score of the auto outputs and their bytes ÷ q85 (median of the per-photo ratios, total).
README "Quality: auto" quotes a run on 11 photos held out from the search's tuning.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

from PIL import Image

from bench.quality import without_jpegli
from hotfolder.config.model import SHARPEN_PRESETS, Rendition
from hotfolder.engine import formats, pipeline
from hotfolder.engine.autoencode import read_back
from hotfolder.engine.colour import convert_for
from hotfolder.engine.encoders import Encoding, jpeg

INPUTS = ("jpeg", "png", "heic", "webp", "tiff", "avif", "raw", "gif", "bmp")


def render(src: Path, rendition: Rendition) -> pipeline.Output:
    (out,) = pipeline.render(src, (rendition,), accepted_formats=INPUTS, max_image_pixels=10**9, threads=1)
    return out


def turbo(src: Path, rendition: Rendition) -> pipeline.Output:
    """The rendition written by libjpeg-turbo (Pillow), jpegli set aside for it."""
    with without_jpegli():
        return render(src, rendition)


def score(tool: str, frame: bytes, encoded: bytes, fmt: str) -> float:
    """The reference's score of `encoded` against `frame` (a PNG); a format the tool does
    not read (WebP, AVIF, JPEG XL) is given to it as a PNG, read back as the search reads
    its candidates (engine/autoencode.read_back), in its own bands."""
    with tempfile.TemporaryDirectory(prefix="heldout-") as tmp:
        a, b = Path(tmp, "frame.png"), Path(tmp, "encoded.jpg")
        a.write_bytes(frame)
        if fmt == "jpeg":
            b.write_bytes(encoded)
        else:
            b = b.with_suffix(".png")
            back = read_back(encoded, formats.get(fmt))
            (back if isinstance(back, Image.Image) else Image.fromarray(back)).save(b)
        out = subprocess.run([tool, str(a), str(b)], capture_output=True, text=True, check=True, timeout=300)
    return float(out.stdout.split()[-1])


def as_encoded(png: bytes, fmt: str, background: tuple[int, int, int]) -> bytes:
    """The frame's PNG in the mode the format's encoder gets it (engine/colour.convert_for:
    alpha flattened for JPEG, grey as RGB for WebP and AVIF)."""
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        converted = convert_for(im, formats.get(fmt), background)
        if converted is im:
            return png
    out = io.BytesIO()
    converted.save(out, "PNG")
    return out.getvalue()


def renditions(fmt: str, box: int, sharpen: bool) -> dict[str, Rendition]:
    base = Rendition(name="r", operation="fit", width=box, height=box, format=fmt,
                     sharpen=SHARPEN_PRESETS["standard"] if sharpen else None)
    return {"frame": replace(base, format="png"), "auto": replace(base, quality="auto"),
            "q85": replace(base, quality=85)}


def measure(photos: list[Path], tool: str, fmt: str, box: int, sharpen: bool) -> list[dict]:
    made = renditions(fmt, box, sharpen)
    rows = []
    for src in photos:
        try:
            rows.append(measure_one(src, tool, fmt, made))
        except (pipeline.InputError, subprocess.SubprocessError, ValueError, OSError) as exc:
            print(f"# {src.name}: left out: {type(exc).__name__}: {exc}", flush=True)
            continue
        print(json.dumps(rows[-1]), flush=True)
    return rows


def measure_one(src: Path, tool: str, fmt: str, made: dict[str, Rendition]) -> dict:
    """One photo's row; raises what the render or the tool raise (measure leaves it out)."""
    frame = as_encoded(render(src, made["frame"]).data, fmt, made["auto"].background)
    auto, q85 = render(src, made["auto"]), render(src, made["q85"])
    row = {"photo": src.name, "size": f"{auto.width}x{auto.height}", "auto_quality": auto.quality,
           "auto_score": score(tool, frame, auto.data, fmt), "logged_score": auto.score,
           "auto_bytes": len(auto.data), "q85_bytes": len(q85.data), "q85_score": score(tool, frame, q85.data, fmt)}
    if fmt == "jpeg":
        today = turbo(src, made["q85"])
        row.update(today_bytes=len(today.data), today_score=score(tool, frame, today.data, fmt))
    return row


def summary(rows: list[dict]) -> list[str]:
    scores = [r["auto_score"] for r in rows]
    lines = [f"auto scores: min {min(scores):.2f}, median {statistics.median(scores):.2f} ({len(rows)} photos)"]
    for against, label in (("q85", "the same encoder at q85"), ("today", "libjpeg-turbo q85 (today's JPEG)")):
        if f"{against}_bytes" not in rows[0]:
            continue
        per = statistics.median(r["auto_bytes"] / r[f"{against}_bytes"] for r in rows)
        total = sum(r["auto_bytes"] for r in rows) / sum(r[f"{against}_bytes"] for r in rows)
        said = statistics.median(r[f"{against}_score"] for r in rows)
        lines.append(f"bytes ÷ {label}: median {per:.3f}, total {total:.3f} (its median score {said:.2f})")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.heldout", description=__doc__.split("\n")[0])
    p.add_argument("photos", type=Path, help="a folder of photos")
    p.add_argument("--ssimulacra2", required=True, help="the reference tool's binary")
    p.add_argument("--format", default="jpeg", choices=("jpeg", "webp", "avif", "jxl"))
    p.add_argument("--box", type=int, default=1600, help="fit this many pixels (default 1600)")
    p.add_argument("--sharpen", action="store_true", help="sharpen: standard, as a shop's recipe would")
    args = p.parse_args(argv)
    photos = sorted(f for f in args.photos.iterdir() if f.is_file() and not f.name.startswith("."))
    if not photos:
        p.error(f"no photos in {args.photos}")
    if args.format == "jpeg":  # what "JPEG" means in the rows: jpegli, unless its wheel is missing or broken
        print(f"# JPEG encoder: {jpeg.codec(Image.new('RGB', (8, 8)), Encoding(85))}", flush=True)
    rows = measure(photos, args.ssimulacra2, args.format, args.box, args.sharpen)
    if not rows:
        print("no photo could be measured (see the lines above)")
        return 1
    print("\n".join(summary(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
