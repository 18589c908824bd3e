"""A folder's recipe problems: what would fail every file of a folder, told apart from a
file's own problem.

A rendition reads files besides the input: a watermark image, a colour profile. The
config checks them at load, but they may go away, become unreadable or be replaced by
something else while the daemon runs. Then every file dropped meanwhile would fail
for a reason that is not its own. Instead, the worker reports a `RecipeError` (engine)
as `Result.recipe`; the ledger gives the file back to the inbox, uncounted and not an
attempt, and claiming pauses for that folder only (the others go on), with the reason
in the status and the log (once per episode). The service re-checks the recipe in the
main process, with backoff (1 s doubling to 60 s), using the engine's own loaders
(Pillow only: no libvips thread starts in the main process), and claiming resumes by
itself when it works again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from hotfolder.backoff import Backoff
from hotfolder.config.model import Folder
from hotfolder.ops.notices import Hook, Notice, NoticeKind, ignore
from hotfolder.runtime import log

FIRST_CHECK = 1.0  # seconds after the pause; then doubled
MAX_CHECK = 60.0


def problem(folder: Folder) -> str | None:
    """Why the folder's recipe cannot be used now, or None."""
    # Imported here, at the first re-check of a paused folder (once, ~0.3 s): the ledger and
    # the service import this module, and load neither Pillow nor libvips to start.
    from hotfolder.engine import colour, watermark
    from hotfolder.engine.errors import RecipeError

    try:
        for rendition in folder.renditions:
            if rendition.watermark is not None:
                watermark.check_image(rendition.watermark)
            if rendition.color_profile not in (colour.SRGB, colour.KEEP):
                colour.target_icc(rendition.color_profile)
    except RecipeError as exc:
        return str(exc)
    return None


@dataclass
class Pause:
    reason: str
    since: float  # time.time(), for people
    next_check: float = 0.0  # time.monotonic()
    backoff: Backoff = field(default_factory=lambda: Backoff(FIRST_CHECK, MAX_CHECK))


class RecipePauses:
    """The folders whose claiming is paused for their recipe, and their re-checks."""

    def __init__(self, on_notice: Hook = ignore):
        self.on_notice = on_notice
        self.log = log.get("ledger")
        self.pauses: dict[str, Pause] = {}

    def pause(self, folder: Folder, reason: str, file: str = "") -> None:
        """A worker found the recipe unusable: said once per episode."""
        if folder.name in self.pauses:
            return
        pause = self.pauses[folder.name] = Pause(reason, time.time())
        pause.next_check = time.monotonic() + pause.backoff.failed()
        self.log.error("claiming_paused", folder=folder.name, reason=reason, cause="recipe", file=file,
                       action="fix the folder's watermark image or colour profile; its files wait in the inbox "
                              "and claiming resumes by itself once it works")
        self.on_notice(Notice(NoticeKind.PAUSED, folder.name, file, f"the folder's recipe cannot be used: {reason}"))

    def paused(self, name: str) -> bool:
        return name in self.pauses

    def recheck(self, folders: tuple[Folder, ...], now: float) -> None:
        """Look again at the recipes whose check is due; resume the folders that work."""
        by_name = {f.name: f for f in folders}
        for name, pause in list(self.pauses.items()):
            if now < pause.next_check:
                continue
            folder = by_name.get(name)
            still = problem(folder) if folder is not None else None  # a folder a reload removed: forget it
            if still is None:
                del self.pauses[name]
                self.log.info("claiming_resumed", folder=name, cause="recipe",
                              paused_s=round(time.time() - pause.since))
                self.on_notice(Notice(NoticeKind.RECOVERED, name,
                                      reason="claiming resumed: the folder's recipe works again"))
                continue
            pause.reason = still  # the status shows what is wrong now
            pause.next_check = now + pause.backoff.failed()
            self.log.debug("recipe_still_unusable", folder=name, reason=still, next_check_s=pause.backoff.delay)

    def reasons(self) -> dict[str, str]:
        return {name: p.reason for name, p in self.pauses.items()}

    def notes(self) -> str:
        return "; ".join(f"claiming paused for folder {name}: {p.reason} (checked again with backoff)"
                         for name, p in self.pauses.items())
