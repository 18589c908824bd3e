"""A file passed through again (`pass_through:`, a clip of a card dumped twice): under
`on_duplicate: skip`, one of the very bytes of the file of its name archived where it would
go is a duplicate, as a photo copy is (the duplicates folder, NAME.duplicate.json, counted),
not a second copy of gigabytes in archive/ (`MVI_0009_1.MP4`).

Only a file with a twin is compared: an archived file of its name and size where it would go
(what the `file_passed_through` line flagged before), or else one that state/passed.py's rows
know of its name (case aside) and size in another subfolder (a card dumped into `card2/`),
within the folder's `duplicate_scope` as a photo's copies are; any other is archived at once,
as before, and noted there. A cluster's head keeps the rows in the cluster's Redis
(cluster/passed.py); while Redis is away a clip waits in the inbox for them (a rescan offers
it again), as without them a copy would be archived again. The
comparison reads both files in full (spool/same_bytes.py), seconds for a 4 GB clip, so it
runs in one thread of the supervisor fed by a bounded queue, never in the main loop; the
file waits in the inbox meanwhile (a rescan offering it again is passed over), and a stop or
a crash mid-compare leaves it there for the next start. The main loop acts on each answer
(`settle`), after it looked again that neither file changed since it was read:

    same           the duplicates folder with its record (supervisor/duplicates.py)
    different      archived as before (`_1`, the line's note)
    unsure         archived as before, with a warning: a doubt never skips a file (one
                   deleted before it was read: nothing to archive, nothing said)
    changed        left in the inbox, offered again: judged anew once quiet
    stopped        left in the inbox

Two copies of one clip taken at once (the same card dumped into `card1/` and `card2/` by two
people) would each be compared with the archived clips only, neither with the other, and both
archived when none of those holds their bytes: the later one waits in the inbox, not asked,
while a clip of its name (case aside) and size is compared in a subfolder its scope reaches
(`file_waits_for_twin`); once that one is acted on (archived and noted, or skipped) it is
offered again, and compared as any, with that one's row among its twins. A stop leaves both
in the inbox: the next start compares the first it takes, and holds the other.

A reload meanwhile is heeded (the file is still in the inbox, not claimed): a folder now
under `on_duplicate: process` or `fail` archives it as before, whatever the answer; a folder
the reload took away leaves it in its inbox.
"""
from __future__ import annotations

import dataclasses
import queue
import stat
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hotfolder.config.choices import OnDuplicate
from hotfolder.config.model import Cluster, Folder
from hotfolder.spool import fsnames, nofollow, same_bytes
from hotfolder.spool.same_bytes import Compared, Stamp, Verdict
from hotfolder.state import passed
from hotfolder.supervisor.clip_rows import ClipRows, scope_of
from hotfolder.supervisor.duplicates import Sameness

if TYPE_CHECKING:
    pass

MAX_TWINS = 8  # archived files of one name and size compared with a file passed through again (passed.find's rows)
MAX_ASKED = 256  # files waiting for a comparison (or for a copy's: _waiting); past it, one waits for a rescan
STOP_WAIT = 2.0  # seconds a stop waits for the thread (it looks at the stop between two 1 MiB reads)


@dataclass(frozen=True)
class _Asked:
    folder: Folder
    path: Path  # the new file, in the inbox
    twin: Path  # the file of its name in archive/, of its size
    of: Folder | None = None  # the folder whose archive/ holds `twin` (None: `folder`; another under scope `all`)
    more: tuple[tuple[Folder, Path], ...] = ()  # other archived files of its name and size, compared in turn


@dataclass(frozen=True)
class _Clip:
    """An inbox file being compared, as another copy of it would be found (state/passed.py's row)."""
    folder: str
    subdir: str  # its subfolder under the inbox ("" the top)
    name: bytes  # passed.name_key: case aside
    size: int

    @classmethod
    def of(cls, folder: Folder, path: Path) -> _Clip | None:
        """The inbox file `path` as a row would name it once archived; None: gone."""
        try:
            size = nofollow.lstat(path).st_size
        except OSError:
            return None
        rel = path.relative_to(folder.inbox).as_posix()
        return cls(folder.name, rel.rpartition("/")[0], passed.name_key(path.name), size)


