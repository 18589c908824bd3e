"""Why a file Pillow cannot identify is refused, in words that say what to do: the format it
is when the config does not accept it, what is wrong with one that starts as an accepted
format's (cut short inside its header, damaged, a depth or layout hotfolder cannot read),
else that it is no image hotfolder reads. engine/opening asks, when Pillow gives up.
"""
from __future__ import annotations

import mmap
import os
import stat
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from PIL import Image

from hotfolder.engine import formats, jpegscan, tifftags
from hotfolder.engine.errors import DECODE_ERRORS, EMPTY, reraise_unless_input


def reason(src: Path, accepted_formats: Sequence[str], name: str | None = None) -> str:
    """Why Pillow cannot identify `src`: the format it is if this config refuses it, what is
    wrong with it if it starts as an accepted format's, else that it is none of them. `name`:
    the file's name, where `src` is not named so (a worker reads /proc/self/fd/N)."""
    from hotfolder.engine.opening import our_pixel_limit  # opening asks this module: imported when asked
    accepted = ", ".join(accepted_formats)
    others = [f.pil for f in formats.TABLE if f.pil is not None and f.name not in accepted_formats]
    if others:
        try:
            with warnings.catch_warnings(), our_pixel_limit():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(src, formats=others) as probe:
                    known = formats.of_pil(probe.format)
                    name = known.name if known is not None else str(probe.format).lower()
                    return formats.not_accepted(name, accepted_formats)
        except DECODE_ERRORS as exc:
            reraise_unless_input(exc)
    head, size = _head(src)
    if size == 0:
        return EMPTY
    major, brands = _ftyp(head)
    if (heif := _heif_reason(src, major, brands, accepted_formats)) is not None:
        return heif
    if brands & AV1_BRANDS and "avif" in accepted_formats:  # Pillow: "cannot identify image file"
        return ("an AVIF file that cannot be opened: it is damaged, cut short, or its stated size is over "
                "max_image_pixels")
    if (cut := _tiff_cut_short(head, size)) is not None:
        return cut
    if (tags := tifftags.read(src)) is not None:  # a TIFF whose samples Pillow has no mode for
        if "tiff" not in accepted_formats:
            return formats.not_accepted("tiff", accepted_formats)
        return tifftags.unread_samples(tags) or tifftags.unreadable_layout(tags)
    if (header := _unreadable_header(src, head, size, accepted_formats)) is not None:
        return header
    return f"not an image in an accepted format (accepted: {accepted}){_companion_hint(name or src.name)}"


def could_be_image(src: Path) -> bool:
    """Whether the regular file `src` (the caller lstat'ed it: never a link) may be an image
    hotfolder reads, whole or damaged: its extension is an image format's (`notes.jpg` claims to
    be one), its first bytes are one's (a JPEG, PNG, GIF, WebP, BMP or JPEG XL signature, a TIFF's,
    as most RAWs start, a RAF's, an ISO-BMFF image brand or a CR3's), or Pillow identifies it.
    False: a README.txt, a PDF, an empty file without an image's name (`hotfolder index rebuild`
    passes it over: it is no original)."""
    if formats.BY_EXTENSION.get(src.suffix.lower()[1:]) is not None:
        return True
    # Read by a descriptor of the regular file itself: swapped since the caller's lstat (archive/
    # is writable by whoever drops), a FIFO's open held `index rebuild` for ever, a link was followed
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = f.read(HEAD)
        if _starts_as_image(head):
            return True
        try:
            f.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(f):
                    return True
        except Image.DecompressionBombError:
            return True
        except Exception:  # noqa: BLE001 - whatever Pillow raises of a file it does not know: no image
            return False


# Other formats' first bytes, which Pillow's look may not know in a damaged file: a WebP, a JPEG
# XL (codestream, container), a Fujifilm RAF (a damaged `scan0001` of those was "not an image")
OTHER_STARTS = (b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n", b"FUJIFILMCCD-RAW")
BMP_HEADERS = (12, 40, 52, 56, 64, 108, 124)  # a BMP's DIB header sizes: `BM` alone starts a text too


def _starts_as_image(head: bytes) -> bool:
    if head.startswith(tuple(sig for _, starts, _ in SIGNATURES for sig in starts) + OTHER_STARTS):
        return True
    if head[:2] in (b"II", b"MM") or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):  # a TIFF, as RAWs start
        return True
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in BMP_HEADERS:
        return True
    major, brands = _ftyp(head)
    return bool(brands & (HEVC_BRANDS | AV1_BRANDS)) or major in (b"mif1", b"msf1", b"crx ")  # crx: Canon's CR3


def _companion_hint(name: str) -> str:
    """What to change for a file whose extension is no image format's: such files come with
    photos (a phone's, a drone's, a studio's), and failed at every import without a word of
    the folder's pass_through: and ignore:. A name such as `notes.jpg` gets no hint: it
    claims to be an image, and its reason is enough."""
    ext = Path(name).suffix.lower()
    if not ext or formats.BY_EXTENSION.get(ext[1:]) is not None or not ext[1:].isalnum():
        return ""
    return (f"; if such files come with your photos, add '*{ext}' to the folder's pass_through: (archived as they "
            "are) or ignore: (left in the inbox)")


