"""`quality: auto` against a fixed quality 85: bytes and time, on the same photos.

    python -m bench.quality [--files 8] [--repeat 3] [--dir DIR] [--json]

Photos: the bench corpus's big12 set (bench/corpus.py: 4000x3000 JPEGs tiled from
scikit-image's photographs with film grain; the grain makes them harder to compress than
most camera photos: the research found they need JPEG q86-91 to reach SSIMULACRA2 80,
real photos q61-90). Recipe: bench/stages.py's (fit 1600 px with the text watermark +
fill 400 px WebP q80), `pipeline.render()` at one libvips thread; only the fit
rendition's format and quality change between rows. Time: the CPU time of the whole
render (one thread, so other load on the machine inflates it least), the median of
--repeat per file, then the median over files of auto ÷ fixed. Bytes: the fit output.

Rows: per format, auto against the same encoder at 85; and JPEG auto (jpegli) against
today's JPEG at 85 (libjpeg-turbo through Pillow: what the issue's "80 % of the bytes"
is measured against, README "Quality: auto").
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench import corpus
from bench.stages import FILL, FIT
from hotfolder.engine import encode, pipeline
from hotfolder.engine.encoders import jpeg

FORMATS = ("jpeg", "webp", "avif", "jxl")


def render(src: Path, fit) -> tuple[float, pipeline.Output, int]:
    """CPU seconds of one render, the fit output, and how many encodes it made."""
    count = 0
    real = encode._save

    def counted(*args):
        nonlocal count
        count += 1
        return real(*args)

    encode._save = counted
    try:
        t = time.process_time()
        out = pipeline.render(src, (fit, FILL), accepted_formats=("jpeg",), max_image_pixels=10**8, threads=1)
        return time.process_time() - t, out[0], count - 1  # the fill's one encode aside
    finally:
        encode._save = real


@contextlib.contextmanager
def without_jpegli():
    """JPEG written by libjpeg-turbo (Pillow), as before jpegli: "today's JPEG"."""
    saved, jpeg._jpegli = jpeg._jpegli, None
    try:
        yield
    finally:
        jpeg._jpegli = saved


def measure(files: list[Path], repeat: int) -> list[dict]:
    pipeline.warm_up()
    variants = {"jpeg today": dataclasses.replace(FIT, format="jpeg", quality=85)}
    for fmt in FORMATS:
        variants[f"{fmt} 85"] = dataclasses.replace(FIT, format=fmt, quality=85)
        variants[f"{fmt} auto"] = dataclasses.replace(FIT, format=fmt, quality="auto")
    per: dict[str, list[dict]] = {name: [] for name in variants}
    for src in files:
        for name, fit in variants.items():
            with without_jpegli() if name == "jpeg today" else contextlib.nullcontext():
                render(src, fit)  # warm
                runs = [render(src, fit) for _ in range(repeat)]
            out = runs[0][1]
            per[name].append({"file": src.name, "cpu_ms": statistics.median(r[0] for r in runs) * 1000,
                              "bytes": len(out.data), "quality": out.quality, "score": out.score,
                              "encodes": runs[0][2]})
    rows = []
    pairs = [(f"{fmt} auto", f"{fmt} 85") for fmt in FORMATS] + [("jpeg auto", "jpeg today")]
    for auto, fixed in pairs:
        a, f = per[auto], per[fixed]
        both = list(zip(a, f, strict=True))
        rows.append({
            "auto": auto, "against": fixed, "files": len(a),
            "time_ratio": statistics.median(x["cpu_ms"] / y["cpu_ms"] for x, y in both),
            "time_ratio_max": max(x["cpu_ms"] / y["cpu_ms"] for x, y in both),
            "auto_ms": statistics.median(x["cpu_ms"] for x in a),
            "fixed_ms": statistics.median(y["cpu_ms"] for y in f),
            "bytes_ratio": statistics.median(x["bytes"] / y["bytes"] for x, y in both),
            "bytes_total_ratio": sum(x["bytes"] for x in a) / sum(y["bytes"] for y in f),
            "qualities": [x["quality"] for x in a], "encodes": statistics.mean(x["encodes"] for x in a),
        })
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| fit 1600 px | against | CPU ms per file (auto / fixed) | time × fixed: median (max) "
             "| bytes × fixed: median, total | qualities chosen | encodes |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['auto']} | {r['against']} | {r['auto_ms']:.0f} / {r['fixed_ms']:.0f} | "
              f"{r['time_ratio']:.2f} ({r['time_ratio_max']:.2f}) | "
              f"{r['bytes_ratio']:.2f}, {r['bytes_total_ratio']:.2f} | "
              f"{min(r['qualities'])}–{max(r['qualities'])} | {r['encodes']:.1f} |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.split("\n")[0])
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print the figures as JSON (for python -m bench)")
    p.add_argument("--dir", type=Path, default=Path(os.environ.get(
        "HOTFOLDER_BENCH_DIR", Path(tempfile.gettempdir()) / "hotfolder-bench")))
    args = p.parse_args(argv)
    os.environ.setdefault("VIPS_CONCURRENCY", "1")
    files = corpus.generate(args.dir / "corpus" / "big12", "big12", args.files)
    rows = measure(files, args.repeat)
    if args.json:
        print(json.dumps(rows))
    else:
        load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
        print(f"{len(files)} files of big12, median of {args.repeat} per file; load {load} at start\n")
        print(table(rows))


if __name__ == "__main__":
    main()
