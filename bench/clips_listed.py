"""What listing a folder's archived clips again costs (`hotfolder index rebuild`: spool/
archived_clips.py into state/passed.py's rows): an archive of CLIPS clips (sparse files of
camera sizes, 300 to a card folder) among PHOTOS photos (empty .JPG files beside them), walked
and written in batches of 1,000 rows; the longest batch is how long the daemon's own note of a
clip archived meanwhile can wait for the database.

    python -m bench.clips_listed [--clips 10000] [--photos 50000] [--dir DIR]

Writes under DIR (a temp folder on the disk by default); deletes it at the end. Not part of
`python -m bench`.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hotfolder.config.model import Folder, Rendition
from hotfolder.spool import archived_clips
from hotfolder.state import db, passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=10_000)
    parser.add_argument("--photos", type=int, default=50_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        folder = Folder(name="weddings", inbox=root / "inbox", output=root / "output", failed=root / "failed",
                        processing=root / "processing", archive=root / "archive",
                        renditions=(Rendition(name="web", width=64, height=64, format="jpeg"),))
        cards = max(1, args.clips // 300)  # a card's folder: 300 clips and its share of the photos
        for i in range(args.clips):
            card = folder.archive / f"card{i % cards:04d}" / "DCIM" / "100CANON"
            card.mkdir(parents=True, exist_ok=True)
            with open(card / f"MVI_{i // cards:04d}.MP4", "wb") as f:
                f.truncate(40_000_000 + i * 7919 % 4_000_000_000)  # sparse: no bytes written
        for i in range(args.photos):
            (folder.archive / f"card{i % cards:04d}" / "DCIM" / "100CANON" / f"IMG_{i // cards:04d}.JPG").touch()
        rows = passed.Passed(root / "state")
        t0 = time.perf_counter()
        made, _ = rows.listed(folder.name, archived_clips.clips(folder))  # as the rebuild: walked and written
        whole = time.perf_counter() - t0
        t0 = time.perf_counter()
        walked = sum(1 for _ in archived_clips.clips(folder))  # the walk alone (the page cache warm)
        walk = time.perf_counter() - t0
        found = list(archived_clips.clips(folder))
        batches = []
        for start in range(0, len(found), passed.BATCH):  # each batch's transaction (new rows: another folder name)
            t = time.perf_counter()
            rows.listed("again", found[start:start + passed.BATCH])
            batches.append(time.perf_counter() - t)
        rows.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"{made} clips among {args.clips + args.photos} files listed in {whole:.2f} s (the walk alone "
              f"{walk:.2f} s, {walked} clips); a batch of {passed.BATCH} rows: longest {max(batches) * 1000:.1f} ms; "
              f"database {db.path_in(root / 'state').stat().st_size / 1e6:.1f} MB")
        rows.close()


if __name__ == "__main__":
    main()
