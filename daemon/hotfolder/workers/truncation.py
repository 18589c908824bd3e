"""Whether a file that failed to decode was cut short (its bytes end early), rather than
broken: a writer that closes between chunks, or pauses, may still go on.

The decoders say so in their words: Pillow "image file is truncated" and "Truncated File
Read" (JPEG, PNG, TIFF, a JPEG cut inside its headers), libheif and LibRaw "Unexpected
end of file". Pillow's WebP opener says only "could not create decoder object": a WebP's
RIFF header states the file's length, so a shorter file is cut short.
"""
from __future__ import annotations

import os
from pathlib import Path

WORDS = ("truncated", "unexpected end of file", "premature end")


def in_plain_words(reason: str) -> str:
    """A cut-short file's reason, what it means first and the decoder's words after:
    Pillow's alone ("image file is truncated (61 bytes not processed)") read as if
    little were missing (a new user's test: 30 KB of a 1.1 MB JPEG)."""
    return f"the file ends before its picture does (a copy or upload cut short?); the decoder said: {reason}"


def cut_short(reason: str, src: Path) -> bool:
    said = reason.lower()
    return any(word in said for word in WORDS) or _riff_short(src)


def _riff_short(src: Path) -> bool:
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        head = os.pread(fd, 12, 0)
        size = os.fstat(fd).st_size
    except OSError:
        return False
    finally:
        os.close(fd)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WEBP":
        return False
    return size < 8 + int.from_bytes(head[4:8], "little")
