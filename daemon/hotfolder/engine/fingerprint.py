"""The fingerprints of an original: its content hash (the exact bytes, read once; also what
a template's `{hash}` names) and the
look of its picture (likeness.Look: a 64-bit perceptual hash of it upright, its shape and
mean colour), taken from the frame the pipeline decoded anyway.

Content hash: BLAKE3-256 of the file's bytes (PyPI `blake3`, the reference Rust
implementation). Measured on this machine (DESIGN.md, "Duplicates"): 5 MB in 0.77 ms, where
SHA-256 took 2.74 ms even with SHA-NI (3.8 % of the example render alone, over the 3 %
budget with the pHash) and BLAKE2b 5.3 ms. It must be cryptographic: a crafted collision
with a non-cryptographic hash (xxh3: 0.08 ms) could get a real photo skipped.

The bytes are read once into memory, hashed, and decoded from that buffer (decode from
io.BytesIO measured as fast as from the path: 29.1 vs 29.7 ms), so a duplicate costs a
read, a hash and a lookup and is never decoded. Above READ_WHOLE (large TIFFs, RAWs) the
file is hashed in chunks and the decoder reads the path (a second read, from the page cache).

Perceptual hash (pHash-64): 512x512 point samples of the frame (the same places of the
picture at every DCT draft scale: the recipe decides the draft, and the hash must not
depend on it), box-averaged to 32x32, luminance (ITU-R 601), turned upright on that
32x32, the 8x8 lowest coefficients of its orthonormal DCT-II (DC included), each bit =
coefficient > their median (bit 63 = coefficient (0, 0), row-major). 0.6 ms on a
2000x1500 frame (0.9-1.3 % of the render); a box average over the whole frame cost 3.9 ms
and a separate 1/8 decode 23 ms. aHash, dHash and blockhash were measured and dropped:
flat pictures (sky, fog) reach distance 0 with them. Not bit-compatible with
imagehash.phash (LANCZOS over the whole image, an unnormalised DCT): the same idea.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from blake3 import blake3
from PIL import Image

from hotfolder.engine.errors import InputError
from hotfolder.likeness import Look

NOT_FOLLOWED = "it is a symbolic link, and links are never followed; copy the file itself into the inbox"
READ_WHOLE = 64 * 2**20  # bytes: read into memory below this, hashed in chunks above
CHUNK = 4 * 2**20
GRID = 512  # point samples a side: 16x16 of them averaged into each of the 32x32 cells
SIZE = 32
KEEP = 8
_BITS = 1 << np.arange(63, -1, -1, dtype=np.uint64)
# EXIF orientation -> the turn of a stored array that shows it upright (Pillow's TRANSPOSE_FOR).
_UPRIGHT = {
    1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1, :],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class Original:
    """An original's bytes, read once, and what identifies them."""

    path: Path
    data: bytes | None  # None above READ_WHOLE: the decoders read the path
    content: str  # content_hash of the bytes
    size: int
    inode: int  # the file's identity while it lies in processing/ (with mtime_ns)
    mtime_ns: int
    fd: int = -1  # kept open (read_original(keep=True)): what `reading` names; close() closes it
    ctime_ns: int = 0  # its last change: in processing/, when it was claimed (the rename) or adopted

    @property
    def reading(self) -> Path:
        """Where the decoders read the file: the very file read and hashed, through its open
        descriptor (/proc/self/fd/N), never what its name points to now. Its bytes were read
        by descriptor, but the decoders that open a path (libvips' 16-bit PNG and TIFF
        reader, LibRaw, libheif, a file past READ_WHOLE) followed a link swapped in for it in
        processing/ meanwhile, and rendered a file from elsewhere into output/ (an attack
        round). The path itself where no descriptor is kept, or /proc is not mounted."""
        if self.fd >= 0 and os.path.isdir(PINNED):
            return Path(f"{PINNED}/{self.fd}")
        return self.path

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            object.__setattr__(self, "fd", -1)


PINNED = "/proc/self/fd"


def is_pinned(path: Path | str) -> bool:
    """A path of Original.reading: a descriptor of this process's, which opens the file it was
    opened on (a link of /proc's own, so O_NOFOLLOW must not be asked of it)."""
    return str(path).startswith(PINNED + "/")


def content_hash(data: bytes | memoryview) -> str:
    """The exact bytes' identity: BLAKE3-256, hex (64 characters)."""
    return blake3(data).hexdigest()


def file_hash(path: Path) -> str:
    """content_hash of a file not read already (`hotfolder explain`), in chunks, never
    through a link."""
    hasher = blake3()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def unreadable() -> str:
    """Why a file its owner did not let the daemon's user read fails, and what to change."""
    import pwd

    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        user = f"uid {os.geteuid()}"
    return (f"the daemon's user ({user}) may not read the file: make it readable (chmod o+r, or the group's read "
            "permission; for a Samba or SFTP share, its create mask), then `hotfolder requeue` it")


