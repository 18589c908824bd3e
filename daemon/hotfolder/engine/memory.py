"""A worker's memory: what it may need at the pixel limit, and freed pixel memory kept
for the next file instead of given back to the kernel.

What a worker needs (`worker_peak`): its peak resident set while it renders one file,
measured at the limit for each format with `python -m bench.memory` (DESIGN.md, "The
engine"): 74 MiB before any pixel (47 before numpy, simplejpeg and jpegli), then per
pixel of the file, at most 16.1 bytes (a WebP: libwebp's animation decoder keeps two
RGBA canvases, Pillow its bytes and its frame), 12.7 for a 16-bit RGBA PNG and 13.2 for
a RAW's develop written at full size, 7.5 for a JPEG or PNG at full size, far less when
the renditions are small (a JPEG is then decoded at its DCT scale: 0.6 bytes a pixel).
The unit's MemoryMax (systemd/hotfolder.service) is sized from it.

Freed memory: by default glibc returns large freed blocks to the kernel (munmap, heap trim), and the
next file faults every page in again: measured, 6,500–9,000 page faults, 7–18 ms of a
12 MP file's 75–90 ms. With blocks up to 32 MiB served from the heap and up
to 64 MiB of free heap kept, a worker faults almost nothing after its first file, at
the price of ~25 MiB more resident memory per worker. Larger images still use mmap and
are returned at once, so memory stays bounded.
"""
from __future__ import annotations

import ctypes

WORKER_BASE = 96 * 2**20  # measured 72-74 MiB: Python, Pillow, libvips, LibRaw, libheif, numpy (TurboJPEG's
# simplejpeg, the pHash, SSIMULACRA2), jpegli loaded after a first small JPEG (43-47 MiB before numpy and jpegli)
PEAK_BYTES_PER_PIXEL = 17  # 16.1 measured at 100 and at 120 MP (a WebP)
M_TRIM_THRESHOLD = -1  # glibc's mallopt() parameter numbers
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 64 * 2**20


def keep_freed_memory() -> bool:
    """Set malloc's thresholds for this process; False where there is no glibc mallopt."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def worker_peak(max_image_pixels: int) -> int:
    """Bytes one worker may hold at its peak, rendering a file at `max_image_pixels`."""
    return WORKER_BASE + PEAK_BYTES_PER_PIXEL * max_image_pixels
