"""What comparing a clip dumped again costs (supervisor/passed_again.py): the full comparison
of two files of MIB MiB (spool/same_bytes.compare) with the page cache warm and cold, its
peak memory, and the main loop's side: a `Ledger.claim` that hands the clip to the comparing
thread, and how late the main thread's 1 ms sleeps wake while that thread reads (the GIL).

    python -m bench.clips_again [--mib 512] [--dir DIR]

Writes 2 x MIB MiB (twice) under DIR (a temp folder on the disk by default: not /dev/shm,
whose files are memory); deletes them at the end. Not part of `python -m bench`.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

from hotfolder.config.model import Config, Folder, Rendition
from hotfolder.spool.same_bytes import compare
from hotfolder.supervisor.ledger import Ledger
from hotfolder.workers.counters import Counters


def _write(path: Path, mib: int, block: bytes) -> None:
    with open(path, "wb") as out:
        for _ in range(mib):
            out.write(block)
        out.flush()
        os.fsync(out.fileno())


def _drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def comparison(root: Path, mib: int) -> None:
    block = os.urandom(1 << 20)
    old, new = root / "a.MP4", root / "b.MP4"
    for path in (old, new):
        _write(path, mib, block)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for label in ("warm", "warm", "cold"):
        if label == "cold":
            for path in (old, new):
                _drop_cache(path)
        t = time.perf_counter()
        found = compare(old, new)
        took = time.perf_counter() - t
        print(f"compare {label}: {found.verdict}, 2 x {mib} MiB in {took:.3f} s ({2 * mib * 2**20 / took / 1e6:.0f} "
              "MB/s read)")
    print(f"peak RSS grew by {(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024:.1f} MiB")
    old.unlink()
    new.unlink()


def main_loop(root: Path, mib: int) -> None:
    folder = Folder(name="t", inbox=root / "inbox", output=root / "output", failed=root / "failed",
                    processing=root / "processing", archive=root / "archive", duplicates=root / "duplicates",
                    renditions=(Rendition(name="web", width=64, height=64, format="jpeg"),))
    ledger = Ledger(Config(source=root / "h.yaml", folders=(folder,), workers=1, state_dir=root / "state"),
                    Counters(mp.get_context("spawn")), lambda f, rel: None)
    ledger.prepare(folder)
    block = os.urandom(1 << 20)
    for path in (folder.archive / "MVI.MP4", folder.inbox / "MVI.MP4"):
        _write(path, mib, block)
        _drop_cache(path)
    t = time.perf_counter()
    ledger.claim(folder, folder.inbox / "MVI.MP4")
    print(f"Ledger.claim handing the clip over: {(time.perf_counter() - t) * 1e3:.2f} ms")
    late: list[float] = []
    t0 = time.perf_counter()
    try:
        while not (folder.duplicates / "MVI.MP4").exists():
            t = time.perf_counter()
            time.sleep(0.001)
            late.append(time.perf_counter() - t - 0.001)
            ledger.compared()
    finally:
        ledger.passes.stop()
    late.sort()
    print(f"compared (cold) and moved to duplicates/ in {time.perf_counter() - t0:.2f} s; the main thread's 1 ms "
          f"sleeps woke late by p50 {late[len(late) // 2] * 1e3:.2f} ms, p99 {late[int(len(late) * .99)] * 1e3:.2f} "
          f"ms, max {late[-1] * 1e3:.2f} ms ({len(late)} sleeps)")
    for path in (folder.archive / "MVI.MP4", folder.duplicates / "MVI.MP4"):
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="clips-again-") as tmp:
        (Path(tmp) / "c").mkdir()
        comparison(Path(tmp) / "c", args.mib)
        main_loop(Path(tmp) / "l", args.mib)


if __name__ == "__main__":
    main()