class PassedAgain:
    def __init__(self, sameness: Sameness, log, offer_again: Callable[[Folder, str], None],
                 folders: Callable[[], Iterable[Folder]] = tuple,
                 on_settled: Callable[[Folder, str], None] = lambda folder, rel: None,
                 cluster: Callable[[], Cluster | None] = lambda: None):
        self.sameness = sameness
        self.log = log
        self.offer_again = offer_again  # the inbox looks at that file again soon
        self.folders = folders  # the config's folders now (a row names its folder by name)
        self.on_settled = on_settled  # a comparison acted on (its path under the inbox): its sidecar offered again
        self.rows = ClipRows(log, folders, cluster)  # the rows of clips archived, where they are kept
        self._asked: queue.Queue[_Asked] = queue.Queue(MAX_ASKED)
        self._answers: queue.SimpleQueue[tuple[_Asked, Compared]] = queue.SimpleQueue()
        # inbox paths asked and not yet settled (queued, being read, or answered): what each is (the main loop's)
        self._comparing: dict[Path, _Clip] = {}
        # inbox paths held while a clip of their name and size is compared: the one each waits for
        self._waiting: dict[Path, tuple[Folder, Path]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self, folder: Folder, path: Path) -> bool:
        """The main loop, a file to pass through: True when it is compared first (or is being
        compared), so it stays in the inbox; False: archive it now, as before."""
        if path in self._comparing:
            return True  # offered again by a rescan while it is read
        held = self._waiting.pop(path, None)
        if folder.on_duplicate != OnDuplicate.SKIP or folder.duplicates is None or self._stop.is_set():
            return False
        clip = _Clip.of(folder, path)
        if clip is None:
            return False  # gone meanwhile: the pass-through says so
        first = self._compared_twin(folder, path, clip)
        if first is not None:
            if held is None and len(self._waiting) >= MAX_ASKED:
                return True  # it waits all the same, unrecorded: a rescan offers it again
            self._waiting[path] = (folder, first)
            if held is None or held[1] != first:  # said once per wait, not at each rescan
                self.log.info("file_waits_for_twin", folder=folder.name, file=_rel(folder, path),
                              twin=_rel(folder, first) if first.is_relative_to(folder.inbox) else fsnames.display(
                                  str(first)))
            return True
        # Each archived file of its name and size, its own path's first: a card's clip and another
        # of that name archived beside it (`_1`, a camera's numbers come round) are two to compare
        own = twin_of(folder, path)
        try:
            found = self.rows.twins(folder, path, clip.size)
        except passed.Unreachable:  # a cluster's Redis is away (said once by its rows): it waits in the inbox
            return True
        twins = ([(folder, own)] if own is not None else []) + [twin for twin in found if twin[1] != own]
        if not twins:
            return False
        (of, twin), more = twins[0], tuple(twins[1:MAX_TWINS])
        try:
            self._asked.put_nowait(_Asked(folder, path, twin, of, more))
        except queue.Full:
            return True  # it waits in the inbox: a rescan offers it again
        self._comparing[path] = clip
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="passed-again", daemon=True)
            self._thread.start()
        self.log.info("file_comparing", folder=folder.name, file=_rel(folder, path),
                      archived=fsnames.display(str(twin)))
        return True

    def comparing(self) -> dict[str, int]:
        """The main loop: per folder name, its clips asked and not yet settled (waiting in the
        queue, being read, or answered): they lie in the inbox, neither queued nor in flight, and
        the status says so. Nothing after a stop: those are left in the inbox for the next start."""
        if self._stop.is_set():
            return {}
        return dict(Counter([c.folder for c in self._comparing.values()] + [f.name for f, _ in self._waiting.values()]))

    def settle(self) -> Iterator[tuple[Folder, Path, bool]]:
        """The main loop, each turn: act on the comparisons that ended; yields each file to
        archive as before (the ledger moves it, as a claim's pass-through), with whether it was
        read to the end and found to differ (its line then says so, not "compare them"). A
        cluster's rows not written while its Redis was away are written first."""
        self.rows.flush()
        while True:
            try:
                asked, found = self._answers.get_nowait()
            except queue.Empty:
                return
            self._comparing.pop(asked.path, None)
            if self._acted(asked, found):
                yield asked.folder, asked.path, found.verdict == Verdict.DIFFERENT
            if found.verdict != Verdict.STOPPED:  # at a stop both stay in the inbox for the next start
                self.on_settled(asked.folder, asked.path.relative_to(asked.folder.inbox).as_posix())
                self._release(asked.path)  # after the yield: the first is archived and noted by now

    def compared_in(self, folder: Folder) -> list[str]:
        """The folder's files being compared, by their path under its inbox (a sidecar waits for
        its clip among them, as for an image being rendered: side_files.LoneSidecars)."""
        return [p.relative_to(folder.inbox).as_posix() for p in (*self._comparing, *self._waiting)
                if p.is_relative_to(folder.inbox)]

    def _compared_twin(self, folder: Folder, path: Path, clip: _Clip) -> Path | None:
        """Another inbox file of `clip`'s name and size being compared where `path`'s scope
        reaches (scope_of): `path` waits for it. None where no row would find that one once
        archived (rows unusable: nothing to wait for). A scan of the files
        asked (MAX_ASKED at most)."""
        if not self._comparing or self.rows.of(folder) is None:
            return None
        scope = scope_of(folder, path)
        for other, c in self._comparing.items():
            if other == path or (c.name, c.size) != (clip.name, clip.size):
                continue
            if scope["folder"] is None or (c.folder == scope["folder"] and scope["subdir"] in (None, c.subdir)):
                return other
        return None

    def _release(self, first: Path) -> None:
        """`first` was acted on: the files that waited for it are offered again (compared then,
        with its row among their twins)."""
        for path, (folder, waited) in list(self._waiting.items()):
            if waited == first:
                del self._waiting[path]
                self.offer_again(folder, path.relative_to(folder.inbox).as_posix())

    def _acted(self, asked: _Asked, found: Compared) -> bool:
        """One answer acted on; True when the file is to be archived as before."""
        folder, rel = asked.folder, _rel(asked.folder, asked.path)
        again = asked.path.relative_to(folder.inbox).as_posix()  # the name itself, not as shown
        if found.verdict == Verdict.STOPPED:
            return False
        now_folder = next((f for f in self.folders() if f.name == folder.name), None)  # a reload's
        if now_folder is None:  # a reload took the folder away: its inbox is no longer ours to empty
            return False
        if found.verdict == Verdict.UNSURE:
            if not _there(asked.path):  # deleted or moved away before it was read: nothing to archive
                return False
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
        if now_folder.on_duplicate != OnDuplicate.SKIP or now_folder.duplicates is None:
            return True  # a reload since it was asked (on_duplicate: process): archived, as any clip now
        try:
            self.sameness.passed_again(folder, asked.path, asked.twin, asked.of)
        except OSError as exc:  # it stays in the inbox; a rescan offers it again
            self.log.error("duplicate_not_moved", folder=folder.name, file=rel, reason=str(exc))
        return False

    def archiving(self, folder: Folder, path: Path, where: Path, size: int) -> None:
        """The main loop: the inbox file `path` of `size` bytes is about to be passed through to
        `where`: its row, first."""
        self.rows.note(folder, path, where, size)

    def not_archived(self, folder: Folder, path: Path, where: Path, size: int) -> None:
        """The move to `where` did not happen (a file took the name, the file went, a refusal):
        its row taken back."""
        self.rows.unnote(folder, path, where, size)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                asked = self._asked.get(timeout=0.5)
            except queue.Empty:
                continue
            answered, found = asked, self._compare(asked.twin, asked.path)
            for of, twin in asked.more:  # the next archived file of its name and size, while they differ
                if found.verdict != Verdict.DIFFERENT:
                    break
                then = self._compare(twin, asked.path)
                if then.verdict != Verdict.DIFFERENT:
                    answered, found = dataclasses.replace(asked, twin=twin, of=of, more=()), then
            self._answers.put((answered, found))

    def _compare(self, twin: Path, path: Path) -> Compared:
        try:
            return same_bytes.compare(twin, path, self._stop)
        except Exception as exc:  # noqa: BLE001 - a bug of ours: archived as before, said
            return Compared(Verdict.UNSURE, why=f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        """At a stop: no new comparison; one under way stops at its next read, its file left
        in the inbox (the next start compares it again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT)  # a read hung on a dead share does not hold the stop: a daemon thread
        # The rows stay open: a comparison that ended before the stop is still archived, and noted.


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


def _there(path: Path) -> bool:
    """Whether anything is at `path` (a link counts: the move refuses it, and says so)."""
    try:
        return nofollow.lexists(path)
    except OSError:  # a folder on the way swapped for a link: the move meets it and says so
        return True


def _stamp(path: Path) -> Stamp | None:
    try:
        st = nofollow.lstat(path)
    except OSError:
        return None
    return Stamp.of(st) if stat.S_ISREG(st.st_mode) else None


def _rel(folder: Folder, path: Path) -> str:
    return fsnames.display(path.relative_to(folder.inbox).as_posix())
