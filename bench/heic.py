"""Phone HEICs: the daemon's whole render against libheif's decode alone, on the same files,
in the same run (issue 25's measure: the render at least 0.9× the decode's throughput).

    python -m bench --only heic [--heic DIR]     (rows in the main table)
    python -m bench.heic [--heic DIR]            (this table alone)

Files: every *.heic/*.heif/*.hif in --heic DIR (or $HOTFOLDER_BENCH_HEICS), real phone
files for a real figure; else four iPhone-shaped files made once (4032×3024 grids of
512 px tiles, 4:2:0, Display P3, EXIF orientation 1 or 6 written as irot, pillow-heif
quality 60: ~2 MB, as an iPhone's 1-3 MB; HEVC decoding time grows with the bitrate).

Contenders, all with `--procs` processes (default: every core), one thread each, rounds
interleaved, the median of --rounds:
  - libheif's decode alone: a spawn Pool over pi-heif's Pillow plugin `load()` (what the
    daemon did before any resampling);
  - `pipeline.render()` of the example recipe (config/hotfolder.yaml: fit 1600 JPEG q85 +
    watermark, fill 400 WebP q80, sRGB) in a spawn Pool of warmed workers, with FFmpeg's
    decoder (the heic-ffmpeg extra), and again with `import av` failing (libheif: an
    install without the extra);
  - the daemon: a fresh `hotfolder run` with that recipe and --procs workers, the files
    renamed into its inbox at once, wall time to the last file done (bench/bursts.py).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

from bench import timing
from bench.bursts import daemon_rate

EXTENSIONS = (".heic", ".heif", ".hif")
EXAMPLE_RECIPE = [  # config/hotfolder.yaml's renditions
    {"name": "web", "operation": "fit", "size": "1600x1600", "format": "jpeg", "quality": 85,
     "filename": "{stem}_{rendition}.{ext}", "metadata": "strip-gps", "color_profile": "srgb",
     "watermark": {"text": "© Example Studio", "position": "bottom-right", "opacity": 0.6, "size": 0.33,
                   "margin": 0.02}},
    {"name": "thumb", "operation": "fill", "size": "400x400", "format": "webp", "quality": 80,
     "filename": "{stem}_{rendition}.{ext}"},
]
MODES = ("libheif decode alone", "render(), FFmpeg's decoder", "render(), libheif (no extra)")
DAEMON = "the daemon (hotfolder run), FFmpeg's decoder"


def phone_files(root: Path, count: int = 4) -> list[Path]:
    """iPhone-shaped HEICs, made once under root (x265 takes ~10 s a file)."""
    import numpy as np  # noqa: F401  (pillow-heif needs it)
    import pillow_heif
    from PIL import Image

    from bench import corpus
    from hotfolder.engine import colour

    root.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = root / f"phone_{i}.heic"
        files.append(path)
        if path.exists():
            continue
        orientation = (1, 6)[i % 2]
        picture = corpus.photo(4032, 3024, 500 + i)  # stored landscape; 6: a portrait, as an iPhone's
        exif = Image.Exif()
        exif[0x010F], exif[0x0112] = "Apple", orientation
        heif = pillow_heif.from_pillow(picture)
        tmp = path.with_suffix(".tmp")
        heif.save(tmp, format="HEIF", quality=60, chroma=420, tile_size=512, exif=exif.tobytes(),
                  icc_profile=colour.p3_icc())
        tmp.rename(path)
    return files


def given_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS and p.is_file())


def _init(mode: int) -> None:
    if mode == 2:
        sys.modules["av"] = None  # type: ignore[assignment]  # as if the extra were not installed
    from hotfolder.engine import pipeline
    from hotfolder.engine.decoders import heif

    pipeline.warm_up()
    heif.use_threads(1)


def _decode_alone(path: str) -> str:
    from PIL import Image

    from hotfolder.engine.decoders import heif  # noqa: F401  (registers pi-heif's Pillow plugin)

    with Image.open(path, formats=["HEIF"]) as im:
        im.load()
    return path


def _render(path: str) -> str:
    from bench.stages import FILL, FIT
    from hotfolder.engine import pipeline

    pipeline.render(path, (FIT, FILL), accepted_formats=("heic",), max_image_pixels=3 * 10**8, threads=1)
    return path


def interleaved(files: list[Path], procs: int, rounds: int, work: Path) -> dict[str, list[float]]:
    """files/s of each contender, per round; each round runs every contender in turn (a burst
    of load from elsewhere hits them alike), the pools idle while the daemon runs."""
    ctx = get_context("spawn")
    jobs = [str(f) for f in files]
    started = [ctx.Pool(procs, initializer=_init, initargs=(m,)) for m in range(len(MODES))]
    rates: dict[str, list[float]] = {m: [] for m in (*MODES, DAEMON)}
    try:
        for m, pool in enumerate(started):  # warm: one pass
            pool.map(_decode_alone if m == 0 else _render, jobs, chunksize=1)
        for k in range(rounds):
            for m, pool in enumerate(started):
                t0 = time.perf_counter()
                pool.map(_decode_alone if m == 0 else _render, jobs, chunksize=1)
                rates[MODES[m]].append(len(jobs) / (time.perf_counter() - t0))
            rates[DAEMON].append(daemon_rate(work / f"daemon-{k}", files, procs, EXAMPLE_RECIPE,
                                             outputs_per_file=2))
    finally:
        for pool in started:
            pool.close()
            pool.join()
    return rates


def measure(root: Path, heic_dir: Path | None, procs: int, rounds: int, copies: int) -> dict:
    files = given_files(heic_dir) if heic_dir else phone_files(root / "corpus" / "phone-heic")
    if not files:
        raise RuntimeError(f"no HEIC files in {heic_dir}")
    work = Path(tempfile.mkdtemp(prefix="heic-", dir=root))
    batch = [work / f"{i}_{f.name}" for i in range(copies) for f in files]
    for copy, f in zip(batch, [f for _ in range(copies) for f in files], strict=True):
        copy.write_bytes(f.read_bytes())
    try:
        rates = interleaved(batch, procs, rounds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"files": [f.name for f in files], "copies": copies, "procs": procs,
            "source": str(heic_dir) if heic_dir else "iPhone-shaped, made here", "rates": rates}


def table(found: dict) -> list[tuple[str, str, str, str, str]]:
    """(measure, result, ratios, target, met) rows."""
    med = {k: statistics.median(v) for k, v in found["rates"].items()}
    base = med[MODES[0]]
    what = f"{len(found['files'])} HEICs ({found['source']}) ×{found['copies']}, {found['procs']} processes"
    rows = []
    for k, v in med.items():
        ratio = v / base
        judged = k.startswith("the daemon")
        rows.append((f"HEIC → example recipe: {k}", f"{v:.2f} files/s",
                     f"{ratio:.2f}× libheif decode alone; {what}; rounds: "
                     + ", ".join(f"{x:.2f}" for x in found["rates"][k]),
                     "≥ 0.9× libheif decode alone" if judged else "", ("yes" if ratio >= 0.9 else "**no**") if judged
                     else ""))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.heic", description=__doc__.split("\n")[0])
    p.add_argument("--heic", type=Path, default=os.environ.get("HOTFOLDER_BENCH_HEICS"), help="a folder of HEICs")
    p.add_argument("--procs", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--copies", type=int, default=2, help="each file this many times a round")
    p.add_argument("--dir", type=Path, default=Path(os.environ.get(
        "HOTFOLDER_BENCH_DIR", Path(tempfile.gettempdir()) / "hotfolder-bench")))
    p.add_argument("--json", action="store_true", help="print the measurements as one JSON line (python -m bench)")
    args = p.parse_args(argv)
    start = Path("/proc/loadavg").read_text().split()[0]
    found = {**measure(args.dir.resolve(), args.heic, args.procs, args.rounds, args.copies), "_load_start": start}
    return timing.report(found, table, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
