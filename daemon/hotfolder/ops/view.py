"""What the status page and the API read, and what they may ask: the published view,
a requeue's outcome, and the two sides of the daemon the web depends on (StatusSource,
Requeuer), which ops.Ops is. So the web knows these protocols, never Ops itself:
web → view, ops → web and view.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Protocol

from hotfolder.ops.notices import Notice
from hotfolder.spool.failed_files import FailedFile
from hotfolder.status import Status


@dataclass(frozen=True)
class View:
    """What the page, /api/status and /metrics read: replaced whole, once a second."""

    status: Status
    failed: tuple[FailedFile, ...]
    recent: tuple[Notice, ...]
    host: str
    version: str
    requeue_enabled: bool
    build: str = ""  # the release and the digest of the code (build.py)

    def as_json(self) -> dict:
        return {"status": asdict(self.status), "failed": [asdict(f) for f in self.failed],
                "done": [n.as_json() for n in self.recent], "host": self.host, "version": self.version,
                "build": self.build}


class RequeueCode(StrEnum):
    """A requeue's outcome in a word: empty when the file is back in its inbox, else why
    not (the page says it in words of its own: web/app.py's ERRORS)."""

    REQUEUED = ""
    GONE = "gone"  # no such file in failed/ (requeued already?)
    STOPPING = "stopping"  # the daemon is stopping
    BUSY = "busy"  # the loop did not answer in time, or too many requests wait
    MOVE = "move"  # the move back failed (the log says why)
    REFUSED = "refused"  # its record names a place outside the inbox: data, not a path


@dataclass(frozen=True)
class RequeueOutcome:
    ok: bool
    code: RequeueCode = RequeueCode.REQUEUED
    message: str = ""
    file: str = ""
    folder: str = ""
    status: int = 200


class StatusSource(Protocol):
    """What the daemon published: the page's view (None before the first), and /metrics."""

    def view(self) -> View | None: ...

    def exposition(self, accept: str) -> tuple[bytes, str]: ...


class Requeuer(Protocol):
    """Who moves a failed file back (the daemon's loop), asked from a request's thread."""

    def request_requeue(self, fid: str) -> RequeueOutcome: ...
