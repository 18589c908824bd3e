"""A folder's place on a share that is not mounted: never made on the disk beneath it.

A place of a folder (its inbox, output, archive, ...) may lie on a network share mounted
at, say, /mnt/nas. When the share is not mounted (the machine restarted before it came
back, an admin's umount), /mnt/nas is an empty folder of the local disk, and `mkdir -p`
of the place made it there: clients' files and outputs landed on the root file system,
and were hidden once the share was mounted over them again (an admin's test). So the
main process notes which file system each place was on whenever it sees it there
(state/filesystems.py), and judges a place by it:

    there                            used; its record refreshed (a remount may change st_dev)
    missing, no record               made, as ever (a first start, a path the config just took)
    missing, recorded                made again where its nearest folder is on the file system
                                     it was on (a `rm -r output`): else gone
    there, recorded as a mount point nothing is mounted on it now: gone (the empty folder
    of its own                       beneath would take the outputs)

"The file system it was on" is its mount point, from the mount table: a share mounted
again at its point (NFS gives it another st_dev) is the same, a bind mount of a folder of
the same disk is not. st_dev answers where the table cannot be read. A gone place is never
made, by anyone of ours: its folder pauses until it is back (arrival/watcher.py says it
and looks again with backoff), a worker's write into it is given back (PlaceGone: errno
ENOMEDIUM, an output problem), `check-config` warns of it.
"""
from __future__ import annotations

import errno
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

from hotfolder.arrival.mounts import Mount, mount_of
from hotfolder.config.model import Folder
from hotfolder.runtime import log
from hotfolder.spool.fsnames import display
from hotfolder.state import db, filesystems
from hotfolder.state.filesystems import Seen

KEYS = ("inbox", "processing", "output", "archive", "failed", "duplicates")


@dataclass(frozen=True)
class Look:
    """What holds a place now: the place itself (`present`), else its nearest existing
    folder (`holder`); that one's mount and st_dev. The mount is read from the table only
    when it matters: a place on its recorded st_dev is where it was."""

    present: bool
    holder: Path
    mount: Mount
    dev: int


def look(path: Path, was: Seen | None = None) -> Look | None:
    """What is at `path` now; None when that cannot be told (a share that answers with an
    error, a file on the way): not this module's to judge (the output problems are)."""
    holder = path
    while True:
        try:
            st = os.lstat(holder)  # a link is never a place of ours (nofollow): the swap check says so
            break
        except FileNotFoundError:
            if holder.parent == holder:
                return None
            holder = holder.parent
        except OSError:
            return None
    if stat.S_ISLNK(st.st_mode):
        return None
    present = holder == path
    unchanged = was is not None and st.st_dev == was.dev
    if present:
        mount = Mount(was.mount, was.fstype) if unchanged and was is not None else mount_of(path)
    else:  # missing: only a holder on another st_dev than the record needs its mount point
        mount = mount_of(holder) if was is not None and not unchanged else Mount("", "")
    return Look(present, holder, mount, st.st_dev)


def is_gone(path: Path, was: Seen | None, now: Look) -> bool:
    """The rule (see the top): whether the place at `path`, recorded as `was`, is on a share
    that is gone, so that it must not be used or made now."""
    if was is None:
        return False
    if now.present:
        if now.dev == was.dev:
            return False
        if was.mount == str(path):  # the share's mount point itself: the empty folder beneath
            return now.mount.point != str(path)
        # A folder of the disk beneath the share's mount point, at the place's path (made
        # there before this guard, or by hand, while the share was away): it is there, but
        # the share it was on is not mounted (the mount holding it is above the share's
        # point), and all put in it would be hidden once the share is mounted again. Used,
        # its record was moved to the disk beneath: the guard forgot the share.
        return beneath(now.mount.point, was.mount)
    if now.dev == was.dev:
        return False  # deleted on the file system it was on: made again
    if now.mount.point and was.mount:
        return now.mount.point != was.mount  # the same point: mounted again, with another st_dev
    return True


def beneath(point: str, share: str) -> bool:
    """Whether the mount point `point` lies strictly above the share's `share`: nothing is
    mounted at `share` now (a mount there, or below it, would hold the path instead)."""
    if not point or not share or point == share:
        return False
    return Path(share).is_relative_to(point)


def on_filesystem(mount: str, fstype: str) -> str:
    """A file system as said to people: "nfs4 mounted at /mnt/nas"."""
    if not mount:
        return f"a {fstype} file system" if fstype else "another file system"
    return f"{fstype or 'a file system'} mounted at {display(mount)}"


