"""A reload, up to the swap: the new config read, checked and made ready, or refused.

    read      the file loaded and validated, every problem at once (ConfigError)
    check     what a running daemon cannot take is refused, naming the key
              (config/reloadable.py); what applies only when cluster nodes restart is said
    folders   the new config's folders made, their processing/ folders locked for this
              daemon (AlreadyRunning if another one's), a new folder's claimed files adopted;
              a folder on a share that is not mounted is left out (`gone`): never made, it
              waits for its share (the watcher), and the reload stands

Nothing of the running service changes here: `Service.reload` swaps the parts in
once `prepare` returned a `Prepared`, and says a `Refused` in the log, the status and
a notice. `ConfigWatch` notices a changed file for `reload_on_change`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from hotfolder import redact
from hotfolder.config import EVERY_PART, check, describe_changes, reloadable
from hotfolder.config.changes import rerender_hint
from hotfolder.config.model import Config, ConfigError, Folder
from hotfolder.spool.shares import PlaceGone
from hotfolder.supervisor.folder_slots import FolderSlots
from hotfolder.supervisor.ledger import Ledger
from hotfolder.supervisor.locks import AlreadyRunning, FolderLocks


@dataclass(frozen=True)
class Prepared:
    config: Config  # each folder with its slot in the shared counts
    changes: list[str]  # for people: `workers 2 → 1`, `folder shop added`
    for_nodes: list[str]  # keys that apply only once the cluster's nodes restart
    warnings: tuple[str, ...] = ()  # what check-config would warn of in the new file
    gone: frozenset[str] = frozenset()  # new folders not made nor adopted: their share is not mounted
    rerender: str = ""  # renditions added or changed: how the originals archived before get them


class Refused(Exception):
    """The reload cannot be applied; the previous config runs on."""

    def __init__(self, reason: str, source: str, key: str = "", problems: tuple[str, ...] = ()):
        super().__init__(reason)
        self.reason, self.source, self.key, self.problems = reason, source, key, problems

    def said(self) -> str:
        """One line: every problem with its FILE:LINE:COL, or the file, the key and the reason."""
        return "; ".join(self.problems) or f"{self.source}: {self.key + ': ' if self.key else ''}{self.reason}"


def prepare(current: Config, slots: FolderSlots, locks: FolderLocks, ledger: Ledger, adopt: bool) -> Prepared:
    """The config file read again, ready to swap in; Refused with the reason otherwise.
    `adopt`: a new folder's files left in processing/ are ours (the local pool's claims)."""
    source = str(current.source)
    try:
        checked = check(current.source, serving=EVERY_PART)
        new = slots.assign(checked.config)
        for_nodes = reloadable.check(current, new)
        old_names = {f.name for f in current.folders}
        ready = [f for f in new.folders if _made(ledger, f)]
        locks.hold(ready)
        for folder in ready:
            if folder.name not in old_names:
                ledger.recover(folder, adopt=adopt, running=True)
    except ConfigError as exc:
        raise Refused(exc.reason, exc.source, exc.key, tuple(exc.lines())) from None
    except AlreadyRunning as exc:
        raise Refused(str(exc), source) from None
    except OSError as exc:
        raise Refused(f"a folder of the new config cannot be made: {exc}", source) from None
    except Exception as exc:  # noqa: BLE001 - a checker's own error: the reload is refused, the daemon runs on
        raise Refused(f"the new config could not be checked ({type(exc).__name__}: {redact.text(str(exc))}); "
                      "run `hotfolder check-config` on it", source) from None
    made = {f.name for f in ready}
    gone = frozenset(f.name for f in new.folders if f.name not in made and f.name not in old_names)
    return Prepared(new, describe_changes(current, new), for_nodes, tuple(str(w) for w in checked.warnings), gone,
                    rerender_hint(current, new))


def _made(ledger: Ledger, folder: Folder) -> bool:
    """The folder's places made (OSError if one cannot be); False, none made, while one is
    on a share that is not mounted."""
    try:
        ledger.prepare(folder)
    except PlaceGone:
        return False
    return True


class ConfigWatch:
    """Whether the config file changed since it was last looked at, and has stayed
    unchanged for `quiet` seconds since: a file written in place in parts (scp over a
    slow link, an editor saving in chunks) was reloaded half-written, and its valid first
    half ran until the next SIGHUP (a review). A change is its mtime, size or inode (an
    editor's save by rename)."""

    QUIET = 2.0

    def __init__(self, path: Path, quiet: float = QUIET):
        self.path = path
        self.quiet = quiet
        self.stamp = _stamp(path)
        self.since: float | None = None  # when the last change was seen, until it is reported

    def changed(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        stamp = _stamp(self.path)
        if stamp != self.stamp:
            self.stamp, self.since = stamp, now
            return False
        if self.since is not None and now - self.since >= self.quiet:
            self.since = None
            return True
        return False


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino
