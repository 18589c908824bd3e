"""One benchmark command: hotfolder against what a user would pick instead, all
measured in the same run, on the same corpus and the same recipe (12 MP JPEG ->
fit 1600 px JPEG q85; --thumb adds a 400 px rendition), on all cores.

    python -m bench                    # everything, 24 files per contender
    python -m bench --quick            # 8 files, shorter windows
    python -m bench --only seed,bare,daemon --files 48
    python -m bench --write-results    # also append to bench/RESULTS.md

Rows (see bench/README.md): seed-style Pool.map, Pillow draft+LANCZOS Pool.map
(a peer), pyvips thumbnail Pool.map, vipsthumbnail and ImageMagick over xargs -P
<cores>, the floor (decode at DCT scale + the encodes, nothing else), the daemon's
burst throughput, its per-file worker cost against the floor's, its workers' busy
share during the burst, added latency close -> output, peak RSS of the daemon's
process tree at a backlog of 10 / 10,000 / 100,000 small files, the time to the
first claim with 100,000 files waiting, what each optional rendition key (sharpen,
crop, max_bytes, progressive, set_metadata) adds to one file's render, and what a HEIC,
a RAW (preview, develop) and a Display P3 JPEG cost against an sRGB JPEG (bench/formats.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make `import bench` work
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from multiprocessing import get_context

import PIL

from bench import bare, corpus, floor, pyvips_pool, seed
from bench.daemon import (
    DaemonUnavailable,
    bench_daemon,
    cpu_seconds,
    daemon_backlog,
    daemon_burst,
    daemon_latency,
    daemon_trickle,
    effective_quiet_period,
    logged_durations,
    runqueue_seconds,
    runqueue_waits,
    stop,
)
from bench.recipe import expected_outputs, output_name
from bench.recipe import renditions as recipe_renditions
from bench.workspace import fresh, log
from tests.harness import Daemon, DaemonFailed, worker_pids

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "RESULTS.md"
TRICKLE_EVERY = 0.25  # seconds between files of the trickle row: 4 a second, well within 2 workers

SECTIONS = ("single", "seed", "bare", "pyvips", "vips", "magick", "floor", "daemon", "latency", "backlog",
            "features", "formats", "quality", "duplicates", "recipe", "heic", "imgproxy", "small")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- small helpers ------------------------------------------------------------

def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1








def count_done(outdir: Path, files, renditions) -> int:
    names = set(os.listdir(outdir)) if outdir.exists() else set()
    want = expected_outputs(files, renditions)
    return sum(all(n in names for n in group) for group in want.values())


def verify(outdir: Path, files, renditions, prefix: str = "") -> str | None:
    """Every output has the upright size the recipe asks for (headers only, untimed):
    no contender wins by doing less. Returns a problem, or None."""
    from PIL import Image, ImageOps

    from bench.recipe import fit
    bad = []
    for f in files:
        with Image.open(f) as im:
            upright = ImageOps.exif_transpose(im).size if im.getexif().get(0x0112, 1) in (5, 6, 7, 8) else im.size
        for r in renditions:
            out = outdir / output_name(prefix + Path(f).stem, r)
            with Image.open(out) as o:
                want = fit(upright, r.box)
                if abs(o.size[0] - want[0]) > 1 or abs(o.size[1] - want[1]) > 1 or o.format != "JPEG":
                    bad.append(f"{out.name}: {o.format} {o.size[0]}x{o.size[1]}, want {want[0]}x{want[1]}")
    return f"{len(bad)} outputs differ from the recipe, e.g. {bad[0]}" if bad else None


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def loadavg() -> str:
    """The 1-minute load average: on a shared machine, shows what else was running."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    info = {
        "nproc": cores(),
        "cpu": cpu,
        "memory_gib": round(mem / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "loadavg_at_start": loadavg(),
        "libjpeg_turbo": PIL.features.version("libjpeg_turbo") if hasattr(PIL, "features") else None,
    }
    try:
        repo = ROOT.parent
        info["git"] = subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty"],
                                     capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "daemon"],
                               capture_output=True, text=True).stdout.split("\n")
        info["daemon_uncommitted"] = [line[3:] for line in dirty if line.strip()]
    except OSError:
        pass
    vips = shutil.which("vipsthumbnail")
    if vips:
        out = subprocess.run([vips, "--vips-version"], capture_output=True, text=True)
        info["vips"] = out.stdout.strip() or out.stderr.strip()
    magick = find_magick()
    if magick:
        out = subprocess.run([magick, "-version"], capture_output=True, text=True)
        info["imagemagick"] = out.stdout.splitlines()[0].replace("Version: ", "") if out.stdout else "?"
    return info


