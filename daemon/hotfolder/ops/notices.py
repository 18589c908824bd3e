"""Notices: what happened that an admin or the status page may want to hear of.

The service owns one hook, a callable taking a Notice; the ledger calls it where a
file reaches an end or claiming pauses, the service where a reload is refused, a
worker is lost (a `Lost` event the worker's death or hang caused) or the daemon has
recovered. What hears them (the status page, notifications) lives in ops.py, so the
ledger and the service know nothing of HTTP.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class NoticeKind(StrEnum):
    """What a notice tells of (`notify[].events` names these)."""

    DONE = "done"  # a file's outputs are written and the original archived (the page's list; notify: `done`)
    FAILED = "failed"  # a file went to failed/ (its reason, step and attempts)
    PAUSED = "paused"  # claiming paused: the output folder is unusable (disk full, permissions)
    RELOAD_REFUSED = "reload_refused"  # a reload was refused; the previous config runs on
    WORKER_LOST = "worker_lost"  # a worker died or hung while rendering a file (the file is retried)
    RECOVERED = "recovered"  # the daemon started and its recovery ran, or claiming resumed after a pause
    DUPLICATE = "duplicate"  # the same bytes as an earlier original: skipped, failed or rendered again
    SIMILAR = "similar"  # a look-alike of an earlier original: flagged (rendered) or skipped


@dataclass(frozen=True)
class Notice:
    event: NoticeKind
    folder: str = ""
    file: str = ""
    reason: str = ""
    step: str = ""
    attempts: int = 0
    outputs: tuple[str, ...] = ()
    duration_ms: float = 0.0
    manifest: str = ""  # DONE: the manifest written with the outputs (its JSON), when the folder writes one
    time: float = field(default_factory=time.time)

    def manifest_json(self) -> dict | None:
        """The manifest as the webhook and /api/status give it: an object, or None when none was
        written (/api/status gave its text, "" for none, where the webhook gave an object)."""
        return json.loads(self.manifest) if self.manifest else None

    def as_json(self) -> dict:
        """The notice as /api/status lists it: its fields, the manifest as an object or null."""
        return {**asdict(self), "manifest": self.manifest_json()}


Hook = Callable[[Notice], None]
SKIPPED = "skipped"  # the step of a duplicate or look-alike that was not rendered (it is at its end)


def ignore(_notice: Notice) -> None:
    """The hook of a ledger nobody listens to (tests, batch mode)."""
