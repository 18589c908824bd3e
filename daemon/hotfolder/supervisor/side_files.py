"""The inbox files a claim does not render: what a folder passes through to archive/ as it
is (`pass_through:`, videos), and an XMP sidecar whose image never came. Neither is ever a
failure; each is said in the log. The ledger hands them here (supervisor/ledger.py).
"""
from __future__ import annotations

import os
import shlex
import stat
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from hotfolder import sidecars
from hotfolder.arrival import rules
from hotfolder.config import locate
from hotfolder.config.model import Folder
from hotfolder.engine import formats
from hotfolder.spool import archived, fsnames, moves, nofollow, xmp_sidecars
from hotfolder.state import originals, unmatched


def pass_through(log, folder: Folder, path: Path, differs: bool = False,
                 before: Callable[[Path, int], None] | None = None) -> Path | None:
    """Move it to archive/ as it is (moves.Refused for a link: the caller fails it); where it
    went (None: it was gone). `differs`: compared with the archived file of its name and size
    (supervisor/passed_again.py), its bytes differ. `before`: moves.pass_through's."""
    where = moves.pass_through(folder, path, before)
    if where is not None:
        note = _beside_its_size(where, path.name, differs)
        log.info("file_passed_through", folder=folder.name, file=fsnames.display(
            path.relative_to(folder.inbox).as_posix()), archived=fsnames.display(str(where)), outcome="archived",
            **({"note": note} if note else {}))
    return where


def _beside_its_size(where: Path, came_as: str, differs: bool = False) -> str | None:
    """When a passed-through file was archived under another name beside the file of its
    name, of the same size: most likely a card dumped again (its photos skipped as
    duplicates, its clips archived a second time, gigabytes each, without a word). Not
    compared (on_duplicate: process or fail, or a read that failed): said, for the admin to
    compare. Compared and `differs`: said so ("compare them" sent an admin to redo it)."""
    if where.name == came_as:
        return None
    try:
        if nofollow.lstat(where).st_size != nofollow.lstat(where.with_name(came_as)).st_size:
            return None
    except OSError:
        return None
    if differs:
        return (f"archived as {fsnames.display(where.name)} beside {fsnames.display(came_as)}, of the same size: "
                "compared byte for byte, their bytes differ (another clip under that name, or one changed since): "
                "both kept, nothing to do")
    return (f"archived as {fsnames.display(where.name)} beside {fsnames.display(came_as)}, of the same size (the same "
            "card dumped again?): compare them, and delete one if they are the same")


class LoneSidecars:
    """XMP sidecars handed out without their image (arrival/pairs.py: it did not come within
    sidecar_wait, or came before them): archived, with a note that says why and what to do,
    and counted when late (their image was rendered, or taken by no rendition: noted by
    `note_unmatched`, without them). One whose image is being rendered now waits in the
    inbox for its end (it was archived alone, "no image of it arrived", and not counted
    late: an admin's report)."""

    def __init__(self, state_dir: Path | None) -> None:
        self.state_dir = state_dir  # the daemon's (a cluster's folders have none: {seq} is in Redis)
        self.late: dict[str, int] = {}  # per folder: late sidecars, since the start
        self._unmatched: dict[Path, unmatched.Unmatched] = {}  # per state_dir: its notes of unmatched originals
        self._waiting: dict[tuple[str, str], str] = {}  # (folder, its image) -> a sidecar waiting for its end

    def take(self, log, folder: Folder, path: Path, rendering: Iterable[str]) -> None:
        """`rendering`: the folder's files in flight (their paths under the inbox)."""
        if self._waits(folder, path, rendering):
            return
        if sidecar_alone(log, folder, path, self.state_dir):
            self.late[folder.name] = self.late.get(folder.name, 0) + 1

    def note_unmatched(self, log, folder: Folder, where: Path) -> None:
        """An original no rendition took was archived at `where`: noted in state_dir's database
        (state/unmatched.py), so that its late sidecar is told so after a restart or a crash
        too. A note that fails costs that line's wording only: said, never a reason to stop."""
        if self.state_dir is None:
            return
        try:
            notes = self._unmatched.get(self.state_dir)
            if notes is None:
                notes = self._unmatched[self.state_dir] = unmatched.Unmatched(self.state_dir)
            # its folders reached without a link: a cluster's `where` is a verdict's, from Redis
            notes.note(where, nofollow.lstat(where).st_ino)
        except Exception as exc:  # noqa: BLE001 - see above
            log.warning("unmatched_note_failed", folder=folder.name, archived=str(where),
                        reason=f"{type(exc).__name__}: {exc}")

    def _waits(self, folder: Folder, sidecar: Path, rendering: Iterable[str]) -> bool:
        rel = PurePosixPath(sidecar.relative_to(folder.inbox).as_posix())
        names = [PurePosixPath(r).name for r in rendering if PurePosixPath(r).parent == rel.parent]
        image = sidecars.image_of(rel.name, names) if names else None
        if image is None:
            return False
        if len(self._waiting) < MAX_WAITING:  # past it, a rescan offers it again all the same
            self._waiting[(folder.name, (rel.parent / image).as_posix())] = rel.as_posix()
        return True

    def ended(self, folder: Folder, rel: str) -> str | None:
        """The file `rel` ended: the sidecar that waits for it (to be offered again), if any."""
        return self._waiting.pop((folder.name, rel), None)