import PIL.features  # noqa: E402  (for machine())

# --- contenders that are not the daemon ---------------------------------------

def run_pool(module, files, outdir: Path, renditions, procs: int) -> float:
    fresh(outdir)
    with get_context("fork").Pool(procs) as pool:
        pool.map(abs, range(procs))  # workers up before the clock starts
        t0 = time.perf_counter()
        module.run(pool, files, outdir, renditions)
        elapsed = time.perf_counter() - t0
    done = count_done(outdir, files, renditions)
    if done != len(files):
        raise RuntimeError(f"{module.__name__}: only {done} of {len(files)} files rendered")
    return elapsed


def run_single(files, outdir: Path, renditions) -> list[float]:
    """bare.render in this process, one file after another: seconds per file."""
    fresh(outdir)
    times = []
    for f in files:
        t0 = time.perf_counter()
        bare.render((str(f), str(outdir), renditions))
        times.append(time.perf_counter() - t0)
    return times


def find_magick() -> str | None:
    """A real ImageMagick binary (magick for IM7, convert for IM6); skips stand-ins."""
    for c in (shutil.which("magick"), "/usr/bin/magick", "/usr/bin/convert", shutil.which("convert")):
        if not c or not os.path.exists(c):
            continue
        try:
            with open(os.path.realpath(c), "rb") as fh:
                if fh.read(2) == b"#!":  # a script, e.g. a fake convert in /usr/local/bin
                    continue
            out = subprocess.run([c, "-version"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if "ImageMagick" in out.stdout:
            return c
    return None


def xargs(files, procs: int, command: list[str]) -> float:
    """Run `command FILE` for every file over `xargs -0 -P procs -n 1`; wall seconds."""
    data = b"".join(os.fsencode(str(f)) + b"\0" for f in files)
    t0 = time.perf_counter()
    proc = subprocess.run(["xargs", "-0", "-P", str(procs), "-n", "1", *command], input=data,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {proc.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def run_vips(files, outdir: Path, renditions, procs: int) -> float:
    fresh(outdir)
    steps = " && ".join(
        f"vipsthumbnail -s {r.box} -o {shlex.quote(str(outdir))}/%s_{r.name}.jpg[Q={r.quality}] \"$1\""
        for r in renditions)
    elapsed = xargs(files, procs, ["sh", "-c", steps, "_"])
    done = count_done(outdir, files, renditions)
    if done != len(files):
        raise RuntimeError(f"vipsthumbnail: only {done} of {len(files)} files rendered")
    return elapsed


def run_magick(binary: str, files, outdir: Path, renditions, procs: int) -> float:
    fresh(outdir)
    ordered = sorted(renditions, key=lambda r: -r.box)
    ops = []
    for i, r in enumerate(ordered):
        target = f'"$o/${{b}}_{r.name}.jpg"'
        ops.append(f'-resize "{r.box}x{r.box}>" -quality {r.quality} '
                   + (f"-write {target}" if i < len(ordered) - 1 else target))
    script = (f'o={shlex.quote(str(outdir))}; b=$(basename "$1" .jpg); '
              f'exec {shlex.quote(binary)} "$1" -auto-orient {" ".join(ops)}')
    elapsed = xargs(files, procs, ["sh", "-c", script, "_"])
    done = count_done(outdir, files, renditions)
    if done != len(files):
        raise RuntimeError(f"ImageMagick: only {done} of {len(files)} files rendered")
    return elapsed


# --- the run ------------------------------------------------------------------

@dataclass
class Row:
    measure: str
    result: str
    ratios: str = ""
    target: str = ""
    met: str = ""


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def fps(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="sections: " + ", ".join(SECTIONS))
    p.add_argument("--files", type=int, help="12 MP files per contender (default 24; 8 with --quick)")
    p.add_argument("--only", help="comma-separated sections to run (default: all)")
    p.add_argument("--skip", help="comma-separated sections to leave out")
    p.add_argument("--quick", action="store_true", help="fewer files, drops and shorter windows")
    p.add_argument("--repeat", type=int, help="rounds over all throughput contenders, round-robin; "
                   "each keeps its best (default 3; 1 with --quick)")
    p.add_argument("--thumb", action="store_true", help="add a second rendition: 400 px thumbnail")
    p.add_argument("--procs", type=int, default=cores(), help="processes / workers (default: all cores)")
    p.add_argument("--latency-drops", type=int, help="files dropped one at a time (default 20; 6 with --quick)")
    p.add_argument("--backlogs", default="10,10000,100000", help="backlog sizes for the RSS rows")
    p.add_argument("--window", type=float, help="seconds of RSS sampling per backlog (default 20; 8 with --quick)")
    p.add_argument("--quiet-period", type=float,
                   help="set quiet_period in the daemon's config (default: the daemon's default)")
    p.add_argument("--dir", type=Path,
                   default=Path(os.environ.get("HOTFOLDER_BENCH_DIR", Path(tempfile.gettempdir()) / "hotfolder-bench")),
                   help="corpus cache and scratch folder (default $HOTFOLDER_BENCH_DIR or /tmp/hotfolder-bench)")
    p.add_argument("--keep", action="store_true",
                   help="keep the scratch folder (daemon logs, outputs) and print its path")
    p.add_argument("--write-results", action="store_true", help="append the table and raw numbers to bench/RESULTS.md")
    p.add_argument("--heic", type=Path, default=os.environ.get("HOTFOLDER_BENCH_HEICS"),
                   help="section heic: a folder of (real phone) HEICs (default: iPhone-shaped ones made here)")
    p.add_argument("--baseline-tree", type=Path, help="section small: another checkout's root, run in the same run")
    args = p.parse_args(argv)
    only = set(SECTIONS) if not args.only else {s.strip() for s in args.only.split(",")}
    only -= {s.strip() for s in (args.skip or "").split(",") if s.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        p.error(f"unknown section {sorted(unknown)[0]!r}; sections: {', '.join(SECTIONS)}")
    args.sections = only
    args.files = args.files or (8 if args.quick else 24)
    args.repeat = max(1, args.repeat or (1 if args.quick else 3))
    args.latency_drops = args.latency_drops or (6 if args.quick else 20)
    args.window = args.window or (8.0 if args.quick else 20.0)
    args.backlog_sizes = [int(x) for x in args.backlogs.split(",") if x.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    want = args.sections
    procs = args.procs
    rends = recipe_renditions(args.thumb)
    root = args.dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=root))  # same filesystem as the corpus
    raw: dict = {"started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 "machine": machine(), "files": args.files, "procs": procs,
                 "renditions": [r.__dict__ for r in rends], "quiet_period": args.quiet_period}
    notes: list[str] = []
    t_all = time.perf_counter()

    log(f"corpus: {args.files} x big12 in {root / 'corpus'}")
    files = corpus.generate(root / "corpus" / "big12", "big12", args.files)
    for f in files:  # into the page cache before any contender runs
        f.read_bytes()
    latency_src = files[2 % len(files)]

    results: dict[str, float] = {}  # contender -> best files/s over the rounds
    rounds: dict[str, list[float]] = {}  # contender -> seconds per round

    def stems(prefix: str):
        return [f.with_name(prefix + f.name) for f in files]

    # (key, label, run(round) -> seconds, verify(round) -> problem or None)
    contenders: list[tuple[str, str, object, object]] = []

    def pool_contender(key, label, module):
        out = scratch / f"out-{key}"
        contenders.append((key, label, lambda k: run_pool(module, files, out, rends, procs),
                           lambda k: verify(out, files, rends)))

    if want & {"single", "bare"}:
        out = scratch / "out-single"
        contenders.append(("single", "single process (bare)", lambda k: sum(run_single(files, out, rends)),
                           lambda k: None))
    if "seed" in want:
        pool_contender("seed", "seed Pool.map", seed)
    if "bare" in want:
        pool_contender("bare", "Pillow draft + LANCZOS Pool.map", bare)
    if "pyvips" in want:
        pool_contender("pyvips", "pyvips thumbnail Pool.map", pyvips_pool)
    if want & {"floor", "daemon"}:
        out_f = scratch / "out-floor"  # its outputs are unturned crops: nothing to verify
        contenders.append(("floor", "floor Pool.map", lambda k: run_pool(floor, files, out_f, rends, procs),
                           lambda k: None))
    if "vips" in want:
        if shutil.which("vipsthumbnail"):
            out_v = scratch / "out-vips"
            contenders.append(("vips", "vipsthumbnail", lambda k: run_vips(files, out_v, rends, procs),
                               lambda k: verify(out_v, files, rends)))
        else:
            notes.append("vipsthumbnail: skipped, not installed (apt-get install libvips-tools)")
    if "magick" in want:
        binary = find_magick()
        if binary:
            raw["magick_binary"] = binary
            out_m = scratch / "out-magick"
            contenders.append(("magick", "ImageMagick", lambda k: run_magick(binary, files, out_m, rends, procs),
                               lambda k: verify(out_m, files, rends)))
        else:
            notes.append("ImageMagick: skipped, not installed (apt-get install imagemagick; "
                         "a script named convert is not ImageMagick)")

    daemons: dict[int, Daemon] = {}

    def daemon_round(k: int) -> float:
        """A fresh daemon per round, started and ready before the clock starts, stopped
        after: nothing of it runs while the other contenders are timed."""
        d = daemons[k] = bench_daemon(fresh(scratch / f"daemon-r{k}"), rends, procs, args.quiet_period)
        with d:
            d.start(wait_ready=False)
            ready = d.wait_ready(60)
            raw.setdefault("daemon_ready_s", []).append(ready)
            raw["daemon_quiet_period_s"] = effective_quiet_period(d, args.quiet_period)
            workers = worker_pids(d)
            cpu0 = cpu_seconds(d.proc.pid)
            work0 = sum(cpu_seconds(w) for w in workers)
            waits0 = {w: runqueue_waits(w) for w in workers}
            seconds = daemon_burst(d, files, rends)
            work = sum(cpu_seconds(w) for w in workers) - work0
            waited = runqueue_seconds(waits0, workers)
            main_cpu = cpu_seconds(d.proc.pid) - cpu0
            raw.setdefault("daemon_main_cpu_share", []).append(main_cpu / seconds)
            if len(workers) == procs:  # else the workers were not all found: no figure
                raw.setdefault("daemon_busy_share", []).append(work / (seconds * procs))
                raw.setdefault("daemon_runqueue_share", []).append(waited / (seconds * procs))
            raw.setdefault("daemon_exit_code", []).append(stop(d))
            pipeline_ms = logged_durations(d, "file_rendered")
            if pipeline_ms:
                raw.setdefault("daemon_pipeline_ms_median", []).append(statistics.median(pipeline_ms))
        return seconds

    if "daemon" in want:
        contenders.append(("daemon", "hotfolder daemon burst", daemon_round,
                           lambda k: verify(daemons[k].output, files, rends)))

    for k in range(args.repeat):
        log(f"round {k + 1} of {args.repeat}")
        for key, label, run_fn, verify_fn in contenders:
            if key in rounds and rounds[key] is None:
                continue  # failed in an earlier round
            try:
                seconds = run_fn(k)
            except Exception as exc:  # noqa: BLE001 - a failed contender is a note, not a crash
                unusable = isinstance(exc, (DaemonUnavailable, DaemonFailed))
                what = "skipped, the daemon is not usable yet" if unusable else "failed"
                notes.append(f"{label}: {what}: {str(exc).splitlines()[0]}")
                log(f"  {label} failed: {exc}")
                rounds[key] = None
                results.pop(key, None)
                continue
            rounds.setdefault(key, []).append(seconds)
            results[key] = fps(len(files), min(rounds[key]))
            log(f"  {label}: {fps(len(files), seconds):.2f} files/s ({seconds:.2f} s, load {loadavg()})")
            if k == 0:
                problem = verify_fn(k)
                if problem:
                    why = " (expected: the seed ignores EXIF orientation)" if key == "seed" else ""
                    notes.append(f"{label}: {problem}{why}")
    raw["throughput"] = {key: {"seconds_per_round": secs,
                               "best_files_per_s": results.get(key)} for key, secs in rounds.items()}
    single = results.pop("single", None)
    if single:
        raw["single"] = {"files_per_s": single}

    latency = None
    if "latency" in want and rounds.get("daemon", []) is not None:
        try:
            with bench_daemon(fresh(scratch / "daemon-latency"), rends, procs, args.quiet_period) as d:
                d.start(timeout=60)
                time.sleep(1.0)
                log(f"latency: {args.latency_drops} drops, one at a time")
                latency = daemon_latency(d, latency_src, args.latency_drops, rends)
                raw["latency_s"] = latency
                raw["latency_render_ms"] = logged_durations(d, "file_rendered")
                log(f"trickle: {args.latency_drops} files, one every {TRICKLE_EVERY} s")
                raw["trickle_s"] = daemon_trickle(d, latency_src, args.latency_drops, rends, TRICKLE_EVERY)
        except (DaemonUnavailable, DaemonFailed) as exc:
            notes.append(f"latency row: skipped, the daemon is not usable yet: {str(exc).splitlines()[0]}")
            log(f"daemon unavailable: {exc}")
        except Exception as exc:  # noqa: BLE001
            notes.append(f"latency row: failed: {str(exc).splitlines()[0]}")
            log(f"latency failed: {exc}")

    backlog: list[dict] = []
    if "backlog" in want and args.backlog_sizes:
        biggest = max(args.backlog_sizes)
        log(f"corpus: {biggest} x small")
        small = corpus.generate(root / "corpus" / "small", "small", biggest)
        for n in args.backlog_sizes:
            log(f"backlog of {n} small files: {args.window:.0f} s of RSS sampling")
            try:
                b = daemon_backlog(scratch / f"backlog-{n}", small[:n], rends, procs, args.window,
                                   args.quiet_period)
            except (DaemonUnavailable, DaemonFailed) as exc:
                notes.append(f"backlog rows: skipped, the daemon is not usable yet: {exc}")
                log(f"daemon unavailable: {exc}")
                break
            except Exception as exc:  # noqa: BLE001
                notes.append(f"backlog {n}: failed: {exc}")
                log(f"backlog {n} failed: {exc}")
                continue
            finally:
                shutil.rmtree(scratch / f"backlog-{n}", ignore_errors=True)
            backlog.append(b)
            log(f"  peak RSS {b['peak_rss_bytes'] / 2**20:.1f} MiB over {b['peak_processes']} processes, "
                f"first claim {b['first_claim_s']}, {b['archived_in_window']} archived")
        raw["backlog"] = backlog

    if "features" in want:
        log("features: what each optional rendition key costs (python -m bench.features, in a child process)")
        try:
            raw["features"] = run_features(root, 5 if args.quick else 11)
        except (subprocess.CalledProcessError, ValueError) as exc:
            notes.append(f"features rows: failed: {exc}")
    rows = table_rows(args, results, single, latency, raw, backlog, procs)
    rows += feature_rows(raw.get("features"))
    if "formats" in want:
        rows += format_rows(root, args, raw, notes)
    if "quality" in want:
        log("quality: quality: auto against a fixed 85 (python -m bench.quality, in a child process)")
        try:
            raw["quality"] = run_child("bench.quality", root, "--files", "4" if args.quick else "8",
                                       "--repeat", "1" if args.quick else "3")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError) as exc:
            notes.append(f"quality rows: failed: {exc}")
        rows += quality_rows(raw.get("quality"))
    if "duplicates" in want:
        rows += duplicate_rows(root, args, raw, notes)
    rounds = ["--rounds", "1" if args.quick else "3"]
    heics = ["--heic", str(args.heic)] if args.heic else []
    baseline = ["--baseline-tree", str(args.baseline_tree)] if args.baseline_tree else []
    for name, module, extra in (
            ("recipe", "stages", ["--repeat", "7" if args.quick else "21"]),
            ("heic", "heic", [*rounds, *heics]),
            ("imgproxy", "imgproxy", [*rounds, *(["--files", "96"] if args.quick else [])]),
            ("small", "small", [*rounds, *baseline])):
        if name in want:
            rows += section_rows(module, root, extra, raw, notes)
    raw["elapsed_s"] = time.perf_counter() - t_all
    text = render(rows, notes, args, procs, rends)
    print(text)
    if args.write_results:
        write_results(text, raw, argv)
        log(f"appended to {RESULTS}")
    if args.keep:
        log(f"scratch kept: {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def section_rows(name: str, root: Path, argv: list[str], raw: dict, notes: list[str]) -> list[Row]:
    """A section of its own module (bench/heic, imgproxy, small), in a child process: its
    pools and libvips threads never start in this process, which forks."""
    log(f"{name}: python -m bench.{name} {' '.join(argv)}")
    try:
        out = subprocess.run([sys.executable, "-m", f"bench.{name}", "--json", "--dir", str(root), *argv],
                             capture_output=True, text=True, check=True, cwd=ROOT.parent, timeout=3600)
        found = json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        tail = getattr(exc, "stderr", "") or ""
        said = (tail.strip().splitlines() or [""])[-1]
        notes.append(f"{name} rows: failed: {str(exc).splitlines()[0]} {said}")
        return []
    raw[name] = found
    module = importlib.import_module(f"bench.{name}")
    return [Row(*row) for row in module.table(found)]


def run_features(root: Path, repeat: int) -> list[dict]:
    """bench/features.py in a child: libvips threads must not start in this process, which forks."""
    out = subprocess.run([sys.executable, "-m", "bench.features", "--json", "--repeat", str(repeat),
                          "--dir", str(root)],
                         capture_output=True, text=True, check=True, cwd=ROOT.parent, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_child(module: str, root: Path, *args: str) -> list[dict]:
    """A bench module's --json figures, from a child (libvips threads must not start here)."""
    out = subprocess.run([sys.executable, "-m", module, "--json", "--dir", str(root), *args],
                         capture_output=True, text=True, check=True, cwd=ROOT.parent, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def quality_rows(found: list[dict] | None) -> list[Row]:
    """`quality: auto` against a fixed 85 on the same big12 files (bench/quality.py)."""
    return [Row(f"render(), fit 1600 {r['auto']} vs {r['against']} ({r['files']} big12 files)",
                f"{r['time_ratio']:.2f}× time",
                f"max {r['time_ratio_max']:.2f}×; bytes {r['bytes_ratio']:.2f}× median, "
                f"{r['bytes_total_ratio']:.2f}× total; q {min(r['qualities'])}–{max(r['qualities'])}; "
                f"{r['encodes']:.1f} encodes") for r in found or []]


def duplicate_rows(root: Path, args, raw: dict, notes: list[str]) -> list[Row]:
    """What knowing duplicates costs (bench/duplicates.py, in a child): the hashing against the
    render of a 12 MP JPEG, and the index of originals at 1,000,000 (--quick: 100,000)."""
    n = 100_000 if args.quick else 1_000_000
    log(f"duplicates: the hashing against the render, the index at {n:,} originals (python -m bench.duplicates)")
    try:
        out = subprocess.run([sys.executable, "-m", "bench.duplicates", "--json", "--rows", str(n), "--repeat",
                              str(5 if args.quick else 15), "--dir", str(root)],
                             capture_output=True, text=True, check=True, cwd=ROOT.parent, timeout=1800)
        found = raw["duplicates"] = json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.CalledProcessError, ValueError) as exc:
        notes.append(f"duplicates rows: failed: {exc}")
        return []
    h, i = found["hashing"], found["index"]
    per_million = i["db_bytes"] * 1_000_000 / i["rows"]
    return [
        Row("duplicates: read + BLAKE3 + the look of the decoded frame, per file",
            f"{h['read_blake3_ms'] + h['look_ms']:.2f} ms",
            f"{h['ratio'] * 100:.1f} % of the render ({h['render_ms']:.1f} ms); with SHA-256 "
            f"{h['ratio_sha256'] * 100:.1f} %", "≤ 3 % (issue 23)", yes(h["ratio"] <= 0.03)),
        Row(f"duplicates: a look-alike lookup among {i['rows']:,} originals",
            f"{i['lookup_p50_ms']:.2f} ms p50", f"p99 {i['lookup_p99_ms']:.2f} ms; a worker's mirror loads in "
            f"{i['mirror_first_load_ms']:.0f} ms; a duplicate's claim {i['duplicate_claim_ms']:.2f} ms",
            "≤ 20 ms (issue 23)", yes(i["lookup_p50_ms"] <= 20)),
        Row(f"duplicates: the index of {i['rows']:,} originals on disk", f"{i['db_bytes'] / 2**20:.0f} MiB",
            f"{i['bytes_per_row']:.0f} B an original", "≤ 200 MB at 1,000,000 (issue 23)",
            yes(per_million <= 200e6)),
    ]


def feature_rows(found: list[dict] | None) -> list[Row]:
    """One row per optional key: its cost per file against the plain recipe (fit 1600 JPEG
    with the watermark + fill 400 WebP), in one process, one libvips thread."""
    if not found:
        return []
    base = found[0]
    rows = [Row(f"render(), {base['variant']} (fit 1600 JPEG + watermark, fill 400 WebP), 1 thread",
                f"{base['ms']:.1f} ms", "the base of the rows below")]
    for f in found[1:]:
        if "base_ms" in f:  # reading a recipe's fields, against the render of the same camera-like file
            rows.append(Row(f["variant"], f"{f['ms']:.2f} ms",
                            f"{f['ratio'] * 100:.1f} % of that file's plain render ({f['base_ms']:.1f} ms); "
                            f"issue 22 allows 2 %"))
            continue
        rows.append(Row(f"render() + {f['variant']}", f"{f['ms']:.1f} ms",
                        f"{f['ratio']:.2f}× plain; {f['encodes']} encodes; fit output {f['fit_bytes'] / 1000:.0f} KB"))
    return rows


def table_rows(args, results, single, latency, raw, backlog, procs) -> list[Row]:
    rows: list[Row] = []
    base = {k: results.get(k) for k in ("seed", "bare", "pyvips", "vips", "magick", "floor")}

    def vs(value: float, keys) -> str:
        parts = [f"{value / base[k]:.2f}× {k}" for k in keys if base.get(k)]
        return ", ".join(parts)

    labels = {
        "seed": "seed-style Pool.map (open → resize → save)",
        "bare": "Pillow draft + LANCZOS Pool.map (peer)",
        "pyvips": "pyvips `thumbnail` Pool.map (peer)",
        "vips": f"vipsthumbnail, xargs -P {procs}",
        "magick": f"ImageMagick convert, xargs -P {procs}",
        "floor": "floor: decode at DCT scale + the encodes, Pool.map",
    }
    for key, label in labels.items():
        if key in results:
            v = results[key]
            ratios = vs(v, [k for k in ("seed",) if k != key])
            if key == "bare" and single:  # what this machine allows right now
                ratios += f"{'; ' if ratios else ''}its own scaling {v / (procs * single):.2f}"
            if key == "floor":
                ratios += f"{'; ' if ratios else ''}{procs * 1000 / v:.0f} ms per file, {procs} at once"
            rows.append(Row(label, f"{v:.2f} files/s", ratios))
    if single:
        rows.append(Row("single process, Pillow draft + LANCZOS", f"{single:.2f} files/s",
                        f"{1000 / single:.0f} ms/file"))
    if "daemon" in results:
        v = results["daemon"]
        checks = []
        targets = (("seed", 3.5, False), ("bare", 1.5, False), ("vips", 3.0, False), ("pyvips", 1.1, False),
                   ("magick", 1.0, True))
        for k, need, strict in targets:
            if base.get(k):
                ratio = v / base[k]
                checks.append(f"{k} {'yes' if (ratio > need if strict else ratio >= need) else '**no**'}")
        qp = raw.get("daemon_quiet_period_s")
        rows.append(Row("**hotfolder daemon, burst**", f"**{v:.2f} files/s**",
                        "; ".join(x for x in (vs(v, ["seed", "bare", "vips", "pyvips", "magick"]),
                                              f"includes quiet_period {qp:g} s" if qp is not None else "") if x),
                        "≥3.5× seed, ≥1.5× bare, ≥3× vips, ≥1.1× pyvips, >1× magick", ", ".join(checks)))
        pm = raw.get("daemon_pipeline_ms_median")
        if pm:
            best = min(pm)
            cpu = raw.get("daemon_main_cpu_share")
            note = ("median `file_rendered` duration_ms from its log (decode to fsync)"
                    + (f"; supervisor used {min(cpu):.0%} of a core" if cpu else ""))
            if base.get("floor"):
                floor_ms = procs * 1000 / base["floor"]
                raw["daemon_cost_over_floor"] = best / floor_ms
                rows.append(Row("daemon worker cost per file, during the burst", f"{best:.0f} ms",
                                f"{best / floor_ms:.2f}× floor ({floor_ms:.0f} ms, {procs} at once); " + note,
                                "≤ 1.5× floor", yes(best / floor_ms <= 1.5)))
            else:
                rows.append(Row("daemon worker cost per file, during the burst", f"{best:.0f} ms", note))
        busy = raw.get("daemon_busy_share")
        if busy:
            share = max(busy)  # the best round, as for the throughput
            waited = raw.get("daemon_runqueue_share") or []
            preempted = ("; runnable but waiting for a CPU (another process on the core): "
                         + ", ".join(f"{w:.2f}" for w in waited)) if len(waited) == len(busy) else ""
            rows.append(Row("workers' busy share during the burst", f"{share:.2f}",
                            f"workers' CPU time ÷ (wall time × {procs} workers); rounds: "
                            + ", ".join(f"{b:.2f}" for b in busy) + preempted, "≥ 0.95", yes(share >= 0.95)))
    if latency:
        own = raw.get("latency_render_ms") or []
        if len(own) == len(latency):  # each drop minus its own render, as the daemon logged it
            added = [x - ms / 1000 for x, ms in zip(latency, own, strict=False)]
        else:
            added = [x - statistics.median(own) / 1000 for x in latency] if own else list(latency)
        p50, p95 = statistics.median(added), pct(added, 95)
        render_ms = statistics.median(own) if own else 0.0
        raw["added_latency"] = {"render_ms_median": render_ms, "p50_s": p50, "p95_s": p95}
        qp = "daemon default" if args.quiet_period is None else f"{args.quiet_period} s"
        rows.append(Row("added latency close → output, idle daemon",
                        f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms",
                        f"raw p50 {statistics.median(latency) * 1000:.0f} ms − its own render "
                        f"(median {render_ms:.0f} ms, all cores' libvips threads); {len(latency)} drops; "
                        f"quiet_period: {qp}",
                        "p50 ≤ 150 ms", yes(p50 <= 0.15)))
    if raw.get("trickle_s"):
        trickle = raw["trickle_s"]
        own = statistics.median(raw.get("latency_render_ms") or [0.0])
        rows.append(Row(f"latency close → output, a file every {TRICKLE_EVERY} s",
                        f"p50 {statistics.median(trickle) * 1000:.0f} ms, p95 {pct(trickle, 95) * 1000:.0f} ms",
                        f"{len(trickle)} files, each arriving as the one before is claimed; its own render "
                        f"~{own:.0f} ms (the row above)",
                        "p50 ≤ render + 150 ms", yes(statistics.median(trickle) <= own / 1000 + 0.15)))
    if backlog:
        ref = next((b for b in backlog if b["backlog"] == min(x["backlog"] for x in backlog)), None)
        for b in backlog:
            mib = b["peak_rss_bytes"] / 2**20
            ratio = b["peak_rss_bytes"] / ref["peak_rss_bytes"] if ref and ref["peak_rss_bytes"] else 0
            note = (f"{ratio:.2f}× backlog {ref['backlog']:,}; {b['peak_processes']} processes; "
                    f"{b['archived_in_window']:,} done in {b['window_s']:.0f} s")
            target = met = ""
            if b is not ref and b["backlog"] >= 100_000:
                target, met = "≤ 1.2× backlog 10", yes(ratio <= 1.2)
            rows.append(Row(f"peak RSS, process tree, backlog {b['backlog']:,}", f"{mib:.1f} MiB", note, target, met))
        big = max(backlog, key=lambda b: b["backlog"])
        fc = big["first_claim_s"]
        rows.append(Row(f"first claim, {big['backlog']:,} files waiting at start",
                        "none in window" if fc is None else f"{fc:.2f} s",
                        "from `hotfolder run` launch to the first file in processing/ or output/",
                        "≤ 2 s", yes(fc is not None and fc <= 2.0)))
    return rows


def format_rows(root: Path, args, raw: dict, notes: list[str]) -> list[Row]:
    """HEIC, RAW (preview, develop) and a P3 JPEG against an sRGB JPEG: bench/formats.py."""
    from bench import formats

    log("formats: HEIC, DNG (preview, develop), P3 JPEG through render(), one thread")
    try:
        photo = corpus.generate(root / "corpus" / "big12", "big12", 1)[0]
        measured = formats.measure(root / "formats", photo, 3 if args.quick else 7)
    except Exception as exc:  # noqa: BLE001 - a failed section is a note, not a crash
        notes.append(f"formats rows: failed: {str(exc).splitlines()[0]}")
        return []
    raw["formats_ms"] = {case.label: ms for case, ms in measured}
    return [Row(f"{label}, 1 thread", result, ratio)
            for label, result, ratio in formats.table(measured)]


def render(rows: list[Row], notes: list[str], args, procs, rends) -> str:
    recipe = " + ".join(f"fit {r.box} px JPEG q{r.quality}" for r in rends)
    head = (f"12 MP JPEG → {recipe}; {args.files} files per contender; {procs} processes; "
            f"best of {args.repeat} round-robin round{'s' if args.repeat > 1 else ''}; ratios from this run\n\n")
    lines = ["| measure | result | ratios (same run) | target | met |",
             "|---|---|---|---|---|"]
    lines += [f"| {r.measure} | {r.result} | {r.ratios} | {r.target} | {r.met} |" for r in rows]
    text = head + "\n".join(lines) + "\n"
    if notes:
        text += "\n" + "\n".join(f"- {n.splitlines()[0]}" for n in notes) + "\n"
    return text


def write_results(text: str, raw: dict, argv) -> None:
    m = raw["machine"]
    cmd = "python -m bench " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    when = raw["started"]
    section = [
        f"## {when}",
        "",
        f"- machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}",
        f"- Python {m['python']}, Pillow {m['pillow']} (libjpeg-turbo {m.get('libjpeg_turbo')}), "
        f"{m.get('vips', 'no libvips')}, {m.get('imagemagick', 'no ImageMagick')}",
        f"- command: `{cmd.strip()}` at `{m.get('git', '?')}`"
        + (f" (uncommitted daemon files: {', '.join(m['daemon_uncommitted'])})" if m.get("daemon_uncommitted") else ""),
        f"- load average (1 min) at start: {m.get('loadavg_at_start')}",
        "",
        text.rstrip(),
        "",
        "<details><summary>raw numbers</summary>",
        "",
        "```json",
        "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v, default=str)}" for k, v in raw.items()) + "\n}",
        "```",
        "</details>",
        "",
    ]
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nAppended by `python -m bench --write-results`; "
                           "newest last. See bench/README.md for what each row means.\n\n")
    with open(RESULTS, "a") as fh:
        fh.write("\n".join(section) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
