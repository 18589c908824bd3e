"""The daemon's JSON log: one object a line (other lines, e.g. a console format's, skipped)."""
from __future__ import annotations

import json
from pathlib import Path


def log_events(text: str, name: str | None = None) -> list[dict]:
    """The JSON log records in `text` (other lines skipped), those of event `name` if given."""
    out = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (name is None or record.get("event") == name):
            out.append(record)
    return out


class LogFile:
    """A log file read as it grows: each poll parses only the lines added since the last
    (a test polls every 50 ms, and a burst's log runs to megabytes)."""

    def __init__(self, path: Path):
        self.path = path
        self._offset = 0
        self._records: list[dict] = []

    def text(self) -> str:
        return self.path.read_text(errors="replace") if self.path.exists() else ""

    def events(self, name: str | None = None) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                if f.seek(0, 2) < self._offset:  # truncated (a test reopened it "wb"): read it anew
                    self._offset, self._records = 0, []
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        whole = data[:data.rfind(b"\n") + 1]  # a line being written waits for its newline
        self._offset += len(whole)
        self._records += log_events(whole.decode(errors="replace"))
        return [r for r in self._records if name is None or r.get("event") == name]

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.text().splitlines()[-lines:])
