"""Step: the output's bytes (`format`, `quality`, `quality_target`, `max_bytes`,
`progressive`, `compression`), by its format's encoder (engine/encode, engine/encoders), at the quality
the rendition names or the one `quality: auto` finds (engine/autoencode).

Light to import: Pillow is imported with the first rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    from hotfolder.engine import encode  # Pillow: see the module's doc

    encoded = encode.encode(work.pixels, work.format, work.rendition, work.metadata)
    notes = work.notes if encoded.note is None else (*work.notes, encoded.note)
    return replace(work, data=encoded.data, quality=encoded.quality, score=encoded.score,
                   score_measured=encoded.measured, notes=notes)
