"""imgproxy's benchmark workload, side by side: 2K photographs → fit 512 px JPEG q80 on every
core, the daemon against a pyvips `thumbnail` script and vipsthumbnail, in the same run.

    python -m bench --only imgproxy         (rows in the main table)
    python -m bench.imgproxy                (this table alone)

imgproxy/image-servers-benchmark takes DIV2K_valid_HR (100 photographs, 2040 px on the long
side) converted to JPEG by `vips copy` (libvips' default quality 75), and asks each server
for `rs:fit:512:512/f:jpg/q:80` with 2 clients per core. Offline here (no download): the
bench corpus's photographs at DIV2K's shapes (2040×1356, 2040×1536, 2040×1080, 1356×2040),
JPEG quality 75 4:2:0, as `vips copy` writes them; metadata stripped from the outputs (the
ICC profile kept), as imgproxy does by default.

imgproxy's benchmark measures a server under steady load. So does this one: 480 files (DIV2K's
100 photographs about five times over, each file distinct), a burst of ~3.5 s per contender.
With 96 the daemon's burst lasted under a second, and its fixed start and tail (the first
file's events and claim, the last file alone on one core) were ~10 % of it. Measured
2026-12-05, one run each: at 96 files 0.87x pyvips (--dir on /tmp) and 0.95x (on tmpfs);
at 480, 1.03x and 1.13x, and 0.98x on /tmp right after a full test suite (README "Speed").

Contenders, --procs processes each (default: every core), one libvips thread each, rounds
interleaved, the median of --rounds (every round shown):
  - the daemon: a fresh `hotfolder run`, the files renamed into its inbox at once, wall time
    to the last file done: its `file_done` line (spool, claims, fsyncs and the archive move
    included; bench/bursts.py);
  - the engine alone: a spawn Pool.map of `pipeline.render()` writing each output (what the
    daemon's spool, claims and fsyncs add is the difference);
  - pyvips: a spawn Pool.map of `thumbnail(path, 512, height=512, size="down")` +
    `jpegsave(Q=80, keep="icc")`, what a libvips user writes;
  - vipsthumbnail: `vipsthumbnail -s 512x512 -o OUT/%s.jpg[Q=80,strip]`, one process per
    file over `xargs -P procs` (VIPS_CONCURRENCY=1), when libvips-tools is installed; on
    the first VIPS_FILES files only (a process a file has no start to amortise, and at
    ~25 files/s the whole set would take most of the section's time).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

from bench import timing
from bench.bursts import burst_with_cpu, median_split

SHAPES = ((2040, 1356), (2040, 1536), (2040, 1080), (1356, 2040))
FILES = 480  # see the module's doc: a steady load, not a sub-second burst
VIPS_FILES = 96
RECIPE = [{"name": "fit512", "operation": "fit", "size": "512x512", "format": "jpeg", "quality": 80,
           "metadata": "strip-all", "filename": "{stem}_{rendition}.jpg"}]


def corpus(root: Path, count: int) -> list[Path]:
    """DIV2K-shaped JPEGs at quality 75, made once (Pillow: libvips never starts in this
    process, which forks the other contenders)."""
    from bench import corpus as photos

    root.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = root / f"div2k_{i:04d}.jpg"
        files.append(path)
        if not path.exists():
            photos.photo(*SHAPES[i % len(SHAPES)], 900 + i).save(path.with_suffix(".tmp"), "JPEG", quality=75)
            path.with_suffix(".tmp").rename(path)
    return files


def _pyvips_one(job: tuple[str, str]) -> None:
    import pyvips

    path, out = job
    pyvips.concurrency_set(1)
    image = pyvips.Image.thumbnail(path, 512, height=512, size="down")
    image.jpegsave(os.path.join(out, Path(path).stem + ".jpg"), Q=80, keep="icc")


def _engine_init() -> None:
    from hotfolder.engine import pipeline

    pipeline.warm_up()


def _engine_one(job: tuple[str, str]) -> None:
    from hotfolder.config.model import Rendition
    from hotfolder.engine import pipeline

    path, out = job
    rendition = Rendition(name="fit512", operation="fit", width=512, height=512, format="jpeg", quality=80,
                          metadata="strip-all")
    (output,) = pipeline.render(path, (rendition,), accepted_formats=("jpeg",), max_image_pixels=10**8, threads=1)
    Path(out, Path(path).stem + ".jpg").write_bytes(output.data)


def pool_rate(pool, one, files: list[Path], out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    pool.map(one, [(str(f), str(out)) for f in files], chunksize=1)
    return len(files) / (time.perf_counter() - t0)


def vipsthumbnail_rate(files: list[Path], out: Path, procs: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    data = b"".join(os.fsencode(str(f)) + b"\0" for f in files)
    env = {**os.environ, "VIPS_CONCURRENCY": "1"}
    t0 = time.perf_counter()
    # `strip`: Debian's vipsthumbnail is libvips 8.14, before `keep` (it drops the ICC profile too)
    done = subprocess.run(["xargs", "-0", "-P", str(procs), "-n", "1", "vipsthumbnail", "-s", "512x512", "-o",
                           f"{out}/%s.jpg[Q=80,strip]"], input=data, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"vipsthumbnail failed: {done.stderr.decode(errors='replace')[-300:]}")
    return len(files) / seconds


def measure(root: Path, count: int, procs: int, rounds: int) -> dict:
    files = corpus(root / "corpus" / "div2k", count)
    work = Path(tempfile.mkdtemp(prefix="imgproxy-", dir=root))
    vips = shutil.which("vipsthumbnail") is not None
    rates: dict[str, list[float]] = {"daemon": [], "engine": [], "pyvips": [],
                                     **({"vipsthumbnail": []} if vips else {})}
    cpu: list[tuple[float, float]] = []  # the daemon's (supervisor, workers) CPU ms a file, per round
    try:
        with get_context("spawn").Pool(procs) as pool, get_context("spawn").Pool(procs, _engine_init) as engine:
            pool.map(_pyvips_one, [(str(f), str(work)) for f in files[:procs]], chunksize=1)  # warm
            engine.map(_engine_one, [(str(f), str(work)) for f in files[:procs]], chunksize=1)
            for k in range(rounds):
                burst = burst_with_cpu(work / f"daemon-{k}", files, procs, RECIPE, outputs_per_file=1)
                rates["daemon"].append(burst.rate)
                cpu.append((burst.supervisor_ms, burst.workers_ms))
                rates["engine"].append(pool_rate(engine, _engine_one, files, work / "engine"))
                rates["pyvips"].append(pool_rate(pool, _pyvips_one, files, work / "pyvips"))
                if vips:
                    rates["vipsthumbnail"].append(vipsthumbnail_rate(files[:VIPS_FILES], work / "vips", procs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"files": len(files), "procs": procs, "rates": rates, "daemon_cpu_ms": cpu}


LABELS = {"daemon": "**hotfolder daemon**, imgproxy's workload (2K JPEG → fit 512 q80)",
          "engine": "`pipeline.render()` Pool.map (the daemon's engine without its spool), imgproxy's workload",
          "pyvips": "pyvips `thumbnail` Pool.map, imgproxy's workload",
          "vipsthumbnail": f"vipsthumbnail, xargs -P, imgproxy's workload (its first {VIPS_FILES} files)"}


def table(found: dict) -> list[tuple[str, str, str, str, str]]:
    med = {k: statistics.median(v) for k, v in found["rates"].items() if v}
    base = med["pyvips"]
    rows = []
    for key, value in med.items():
        ratio = value / base
        target, met = ("≥ 1.2× pyvips", "yes" if ratio >= 1.2 else "**no**") if key == "daemon" else ("", "")
        rows.append((LABELS[key], f"{value:.1f} files/s", f"{ratio:.2f}× pyvips; {found['files']} files, "
                     f"{found['procs']} processes; rounds: " + ", ".join(f"{x:.1f}" for x in found["rates"][key]),
                     target, met))
    if found.get("daemon_cpu_ms"):
        sup, wrk = median_split(found["daemon_cpu_ms"])
        engine_ms = 1000 * found["procs"] / med["engine"]  # its Pool's wall time a file, on every core
        rows.append(("CPU a file, the daemon on imgproxy's workload (median of rounds)", f"{sup + wrk:.1f} ms",
                     f"supervisor {sup:.1f} ms + workers {wrk:.1f} ms; the engine's Pool.map took "
                     f"{engine_ms:.1f} ms of its {found['procs']} cores a file", "", ""))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.imgproxy", description=__doc__.split("\n")[0])
    p.add_argument("--files", type=int, default=FILES)
    p.add_argument("--procs", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dir", type=Path, default=Path(os.environ.get(
        "HOTFOLDER_BENCH_DIR", Path(tempfile.gettempdir()) / "hotfolder-bench")))
    p.add_argument("--json", action="store_true", help="print the measurements as one JSON line (python -m bench)")
    args = p.parse_args(argv)
    start = Path("/proc/loadavg").read_text().split()[0]
    found = {**measure(args.dir.resolve(), args.files, args.procs, args.rounds), "_load_start": start}
    return timing.report(found, table, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
