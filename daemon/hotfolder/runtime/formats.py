"""Which log format: `--log-format` and what `auto` means here. Apart from the structlog
setup (log.py), so a command line is parsed without importing structlog (~35 ms).
"""
from __future__ import annotations

import sys
from enum import StrEnum

from hotfolder.runtime import systemd


class LogFormat(StrEnum):
    """`--log-format`."""

    JSON = "json"  # one JSON object per line: every event and field (the journal's)
    CONSOLE = "console"  # one short line per event, for people (console.py)


AUTO = "auto"  # `hotfolder run`'s default: what suits where stderr goes


def chosen(fmt: str) -> str:
    """The format `auto` means here: console lines on a terminal, JSON for the journal, a
    pipe or a file (the example config's `hotfolder run` printed JSON on a terminal)."""
    if fmt != AUTO:
        return fmt
    on_terminal = sys.stderr is not None and sys.stderr.isatty() and not systemd.under_journal()
    return LogFormat.CONSOLE if on_terminal else LogFormat.JSON
