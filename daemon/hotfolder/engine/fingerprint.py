"""The content hash of an original: what `{hash}` names (and the duplicates index keys on).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 1 << 20  # bytes a read: a 30 MB RAW in 30 reads, the buffer reused


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes, in hex: one read from start to end, never through a link."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb", buffering=0) as f:
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while n := f.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()
