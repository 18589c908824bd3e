"""The one recipe every contender runs: 12 MP JPEG -> fit 1600 px JPEG q85
(and, with --thumb, a second 400 px rendition)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rendition:
    name: str
    box: int  # fit inside box x box, never upscaled
    quality: int = 85


LARGE = Rendition("large", 1600)
THUMB = Rendition("thumb", 400)


def renditions(thumb: bool) -> tuple[Rendition, ...]:
    return (LARGE, THUMB) if thumb else (LARGE,)


def fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    """Aspect-correct size that fits inside box x box (no upscaling)."""
    w, h = size
    scale = min(box / w, box / h, 1.0)
    return max(1, round(w * scale)), max(1, round(h * scale))


def output_name(stem: str, rendition: Rendition) -> str:
    return f"{stem}_{rendition.name}.jpg"


def expected_outputs(files, renditions) -> dict[str, tuple[str, ...]]:
    """stem -> accepted final output names, one group per rendition."""
    return {Path(f).stem: tuple(output_name(Path(f).stem, r) for r in renditions) for f in files}
