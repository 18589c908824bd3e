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


def _copy(dir_fd: int, src_name: str, dst_name: str) -> int:
    """The piece `src_name` joined onto the claimed file `dst_name`: the bytes it adds."""
    src = os.open(src_name, os.O_RDONLY | FILE_FLAGS, dir_fd=dir_fd)
    try:
        dst = os.open(dst_name, os.O_WRONLY | FILE_FLAGS, dir_fd=dir_fd)
        try:
            start = os.fstat(dst).st_size
            end = os.fstat(src).st_size
            ranges = _written_ranges(src, end) if _at_offsets(src) else None
            if ranges is not None:
                _check_no_gap(ranges, start)
            try:
                for at, stop in ranges if ranges is not None else [(0, end)]:
                    _write_range(src, dst, at, stop, at if ranges is not None else start + at)
                os.fsync(dst)
            except BaseException:
                os.truncate(dst, start)  # as long as it was (bytes written inside it stay: the writer's)
                raise
        finally:
            os.close(dst)
    finally:
        os.close(src)
    return max(0, max((stop for _, stop in ranges), default=start) - start) if ranges is not None else end


def _at_offsets(fd: int) -> bool:
    """Whether the piece was written at its offsets: it starts with a hole (an appended chunk,
    written from the piece's byte 0, never does). Zeros alone are no proof: an appended
    chunk of a TIFF's black may start with many; so on a file system that keeps no holes
    (or an offset under a block, 4 KB) such a piece is appended as any other."""
    try:
        return os.lseek(fd, 0, os.SEEK_DATA) > 0
    except OSError as exc:
        return exc.errno == errno.ENXIO and os.fstat(fd).st_size > 0  # all hole: nothing written yet


def _first_data(fd: int, start: int, stop: int) -> int:
    """The first byte in [start, stop) that is data and not zero (`stop` if none): past holes
    by SEEK_DATA, then past zero bytes read (a file system without holes stores them)."""
    try:
        pos = os.lseek(fd, start, os.SEEK_DATA)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no data past start
            return stop
        pos = start  # holes not reported here
    while pos < stop:
        chunk = os.pread(fd, min(CHUNK, stop - pos), pos)
        if not chunk:
            return stop
        stripped = chunk.lstrip(b"\0")
        if stripped:
            return pos + len(chunk) - len(stripped)
        pos += len(chunk)
    return stop


def _written_ranges(fd: int, size: int) -> list[tuple[int, int]]:
    """The piece's data, as [start, stop) ranges: its extents past holes (SEEK_DATA and
    SEEK_HOLE), each without its leading zeros (an extent starts at a block's start, before
    the chunk's first byte)."""
    ranges, pos = [], 0
    while pos < size:
        start = _first_data(fd, pos, size)
        if start >= size:
            break
        try:
            stop = os.lseek(fd, start, os.SEEK_HOLE)
        except OSError:
            stop = size
        ranges.append((start, min(stop, size)))
        pos = stop
    return ranges


def _check_no_gap(ranges: list[tuple[int, int]], taken: int) -> None:
    covered = taken
    for start, stop in ranges:
        if start > covered:
            raise PieceGap(errno.EAGAIN, f"its writer wrote it at byte {start}, past the {covered} bytes it has: "
                                         "the bytes between are not there yet")
        covered = max(covered, stop)


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
