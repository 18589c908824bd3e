"""A one-line progress bar for `hotfolder process` (only on a terminal)."""
from __future__ import annotations

import time


class Progress:
    def __init__(self, total: int, stream, width: int = 30):
        self.total, self.stream, self.width = total, stream, width
        self.enabled = stream.isatty()
        self.t0 = time.monotonic()
        self.update(0, total)

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        filled = int(self.width * done / max(total, 1))
        rate = done / max(time.monotonic() - self.t0, 1e-6)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}  {rate:.1f} files/s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