@dataclass(frozen=True)
class Gone:
    """A place whose share is gone: what it was on, and what holds its path now."""

    folder: str
    key: str  # the folder's key (`output`), or the config's (`cluster.shared_root`)
    path: Path
    was: Seen
    now: Look

    @property
    def missing(self) -> bool:
        return not self.now.present

    def reason(self) -> str:
        shown = display(str(self.path))
        was, now = on_filesystem(self.was.mount, self.was.fstype), on_filesystem(*self.now.mount)
        if self.missing:
            return (f"the {self.key} folder {shown} is missing: when last seen it was on {was}, and "
                    f"{display(str(self.now.holder))} is now on {now}; it is not made there (on the disk beneath a "
                    "mount point it would be hidden, with all put in it, once the share is mounted again)")
        if self.was.mount != str(self.path):
            return (f"the {self.key} folder {shown} is on {now} now: when last seen it was on {was}, which is not "
                    "mounted; it is a folder of the disk beneath, and what would be written into it would be hidden "
                    "once the share is mounted again")
        return (f"nothing is mounted on the {self.key} folder {shown} now: when last seen it was the mount point "
                f"of {self.was.fstype or 'a file system'}; what would be written into the empty folder beneath "
                "would be hidden once the share is mounted again")

    def action(self) -> str:
        where = display(self.was.mount or str(self.path))
        # Not "mkdir -p PATH": made while the share is away, it is a folder of the disk beneath
        # its mount point, gone by the same rule (an attack round made that rule; the advice looped)
        moved = (f"point {self.key} at its new place" if self.was.mount == str(self.path) or self.missing else
                 f"point {self.key} at its new place (to keep the folder of the disk beneath, move it out from "
                 f"under {where} first)")
        if self.was.mount != str(self.path):  # the empty mount point itself is no place to keep (README)
            moved += ("; or, to use this path on the local disk for good, stop the daemon and forget the records of "
                      "the folder's places (`hotfolder places` lists them; `hotfolder places --forget PATH...`)")
        return (f"is {where} mounted? Mount it and the folder resumes by itself (its inbox is scanned again); "
                f"if the folder has moved for good, {moved}")

    def said(self, also: str = "") -> str:
        """The reason (with `also` after it), then what to do."""
        action = self.action()
        return f"{self.reason()}{also}. {action[0].upper()}{action[1:]}"


class PlaceGone(OSError):
    """A place was to be made (or used) while its share is gone. errno ENOMEDIUM ("no medium
    found"): an output problem (spool/oserrors.py), never the file's."""

    def __init__(self, gone: Gone):
        self.gone = gone
        super().__init__(errno.ENOMEDIUM, gone.said(), str(gone.path))


def gone_by_record(path: Path, state_dir: Path | None, folder: str | None = None,
                   key: str | None = None) -> Gone | None:
    """Whether the place at `path` is gone with its share, by its record read without writing
    anything (a worker, check-config); None without a record, or a database that cannot be
    read. `folder` and `key` name it in the message (else the record's names)."""
    if state_dir is None:
        return None
    try:
        was = filesystems.read(state_dir, path)
    except (sqlite3.Error, OSError):
        return None
    now = look(path, was)
    if was is None or now is None or not is_gone(path, was, now):
        return None
    return Gone(was.folder if folder is None else folder, was.key if key is None else key, path, was, now)


def refuse_if_gone(path: Path, state_dir: Path | None) -> None:
    """Before a missing place is made by a process other than the main one (a worker's
    output folder): PlaceGone when its share is gone. Without a record the place is made,
    as before."""
    gone = gone_by_record(path, state_dir)
    if gone is not None:
        raise PlaceGone(gone)


class Places:
    """The main process's records (loaded once, written through) and its judgements of the
    folders' places. A database that cannot be read or written is said once, and places are
    then judged without records (made when missing, as before): never a reason to stop."""

    def __init__(self, state_dir: Path | None):
        self.state_dir = state_dir
        self.log = log.get("places")
        self._seen: dict[Path, Seen] | None = None
        self._changed: list[Seen] = []  # records to write, at the end of a judgement: one transaction
        self._said = False

    def _records(self) -> dict[Path, Seen]:
        if self._seen is None:
            self._seen = {}
            if self.state_dir is not None:
                try:
                    self._seen = filesystems.load(self.state_dir)
                except (sqlite3.Error, OSError, db.StateTooNew) as exc:
                    self._unusable(exc)
        return self._seen

    def judge(self, path: Path, folder: str, key: str) -> Gone | None:
        """Whether the place at `path` is gone with its share; one that is there (and not
        gone) has its record refreshed."""
        gone = self._judge(path, folder, key)
        self._write()
        return gone

    def _judge(self, path: Path, folder: str, key: str) -> Gone | None:
        records = self._records()
        was = records.get(path)
        now = look(path, was)
        if now is None:
            return None
        if was is not None and is_gone(path, was, now):
            return Gone(folder, key, path, was, now)
        if now.present:
            self._note(Seen(path, now.mount.point, now.mount.fstype, now.dev, folder, key))
        return None

    def gone(self, folder: Folder) -> Gone | None:
        """The first of the folder's places whose share is gone (every place judged, so the
        records of those there are refreshed); None when all are there or may be made."""
        first = None
        for key in KEYS:
            path = getattr(folder, key)
            if path is not None:
                found = self._judge(path, folder.name, key)
                first = first or found
        self._write()
        return first

    def _note(self, seen: Seen) -> None:
        records = self._records()
        old = records.get(seen.path)
        if old is not None and old.same_place(seen):
            return
        records[seen.path] = seen
        self._changed.append(seen)

    def _write(self) -> None:
        changed, self._changed = self._changed, []
        if not changed or self.state_dir is None:
            return
        try:
            filesystems.note(self.state_dir, changed)
        except (sqlite3.Error, OSError, db.StateTooNew) as exc:
            self._unusable(exc)

    def _unusable(self, exc: BaseException) -> None:
        if not self._said:
            self._said = True
            self.log.warning("places_unrecorded", reason=f"{type(exc).__name__}: {exc}",
                             action="which file system each folder was on cannot be kept: a folder on a share "
                                    "that is not mounted may be made on the disk beneath (fix state_dir)")
