"""An original's XMP sidecar through the spool: claimed with its image, archived (or
failed, given back, requeued) beside it, and a sidecar whose image never came archived
alone. Each move is one rename between folders opened without following a link, as
the original's own (spool/moves.py); the names are sidecars.py's.
"""
from __future__ import annotations

import datetime
import errno
import os
from pathlib import Path, PurePosixPath

from hotfolder.config.model import Folder
from hotfolder.sidecars import SIDECAR_LIMIT, beside
from hotfolder.spool import nofollow, noreplace
from hotfolder.spool.folders import opened_folder
from hotfolder.spool.fsnames import fit_name, name_from_hex, relative_name
from hotfolder.spool.nofollow import exists_at


def claim(folder: Folder, image_rel: str, sidecar: Path) -> str | None:
    """Move `sidecar` (in the inbox, beside the image just claimed as `image_rel`) into
    processing/ beside it; its relative name, or None when it is gone or its name is
    taken there (the image is then rendered without it)."""
    rel = (PurePosixPath(image_rel).parent / sidecar.name).as_posix()
    try:
        with nofollow.opened(sidecar.parent) as src, nofollow.opened((folder.processing / rel).parent) as dst:
            if exists_at(dst, sidecar.name):
                return None
            os.rename(sidecar.name, sidecar.name, src_dir_fd=src, dst_dir_fd=dst)
    except FileNotFoundError:
        return None
    return rel


def follow(src: Path, dst_dir: Path, name: str) -> Path | None:
    """Move the sidecar at `src` into `dst_dir` as `name` (beside its image: sidecars.beside),
    never over another file. Its new path, or None when it was gone."""
    with nofollow.opened(src.parent) as src_fd, nofollow.opened(dst_dir, make=True) as dst_fd:
        try:
            target = _rename_free(src_fd, src.name, dst_fd, dst_dir, name, _free(dst_fd, dst_dir, name))
        except FileNotFoundError:
            return None
        os.fsync(dst_fd)
    return dst_dir / target


TRIES = 100  # free names looked for again when each was taken before the move (a co-user, racing)


