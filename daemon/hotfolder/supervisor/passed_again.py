"""A file passed through again (`pass_through:`, a clip of a card dumped twice): under
`on_duplicate: skip`, one of the very bytes of the file of its name archived where it would
go is a duplicate, as a photo copy is (the duplicates folder, NAME.duplicate.json, counted),
not a second copy of gigabytes in archive/ (`MVI_0009_1.MP4`).

Only a file that lands beside an archived file of its name and size is compared (what the
`file_passed_through` line flagged before): any other is archived at once, as before. The
comparison reads both files in full (spool/same_bytes.py), seconds for a 4 GB clip, so it
runs in one thread of the supervisor fed by a bounded queue, never in the main loop; the
file waits in the inbox meanwhile (a rescan offering it again is passed over), and a stop or
a crash mid-compare leaves it there for the next start. The main loop acts on each answer
(`settle`), after it looked again that neither file changed since it was read:

    same           the duplicates folder with its record (supervisor/duplicates.py)
    different      archived as before (`_1`, the line's note)
    unsure         archived as before, with a warning: a doubt never skips a file
    changed        left in the inbox, offered again: judged anew once quiet
    stopped        left in the inbox
"""
from __future__ import annotations

import queue
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hotfolder.config.choices import OnDuplicate
from hotfolder.config.model import Folder
from hotfolder.spool import fsnames, nofollow, same_bytes
from hotfolder.spool.same_bytes import Compared, Stamp, Verdict
from hotfolder.supervisor.duplicates import Sameness

MAX_ASKED = 256  # files waiting for a comparison; past it, a file waits in the inbox for a rescan
STOP_WAIT = 2.0  # seconds a stop waits for the thread (it looks at the stop between two 1 MiB reads)


@dataclass(frozen=True)
class _Asked:
    folder: Folder
    path: Path  # the new file, in the inbox
    twin: Path  # the file of its name in archive/, of its size


class PassedAgain:
    def __init__(self, sameness: Sameness, log, offer_again: Callable[[Folder, str], None]):
        self.sameness = sameness
        self.log = log
        self.offer_again = offer_again  # the inbox looks at that file again soon
        self._asked: queue.Queue[_Asked] = queue.Queue(MAX_ASKED)
        self._answers: queue.SimpleQueue[tuple[_Asked, Compared]] = queue.SimpleQueue()
        self._comparing: set[Path] = set()  # inbox paths asked and not yet settled (the main loop's)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self, folder: Folder, path: Path) -> bool:
        """The main loop, a file to pass through: True when it is compared first (or is being
        compared), so it stays in the inbox; False: archive it now, as before."""
        if path in self._comparing:
            return True  # offered again by a rescan while it is read
        if folder.on_duplicate != OnDuplicate.SKIP or folder.duplicates is None or self._stop.is_set():
            return False
        twin = twin_of(folder, path)
        if twin is None:
            return False
        try:
            self._asked.put_nowait(_Asked(folder, path, twin))
        except queue.Full:
            return True  # it waits in the inbox: a rescan offers it again
        self._comparing.add(path)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="passed-again", daemon=True)
            self._thread.start()
        self.log.info("file_comparing", folder=folder.name, file=_rel(folder, path),
                      archived=fsnames.display(str(twin)))
        return True

    def settle(self) -> Iterator[tuple[Folder, Path]]:
        """The main loop, each turn: act on the comparisons that ended; yields each file to
        archive as before (the ledger moves it, as a claim's pass-through)."""
        while True:
            try:
                asked, found = self._answers.get_nowait()
            except queue.Empty:
                return
            self._comparing.discard(asked.path)
            if self._acted(asked, found):
                yield asked.folder, asked.path

    def _acted(self, asked: _Asked, found: Compared) -> bool:
        """One answer acted on; True when the file is to be archived as before."""
        folder, rel = asked.folder, _rel(asked.folder, asked.path)
        again = asked.path.relative_to(folder.inbox).as_posix()  # the name itself, not as shown
        if found.verdict == Verdict.STOPPED:
            return False
        if found.verdict == Verdict.UNSURE:
            self.log.warning("file_compare_failed", folder=folder.name, file=rel,
                             archived=fsnames.display(str(asked.twin)), reason=fsnames.display(found.why),
                             action="archived as it is, as any file passed through (a doubt never skips a file)")
            return True
        now = _stamp(asked.path)
        if now is None:
            return False  # gone meanwhile (deleted, moved away): nothing to do
        if found.verdict == Verdict.CHANGED or now != found.new:
            self.offer_again(folder, again)  # written to meanwhile: judged anew once quiet
            return False
        if found.verdict == Verdict.DIFFERENT:
            return True
        if _stamp(asked.twin) != found.old:  # the archived one changed or went: look again
            self.offer_again(folder, again)
            return False
        try:
            self.sameness.passed_again(folder, asked.path, asked.twin)
        except OSError as exc:  # it stays in the inbox; a rescan offers it again
            self.log.error("duplicate_not_moved", folder=folder.name, file=rel, reason=str(exc))
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                asked = self._asked.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                found = same_bytes.compare(asked.twin, asked.path, self._stop)
            except Exception as exc:  # noqa: BLE001 - a bug of ours: archived as before, said
                found = Compared(Verdict.UNSURE, why=f"{type(exc).__name__}: {exc}")
            self._answers.put((asked, found))

    def stop(self) -> None:
        """At a stop: no new comparison; one under way stops at its next read, its file left
        in the inbox (the next start compares it again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT)  # a read hung on a dead share does not hold the stop: a daemon thread


def twin_of(folder: Folder, path: Path) -> Path | None:
    """The file of the inbox file `path`'s name where it would be archived, when both are
    regular files of one size (not followed if a link: lstat); None otherwise."""
    if folder.archive is None:
        return None
    twin = folder.archive / path.relative_to(folder.inbox)
    try:
        new, old = nofollow.lstat(path), nofollow.lstat(twin)
    except OSError:
        return None
    if not (stat.S_ISREG(new.st_mode) and stat.S_ISREG(old.st_mode)) or new.st_size != old.st_size:
        return None
    return twin


def _stamp(path: Path) -> Stamp | None:
    try:
        st = nofollow.lstat(path)
    except OSError:
        return None
    return Stamp.of(st) if stat.S_ISREG(st.st_mode) else None


def _rel(folder: Folder, path: Path) -> str:
    return fsnames.display(path.relative_to(folder.inbox).as_posix())