def sidecar_alone(log, folder: Folder, path: Path, state_dir: Path | None) -> bool:
    """Archive (or delete, with on_success: delete) a sidecar whose image never came. True
    when it came late: its image was rendered without it, or taken by no rendition without
    it (noted in state_dir's database as it was archived); the ledger counts those."""
    rel = path.relative_to(folder.inbox).as_posix()
    earlier = None
    try:
        if supersedes(folder, path.relative_to(folder.inbox).as_posix(), path, state_dir):
            where, earlier = xmp_sidecars.superseding(folder, path)
        else:
            where = xmp_sidecars.alone(folder, path)
    except OSError as exc:  # it stays in the inbox; the next rescan tries again
        log.error("sidecar_not_moved", folder=folder.name, file=rel, reason=str(exc))
        return False
    late, note = _why_alone(folder, where, state_dir, earlier, path.name)
    log.info("sidecar_alone", folder=folder.name, file=rel, archived=str(where) if where else None, late=late,
             note=note)
    return late


def supersedes(folder: Folder, rel: str, path: Path, state_dir: Path | None) -> bool:
    """Whether the sidecar at `path`, alone in the inbox as `rel` (`explain`: as if dropped
    so), is a re-export for an image archived
    with a sidecar of its name (a keyword fixed in Lightroom after the shoot): its name is
    taken beside an image the daemon rendered, or took by no rendition, there. Such a
    sidecar was archived as `IMG_0002_1.xmp`, which no image pairs with, and the image's
    rerender went on reading the earlier one. Not when the new one cannot be read as XMP (an
    earlier sidecar that can is not put aside for it), nor when it says it was saved before
    the earlier one (xmp_sidecars.not_older: an old export copied in again), nor when it is
    that very sidecar, byte for byte (the export folder or the card copied in again: it put the
    same bytes aside as `.earlier`, `.earlier_1`, ..., one a drop, and said to rerender for
    nothing)."""
    found = verdict(folder, rel, path, state_dir)
    return found is not None and found[0] == SUPERSEDES


SUPERSEDES, SAME, STAYS = "supersedes", "same", "stays"  # verdict's answers


def verdict(folder: Folder, rel: str, path: Path, state_dir: Path | None) -> tuple[str, str] | None:
    """Of the sidecar at `path`, alone in the inbox as `rel`, whose name is taken beside an
    image archived and rendered (or taken by no rendition) there: (SUPERSEDES, the image) when
    it takes that sidecar's place (supersedes); (SAME, the image) when it is that sidecar's
    very bytes, (STAYS, the image) when that one stays for another reason (this one is no
    XMP, is no regular file, or says it was saved before): it is archived under a free name,
    which nothing reads. None when there is no such image with a sidecar (`explain` says of
    both what the daemon does)."""
    if folder.archive is None:
        return None
    directory, name = folder.archive / PurePosixPath(rel).parent, PurePosixPath(rel).name
    try:
        if not stat.S_ISREG(nofollow.lstat(directory / name).st_mode):
            return None
        image = sidecars.find_image(directory, name)
        if image is None or not _rendered(folder, directory / image, state_dir, lately=False):
            return None
    except OSError:
        return None
    try:
        limit = sidecars.SIDECAR_LIMIT
        new, old = nofollow.read_small(path, limit), nofollow.read_small(directory / name, limit)
        if new == old:
            return SAME, image
        return (SUPERSEDES if xmp_sidecars.not_older(new, old) else STAYS), image
    except (OSError, ValueError):  # xmp.Unreadable is a ValueError, as is a file past the limit
        return STAYS, image


