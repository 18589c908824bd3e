"""What a prune of the output-name records costs (spool/owners.prune): time, and the main
process's memory at its peak, by the number of outputs in the output folder.

    python -m bench.names_prune [--outputs 20000,100000] [--dir DIR]

Each output is an empty file with its two markers (its exact name's and its case-folded
name's) as the daemon writes them, a tenth of the markers stale (their output gone). The
prune runs in a fresh process, timed alone (and the kernel's VmHWM against the RSS
before), then on the same records made again under tracemalloc (the peak of what Python
allocated during it). The daemon prunes at every start (before
`ready`) and then each time as many files were rendered as it kept markers.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import dataclasses, sys, time, tracemalloc
from pathlib import Path
from hotfolder.config.model import Folder, Rendition
root = Path(sys.argv[1])
folder = Folder(name="t", inbox=root / "inbox", output=root / "output", failed=root / "failed",
                processing=root / "processing", archive=root / "archive",
                renditions=(Rendition(name="web", width=100, height=100),), names_dir=root / "names")
from hotfolder.spool import owners
def rss(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))
before = rss("VmRSS:")
traced = sys.argv[2] == "traced"
if traced:
    tracemalloc.start()
t = time.perf_counter()
pruned = owners.prune((folder,))
seconds = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1] if traced else 0
print(pruned.kept, pruned.removed, seconds, peak, rss("VmHWM:") - before)
"""


def make(root: Path, outputs: int) -> None:
    """`outputs` files in 100 subfolders of root/output, each with its markers, and a tenth
    more markers whose output is gone (made long ago: stale)."""
    from hotfolder.spool import owners

    for sub in ("inbox", "output", "failed", "processing", "archive", "names"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    names = root / "names"
    old = 1_000_000_000
    for i in range(outputs + outputs // 10):
        out = root / "output" / f"s{i % 100:02d}" / f"IMG_{i:07d}_web.jpg"
        owner = f"t:{i}"
        for marker in (owners._marker(names, out), owners._fold_marker(names, out)):
            marker.parent.mkdir(exist_ok=True)
            os.symlink(owner, marker)
            if i >= outputs:
                os.utime(marker, (old, old), follow_symlinks=False)
        if i < outputs:
            out.parent.mkdir(exist_ok=True)
            os.close(os.open(out, os.O_CREAT | os.O_WRONLY, 0o644))


def measure(root: Path, outputs: int) -> dict:
    """Two prunes of the same records, made twice: timed alone (and the RSS peak), then traced."""
    runs = []
    for how in ("timed", "traced"):
        shutil.rmtree(root, ignore_errors=True)
        make(root, outputs)
        done = subprocess.run([sys.executable, "-c", CHILD, str(root), how], capture_output=True, text=True,
                              check=True)
        runs.append(done.stdout.split())
    kept, removed, seconds, _, hwm = runs[0]
    return {"outputs": outputs, "kept": int(kept), "removed": int(removed), "seconds": float(seconds),
            "traced_peak_bytes": int(runs[1][3]), "hwm_growth_kb": int(hwm)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.names_prune", description=__doc__.split("\n")[0])
    p.add_argument("--outputs", default="20000,100000")
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hotfolder-bench")
    args = p.parse_args(argv)
    print("| outputs | markers kept / removed | prune | Python's peak during it | a byte an output | RSS peak growth |")
    print("|---|---|---|---|---|---|")
    for n in (int(x) for x in args.outputs.split(",")):
        root = Path(tempfile.mkdtemp(prefix="names-prune-", dir=args.dir))
        try:
            r = measure(root, n)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(f"| {n:,} | {r['kept']:,} / {r['removed']:,} | {r['seconds']:.2f} s | "
              f"{r['traced_peak_bytes'] / 2**20:.1f} MiB | {r['traced_peak_bytes'] / n:.0f} | "
              f"{r['hwm_growth_kb'] / 1024:.1f} MiB |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
