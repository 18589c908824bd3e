"""What knowing duplicates costs (issue 23): the hashing against the example render of a
12 MP JPEG, decoding from the bytes read once against from the path, and the index of
originals at 1,000,000 photos (a look-alike lookup, a claim, its size on disk).

    python -m bench.duplicates [--repeat 15] [--rows 1000000] [--dir DIR] [--json]

The render is bench/stages.py's recipe (fit 1600 px JPEG q85 + watermark, fill 400 px
WebP q80) through `pipeline.render()`, one libvips thread, as a worker prepared by
`pipeline.warm_up()`. The hashing is what a worker adds per file: the read and BLAKE3 of
the bytes (engine/fingerprint.read_original) and the look of the frame decoded anyway
(`look_of`, on the recipe's DCT draft). The index is a real state/originals database in a
temp folder, filled in one transaction with realistic rows (names like
`2026-06-01/card03/DSC01234.JPG`, two outputs, a quarter of the pictures in families of
look-alikes), then used as the workers use it. `python -m bench` runs this in a child
(section `duplicates`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench import corpus
from bench.stages import FILL, FIT
from bench.timing import median_ms
from hotfolder.engine import fingerprint, opening, pipeline
from hotfolder.likeness import Look
from hotfolder.state import db, rows
from hotfolder.state.originals import RENDERED, Originals, _key8, signed64


def render(src: Path, data: bytes | None = None) -> list:
    return pipeline.render(src, (FIT, FILL), accepted_formats=("jpeg",), max_image_pixels=10**8, threads=1,
                           data=data)


def decoded_frame(src: Path) -> tuple[Image.Image, int, tuple[int, int]]:
    """The frame the pipeline decodes for the recipe (its DCT draft), its orientation and size."""
    im = Image.open(src)
    size = im.size
    opening.draft(im, (FIT, FILL))
    im.load()
    return im, 1, size


def hashing(src: Path, repeat: int) -> dict:
    pipeline.warm_up()
    data = src.read_bytes()
    frame, orientation, size = decoded_frame(src)
    out = {
        "file_bytes": len(data),
        "render_ms": median_ms(lambda: render(src), repeat),
        "render_from_bytes_ms": median_ms(lambda: render(src, fingerprint.read_original(src).data), repeat),
        "read_blake3_ms": median_ms(lambda: fingerprint.read_original(src), repeat),
        "read_sha256_ms": median_ms(lambda: hashlib.sha256(src.read_bytes()).digest(), repeat),
        "look_ms": median_ms(lambda: fingerprint.look_of(frame, orientation, size), repeat),
    }
    out["ratio"] = (out["read_blake3_ms"] + out["look_ms"]) / out["render_ms"]
    out["ratio_sha256"] = (out["read_sha256_ms"] + out["look_ms"]) / out["render_ms"]
    return out


def _rows(n: int, rng: random.Random):
    """Realistic rows: a quarter of the pictures in families of look-alikes (bursts, re-exports)."""
    base = 0
    for i in range(n):
        if i % 4 == 0 or base == 0:
            base = rng.getrandbits(64)
            phash = base
        else:
            phash = base ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64))
        content = rng.randbytes(32)
        name = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}/card{i % 7:02d}/DSC{i % 100_000:05d}.JPG".encode()
        outputs = rows.joined((os.fsdecode(name[:-4] + b"_web.jpg"), os.fsdecode(name[:-4] + b"_thumb.webp")), name)
        yield (_key8(content), content, RENDERED, 1, name, _key8(name), None, int(time.time()), 5_000_000 + i,
               signed64(phash), 4000, 3000, 0x1234, 0, None, None, None, outputs)


def build(state_dir: Path, n: int) -> Originals:
    index = Originals(state_dir)
    index.folder_id("photos")
    index.conn.execute("PRAGMA synchronous=OFF")  # the fill only: rows as the workers write them, faster
    with db.transaction(index.conn):
        index.conn.executemany(
            "INSERT INTO originals (key, content, state, folder, name, name_key, job, time, size, phash, width, "
            "height, chroma, generation, other, bits, archived, outputs) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _rows(n, random.Random(5)))
    index.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index.conn.execute("PRAGMA synchronous=FULL")
    return index


def index_at(n: int, root: Path, lookups: int = 300) -> dict:
    state_dir = root / "index"
    t0 = time.perf_counter()
    build(state_dir, n)
    built_s = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in state_dir.glob("hotfolder.db*"))
    worker = Originals(state_dir)  # a worker's own connection, its mirror loaded at the first lookup
    t0 = time.perf_counter()
    worker.lookalikes(Look(1, 4000, 3000), 6, folder="photos", scope_all=False, since=0)
    first_load_ms = (time.perf_counter() - t0) * 1000
    rng = random.Random(9)
    stored = [row[0] & ((1 << 64) - 1) for row in worker.conn.execute(
        "SELECT phash FROM originals ORDER BY random() LIMIT ?", (lookups // 2,))]
    queries = [h ^ (1 << rng.randrange(64)) for h in stored] + [rng.getrandbits(64) for _ in range(lookups // 2)]
    times = []
    for q in queries:
        t0 = time.perf_counter()
        worker.lookalikes(Look(q, 4000, 3000), 6, folder="photos", scope_all=False, since=0)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    src = root / "claimed.jpg"
    src.write_bytes(b"x")
    content = worker.conn.execute("SELECT content FROM originals LIMIT 1 OFFSET ?", (n // 2,)).fetchone()[0].hex()
    claim_ms = median_ms(lambda: worker.claim(content, 1, src, folder="photos", scope_all=False, since=0), 51)
    return {"rows": n, "db_bytes": size, "bytes_per_row": size / n, "built_s": round(built_s, 1),
            "lookup_p50_ms": statistics.median(times), "lookup_p99_ms": times[int(len(times) * 0.99) - 1],
            "mirror_first_load_ms": first_load_ms, "duplicate_claim_ms": claim_ms}


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--dir", type=Path, default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        src = corpus.generate(root / "corpus", "big12", 1)[0]  # a 12 MP JPEG, orientation 1
        found = {"hashing": hashing(Path(src), args.repeat), "index": index_at(args.rows, root)}
    if args.json:
        print(json.dumps(found))
        return
    h, i = found["hashing"], found["index"]
    print(f"render (example recipe, 12 MP JPEG, {h['file_bytes'] / 1e6:.1f} MB): {h['render_ms']:.1f} ms; "
          f"from the bytes read once: {h['render_from_bytes_ms']:.1f} ms")
    print(f"read + BLAKE3 {h['read_blake3_ms']:.2f} ms, look {h['look_ms']:.2f} ms: {h['ratio'] * 100:.1f} % of the "
          f"render (read + SHA-256 would be {h['ratio_sha256'] * 100:.1f} %)")
    print(f"index of {i['rows']:,} originals: {i['db_bytes'] / 2**20:.0f} MiB ({i['bytes_per_row']:.0f} B a row); "
          f"look-alike lookup p50 {i['lookup_p50_ms']:.2f} ms, p99 {i['lookup_p99_ms']:.2f} ms; mirror's first load "
          f"{i['mirror_first_load_ms']:.0f} ms; claim of a duplicate {i['duplicate_claim_ms']:.2f} ms")


if __name__ == "__main__":
    main()

