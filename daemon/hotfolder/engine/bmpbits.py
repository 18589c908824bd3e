"""16-bit BMPs whose bit fields include an alpha mask (A1R5G5B5, as GIMP and ImageMagick
write them): Pillow reads the colour masks and drops the alpha one, so the transparent
parts showed whatever colour they hid (a fuzz round). Decoded here from the masks.

The header is data: the masks, the size and the pixels' offset are checked against the
file before any pixel is read, and the pixels are read once, bounded by the file's size.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

FILE_HEADER = 14
BITFIELDS = 3  # biCompression: the masks follow the 40-byte header (or are in a V2+ header)
MASKS_AT = FILE_HEADER + 40  # red, green, blue, alpha: 4 bytes each


def alpha_layout(src: Path, data: bytes | None = None) -> tuple[int, int, tuple[int, int, int, int], int] | None:
    """(width, height, (red, green, blue, alpha masks), pixels' offset) of a 16-bit bit-field
    BMP with an alpha mask, or None for any other BMP (Pillow's then). A negative height
    is a top-down picture. `data`: the file's bytes, when read already."""
    if data is not None:
        head = data[:MASKS_AT + 16]
    else:
        with open(src, "rb") as f:
            head = f.read(MASKS_AT + 16)
    if len(head) < MASKS_AT + 16 or head[:2] != b"BM":
        return None
    header_size = int.from_bytes(head[14:18], "little")
    bits, compression = int.from_bytes(head[28:30], "little"), int.from_bytes(head[30:34], "little")
    if bits != 16 or compression != BITFIELDS or header_size < 56:  # the alpha mask: V3 (56) and later
        return None
    masks = tuple(int.from_bytes(head[MASKS_AT + 4 * i:MASKS_AT + 4 * i + 4], "little") for i in range(4))
    if not masks[3] or any(m >> 16 for m in masks):
        return None
    width = int.from_bytes(head[18:22], "little", signed=True)
    height = int.from_bytes(head[22:26], "little", signed=True)
    return width, height, (masks[0], masks[1], masks[2], masks[3]), int.from_bytes(head[10:14], "little")


def decode(src: Path, layout: tuple[int, int, tuple[int, int, int, int], int],
           data: bytes | None = None) -> Image.Image:
    """The picture, RGBA, each channel's bits widened to 8 (a 5-bit 31 is 255, a 1-bit 1 is
    255); RGB when no pixel has any alpha (browsers show such a file opaque: a writer that
    set the mask and no alpha bit). ValueError when the file is shorter than its header says
    (the engine's reason for it). `data`: the file's bytes, when read already."""
    width, height, masks, offset = layout
    rows, stride = abs(height), (width * 2 + 3) & ~3
    size = len(data) if data is not None else os.stat(src).st_size
    if size < offset + stride * rows:
        raise ValueError(f"the BMP is truncated: its {width}x{rows} 16-bit pixels need {offset + stride * rows:,} "
                         "bytes")
    if data is None:
        with open(src, "rb") as f:
            f.seek(offset)
            pixels = f.read(stride * rows)
    else:
        pixels = data[offset:offset + stride * rows]
    words = np.frombuffer(pixels, "<u2").reshape(rows, stride // 2)[:, :width]
    if height > 0:
        words = words[::-1]  # bottom-up, as BMPs are stored unless the height is negative
    out = np.empty((rows, width, 4), np.uint8)
    for band, mask in enumerate(masks):
        out[..., band] = _widened(words, mask)
    if not out[..., 3].any():
        return Image.fromarray(np.ascontiguousarray(out[..., :3]), "RGB")
    return Image.fromarray(out, "RGBA")


def _widened(words: np.ndarray, mask: int) -> np.ndarray:
    """A channel's bits as 8, rounded; in 16-bit arithmetic for fields of up to 8 bits (the
    5-bit and 1-bit ones of A1R5G5B5: 255 × 255 fits), else 32."""
    shift = (mask & -mask).bit_length() - 1
    top = mask >> shift
    field: np.ndarray = ((words & mask) >> shift).astype(np.uint16 if top <= 255 else np.uint32, copy=False)
    field *= 255
    field += top // 2
    field //= top
    return field.astype(np.uint8)