def read_original(path: Path, keep: bool = False) -> Original:
    """Read `path` once (by its open descriptor: the identity is of what was read) and hash it.
    `keep`: the descriptor stays open, for the decoders to read that file (Original.reading;
    the caller closes it).

    Never through a link, and only a regular file (InputError otherwise): an entry of
    processing/ is data. A link or a FIFO planted there (a cluster's share, a folder
    adopted after a crash) was followed, and a file from the node's own disk rendered
    into output/ (an attack round on cluster mode)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("open", NOT_FOLLOWED) from None
        if exc.errno == errno.EACCES:  # a raw PermissionError named processing/ and said nothing to do
            raise InputError("read", unreadable()) from None
        raise
    try:  # by the descriptor, without a Python file object (its setup: fstat, isatty, lseek)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError("open", "it is not a file but a folder, FIFO, socket or device; only files are "
                                     "rendered")
        if st.st_size <= READ_WHOLE:
            data: bytes | None = _read_all(fd, st.st_size)
            assert data is not None
            digest = content_hash(data)
            size = len(data)
        else:
            hasher, size, data = blake3(), 0, None
            while chunk := os.read(fd, CHUNK):
                hasher.update(chunk)
                size += len(chunk)
            digest = hasher.hexdigest()
    except BaseException:
        os.close(fd)
        raise
    if not keep:
        os.close(fd)
        fd = -1
    return Original(Path(path), data, digest, size, st.st_ino, st.st_mtime_ns, fd, st.st_ctime_ns)


def _read_all(fd: int, size: int) -> bytes:
    """Every byte to the end of the file, as a file object's read() reads it (a file that grew
    since its fstat is read whole): `size` + 1 asked at once, then up to the end."""
    data = os.read(fd, size + 1)
    rest = _rest(fd) if data else b""
    return data + rest if rest else data


def _rest(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


@cache
def _dct_rows(n: int, keep: int) -> np.ndarray:
    k = np.arange(keep)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d


def sampled(mode: str, size: tuple[int, int], pixels) -> Image.Image | None:
    """What _small_rgb's point sampling makes of a frame of packed 8-bit `pixels` (rows of
    `mode`, "RGB" or "L"): the GRID x GRID image Pillow's NEAREST resize gives, the very same
    pixels; None where _small_rgb samples nothing (a side of GRID or less) or for another mode.

    The rows the samples fall on are taken first, so Pillow unpacks 512 rows, not the frame:
    1.4 ms -> 0.5 at 2000x1500 RGB, 34 -> 1.2 at 4032x3024 (unpacking a whole frame into
    Pillow's 4 bytes a pixel was most of the look). Pillow steps through the source from
    half a step in, by steps of side / GRID, and truncates: with GRID a power of two every
    such position is exact in a double, so row y is floor((2y + 1) * height / (2 * GRID))."""
    width, height = size
    bands = {"RGB": 3, "L": 1}.get(mode)
    if bands is None or min(size) <= GRID or len(pixels) != width * height * bands:
        return None
    at = (np.arange(GRID, dtype=np.int64) * 2 + 1) * height // (2 * GRID)
    rows = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width * bands).take(at, axis=0)
    # The rows as a picture GRID high: its NEAREST resize keeps each row and samples the columns
    return Image.frombuffer(mode, (width, GRID), rows, "raw", mode, 0, 1).resize(
        (GRID, GRID), Image.Resampling.NEAREST)


def _small_rgb(frame: Image.Image) -> np.ndarray:
    """The frame as 32x32 RGB (float), as stored: sampled on the grid, box-averaged, alpha
    over white (as a JPEG rendition shows it)."""
    if min(frame.size) > GRID:
        frame = frame.resize((GRID, GRID), Image.Resampling.NEAREST)
    if frame.mode not in ("RGB", "L"):
        if "A" in frame.getbands() or (frame.mode == "P" and "transparency" in frame.info):
            rgba = frame.convert("RGBA")
            frame = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        frame = frame.convert("RGB")
    small = np.asarray(frame.resize((SIZE, SIZE), Image.Resampling.BOX), dtype=np.float64)
    return small if small.ndim == 3 else np.repeat(small[:, :, None], 3, axis=2)


def _median(values: np.ndarray) -> float:
    """np.median of an even count of finite values, the very same float (the mean of the two
    middle ones, as it takes them) in 1 µs instead of 8 (its partition and checks): a look's
    bits must not move, the index holds them."""
    ordered = np.sort(values, axis=None)
    half = ordered.size // 2
    return (ordered[half - 1] + ordered[half]) / 2


def look_of(frame: Image.Image, orientation: int, size: tuple[int, int]) -> Look:
    """The Look of a picture from a decoded frame as stored (any draft scale) and its EXIF
    orientation; `size` is the picture's full size as stored."""
    rgb = _UPRIGHT.get(orientation, _UPRIGHT[1])(_small_rgb(frame))
    grey = np.rint(rgb @ _LUMA)  # Pillow's "L": ITU-R 601, rounded
    d = _dct_rows(SIZE, KEEP)
    # Rounded: a flat picture's AC coefficients are 0 but for the float's last bits, which
    # would set its bits at random; now only DC is set, and the colour tells flat pictures apart.
    coefficients = np.round(d @ grey @ d.T, 6)
    bits = (coefficients > _median(coefficients)).ravel()
    phash = int(np.bitwise_or.reduce(_BITS[bits]))
    r, g, b = (float(rgb[:, :, i].mean()) for i in range(3))
    width, height = size if orientation < 5 else (size[1], size[0])
    return Look(phash, width, height, (round(r - g), round(b - (r + g) / 2)))