# The first bytes of formats Pillow names, and the bytes their header needs (a file shorter
# than that is cut short: a PNG's signature, IHDR and the next chunk's head; a GIF's screen
# descriptor, and its colour table if it says it has one). A file that starts so but that
# Pillow cannot open was said "not an image in an accepted format (accepted: jpeg, png, …)":
# a PNG cut inside its header, a bad IHDR checksum, a 12-bit JPEG (a fuzz round).
HEAD = 64  # bytes of a file's start read to tell what it is (an ftyp box's brands fit)
SIGNATURES = (("png", (b"\x89PNG\r\n\x1a\n",), 41), ("gif", (b"GIF87a", b"GIF89a"), 13),
              ("jpeg", (b"\xff\xd8\xff",), 4))


def _head(src: Path) -> tuple[bytes, int]:
    """The file's first HEAD bytes (b"" if they cannot be read) and its size."""
    size = src.stat().st_size
    try:
        with open(src, "rb") as f:
            return f.read(HEAD), size
    except OSError:
        return b"", size


def _unreadable_header(src: Path, head: bytes, size: int, accepted_formats: Sequence[str]) -> str | None:
    """Why a file that starts as an accepted format's does not open, or None."""
    if head.startswith((b"MM\x00\x2b", b"II\x2b\x00")) and "tiff" in accepted_formats:
        return ("a big-endian BigTIFF, which hotfolder cannot read: save it as a classic TIFF or a little-endian "
                "BigTIFF" if head[:2] == b"MM" else "a BigTIFF whose directory cannot be read: it is damaged")
    for name, starts, needed in SIGNATURES:
        if name not in accepted_formats or not head.startswith(starts):
            continue
        if name == "gif" and len(head) > 10 and head[10] & 0x80:  # a global colour table follows
            needed += 3 * 2 ** ((head[10] & 7) + 1)
        if name == "jpeg" and size >= needed:
            return _unreadable_jpeg_header(src)
        if size < needed:
            return f"the {name.upper()} is truncated: it ends inside its header ({size} bytes)"
        return f"the {name.upper()}'s header cannot be read: the file is damaged; copy it again from where it came from"
    return None


def _unreadable_jpeg_header(src: Path) -> str:
    with open(src, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if jpegscan.header_cut_short(data):
            return "the JPEG is truncated: it ends inside its header, before its picture"
        if (precision := jpegscan.frame_precision(data)) not in (None, 8):
            return (f"a {precision}-bit JPEG, which hotfolder cannot read (only 8-bit JPEGs): save it as an 8-bit "
                    "JPEG, or as a 16-bit TIFF to keep its depth")
    return "the JPEG's header cannot be read: the file is damaged; copy it again from where it came from"


def _tiff_cut_short(head: bytes, size: int) -> str | None:
    """Why a TIFF whose first directory lies past its end cannot be opened: libtiff and
    libvips write the directory last, so a copy cut short loses it, and Pillow's reading of
    what is left named an unreadable sample layout (a fuzz round) where the file is simply
    incomplete. Said as a truncated file (workers/truncation waits for its writer)."""
    if head[:2] not in (b"II", b"MM") or len(head) < 8:
        return None
    order: Literal["little", "big"] = "little" if head[:2] == b"II" else "big"
    magic = int.from_bytes(head[2:4], order)
    if magic == 42:
        offset, entry = int.from_bytes(head[4:8], order), 2
    elif magic == 43 and len(head) >= 16:  # BigTIFF
        offset, entry = int.from_bytes(head[8:16], order), 8
    else:
        return None
    if offset + entry <= size:
        return None
    return (f"the TIFF is truncated: its directory, which its writer puts last, starts at byte {offset}, past the "
            f"file's end at {size}")


# ISO-BMFF brands of HEVC-coded HEIF (HEIC). An AVIF also lists mif1, under its own avif brand.
HEVC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
AV1_BRANDS = {b"avif", b"avis"}


def _ftyp(head: bytes) -> tuple[bytes, set[bytes]]:
    """An ISO-BMFF file's major brand and all its brands (from `ftyp`), or (b"", set())."""
    if head[4:8] != b"ftyp":
        return b"", set()
    end = min(len(head), int.from_bytes(head[:4], "big"))
    return head[8:12], {head[8:12], *(head[i:i + 4] for i in range(16, end - 3, 4))}


def _heif_reason(src: Path, major: bytes, brands: set[bytes], accepted_formats: Sequence[str]) -> str | None:
    """Why a file whose ftyp says HEIC cannot be opened, in libheif's words (Pillow only
    says it is not an image: "not an image in an accepted format" made a damaged iPhone
    photo sound like a format the folder refuses); None for any other file."""
    if not brands:
        return None
    if not brands & HEVC_BRANDS and not (major in (b"mif1", b"msf1") and not brands & AV1_BRANDS):
        return None
    if "heic" not in accepted_formats:
        return formats.not_accepted("heic", accepted_formats)
    import pi_heif

    try:
        pi_heif.open_heif(src)
    except (ValueError, RuntimeError, OSError) as exc:
        said = " ".join(str(exc).split())
        if "Security limit exceeded" in said:  # a limit's refusal (65,000 items): not damage (an attack round)
            return f"the HEIF is over a libheif security limit ({said}): made to hold a decoder, or made wrong"
        return f"a HEIC (HEIF) file that libheif cannot read: {said}; it is damaged, or was cut short"
    return None