def _rename_free(src_fd: int, src_name: str, dst_fd: int, where: Path, name: str, target: str) -> str:
    """`src_name` renamed to `target`, found free in `where`, or to the next free name when a
    file took `target` in between (spool/noreplace, as moves do): never over it. A plain
    rename replaced a file made under the name after the look (a review)."""
    for _ in range(TRIES):
        try:
            noreplace.rename(src_name, target, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            return target
        except FileExistsError:
            target = _free(dst_fd, where, name)
    raise FileExistsError(errno.EEXIST, f"every free name for {name} was taken before the sidecar could move there")


def _free(dir_fd: int, where: Path, name: str) -> str:
    candidate, n = fit_name(where / name, 6).name, 1
    while exists_at(dir_fd, candidate):
        stem, _, suffix = name.rpartition(".")
        candidate = fit_name(where / f"{stem}_{n}.{suffix}", 6).name
        n += 1
    return candidate


def same(a: Path, b: Path) -> bool:
    """Whether the sidecars `a` and `b` hold the same bytes (False for a link, a file that is
    not regular, or one past the sidecar limit)."""
    try:
        return nofollow.read_small(a, SIDECAR_LIMIT) == nofollow.read_small(b, SIDECAR_LIMIT)
    except (OSError, ValueError):
        return False


def not_older(new: bytes, old: bytes) -> bool:
    """Whether the sidecar `new` may take the place of `old`: both parse as XMP (xmp.Unreadable,
    a ValueError, when `new` does not), and `new` was not saved before `old` by what they say
    of it (`xmp:MetadataDate`, which Lightroom, Capture One and darktable set at each save; a
    sidecar that says none is taken as newer). An old export dropped again (last month's
    sidecars copied in with the card) must not undo a fix made since."""
    return not_older_than(date_of(new), old)


def not_older_than(newer: datetime.datetime | None, old: bytes) -> bool:
    """not_older, with the new sidecar's date_of already read (the main loop scans it once)."""
    try:
        older = date_of(old)
    except ValueError:  # the earlier one is not XMP: anything readable is better
        return True
    if newer is None or older is None or in_the_future(older):
        return True
    if (newer.tzinfo is None) != (older.tzinfo is None):
        newer, older = newer.replace(tzinfo=None), older.replace(tzinfo=None)
    return newer >= older


# A day covers every time zone a date without one may have been written in.
FUTURE_SLACK = datetime.timedelta(days=1)


def in_the_future(when: datetime.datetime) -> bool:
    """A save date past now (a day's slack): a wrong clock's (an editing machine's, a restored
    backup's), which would make every later re-export look older, so that no fix could ever
    take its place; it says nothing, as no date."""
    now = datetime.datetime.now(when.tzinfo) if when.tzinfo is not None else datetime.datetime.now()
    return when > now + FUTURE_SLACK


def date_of(data: bytes) -> datetime.datetime | None:
    """When the sidecar `data` says it was saved (xmp:MetadataDate; None when it says not, or
    not as a date); xmp.Unreadable (a ValueError) when it is no XMP."""
    text = metadata_date(data)
    try:
        return datetime.datetime.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None


class _Scan:
    """What metadata_date reads as expat hands it the elements: no tree is built."""

    def __init__(self) -> None:
        self.depth = 0
        self.root: str | None = None
        self.rdf_at = 0  # the depth of rdf:RDF under the root (0: not seen)
        self.rdf_done = False  # the first rdf:RDF ended: ElementTree's find() reads that one only
        self.found: str | None = None  # the first rdf:Description's that says it
        self.in_desc = False
        self.attr: str | None = None  # the current rdf:Description's xmp:MetadataDate attribute
        self.text: list[str] | None = None  # the current xmp:MetadataDate element's text, while read
        self.element: str | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        from hotfolder.engine import xmp

        self.depth += 1
        if self.depth > xmp.MAX_DEPTH:  # what Packet.parse refuses (a worker reads it so) takes no place
            raise xmp.Unreadable(f"its elements nest deeper than {xmp.MAX_DEPTH}")
        if self.text is not None:  # ElementTree's .text: what comes before the first child
            self.element, self.text = "".join(self.text) or None, None
        if self.depth == 1:
            self.root = tag
            if tag == _RDF:
                self.rdf_at = 1
        elif self.depth == 2 and tag == _RDF and self.root == _META and not self.rdf_at:
            self.rdf_at = 2
        elif (self.rdf_at and not self.rdf_done and self.depth == self.rdf_at + 1 and tag == _DESC
              and self.found is None):
            self.in_desc, self.attr, self.element = True, attrs.get(_DATE), None
        elif self.in_desc and self.depth == self.rdf_at + 2 and tag == _DATE and self.element is None:
            self.text = []

    def chars(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def end(self, tag: str) -> None:
        if self.text is not None:
            self.element, self.text = "".join(self.text) or None, None
        if self.in_desc and self.depth == self.rdf_at + 1:
            self.in_desc = False
            value = self.element if self.element is not None else self.attr
            if value is not None:
                self.found = value
        if self.depth == self.rdf_at:
            self.rdf_done = True
        self.depth -= 1


# expat's names as ElementTree asks for them (namespace and name split by "}": a namespace
# with a space in it is XML all the same)
_META, _RDF = "adobe:ns:meta/}xmpmeta", "http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF"
_DESC, _DATE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description", "http://ns.adobe.com/xap/1.0/}MetadataDate"


def metadata_date(data: bytes) -> str | None:
    """The text of `data`'s xmp:MetadataDate (an element or an attribute of its first
    rdf:Description that has one, as engine/xmp.Packet.find reads it); None when it has none.
    xmp.Unreadable (a ValueError) when it is no XMP, as Packet.parse says. The main loop reads
    sidecars so (a re-export that takes an earlier one's place): expat hands it the elements
    and no tree is built: 0.6 s and no memory for 4 MiB of empty elements where Packet.parse
    took 1.3 s and 86 MiB (a skipped copy's sidecar was parsed twice so)."""
    from xml.parsers import expat

    from hotfolder.engine import xmp  # XML only, no decoder

    text = data.replace(b"\0", b"").strip()
    xmp._refuse_dtd(text)
    scan = _Scan()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler, parser.EndElementHandler = scan.start, scan.end
    parser.CharacterDataHandler = scan.chars
    parser.buffer_text = True
    try:
        parser.Parse(text, True)
    except xmp.Unreadable:
        raise
    except expat.ExpatError as exc:
        raise xmp.Unreadable(f"not valid XML ({exc})") from None
    except (ValueError, LookupError) as exc:  # an encoding expat does not read
        raise xmp.Unreadable(f"its encoding cannot be read ({exc})") from None
    if scan.root not in (_META, _RDF):
        raise xmp.Unreadable("no x:xmpmeta or rdf:RDF element")
    if not scan.rdf_at:
        raise xmp.Unreadable("no rdf:RDF element")
    return scan.found


EARLIER = ".earlier"  # IMG_0002.xmp superseded by a re-export: IMG_0002.earlier.xmp, a name no image pairs with


def superseding(folder: Folder, path: Path, rel_dir: str | Path | None = None,
                name: str | None = None) -> tuple[Path | None, Path | None]:
    """A newer sidecar for an image archived with one (a keyword fixed in Lightroom after the
    shoot): moved from `path` (the inbox, or processing/ beside a skipped copy of the image)
    into archive/`rel_dir` (by default its own subfolder there) as `name` (by default its own),
    the sidecar there under that name kept as `STEM.earlier.xmp` (then `STEM.earlier_1.xmp`,
    ...: sidecars.image_of pairs it with no image, and rerender leaves sidecars out), so the
    image's next rendering reads the newer one. Where it went (None: gone meanwhile, the
    earlier one kept all the same) and where the earlier one went (None: there was none). A
    crash between the two renames leaves the new one where it was: a sidecar in the inbox is
    archived beside the image at its next offer, one in processing/ given back to the inbox
    by recovery."""
    if folder.archive is None:
        raise ValueError("with on_success: delete nothing is archived to supersede")
    rel_dir = path.relative_to(folder.inbox).parent if rel_dir is None else rel_dir
    name = path.name if name is None else name
    with opened_folder(folder.archive, rel_dir) as dst:
        where = dst.path
    stem, _, suffix = name.rpartition(".")
    kept = None
    with nofollow.opened(where) as dst_fd:
        while exists_at(dst_fd, name):  # a name made free between the look and the rename is looked for again
            candidate = _free(dst_fd, where, f"{stem}{EARLIER}.{suffix}")
            try:
                noreplace.rename(name, candidate, src_dir_fd=dst_fd, dst_dir_fd=dst_fd)
            except FileExistsError:
                continue
            except FileNotFoundError:  # gone meanwhile: the name is free
                break
            kept = where / candidate
            os.fsync(dst_fd)
            break
    return follow(path, where, name), kept


def alone(folder: Folder, path: Path) -> Path | None:
    """A sidecar whose image never came: to archive/ (deleted with `on_success: delete`),
    under its subfolder, never over another file. Where it went (None: deleted or gone)."""
    rel = path.relative_to(folder.inbox)
    if folder.archive is None:
        with nofollow.opened(path.parent) as src_fd:
            try:
                os.unlink(path.name, dir_fd=src_fd)
            except FileNotFoundError:
                pass
        return None
    with opened_folder(folder.archive, rel.parent) as dst:
        where = dst.path
    return follow(path, where, path.name)


def failed_beside(path: Path, record: dict) -> tuple[str, str] | None:
    """For a failed image at `path` whose record says it came with a sidecar: (the
    sidecar's name in failed/, the name it came in with). Both are data: one name each,
    never a path; None when there is no such sidecar there."""
    came = relative_name(name_from_hex(record.get("sidecar_as")))
    image_came = relative_name(name_from_hex(record.get("file_as")))
    if came is None or image_came is None:
        return None
    name_came = PurePosixPath(came).name
    here = beside(name_came, PurePosixPath(image_came).name, path.name)
    try:
        with nofollow.opened(path.parent) as fd:
            return (here, name_came) if exists_at(fd, here) else None
    except OSError:
        return None
