"""`hotfolder rerender --rendition NAME`: the outputs an original had that are not made again
are left as they are (not written, renamed or deleted: a CDN, a sync tool sees no change), and
still listed, beside the new ones, by its row in the index of originals and by its manifest.

`spliced` puts the two lists together, in the order the original had its outputs (a new
output takes its rendition's place, one of a rendition it did not have comes last): the
command notes that in the index, the worker writes its manifest so.

`described` says in the manifest what an output left as it is: the previous manifest's
entry as it was, when both are proved to be what hotfolder wrote (their bytes hash to what
the index recorded); else what its bytes say (pixel size, bytes, format), with its quality
and score null, which no file keeps; one gone, or no regular file now, is not listed (a
manifest lists the outputs beside it). The placeholder is carried only from a proved
manifest whose smallest outputs (several may share the smallest size) are still the smallest,
as it described them; else it is null rather than another output's.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from hotfolder.engine import placeholder as placeholders
from hotfolder.jobs import Had
from hotfolder.spool import nofollow
from hotfolder.spool.fsnames import display
from hotfolder.workers import manifest as manifests
from hotfolder.workers import provenance

MANIFEST_LIMIT = 16 << 20
PLACEHOLDER_KEYS = ("placeholder", "dominant_color", "placeholder_of")


def spliced(had: Sequence[Had], made: Sequence[tuple[str, str]], asked: Sequence[str] = ()) -> list[Had | int]:
    """The original's outputs after a rerender of some renditions: each it had, but where one
    of `made` (rendition, output) has its rendition (or, its rendition not known, its name)
    that one's index in `made` instead; the made ones no output it had stood for, last. One
    it had of a rendition `asked` that made none now (its `when:` no longer takes the
    original) is left out: today's recipe no longer makes it (the file stays, as after a
    whole rerender, and the dry run says so)."""
    out: list[Had | int] = []
    placed: set[int] = set()
    for h in had:
        at = next((i for i, (rendition, output) in enumerate(made)
                   if (h.rendition and rendition == h.rendition) or output == h.output), None)
        if at is None:
            if not (h.rendition and h.rendition in asked):
                out.append(h)
        elif at not in placed:
            placed.add(at)
            out.append(at)
    return out + [i for i in range(len(made)) if i not in placed]


def paths(output: Path, had: Sequence[Had]) -> list[Path]:
    """The outputs the original had, under the output folder (a plain relative path only),
    to see whether one was written since the run started (a newer drop's)."""
    return [output / h.output for h in had if _plain(h.output)]


def read_previous(dir_fd: int, name: str) -> bytes | None:
    """The manifest at `name` in the folder open as `dir_fd` before it is replaced (a regular
    file only, never through a link); None: none there, or none to read."""
    try:
        return nofollow.read_small_at(dir_fd, name, MANIFEST_LIMIT, Path(name))
    except (OSError, ValueError):
        return None


def described(output: Path, had: Had, previous: dict | None, home: str) -> dict | None:
    """The manifest's entry of an output left as it is (`output`: its path), or None: gone,
    or no regular file. `previous`: the previous manifest, when proved (see the top)."""
    try:
        digest, size, (width, height, fmt) = _measured(output)
    except (OSError, ValueError):
        return None
    path = display(had.output)
    entry = _entry_of(previous, path)
    if entry is not None and had.digest and digest == had.digest:
        return entry
    return {"rendition": had.rendition or (entry or {}).get("rendition") or None, "path": path,
            "url": manifests.url(had.output, home), "width": width, "height": height, "bytes": size,
            "format": fmt, "mime": manifests.mime(fmt), "quality": None, "score": None, "score_measured": False}


def proved(previous: bytes | None, digest: bytes) -> dict | None:
    """The previous manifest as a dict, when its bytes are what the index recorded."""
    if previous is None or not digest or provenance.output_hash(previous) != digest:
        return None
    try:
        doc = json.loads(previous)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def placeholder(listed: Sequence[dict], made: set[int], previous: dict | None,
                photo: tuple[int, int]) -> tuple[bool, dict | None]:
    """Whose placeholder the manifest gives: (True, _) the one rendered now (the output it is of,
    placeholders.chosen among `listed` for the photo of upright size `photo`, is one of those
    made, at the `made` positions of `listed`); (False, the previous manifest's placeholder,
    colour and `placeholder_of`, or None: unknown)."""
    sizes = [(o.get("width") or 0, o.get("height") or 0) for o in listed]
    if not sizes or min(w * h for w, h in sizes) == 0:
        return False, None
    # Outputs may share the chosen size (a srcset's w480 in JPEG and WebP; a 32 px icon's
    # every output): one of them made now gives it; else the one before, when each output of
    # that size is the one it described (it was of one of them).
    ours = placeholders.chosen(sizes, photo)
    if made.intersection(ours):
        return True, None
    before = _of_before(previous, photo)
    if before is None or before != [listed[i] for i in ours]:
        return False, None
    assert previous is not None
    return False, {"placeholder": previous.get("placeholder"), "dominant_color": previous.get("dominant_color"),
                   "placeholder_of": previous.get("placeholder_of") or before[0].get("path")}


def _of_before(previous: dict | None, photo: tuple[int, int]) -> list[dict] | None:
    """The entries of the previous manifest's outputs its placeholder was of: those chosen
    by today's rule, when its `placeholder_of` names one of them; for one written before
    that key was, the smallest of all (the rule then: a square `fill` as often as not)."""
    before = [o for o in (previous or {}).get("outputs") or () if isinstance(o, dict)]
    sizes = [(o.get("width") or 0, o.get("height") or 0) for o in before]
    if not sizes or min(w * h for w, h in sizes) == 0:
        return None
    assert previous is not None
    if "placeholder_of" not in previous:
        return [o for o, (w, h) in zip(before, sizes, strict=True) if w * h == min(a * b for a, b in sizes)]
    ones = [before[i] for i in placeholders.chosen(sizes, photo)]
    return ones if any(o.get("path") == previous["placeholder_of"] for o in ones) else None


def _entry_of(doc: dict | None, path: str) -> dict | None:
    for o in (doc or {}).get("outputs") or ():
        if isinstance(o, dict) and o.get("path") == path:
            return o
    return None


def _measured(path: Path) -> tuple[bytes, int, tuple[int | None, int | None, str | None]]:
    """The output's content hash (provenance.output_hash), size and header, read a piece at a
    time: an output left as it is may be a print TIFF of gigabytes, never held whole (one over
    a limit was left out of the manifest). A regular file only, never through a link;
    ValueError for anything else."""
    with nofollow.opened(path.parent) as parent:
        fd = nofollow.open_file_at(parent, path.name, path)
    with open(fd, "rb") as f:
        digest, size = provenance.output_hash_of(f)
        f.seek(0)
        return digest, size, _header(f)


def _header(data: BinaryIO) -> tuple[int | None, int | None, str | None]:
    """Pixel size and format from the file's header, read by Pillow with the plugins of the
    formats hotfolder writes only (no pixel decoded; libvips' sniffing would try any loader
    on bytes anyone who can write the output folder may have put there). None each where
    Pillow reads no such header (JPEG XL, written through libjxl)."""
    from PIL import Image

    from hotfolder.engine import formats

    names = [f.pil for f in map(formats.get, formats.OUTPUTS) if f.pil is not None]
    try:
        with Image.open(data, formats=names) as im:
            known = formats.of_pil(im.format)
            return im.width, im.height, known.name if known is not None else None
    except Exception:  # noqa: BLE001 - any file that does not open is one not described: None
        return None, None, None


def listed_before(previous: bytes | None, renditions: Sequence[str]) -> tuple[Had, ...]:
    """The outputs of the folder's `renditions` the previous manifest listed, in its order:
    what the original had, where the index does not say (a cluster's, a row rebuilt from the
    archive); spliced replaces those of the renditions made again. Its paths are data: one
    not a plain relative path, or not shown as it is, is passed over (never read outside the
    output folder)."""
    try:
        doc = json.loads(previous) if previous is not None else None
    except ValueError:
        return ()
    out = []
    for o in (doc.get("outputs") or ()) if isinstance(doc, dict) else ():
        rendition, path = (o.get("rendition"), o.get("path")) if isinstance(o, dict) else (None, None)
        if (isinstance(rendition, str) and rendition in renditions and isinstance(path, str)
                and _plain(path) and display(path) == path):
            out.append(Had(rendition, path))
    return tuple(out)


def _plain(path: str) -> bool:
    parts = path.split("/")
    return not path.startswith("/") and all(p not in ("", ".", "..") for p in parts) and "\0" not in path


def document(base: dict, made: Sequence[str], written: Sequence[str], had: Sequence[Had], had_manifest: bytes,
             previous: bytes | None, output: Path, home: str, renditions: Sequence[str],
             asked: Sequence[str] = ()) -> dict:
    """The manifest of an original some of whose renditions (`asked`; `made`, written at
    `written`) were rendered again: `base` (manifest.document of those) with the outputs it
    `had` that were left as they are, each described (see the top), in the order spliced gives."""
    doc = proved(previous, had_manifest)
    had = had or listed_before(previous, renditions)
    listed: list[dict] = []
    fresh: set[int] = set()
    for item in spliced(had, list(zip(made, written, strict=True)), asked):
        if isinstance(item, int):
            fresh.add(len(listed))
            listed.append(base["outputs"][item])
        elif _plain(item.output) and (entry := described(output / item.output, item, doc, home)) is not None:
            listed.append(entry)
    ours, carried = placeholder(listed, fresh, doc, (base["source"]["width"], base["source"]["height"]))
    if ours:
        return {**base, "outputs": listed}
    return {**base, "outputs": listed, **{key: (carried or {}).get(key) for key in PLACEHOLDER_KEYS}}
