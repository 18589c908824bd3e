"""Notices: what happened that an admin or the status page may want to hear of.

The service owns one hook, a callable taking a Notice; the ledger calls it where a
file reaches an end or claiming pauses, the service where a reload is refused, a
worker is lost (a `Lost` event the worker's death or hang caused) or the daemon has
recovered. What hears them (the status page, notifications) lives in ops.py, so the
ledger and the service know nothing of HTTP.

    done            a file's outputs are written and the original archived (the page's list)
    failed          a file went to failed/ (its reason, step and attempts)
    paused          claiming paused: the output folder is unusable (disk full, permissions)
    reload_refused  a reload was refused; the previous config runs on
    worker_lost     a worker died or hung while rendering a file (the file is retried)
    recovered       the daemon started and its recovery ran, or claiming resumed after a pause
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Notice:
    event: str
    folder: str = ""
    file: str = ""
    reason: str = ""
    step: str = ""
    attempts: int = 0
    outputs: tuple[str, ...] = ()
    duration_ms: float = 0.0
    time: float = field(default_factory=time.time)


Hook = Callable[[Notice], None]


def ignore(_notice: Notice) -> None:
    """The hook of a ledger nobody listens to (tests, batch mode)."""
