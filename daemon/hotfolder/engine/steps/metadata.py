"""Step: what the output carries (`metadata`, `set_metadata`): the source's EXIF, XMP,
ICC and IPTC-IIM as the policy keeps them, the rights fields written over them
(their templates filled in with the worker's values, `{year}` and `{folder}`), an XMP
sidecar's fields, as far as the output's format holds each (engine/metadata,
engine/rights, engine/captions; Pillow's EXIF reader, xml.etree). The EXIF then
describes the output: its size, its density, and its colour space when the colour step
converted it (engine/dcf).

Light to import: Pillow is imported with the first rendition.
"""
from __future__ import annotations

from dataclasses import replace

from hotfolder.engine.steps.work import Work


def apply(work: Work) -> Work:
    from hotfolder.engine import colour, dcf, metadata, rights  # Pillow: see the module's doc

    source, rendition = work.source, work.rendition
    described = source.described
    values = {"rendition": rendition.name, **(described.values if described else {})}
    credits = rights.credits_for(rendition.set_metadata, source.meta.exif, source.folder, values, source.meta.xmp,
                                 source.meta.iim)
    notes = list(work.notes)
    space = None
    if work.icc != source.meta.icc:  # converted: the source's ColorSpace and R03 no longer hold
        space = dcf.SRGB if work.icc == colour.srgb_icc() else dcf.UNCALIBRATED
    pixels = metadata.Pixels(work.pixels.size, space)
    carried = metadata.embedded(work.format, rendition, source.meta.with_icc(work.icc), credits, notes, pixels,
                                described)
    return replace(work, metadata=carried, notes=tuple(notes))
