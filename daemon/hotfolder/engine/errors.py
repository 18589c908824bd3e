"""What the engine raises, and how it tells a bad file from a failing system.

A file that cannot be read, decoded or encoded raises `InputError`: it goes to
failed/ with the reason. A file of the folder's recipe that cannot be used (the
watermark image, a colour profile) raises a `RecipeError`: every file would fail alike,
so the file waits. Other errors that are not about the input (MemoryError, an OSError
with an errno such as ENOENT, EIO or ENOSPC, a bug) propagate.
"""
from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from PIL import Image

from hotfolder.errors import HotfolderError

# What Pillow raises on a bad file. OSError is filtered further by `reraise_unless_input`.
# A file of no bytes: what to do, not only what is wrong ("the file is empty" said neither)
EMPTY = "the file is empty (0 bytes): nothing was written into it; copy or export it in again"
DECODE_ERRORS = (
    OSError, ValueError, SyntaxError, struct.error, EOFError, ZeroDivisionError,
    IndexError, KeyError, TypeError, zlib.error,
    Image.DecompressionBombError, Image.DecompressionBombWarning,
)

# What an encoder raises on an image it cannot write (a TypeError would be our bug).
ENCODE_ERRORS = (OSError, ValueError)

STEP_WORDS = {
    "open": "opened", "decode": "decoded", "orient": "oriented", "resize": "resized",
    "watermark": "watermarked", "encode": "encoded",
}


class InputError(HotfolderError):
    """The input file is bad: it goes to failed/ with this reason."""

    def __init__(self, step: str, reason: str):
        self.step, self.reason = step, reason
        super().__init__(f"The image could not be {STEP_WORDS.get(step, step)}: {reason}")

    def __reduce__(self):  # crosses process boundaries intact
        return (type(self), (self.step, self.reason))


class RecipeError(HotfolderError):
    """A file of the folder's recipe (its watermark image, a colour profile) cannot be
    used: the same for every file of the folder, not the input's. The file waits (its
    folder's claiming pauses) instead of failing."""


class WatermarkError(RecipeError):
    """The configured watermark image cannot be used: a config problem, not the input's."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"watermark image {path} cannot be used: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


class ProfileError(RecipeError):
    """A rendition's colour profile file cannot be used (gone, unreadable, not an RGB profile)."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"colour profile {path} cannot be used: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


def reraise_unless_input(exc: BaseException) -> None:
    """An OSError with an errno (ENOENT, EIO, ENOSPC, ...) is about the system, not the file."""
    if isinstance(exc, OSError) and exc.errno is not None:
        raise exc


# Pillow's and its codecs' words that say nothing a user can act on (a fuzz round): what they
# mean first, the words after (they are what a search finds).
AGAIN = "; copy the file again from where it came from"
PLAIN = {  # the codec's words -> (what they mean, what to do)
    # libtiff's any failure: damage, a file cut short, or a compression this build lacks (WebP in TIFF)
    "decoder error -2": ("its picture data cannot be decoded: damaged, cut short, or compressed in a way this "
                         "build does not read", ""),
    "broken data stream": ("the picture data is damaged", AGAIN),
    "unrecognized data stream contents": ("the picture data is damaged", AGAIN),
    "unable to write to memory": ("the picture data is damaged (its decoder wrote past what the header allows)",
                                  AGAIN),
    "could not create decoder object": ("libwebp cannot read it", ""),  # damaged, or cut short: truncation tells
    "cannot load this image": ("the picture data is damaged", AGAIN),
    "failed to read next frame": ("the picture data is damaged", AGAIN),
    "unsupported bmp bitfields layout": ("a BMP whose colour bit fields hotfolder cannot read (e.g. 4 bits a "
                                         "channel, A4R4G4B4)", "; save it as a 24- or 32-bit BMP, or as a PNG"),
    # Pillow's bounds on a PNG's text chunks (engine/opening raises the one a chunk to 4 MB)
    "max_text_chunk": ("a chunk of the PNG (its XMP, a comment or its colour profile) is longer than 4 MB "
                       "decompressed",
                       "; save it again with less metadata"),
    "max_text_memory": ("the PNG's text chunks (XMP, comments) are longer than 64 MB decompressed",
                        "; save it again with less metadata"),
}


def unpinned(text: str) -> str:
    """A library's words with the descriptor path a file is read by (fingerprint.Original.reading)
    said as "the file": a reason never shows /proc/self/fd/12."""
    return _PINNED.sub("the file", text) if "/proc/self/fd/" in text else text


_PINNED = re.compile(r"/proc/self/fd/\d+")


def describe(exc: BaseException) -> str:
    text = unpinned(str(exc).strip())
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too many pixels: {text}"
    lowered = text.lower()
    plain = next((said for words, said in PLAIN.items() if words in lowered), None)
    if plain is not None:
        meaning, advice = plain
        return f"{meaning} ({text}){advice}"
    return text or type(exc).__name__
