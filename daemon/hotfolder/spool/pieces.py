"""A claimed file cut short, and the next piece its writer put in the inbox meanwhile.

A writer that closes between chunks (`cat >>`, FTP APPE) and opens the name again while
the file is claimed creates a new file in the inbox with the next chunk only. Once that
piece is ready, it is joined onto the claimed file: moved into processing/ under a temp
name of ours first (so a writer opening the name again makes the next piece, never writes
into one being read), appended to the claimed file, fsync'ed, then removed. A crash in
between leaves the piece in processing/, where the next start takes it as a file of its
own (it fails, and is kept): nothing is lost.

A piece that is a whole file (it starts as an image does: an FTP client that found no
file to resume uploads it again from the start) is not appended: `begins_with` says
whether it holds all of the claimed file's bytes.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from hotfolder.config.model import Folder
from hotfolder.spool import nofollow
from hotfolder.spool.atomic import temp_prefix
from hotfolder.spool.moves import Claimed
from hotfolder.spool.nofollow import exists_at, unlink_at

# How image files start (the formats' magic numbers); a piece that starts so is a file of its own.
SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"GIF8", b"BM", b"FUJIFILMCCD-RAW")
FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 1 << 20


def starts_as_image(path: Path) -> bool:
    """Whether the file at `path` begins as an image file does (not as the middle of one)."""
    head = _head(path, 12)
    return head.startswith(SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP") or head[4:8] == b"ftyp"


def _head(path: Path, n: int) -> bytes:
    try:
        with nofollow.opened(path.parent) as parent:
            fd = os.open(path.name, os.O_RDONLY | FILE_FLAGS, dir_fd=parent)
    except OSError:
        return b""
    try:
        return os.pread(fd, n, 0)
    except OSError:
        return b""
    finally:
        os.close(fd)


def append(folder: Folder, claimed: Claimed, piece: Path) -> int:
    """Join the inbox file `piece` onto the claimed file; the bytes appended. OSError if
    either cannot be used (then nothing was appended, and the piece is where it was)."""
    with nofollow.opened(piece.parent) as src_dir, nofollow.opened(claimed.path.parent) as dst_dir:
        taken = f"{temp_prefix(folder.temp_token)}piece-{secrets.token_hex(4)}"
        os.rename(piece.name, taken, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
        try:
            added = _copy(dst_dir, taken, claimed.path.name)
        except BaseException:
            if not exists_at(src_dir, piece.name):  # as it was; else a newer piece is there, and this
                os.rename(taken, piece.name, src_dir_fd=dst_dir, dst_dir_fd=src_dir)  # one waits in
            raise  # processing/, taken at the next start as a file of its own
        unlink_at(dst_dir, taken)
        os.fsync(dst_dir)
    return added


def _copy(dir_fd: int, src_name: str, dst_name: str) -> int:
    src = os.open(src_name, os.O_RDONLY | FILE_FLAGS, dir_fd=dir_fd)
    try:
        dst = os.open(dst_name, os.O_WRONLY | os.O_APPEND | FILE_FLAGS, dir_fd=dir_fd)
        try:
            start = os.fstat(dst).st_size
            total = 0
            while chunk := os.read(src, CHUNK):
                os.write(dst, chunk)
                total += len(chunk)
            os.fsync(dst)
        except BaseException:
            os.truncate(dst, start)  # the claimed file as it was
            raise
        finally:
            os.close(dst)
    finally:
        os.close(src)
    return total


def begins_with(whole: Path, part: Path) -> bool:
    """Whether the file `whole` begins with every byte of the file `part`."""
    try:
        a = os.open(part, os.O_RDONLY | FILE_FLAGS)
    except OSError:
        return False
    try:
        b = os.open(whole, os.O_RDONLY | FILE_FLAGS)
    except OSError:
        os.close(a)
        return False
    try:
        if os.fstat(b).st_size < os.fstat(a).st_size:
            return False
        while chunk := os.read(a, CHUNK):
            if os.read(b, len(chunk)) != chunk:
                return False
        return True
    finally:
        os.close(a)
        os.close(b)


def drop(claimed: Claimed) -> None:
    """Remove a claimed file (one a whole new upload of its name holds every byte of)."""
    with nofollow.opened(claimed.path.parent) as parent:
        unlink_at(parent, claimed.path.name)
        os.fsync(parent)
