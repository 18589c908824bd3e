"""Names as bytes: shown safely, cut to fit, the ignore rules and the walk that applies
them, and names kept in records (their exact bytes as hex; read back as data, never a path).
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from hotfolder.errors import HotfolderError
from hotfolder.shown import display, printable  # noqa: F401 - names' text, kept here too
from hotfolder.spool import nofollow

# Temp names of browsers (Firefox, Chrome, Safari's NAME.download folder), copy and sync
# tools (rsync's are hidden; rclone; WinSCP's default NAME.filepart; Resilio's NAME.!sync;
# Dropbox; qBittorrent), taken under them before their rename, an attack round found:
# `winscp.jpg_web.jpg`, and every tool's rename failed.
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", "~", ".filepart", ".!sync", ".download", ".dbtmp",
                    ".!qb")
SAFE_SAVE = re.compile(r".*\.sb-[0-9a-f]{4,}-[0-9a-z]{3,}", re.IGNORECASE)  # macOS safe-save: NAME.sb-XXXXXXXX-YYYYYY


def cut(name: str, limit: int) -> str:
    """`name` cut to at most `limit` bytes, at a character boundary where it is UTF-8."""
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    raw = raw[:max(0, limit)]
    for trim in range(4):
        try:
            return raw[:len(raw) - trim].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return os.fsdecode(raw)


def is_ignored_path(path: Path, root: Path) -> bool:
    """A file under `root` whose own name, or one of whose folders' names, is ignored
    (`inbox/.sync/a.jpg`, `inbox/upload.tmp/a.jpg`): the same rule for the watcher's
    events and for every scan, so what is taken while running is what a rescan finds."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return True
    return any(is_ignored_name(part) for part in parts)


def is_ignored_name(name: str) -> bool:
    """Hidden files and the temp names of browsers, rsync, and copy and sync tools."""
    return name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES) or SAFE_SAVE.fullmatch(name) is not None


NAME_MAX = 255  # bytes, on every Linux file system we expect


def fit_name(path: Path, reserve: int) -> Path:
    """Shorten a name so that it, plus `reserve` bytes (a sidecar suffix, `_12`), fits NAME_MAX."""
    name = path.name
    if len(os.fsencode(name)) + reserve <= NAME_MAX:
        return path
    digest = hashlib.sha1(os.fsencode(name)).hexdigest()[:8]
    suffix = path.suffix if len(os.fsencode(path.suffix)) < 16 else ""
    room = NAME_MAX - reserve - len(os.fsencode(suffix)) - len(digest) - 1
    stem = cut(name[: len(name) - len(suffix)], room)
    return path.with_name(f"{stem}~{digest}{suffix}")


class NameTooLong(HotfolderError, ValueError):
    def __init__(self, name: str, rendition: str | None = None, longest: tuple[str, int, int] | None = None,
                 manifest: bool = False):
        if manifest:  # the folder's `manifest:` template made it, not a rendition's filename (an attack round)
            super().__init__(
                f"the manifest's name {name[:40]}… is {len(os.fsencode(name))} bytes, longer than the {NAME_MAX} a "
                f"file name may have; shorten the input's name (rename it in failed/, delete its .error.json, and "
                f"`hotfolder requeue` the new name) or the folder's `manifest:` template (`{{stem:.200}}.json`)")
            return
        whose = f" of rendition {rendition}" if rendition else ""
        if longest is not None and longest[0] not in ("stem", "name"):
            # A field of the photo's (a wire photo's caption) made it long: that field and its
            # cut, not the input's name, nor a field the template may not have.
            field, given, cut = longest
            super().__init__(
                f"the output name{whose} {name[:40]}… is {len(os.fsencode(name))} bytes, longer than the "
                f"{NAME_MAX} a file name may have: its {{{field}}} gives {given} of them; cut it to a length in "
                f"the rendition's filename template, `{{{field}:.{cut}}}`")
            return
        super().__init__(
            f"the output name{whose} {name[:40]}… is {len(os.fsencode(name))} bytes, longer than the "
            f"{NAME_MAX} a file name may have; shorten the input's name (rename it in failed/, delete its "
            ".error.json, and `hotfolder requeue` the new name: requeued under its failed/ name it comes back under "
            "the long one) or the rendition's filename template (a field from the photo can be cut to a length: "
            "`{camera:.40}`)")


PATH_MAX = 4096  # bytes with the final NUL: the longest path open(2) takes on Linux


class PathTooLong(NameTooLong):
    """An output's whole path is longer than a program can open by name (every part fits)."""

    def __init__(self, path: str, rendition: str):
        HotfolderError.__init__(
            self, f"the output path of rendition {rendition} ({len(os.fsencode(path))} bytes, as "
                  f"{display(path[:60])}…) is longer than the {PATH_MAX - 1} bytes a path may have on Linux "
                  "(PATH_MAX): no program could open it by name; put fewer or shorter folders in its filename "
                  "template (a field from the photo can be cut to a length: `{model:.40}`)")


def walk_files(root: Path, on_error=None, skip=is_ignored_name):
    """Yield the entries under root lazily (files and symlinks; not directories), but
    not those with an ignored name or in a folder with one (`skip`: an inbox's own rules
    add to these). Folders are opened by descriptor (nofollow.walk): a link is an entry,
    never a way in.

    A folder that cannot be read is skipped; `on_error(folder, exc)` hears of it."""
    return nofollow.walk(root, skip=skip, on_error=on_error)


def name_as_hex(name: str) -> str:
    """A name's exact bytes, as a record keeps them (JSON cannot hold bytes that are not UTF-8)."""
    return os.fsencode(name).hex()


def name_from_hex(value: object) -> str | None:
    """The name a record kept with name_as_hex, or None if `value` is not one. Only text:
    whether it may be used as a name (file_name, relative_name) is the caller's check."""
    if not isinstance(value, str):
        return None
    try:
        return os.fsdecode(bytes.fromhex(value))
    except ValueError:
        return None


def file_name(text: str | None) -> str | None:
    """`text` if it is one plain name (no '/', not '.' or '..', no NUL, at most
    NAME_MAX bytes), else None: a name read from a record is never a path."""
    if not isinstance(text, str) or text in ("", ".", "..") or "/" in text or "\0" in text:
        return None
    return text if len(os.fsencode(text)) <= NAME_MAX else None


def relative_name(text: str | None) -> str | None:
    """`text` if it is a path inside a folder (relative, each part a file_name), else None."""
    if not isinstance(text, str):
        return None
    return text if all(file_name(part) for part in text.split("/")) else None
