"""Where a benchmark works and what it says: scratch folders made fresh, timestamped lines
on stderr."""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path
