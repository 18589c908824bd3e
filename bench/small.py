"""Small files: 10,000 64 px JPEGs through the daemon with the example recipe, and one small
file's render with Pillow resampling it (below engine/resample.SMALL) against libvips.

    python -m bench --only small [--baseline-tree DIR]      (rows in the main table)
    python -m bench.small [--baseline-tree DIR] [--count N]

The daemon row: a fresh `hotfolder run` (every core), the files renamed into its inbox at
once, wall time to the last file done (its `file_done` line: bench/bursts.py); with
--baseline-tree (a checkout of another commit, e.g. `git archive e3d8d79 | tar -x -C
/tmp/base`) the same burst through that tree's daemon, rounds interleaved, so "N×
before" comes from one run. The render rows: in this process, one thread, the example
recipe on one 64 px JPEG, medians, interleaved.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from bench import corpus, timing
from bench.bursts import burst_with_cpu, median_split
from bench.heic import EXAMPLE_RECIPE


def render_rows(src: Path, repeat: int) -> dict[str, float]:
    """ms of one small file's render: Pillow resampling (the engine) and libvips (forced)."""
    from bench.stages import FILL, FIT
    from bench.timing import interleaved_ms
    from hotfolder.engine import pipeline, resample

    pipeline.warm_up()
    small = resample.SMALL

    def render(threshold: int) -> None:
        resample.SMALL = threshold
        try:
            pipeline.render(src, (FIT, FILL), accepted_formats=("jpeg",), max_image_pixels=10**8, threads=1)
        finally:
            resample.SMALL = small

    return interleaved_ms({"Pillow": lambda: render(small), "libvips": lambda: render(0)}, repeat)


def measure(root: Path, count: int, procs: int, rounds: int, baseline: Path | None, repeat: int) -> dict:
    files = corpus.generate(root / "corpus" / "small", "small", count)
    work = Path(tempfile.mkdtemp(prefix="small-", dir=root))
    rates: dict[str, list[float]] = {"daemon": [], **({"baseline": []} if baseline else {})}
    cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in rates}  # (supervisor, workers) ms a file
    try:
        for k in range(rounds):
            for name, tree in (("daemon", None), ("baseline", baseline)):
                if name not in rates:
                    continue
                burst = burst_with_cpu(work / f"{name[0]}{k}", files, procs, EXAMPLE_RECIPE, outputs_per_file=2,
                                     tree=tree)
                rates[name].append(burst.rate)
                cpu[name].append((burst.supervisor_ms, burst.workers_ms))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"files": count, "procs": procs, "rates": rates, "cpu_ms": cpu,
            "baseline": str(baseline) if baseline else None, "render_ms": render_rows_in_child(files[0], repeat)}


def render_rows_in_child(src: Path, repeat: int) -> dict[str, float]:
    """render_rows in a child process: libvips threads never start in the bench's own process."""
    import json
    import subprocess
    import sys

    code = ("import json, sys; from pathlib import Path; from bench.small import render_rows; "
            "print(json.dumps(render_rows(Path(sys.argv[1]), int(sys.argv[2]))))")
    out = subprocess.run([sys.executable, "-c", code, str(src), str(repeat)], capture_output=True, text=True,
                         check=True, timeout=600, cwd=Path(__file__).resolve().parent.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(found: dict) -> list[tuple[str, str, str, str, str]]:
    rates = {k: statistics.median(v) for k, v in found["rates"].items()}
    rounds = lambda k: ", ".join(f"{x:.0f}" for x in found["rates"][k])  # noqa: E731
    what = f"{found['files']:,} 64 px JPEGs → example recipe, {found['procs']} workers"
    rows = []
    if "baseline" in rates:
        ratio = rates["daemon"] / rates["baseline"]
        rows.append((f"**hotfolder daemon, small files** ({what})", f"{rates['daemon']:.0f} files/s",
                     f"{ratio:.2f}× the baseline tree; rounds: {rounds('daemon')}", "≥ 2× before",
                     "yes" if ratio >= 2 else "**no**"))
        rows.append((f"the daemon of the baseline tree ({found['baseline']})", f"{rates['baseline']:.0f} files/s",
                     f"rounds: {rounds('baseline')}", "", ""))
    else:
        rows.append((f"**hotfolder daemon, small files** ({what})", f"{rates['daemon']:.0f} files/s",
                     f"rounds: {rounds('daemon')} (no --baseline-tree: no ratio)", "", ""))
    ms = found["render_ms"]
    for name, label in (("daemon", "this tree"), ("baseline", "the baseline tree")):
        split = found.get("cpu_ms", {}).get(name)
        if split:
            sup, wrk = median_split(split)
            rows.append((f"CPU a file, {label}'s daemon (median of rounds)", f"{sup + wrk:.2f} ms",
                         f"supervisor {sup:.2f} ms + workers {wrk:.2f} ms; the render alone "
                         f"{ms['Pillow']:.2f} ms", "", ""))
    rows.append(("render() of one 64 px JPEG, example recipe, 1 thread: Pillow resamples", f"{ms['Pillow']:.2f} ms",
                 f"{ms['libvips'] / ms['Pillow']:.2f}× faster than libvips resampling it ({ms['libvips']:.2f} ms)",
                 "", ""))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.small", description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--procs", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=201, help="renders of the one-file rows")
    p.add_argument("--baseline-tree", type=Path, help="another checkout's root: its daemon, in the same run")
    p.add_argument("--dir", type=Path, default=Path(os.environ.get(
        "HOTFOLDER_BENCH_DIR", Path(tempfile.gettempdir()) / "hotfolder-bench")))
    p.add_argument("--json", action="store_true", help="print the measurements as one JSON line (python -m bench)")
    args = p.parse_args(argv)
    start = Path("/proc/loadavg").read_text().split()[0]
    found = measure(args.dir.resolve(), args.count, args.procs, args.rounds, args.baseline_tree, args.repeat)
    found["_load_start"] = start
    return timing.report(found, table, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
