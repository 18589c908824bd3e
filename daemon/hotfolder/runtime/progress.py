"""The progress bar of `hotfolder process` (only on a terminal), and the lines above it.

Log lines and the bar never share a line: the bar is also the log's stream, and each
line written through it clears the bar, is printed, and the bar is drawn again below
it (as pip and tqdm do). Worker processes do not write to the terminal in this mode
(the main process reports each file from its result), so nothing else can cut in.
"""
from __future__ import annotations

import time

CLEAR = "\r\033[K"  # back to the start of the line, erase to its end


class Progress:
    def __init__(self, total: int, stream, width: int = 30, enabled: bool | None = None):
        self.total, self.stream, self.width = total, stream, width
        self.enabled = stream.isatty() if enabled is None else enabled
        self.t0 = time.monotonic()
        self.done = 0
        self._pending = ""  # part of a line written without its newline yet
        self._draw()

    def update(self, done: int, total: int | None = None) -> None:
        self.done, self.total = done, self.total if total is None else total
        self._draw()

    def _bar(self) -> str:
        filled = int(self.width * self.done / max(self.total, 1))
        rate = self.done / max(time.monotonic() - self.t0, 1e-6)
        return f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}  {rate:.1f} files/s"

    def _draw(self) -> None:
        if self.enabled and self.total:  # nothing to show before the files are counted
            self.stream.write(CLEAR + self._bar())
            self.stream.flush()

    # -- a file-like stream for the log: whole lines go above the bar
    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            lines, self._pending = self._pending.rsplit("\n", 1)
            self.stream.write((CLEAR if self.enabled else "") + lines + "\n")
            self._draw()
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        if self._pending:
            self.write("\n")
        if self.enabled and self.total:
            self.stream.write(CLEAR + self._bar() + "\n")
            self.stream.flush()
