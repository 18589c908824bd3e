"""A manifest per original (a folder's `manifest:`): what a web page needs of its outputs
(`<img width height>`, the bytes, a blur-up placeholder), as JSON, beside the outputs.

The worker writes it with the outputs (workers/render.py): an earlier version is removed
before the first output is replaced, and the new one is written, atomically, after the
last output is in place and the folder synced. So a manifest, whenever one is there,
describes exactly the outputs beside it: a kill mid-file leaves none, never one listing
missing outputs or another version's.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from urllib.parse import quote

from hotfolder.config.choices import Metadata
from hotfolder.config.model import SET_METADATA_KEYS, Rendition
from hotfolder.engine import formats
from hotfolder.engine.pipeline import Output, Rendered
from hotfolder.recipes import templates
from hotfolder.spool.fsnames import display

VERSION = 1  # of the manifest's layout: a reader checks it

# What of the photo the manifest's `source` gives (its key: the template field that reads it),
# and what each `metadata` policy keeps of it in an output (engine/metadata, engine/rights).
PHOTO_FIELDS = {"taken": "taken", "camera": "camera", "title": "title", "headline": "headline",
                "caption": "description", "keywords": "keywords", "creator": "artist", "credit": "credit",
                "copyright": "copyright"}
KEPT_BY = {Metadata.KEEP: set(PHOTO_FIELDS), Metadata.STRIP_GPS: set(PHOTO_FIELDS),
           Metadata.COPYRIGHT_ONLY: {"creator", "credit", "copyright"}, Metadata.STRIP_ALL: set()}


def document(name: str, content_hash: str, size: int, rendered: Rendered, paths: Sequence[str],
             home: str = "") -> dict:
    """The manifest of one original named `name` (its name in the inbox), its bytes'
    BLAKE3 hash (engine/fingerprint.content_hash: the one the index of originals and
    `{hash}` use), its size in bytes, and its outputs at `paths` (under the output folder),
    the manifest itself lying in `home` (under the output folder; "": at its top).
    Names are shown as the logs show them (a byte that is not UTF-8 as `\\xNN`)."""
    source = rendered.source
    shown = rendered.placeholder
    return {
        "version": VERSION,
        # The caption keeps its line breaks (\n; a wire caption's "…\n\nFoto: …/dpa"): it is what the
        # outputs' XMP and IIM carry (set_metadata's `description: "{description}"`), and a CMS
        # printing it beside the photo decides how to show a paragraph (JSON writes it as `\n`,
        # which no line of a log or of jsonb minds; a NUL or ESC are still spaces). The other
        # texts are one line, as the IPTC's title, headline, byline, credit and notice are.
        "source": {"name": display(name), "blake3": content_hash, "bytes": size, "width": source.width,
                   "height": source.height, "taken": source.taken, "camera": source.camera,
                   "title": source.described.title, "headline": source.described.headline,
                   "caption": source.described.description, "keywords": list(source.described.keywords),
                   "creator": source.credits.creator, "credit": source.credits.credit,
                   "copyright": source.credits.copyright},
        "outputs": [_output(out, path, home) for out, path in zip(rendered.outputs, paths, strict=True)],
        "placeholder": shown.thumbhash if shown else None,
        "dominant_color": shown.dominant_color if shown else None,
        # The output they are of (its `path`): the box a page sizes for the blur-up, and what
        # `rerender --rendition` checks before it carries them (workers/untouched.placeholder).
        "placeholder_of": display(paths[of]) if shown and (of := rendered.placeholder_of) is not None else None,
    }


def published(doc: dict, renditions: Sequence[Rendition]) -> dict:
    """`doc` with only what of the photo (its date, camera, captions, keywords and credits)
    an output it lists carries: what the output's `metadata` keeps of it, or what its
    `set_metadata` writes from it (`description: "{description}"` writes the caption); the
    rest null (keywords: []). The manifest is published beside the outputs: a shop's
    `strip-all` outputs carry no caption, keywords or date, and their manifest gave them all."""
    carried: set[str] = set()
    for rendition in renditions:
        carried |= KEPT_BY[rendition.metadata]
        if (given := rendition.set_metadata) is not None:
            texts = [t for key in SET_METADATA_KEYS if key != "keywords" and (t := getattr(given, key))]
            for template in map(lambda t: templates.parsed(t, templates.METADATA_FIELDS), [*texts, *given.keywords]):
                carried |= {key for key, field in PHOTO_FIELDS.items() if template.uses(field)}
    source = {key: value if key not in PHOTO_FIELDS or key in carried else [] if key == "keywords" else None
              for key, value in doc["source"].items()}
    return {**doc, "source": source}


def url(path: str, home: str) -> str:
    """An output's URL relative to its manifest's (RFC 3986, percent-encoded from the name's
    bytes): what `<img src>` or `new URL(url, manifestUrl)` takes as it is. `path` (under
    the output folder) resolved from the manifest's folder asked for `home` twice (a shop's
    audit: 404), and a name's space, '#', '?' or '%' cut or changed the URL."""
    return quote(os.fsencode(_relative(path, home)), safe="/")


def _relative(path: str, home: str) -> str:
    """`path` from the folder `home` (both under the output folder, of plain parts): by the
    names alone. posixpath.relpath asks os.getcwd(), which fails in a working directory
    removed since the start: every manifest failed with ENOENT and no word of why."""
    to, start = path.split("/"), [p for p in home.split("/") if p]
    common = 0
    while common < min(len(to) - 1, len(start)) and to[common] == start[common]:
        common += 1
    return "/".join([".."] * (len(start) - common) + to[common:])


def _output(out: Output, path: str, home: str) -> dict:
    return {"rendition": out.rendition.name, "path": display(path), "url": url(path, home),
            "width": out.width, "height": out.height,
            "bytes": len(out.data), "format": out.format, "mime": mime(out.format), "quality": out.quality,
            "score": None if out.score is None else round(out.score, 2), "score_measured": out.score_measured}


def mime(fmt: str | None) -> str | None:
    """An output's media type (`image/tiff`), what a page's `<source type>` or an upload names."""
    found = formats.BY_NAME.get(fmt or "")
    return found.mime if found is not None else None


def text(doc: dict) -> str:
    """The JSON as written (UTF-8)."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