def _why_alone(folder: Folder, where: Path | None, state_dir: Path | None,
               earlier: Path | None = None, came_as: str | None = None) -> tuple[bool, str]:
    """Whether it came late, and what happened and what to do: an image of it already
    archived was rendered without it (it came after the image was taken: an image waits
    only for a sidecar being written with it), so raising sidecar_wait would not help;
    `rerender` would (a new user), with the daemon's `config` named where a command would
    not find it by itself. `earlier`: the sidecar it took the place of, kept there; `came_as`:
    its name in the inbox (an image archived with a sidecar of that name kept it: _supersedes)."""
    if where is not None and came_as is not None and where.name != came_as and earlier is None:
        kept_by = sidecars.find_image(where.parent, came_as)
        if kept_by is not None and _rendered(folder, where.parent / kept_by, state_dir, lately=False):
            if xmp_sidecars.same(where, where.with_name(came_as)):
                return False, (f"its image {fsnames.display(kept_by)} lies archived with this very sidecar (the same "
                               "bytes): nothing changes, the image needs no rerender; this one archived as "
                               f"{fsnames.display(where.name)}, which nothing reads: delete it")
            return False, (f"its image {fsnames.display(kept_by)} lies archived with a sidecar of that name saved "
                           "after this one (its xmp:MetadataDate), or this one is no XMP: that one stays beside it; "
                           f"this one archived as {fsnames.display(where.name)}, which nothing reads")
    image = sidecars.find_image(where.parent, where.name) if where is not None else None
    if where is not None and image is not None:
        at = str(where.parent / image)
        # A name that is not text, or holds a control character, is shown escaped (\xff, \x0a), which a
        # shell would not read back: no command then
        command = f"hotfolder rerender{locate.option(folder.config_file)} {shlex.quote(at)}"
        how = f"`{command}`" if fsnames.printable(at) == at else "`hotfolder rerender` of that image"
        if earlier is not None:
            return True, (f"its image {fsnames.display(image)} was archived before it arrived, with an earlier "
                          "sidecar: this one takes that one's place beside the image (the earlier kept as "
                          f"{fsnames.display(earlier.name)}, which nothing reads); {how} renders the image again "
                          "with it" + _dated_ahead(where))
        if state_dir is not None and unmatched.archived_lately(state_dir, where.parent / image):
            return True, (f"its image {fsnames.display(image)} arrived before it, and no rendition's `when:` took "
                          f"it without it (archived, nothing written); archived beside that image: {how} renders "
                          "the image with its keywords and rating (copy a sidecar before or with its image)")
        # the index knows the name rendered however long ago (Lightroom's sidecars come after a cull, days later)
        if _rendered(folder, where.parent / image, state_dir, lately=folder.index_dir is None):
            return True, (f"its image {fsnames.display(image)} was rendered before it arrived, without it; archived "
                          f"beside that image: {how} renders the image again with it (copy a sidecar before or with "
                          "its image)")
    clip = sidecars.find_image(where.parent, came_as or where.name) if where is not None else None
    if where is not None and clip is not None and rules.passes_through(folder, where.parent / clip):
        # a clip's (a video's XMP, kept by Lightroom or Bridge): "no image arrived" sent admins looking
        return False, (f"its file {fsnames.display(clip)} is passed through as it is (pass_through:), never "
                       f"rendered: archived beside it as {fsnames.display(where.name)}, read by nothing here")
    return False, (f"no image of it arrived within sidecar_wait ({folder.sidecar_wait:g} s): "
                   + ("archived alone" if where else "deleted (on_success: delete)")
                   + "; drop a sidecar with its image, or raise sidecar_wait")


def _dated_ahead(sidecar: Path) -> str:
    """What to say of a sidecar whose xmp:MetadataDate is past now (xmp_sidecars.in_the_future:
    a wrong clock's): it counts as no date, so it yields to whatever comes next. Unsaid, the
    photographer learnt neither ("" for any other sidecar)."""
    try:
        data = nofollow.read_small(sidecar, sidecars.SIDECAR_LIMIT)
        when = xmp_sidecars.date_of(data)
    except (OSError, ValueError):
        return ""
    if when is None or not xmp_sidecars.in_the_future(when):
        return ""
    return (f"; its xmp:MetadataDate, {fsnames.display(xmp_sidecars.metadata_date(data) or '')}, is past now: the "
            "clock where it was saved is wrong? It counts as no date, so the next sidecar dropped for this image "
            "takes its place, whatever its date")


LATELY = unmatched.LATELY  # seconds: an image archived this recently is the one its late sidecar belonged to
MAX_WAITING = 1000  # sidecars remembered waiting for their image in flight


def _rendered(folder: Folder, image: Path, state_dir: Path | None = None, lately: bool = True) -> bool:
    """An image the daemon rendered and archived within LATELY (a rename sets its ctime), not a
    drop of last week's, nor a video passed through beside it (a review: `IMG_7.MOV` and
    `IMG_7.xmp` dropped together); the index, where there is one, knows its name rendered.
    `lately=False` (a sidecar that takes an earlier one's place): however long ago, or one no
    rendition took (noted in state_dir, within LATELY)."""
    try:
        if lately and time.time() - os.lstat(image).st_ctime >= LATELY:
            return False
    except OSError:
        return False
    if not lately and state_dir is not None and unmatched.archived_lately(state_dir, image):
        return True
    if rules.passes_through(folder, image) or formats.BY_EXTENSION.get(image.suffix.lower().lstrip(".")) is None:
        return False
    if folder.index_dir is None or folder.archive is None:
        return True
    names = {image.relative_to(folder.archive).as_posix(), archived.came_as(image)}
    return any(originals.rendered_under(folder.index_dir, folder.name, rel) for rel in names if rel)
