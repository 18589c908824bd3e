"""Images the daemon tests drop: noise JPEGs that take real work to render, in bursts."""
from __future__ import annotations

import os
import random
from pathlib import Path

from PIL import Image


def noise_jpeg(path: Path, size=(1600, 1200), seed=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3)).save(path, quality=90)
    return path


def drop_burst(d, tmp_path: Path, n: int, size=(1600, 1200)) -> list[str]:
    """Write n distinct JPEGs to a staging folder, then move them into d's inbox at once."""
    staging = tmp_path / "staging"
    template = noise_jpeg(staging / "template.jpg", size)
    data = template.read_bytes()
    names = []
    for i in range(n):
        name = f"burst{i:04d}.jpg"
        # distinct files with the same pixels: one trailer byte after the JPEG's end
        (staging / name).write_bytes(data + bytes([i % 256]))
        names.append(name)
    for name in names:
        os.rename(staging / name, d.inbox / name)
    return names
