"""What the rows of clips passed through cost the main loop (state/passed.py): one INSERT per
clip archived (`Passed.note`), one indexed SELECT per clip to pass through with no twin at its
own path (`Passed.find`), on a database of ROWS rows (WAL, synchronous FULL, as the daemon's
main process writes them: each row on disk before its clip's move), and the bytes a row takes
on disk (table and its two indexes).

    python -m bench.passed_rows [--rows 100000] [--dir DIR] [--redis]

Writes hotfolder.db under DIR (a temp folder on the disk by default); deletes it at the end.
With --redis, a cluster head's rows instead (cluster/passed.py) in a throwaway redis-server on
loopback (tests/redis_server.py; needs redis-server and the cluster extra): Redis's used_memory
per row (each clip of a name and size of its own: a key each, its TTL) and the same calls, each
a round trip. Not part of `python -m bench`.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from hotfolder.state import db
from hotfolder.state.passed import Passed


def _clip(i: int) -> tuple[str, str, int]:
    """A card dump's clip: its subfolder, its name, its size (a camera's numbers come round at 9999)."""
    return f"2026-{i // 300 % 12 + 1:02d}-{i // 30 % 28 + 1:02d} wedding/DCIM/{100 + i // 9999}CANON", \
        f"MVI_{i % 9999:04d}.MP4", 40_000_000 + i * 7919 % 4_000_000_000


def _timed(calls) -> list[float]:
    out = []
    for call in calls:
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1e6)
    return out


def _said(what: str, us: list[float]) -> str:
    us = sorted(us)
    return (f"{what}: p50 {statistics.median(us):.1f} µs, p99 {us[int(len(us) * 0.99)]:.1f} µs, "
            f"max {us[-1]:.1f} µs ({len(us)} calls)")


def in_redis(rows_n: int, tmp: Path) -> None:
    import sys

    import redis

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from hotfolder.cluster.passed import SharedPassed
    from tests.redis_server import RedisServer

    with RedisServer(tmp / "redis") as server:
        client = redis.Redis.from_url(server.url)
        rows = SharedPassed(client, "hotfolder:bench:")
        before = client.info("memory")["used_memory"]
        for i in range(rows_n):
            subdir, name, size = _clip(i)
            rows.note("weddings", name, subdir, size, f"{subdir}/{name}", window=365 * 86400.0, now=float(i))
        used = client.info("memory")["used_memory"] - before
        print(f"{rows_n} rows in Redis {client.info('server')['redis_version']}: {used / 1e6:.1f} MB used_memory, "
              f"{used / rows_n:.0f} bytes a row ({client.dbsize()} keys)")
        extra = 2000
        clips = [_clip(rows_n + i) for i in range(extra)]
        notes = _timed(lambda c=c: rows.note("weddings", c[1], c[0], c[2], f"{c[0]}/{c[1]}", window=365 * 86400.0)
                       for c in clips)
        print(_said("note (one Lua script: HSET, the bound, the TTL)", notes))
        hits = _timed(lambda i=i: rows.find(_clip(i)[1].lower(), _clip(i)[2], folder="weddings", subdir=None)
                      for i in range(0, rows_n, max(1, rows_n // 2000)))
        print(_said("find, a row found (the LOOKUP script: HLEN, HGETALL)", hits))
        misses = _timed(lambda i=i: rows.find(f"MVI_{i:04d}.MOV", 12345, folder="weddings", subdir=None)
                        for i in range(2000))
        print(_said("find, none found", misses))
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--redis", action="store_true", help="a cluster head's rows, in a throwaway redis-server")
    args = parser.parse_args()
    if args.redis:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            in_redis(args.rows, Path(tmp))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        state = Path(tmp)
        rows = Passed(state)
        with db.transaction(rows.conn):
            for i in range(args.rows):
                subdir, name, size = _clip(i)
                rows.note("weddings", name, subdir, size, f"{subdir}/{name}", now=float(i))
        rows.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = db.path_in(state).stat().st_size
        print(f"{args.rows} rows: {size / 1e6:.1f} MB, {size / args.rows:.0f} bytes a row")
        extra = 2000
        clips = [_clip(args.rows + i) for i in range(extra)]
        inserts = _timed(lambda c=c: rows.note("weddings", c[1], c[0], c[2], f"{c[0]}/{c[1]}") for c in clips)
        print(_said("INSERT (Passed.note, its own commit)", inserts))
        hits = _timed(lambda i=i: rows.find(_clip(i)[1].lower(), _clip(i)[2], folder="weddings", subdir=None)
                      for i in range(0, args.rows, max(1, args.rows // 2000)))
        print(_said("SELECT, a row found (Passed.find)", hits))
        misses = _timed(lambda i=i: rows.find(f"MVI_{i:04d}.MOV", 12345, folder="weddings", subdir=None)
                        for i in range(2000))
        print(_said("SELECT, none found", misses))
        rows.close()


if __name__ == "__main__":
    main()
