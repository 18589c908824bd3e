"""The inbox files a claim does not render: what a folder passes through to archive/ as it
is (`pass_through:`, videos), and an XMP sidecar whose image never came. Neither is ever a
failure; each is said in the log. The ledger hands them here (supervisor/ledger.py).
"""
from __future__ import annotations

import os
import shlex
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from hotfolder import sidecars
from hotfolder.arrival import rules
from hotfolder.config import locate
from hotfolder.config.model import Folder
from hotfolder.engine import formats
from hotfolder.spool import archived, fsnames, moves, xmp_sidecars
from hotfolder.state import originals


def pass_through(log, folder: Folder, path: Path) -> None:
    """Move it to archive/ as it is (moves.Refused for a link: the caller fails it)."""
    where = moves.pass_through(folder, path)
    if where is not None:
        log.info("file_passed_through", folder=folder.name, file=fsnames.display(
            path.relative_to(folder.inbox).as_posix()), archived=fsnames.display(str(where)), outcome="archived")


class LoneSidecars:
    """XMP sidecars handed out without their image (arrival/pairs.py: it did not come within
    sidecar_wait, or came before them): archived, with a note that says why and what to do,
    and counted when late (their image was rendered, or taken by no rendition, without
    them). One whose image is being rendered now waits in the inbox for its end (it was
    archived alone, "no image of it arrived", and not counted late: an admin's report)."""

    def __init__(self) -> None:
        self.late: dict[str, int] = {}  # per folder: late sidecars, since the start
        self.unmatched = Lately()  # where originals no rendition took went lately
        self._waiting: dict[tuple[str, str], str] = {}  # (folder, its image) -> a sidecar waiting for its end

    def take(self, log, folder: Folder, path: Path, rendering: Iterable[str]) -> None:
        """`rendering`: the folder's files in flight (their paths under the inbox)."""
        if self._waits(folder, path, rendering):
            return
        if sidecar_alone(log, folder, path, self.unmatched):
            self.late[folder.name] = self.late.get(folder.name, 0) + 1

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


class Lately:
    """Where originals that no rendition took were archived in the last LATELY seconds (at
    most MAX_LATELY of them): the index keeps no unmatched original, so a late sidecar of
    one was told "no image of it arrived" (a README audit), though its keywords or rating
    may be just what a rendition's `when:` asks for."""

    def __init__(self) -> None:
        self._at: dict[Path, float] = {}

    def add(self, where: Path) -> None:
        self._at.pop(where, None)
        self._at[where] = time.monotonic()
        while len(self._at) > MAX_LATELY or next(iter(self._at.values())) < time.monotonic() - LATELY:
            del self._at[next(iter(self._at))]

    def __contains__(self, where: object) -> bool:
        at = self._at.get(where) if isinstance(where, Path) else None
        return at is not None and time.monotonic() - at < LATELY


def sidecar_alone(log, folder: Folder, path: Path, unmatched: Lately | None = None) -> bool:
    """Archive (or delete, with on_success: delete) a sidecar whose image never came. True
    when it came late: its image was rendered without it, or taken by no rendition without
    it (`unmatched`: where such images went lately); the ledger counts those."""
    rel = path.relative_to(folder.inbox).as_posix()
    try:
        where = xmp_sidecars.alone(folder, path)
    except OSError as exc:  # it stays in the inbox; the next rescan tries again
        log.error("sidecar_not_moved", folder=folder.name, file=rel, reason=str(exc))
        return False
    late, note = _why_alone(folder, where, unmatched or Lately())
    log.info("sidecar_alone", folder=folder.name, file=rel, archived=str(where) if where else None, late=late,
             note=note)
    return late


def _why_alone(folder: Folder, where: Path | None, unmatched: Lately) -> tuple[bool, str]:
    """Whether it came late, and what happened and what to do: an image of it already
    archived was rendered without it (it came after the image was taken: an image waits
    only for a sidecar being written with it), so raising sidecar_wait would not help;
    `rerender` would (a new user), with the daemon's `config` named where a command would
    not find it by itself."""
    image = sidecars.find_image(where.parent, where.name) if where is not None else None
    if where is not None and image is not None:
        at = str(where.parent / image)
        # A name that is not text, or holds a control character, is shown escaped (\xff, \x0a), which a
        # shell would not read back: no command then
        command = f"hotfolder rerender{locate.option(folder.config_file)} {shlex.quote(at)}"
        how = f"`{command}`" if fsnames.printable(at) == at else "`hotfolder rerender` of that image"
        if where.parent / image in unmatched:
            return True, (f"its image {fsnames.display(image)} arrived before it, and no rendition's `when:` took "
                          f"it without it (archived, nothing written); archived beside that image: {how} renders "
                          "the image with its keywords and rating (copy a sidecar before or with its image)")
        if _rendered_lately(folder, where.parent / image):
            return True, (f"its image {fsnames.display(image)} was rendered before it arrived, without it; archived "
                          f"beside that image: {how} renders the image again with it (copy a sidecar before or with "
                          "its image)")
    return False, (f"no image of it arrived within sidecar_wait ({folder.sidecar_wait:g} s): "
                   + ("archived alone" if where else "deleted (on_success: delete)")
                   + "; drop a sidecar with its image, or raise sidecar_wait")


LATELY = 600.0  # seconds: an image archived this recently is the one its late sidecar belonged to
MAX_LATELY = 1000  # unmatched originals remembered (a path each): memory stays bounded
MAX_WAITING = 1000  # sidecars remembered waiting for their image in flight


def _rendered_lately(folder: Folder, image: Path) -> bool:
    """An image the daemon rendered and archived within LATELY (a rename sets its ctime), not a
    drop of last week's, nor a video passed through beside it (a review: `IMG_7.MOV` and
    `IMG_7.xmp` dropped together); the index, where there is one, knows its name rendered."""
    try:
        if time.time() - os.lstat(image).st_ctime >= LATELY:
            return False
    except OSError:
        return False
    if rules.passes_through(folder, image) or formats.BY_EXTENSION.get(image.suffix.lower().lstrip(".")) is None:
        return False
    if folder.index_dir is None or folder.archive is None:
        return True
    names = {image.relative_to(folder.archive).as_posix(), archived.came_as(image)}
    return any(originals.rendered_under(folder.index_dir, folder.name, rel) for rel in names if rel)
