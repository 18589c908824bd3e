"""What the status page and the API read: the published view and a requeue's outcome.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

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

    def as_json(self) -> dict:
        return {"status": asdict(self.status), "failed": [asdict(f) for f in self.failed],
                "done": [asdict(n) for n in self.recent], "host": self.host, "version": self.version}


@dataclass(frozen=True)
class RequeueOutcome:
    ok: bool
    code: str = ""  # why not (web/app.py's ERRORS)
    message: str = ""
    file: str = ""
    folder: str = ""
    status: int = 200
