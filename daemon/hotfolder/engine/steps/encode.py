"""Step: the output's bytes (`format`, `quality`, `max_bytes`, `progressive`), by its
format's encoder (engine/encode, engine/encoders).

Light to import: Pillow is imported with the first rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    from hotfolder.engine import encode  # Pillow: see the module's doc

    return replace(work, data=encode.encode(work.pixels, work.format, work.rendition, work.metadata))
