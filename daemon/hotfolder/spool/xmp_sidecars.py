"""An original's XMP sidecar through the spool: claimed with its image, archived (or
failed, given back, requeued) beside it, and a sidecar whose image never came archived
alone. Each move is one rename between folders opened without following a link, as
the original's own (spool/moves.py); the names are sidecars.py's.
"""
from __future__ import annotations

import datetime
import os
from pathlib import Path, PurePosixPath

from hotfolder.config.model import Folder
from hotfolder.sidecars import beside
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
        target = _free(dst_fd, dst_dir, name)
        try:
            os.rename(src.name, target, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        except FileNotFoundError:
            return None
        os.fsync(dst_fd)
    return dst_dir / target


def _free(dir_fd: int, where: Path, name: str) -> str:
    candidate, n = fit_name(where / name, 6).name, 1
    while exists_at(dir_fd, candidate):
        stem, _, suffix = name.rpartition(".")
        candidate = fit_name(where / f"{stem}_{n}.{suffix}", 6).name
        n += 1
    return candidate


def not_older(new: bytes, old: bytes) -> bool:
    """Whether the sidecar `new` may take the place of `old`: both parse as XMP (xmp.Unreadable,
    a ValueError, when `new` does not), and `new` was not saved before `old` by what they say
    of it (`xmp:MetadataDate`, which Lightroom, Capture One and darktable set at each save; a
    sidecar that says none is taken as newer). An old export dropped again (last month's
    sidecars copied in with the card) must not undo a fix made since."""
    from hotfolder.engine import xmp  # XML only, no decoder

    newer = _saved(xmp.Packet.parse(new))
    try:
        older = _saved(xmp.Packet.parse(old))
    except ValueError:  # the earlier one is not XMP: anything readable is better
        return True
    if newer is None or older is None:
        return True
    if (newer.tzinfo is None) != (older.tzinfo is None):
        newer, older = newer.replace(tzinfo=None), older.replace(tzinfo=None)
    return newer >= older


def saved(data: bytes) -> datetime.datetime | None:
    """When the sidecar `data` says it was saved (xmp:MetadataDate); None when it says not or
    is no XMP."""
    from hotfolder.engine import xmp

    try:
        return _saved(xmp.Packet.parse(data))
    except ValueError:
        return None


def _saved(packet) -> datetime.datetime | None:
    from hotfolder.engine import xmp

    found = packet.find(xmp.Property(xmp.q("xmp", "MetadataDate"), "text"))
    text = found if isinstance(found, str) else (found.text if found is not None else None)
    try:
        return datetime.datetime.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None


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
