"""The daemon's own listing of the clips in archive/ into the rows of clips passed through
(state/passed.py), when those were made anew while clips lie there: a deleted or lost
database, or the first start of a version that keeps them. Without it a card dumped again
into another subfolder had its clips archived a second time until someone ran `hotfolder
index rebuild`.

It runs in one thread of its own (a walk of archive/ takes about a second per 60,000 files,
measured: bench/clips_listed.py), with its own connection, so the main loop neither waits
for the walk nor shares a connection across threads; rows go in 1,000 a transaction, and a
row the main loop writes meanwhile (a clip archived now) is kept (ON CONFLICT DO NOTHING).
The flag that asks for it (`passed_meta.listing_due`) is cleared only once every folder was
listed: a stop, a crash or a folder that could not be read leaves it, and the next start
lists again (rows already there are kept).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from hotfolder.config.model import Config, Folder
from hotfolder.runtime import held
from hotfolder.spool import archived_clips, fsnames
from hotfolder.state import db, passed

STOP_WAIT = 2.0  # seconds a stop waits for the thread (it looks at the stop between two clips)
MAX_SAID = 10  # unreadable folders said one by one; past it, only counted


class ClipsListing:
    def __init__(self, log):
        self.log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, config: Config, ready: Iterable[Folder]) -> None:
        """After the pool's start (a thread, as the watcher's): each local folder's archive/ of
        those `ready` (not one on a share that is not mounted: its clips are not there to see,
        and the flag stays for the next start)."""
        local = [f for f in config.folders if f.index_dir is not None and f.archive is not None]
        names = {f.name for f in ready}
        folders = [f for f in local if f.name in names]
        if folders:
            self._thread = threading.Thread(target=self.run, args=(folders, len(folders) == len(local)),
                                            name="clips-listing", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT)

    def run(self, folders: Iterable[Folder], whole: bool = True) -> None:
        """`whole`: these are all the folders of the config that keep rows (the flag may go)."""
        by_dir: dict[Path, list[Folder]] = {}
        for f in folders:
            assert f.index_dir is not None
            by_dir.setdefault(f.index_dir, []).append(f)
        for state_dir, group in by_dir.items():
            try:
                self._list(state_dir, group, whole)
            except Exception as exc:  # noqa: BLE001 - a listing never stops the daemon; db.unusable says what to do
                self.log.warning("clips_listing_failed", state_dir=str(state_dir),
                                 reason=fsnames.display(db.unusable(f"{type(exc).__name__}: {exc}", exc, state_dir)),
                                 action="a clip archived before, dumped again into another subfolder, is archived "
                                        "again; `hotfolder index rebuild` lists them")

    def _list(self, state_dir: Path, folders: list[Folder], whole: bool) -> None:
        rows = passed.Passed(state_dir)
        try:
            if not rows.listing_due():
                return
            t0, made, kept, unreadable = time.monotonic(), 0, 0, 0

            def said(where: Path, exc: OSError) -> None:
                nonlocal unreadable
                unreadable += 1
                if unreadable <= MAX_SAID:
                    self.log.warning("clips_listing_unreadable", folder=fsnames.display(str(where)),
                                     reason=str(exc.strerror or exc),
                                     action="make it readable by the daemon's user: its clips are listed at the next "
                                            "start (or by `hotfolder index rebuild`)")

            for folder in folders:
                m, k = rows.listed(folder.name, self._until_stop(archived_clips.clips(folder, on_error=said),
                                                                 state_dir, first=made + kept == 0),
                                   processing=folder.processing)  # its name now: a reload may rename it
                made, kept = made + m, kept + k
                if self._stop.is_set():
                    return  # the flag stays: the next start lists again
            if whole and not unreadable:
                rows.listing_done()
            if made or kept or unreadable:  # a new install's empty archive: nothing to say
                self.log.info("clips_listed", listed=made + kept, known=kept, unreadable_folders=unreadable,
                              seconds=round(time.monotonic() - t0, 2))
        finally:
            rows.close()

    def _until_stop(self, clips: Iterator[archived_clips.Clip], state_dir: Path,
                    first: bool) -> Iterator[archived_clips.Clip]:
        """`clips` until a stop; the listing said at the first one found (`first`: none before)."""
        for clip in clips:
            held.at("listing", clip.name)  # tests: a reload meanwhile
            if self._stop.is_set():
                return
            if first:
                first = False
                self.log.info("clips_listing", state_dir=str(state_dir),
                              reason="the records of clips passed through were made anew (a deleted database, or "
                                     "the first start of this version): the clips in archive/ are listed; until it "
                                     "ends, a clip dumped again into another subfolder may be archived again")
            yield clip
