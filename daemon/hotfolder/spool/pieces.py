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

A writer that writes each chunk at its offset (open by name without O_APPEND, then
pwrite: FTP REST+STOR resume, an SMB or NFS server, a NAS client) makes a piece that
starts with a hole where the claimed file's bytes are, its chunk after it. Appended
whole, the hole's zeros came in too (an 835 KB file for a 315 KB upload, failed as
damaged: an attack round): such a piece's data is written into the claimed file at its
own offsets instead (into a size the writer reserved first, too), and a piece whose data
begins past the claimed file's end (the bytes between are missing) waits (PieceGap).
"""
from __future__ import annotations

import errno
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


class PieceGap(OSError):
    """A piece written at its offsets whose data begins past the claimed file's end."""


class PieceDiffers(OSError):
    """A piece written at its offsets whose bytes, where the claimed file has bytes of its
    own (not the zeros of a size reserved first), are others: another file of its name."""


def _copy(dir_fd: int, src_name: str, dst_name: str) -> int:
    """The piece `src_name` joined onto the claimed file `dst_name`: the bytes it adds."""
    src = os.open(src_name, os.O_RDONLY | FILE_FLAGS, dir_fd=dir_fd)
    try:
        dst = os.open(dst_name, os.O_RDWR | FILE_FLAGS, dir_fd=dir_fd)
        try:
            taken, size = os.fstat(dst).st_size, os.fstat(src).st_size
            if not _at_offsets(src):
                ranges, shift = [(0, size)], taken  # a chunk appended: the piece's byte 0 goes at the end
            else:
                ranges, shift = _written_ranges(src, size, taken), 0
                _check_no_gap(ranges, taken)
                _check_same(src, dst, ranges, taken)
            try:
                for at, stop in ranges:
                    _write_range(src, dst, at, stop, at + shift)
                os.fsync(dst)
            except BaseException:
                os.truncate(dst, taken)  # as long as it was (only its reserved zeros may have been filled)
                raise
        finally:
            os.close(dst)
    finally:
        os.close(src)
    return max(0, max((stop + shift for _, stop in ranges), default=taken) - taken)


def _at_offsets(fd: int) -> bool:
    """Whether the piece was written at its offsets: it starts with a hole (an appended chunk,
    written from the piece's byte 0, never does). Zeros alone are no proof: an appended
    chunk of a TIFF's black may start with many; so on a file system that keeps no holes
    (or an offset under a block, 4 KB) such a piece is appended as any other."""
    try:
        return os.lseek(fd, 0, os.SEEK_DATA) > 0
    except OSError as exc:
        return exc.errno == errno.ENXIO and os.fstat(fd).st_size > 0  # all hole: nothing written yet


def _extent(fd: int, pos: int, size: int) -> tuple[int, int] | None:
    """The next [start, stop) of data at or after `pos` (SEEK_DATA, SEEK_HOLE), None past the last."""
    try:
        start = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return None
        return (pos, size) if pos < size else None  # holes not reported here: the rest is data
    try:
        stop = os.lseek(fd, start, os.SEEK_HOLE)
    except OSError:
        stop = size
    return (start, min(stop, size)) if start < size else None


def _nonzero(fd: int, start: int, stop: int) -> int:
    """The first byte in [start, stop) that is not zero; `stop` if none."""
    pos = start
    while pos < stop:
        chunk = os.pread(fd, min(CHUNK, stop - pos), pos)
        if not chunk:
            return stop
        stripped = chunk.lstrip(b"\0")
        if stripped:
            return pos + len(chunk) - len(stripped)
        pos += len(chunk)
    return stop


def _written_ranges(fd: int, size: int, taken: int) -> list[tuple[int, int]]:
    """The piece's data, as [start, stop) ranges: its extents, each without the zeros it
    starts with below the claimed file's end `taken` (an extent starts at a block's start,
    before the chunk's first byte; there the claimed file has its own bytes). Zeros at or
    past `taken` are the writer's: kept (a chunk of a TIFF's black, resumed at the end)."""
    ranges, pos = [], 0
    while (found := _extent(fd, pos, size)) is not None:
        start, stop = found
        if start < taken:
            start = _nonzero(fd, start, min(stop, taken))
            if start == min(stop, taken) and stop > taken:
                start = taken  # zeros up to the end of the claimed bytes, then more: from there
        if start < stop:
            ranges.append((start, stop))
        pos = stop
    return ranges


def _check_no_gap(ranges: list[tuple[int, int]], taken: int) -> None:
    covered = taken
    for start, stop in ranges:
        if start > covered:
            raise PieceGap(errno.EAGAIN, f"its writer wrote it at byte {start}, past the {covered} bytes it has: "
                                         "the bytes between are not there yet")
        covered = max(covered, stop)


def _check_same(src: int, dst: int, ranges: list[tuple[int, int]], taken: int) -> None:
    """Where the piece's ranges fall inside the claimed file, it may only repeat its bytes
    or fill its zeros (a size its writer reserved first, written in order): from the first
    byte that differs on, the claimed file must hold zeros. Else it is another file of the
    name, whose bytes must not be written over this one's (a review)."""
    for start, stop in ranges:
        end, pos = min(stop, taken), start
        while pos < end:
            theirs = os.pread(src, min(CHUNK, end - pos), pos)
            ours = os.pread(dst, len(theirs), pos)
            if not theirs or theirs == ours:
                pos += len(theirs) or end
                continue
            differs = pos + next(i for i, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b)
            if _nonzero(dst, differs, end) < end:
                raise PieceDiffers(errno.EEXIST, f"its bytes from byte {differs} on are not the taken file's: another "
                                                 "file of its name")
            break


def _write_range(src: int, dst: int, start: int, stop: int, at: int) -> None:
    """The piece's bytes [start, stop) written into the claimed file from byte `at`."""
    while start < stop:
        chunk = os.pread(src, min(CHUNK, stop - start), start)
        if not chunk:
            return
        os.pwrite(dst, chunk, at)
        start, at = start + len(chunk), at + len(chunk)


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
