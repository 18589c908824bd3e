"""One notification message: the events it carries, as a webhook's JSON or apprise's title and body.

Made by an endpoint (notify.py), sent by a sender (senders.py): both read it, neither
knows the other's insides.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from hotfolder.ops.notices import Notice, NoticeKind
from hotfolder.shown import printable

# A title's words for a message of one event.
TITLES = {NoticeKind.DONE: "file done", NoticeKind.FAILED: "file failed", NoticeKind.PAUSED: "claiming paused",
          NoticeKind.RELOAD_REFUSED: "reload refused", NoticeKind.WORKER_LOST: "worker lost",
          NoticeKind.RECOVERED: "recovered", NoticeKind.DUPLICATE: "duplicate", NoticeKind.SIMILAR: "look-alike"}


@dataclass(frozen=True)
class Message:
    """One delivery: the events it carries, and how many there were in all."""

    notices: tuple[Notice, ...]
    total: int
    host: str

    def payload(self) -> dict:
        """The first event's fields at the top level (a receiver that handles one event
        reads those), every event listed in `events`, `count` of them in all."""
        events = [_fields(n, self.host) for n in self.notices]
        return {**events[0], "count": self.total, "events": events}

    def text(self) -> tuple[str, str]:
        """Title and body for apprise (mail, chat, push): text for people, each field of an
        event written as a terminal line is (shown.printable). A name's newline forged a line
        of its own there, and its ESC reached the reader (an attack round); the webhook's
        JSON (payload) keeps names as they are, JSON escaping them."""
        first = self.notices[0]
        kinds = sorted({n.event for n in self.notices})
        if self.total == 1:
            title = f"hotfolder on {self.host}: {_describe(first)}"
        else:
            title = f"hotfolder on {self.host}: {self.total} events ({', '.join(kinds)})"
        lines = [_line(n) for n in self.notices]
        if self.total > len(self.notices):
            lines.append(f"… and {self.total - len(self.notices)} more")
        return title, "\n".join(lines)

    @property
    def all_good(self) -> bool:
        """Only good news (files done, recoveries): apprise shows it as a success, anything else as a failure."""
        return all(n.event in (NoticeKind.DONE, NoticeKind.RECOVERED) for n in self.notices)


def _fields(n: Notice, host: str) -> dict:
    fields = {"event": str(n.event), "folder": n.folder, "file": n.file, "reason": n.reason, "step": n.step,
              "attempts": n.attempts, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(n.time)),
              "host": host}
    if n.event == NoticeKind.DONE:  # what was written: the outputs, and the manifest when the folder writes one
        fields["outputs"] = list(n.outputs)
        fields["manifest"] = n.manifest_json()
    return fields


def _describe(n: Notice) -> str:
    what = TITLES.get(n.event, n.event)
    return f"{what}: {printable(n.folder)}/{printable(n.file)}" if n.file else what


def _line(n: Notice) -> str:
    where = "/".join(printable(part) for part in (n.folder, n.file) if part)
    if n.event == NoticeKind.DONE:
        return f"done: {where}: {', '.join(printable(o) for o in n.outputs)}"
    step = f" (step {printable(n.step)}, attempt {n.attempts})" if n.step else ""
    return f"{n.event}: {where + ': ' if where else ''}{printable(n.reason)}{step}"
