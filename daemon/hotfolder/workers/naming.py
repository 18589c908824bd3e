"""Where each output of a file goes, under the folder's output: its rendition's `filename`
template filled in with the file's values and the output's own (recipes/templates.py,
as a path: no value leaves the output folder), after the file's subfolder under the
inbox unless the template names `{subdir}` itself. Clashes are spool/owners.py's.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from hotfolder import nameparts
from hotfolder.config.model import Rendition
from hotfolder.engine import formats
from hotfolder.engine.pipeline import Output
from hotfolder.errors import HotfolderError
from hotfolder.recipes import templates
from hotfolder.spool import owners
from hotfolder.spool.fsnames import NAME_MAX, NameTooLong
from hotfolder.workers.choice import subdir_of


class EmptyName(HotfolderError, ValueError):
    """A template gave no file name for this file (every field in its last part was empty)."""


def output_rel(out: Output, rel: str, folder: str, values: Mapping[str, object]) -> str:
    """The output's path relative to the folder's output (before clashes)."""
    return planned_rel(out.rendition, out.ext, (out.width, out.height), rel, folder, values)


def planned_rel(rendition: Rendition, ext: str, size: tuple[int, int] | None, rel: str, folder: str,
                values: Mapping[str, object]) -> str:
    """The same for an output of `size` that is not rendered (`hotfolder explain`)."""
    given = {**values, "width": size[0] if size else None, "height": size[1] if size else None}
    name = holding(owners.output_name(rendition, nameparts.name(rel), ext, folder, given), ext)
    template = templates.parsed(rendition.filename)
    # Judged on every field the name was filled with: `{stem}/{rendition}.{ext}` is a name
    # (it failed every file when `rendition`, `stem` and the like were left out here).
    fields = owners.name_fields(rendition, nameparts.name(rel), ext, folder, given)
    if not name or not _ends_in_a_name(template, fields):
        raise EmptyName(f"the filename template {rendition.filename!r} of rendition {rendition.name} gives no file "
                        "name for this file (its fields are empty for it); add |default(text) to them")
    subdir = subdir_of(rel)
    path = name if not subdir or template.uses("subdir") else f"{subdir}/{name}"
    for part in path.split("/"):
        if len(os.fsencode(part)) > NAME_MAX:
            raise NameTooLong(part, rendition.name, _longest_field(template, fields, part))
    return path


def _longest_field(template: templates.Template, values: Mapping[str, object], part: str) -> tuple[str, int, int]:
    """The field that gives most bytes of a name too long, the bytes it gives, and the cut
    (`{field:.N}`, in characters: 4 bytes each at most) that makes the name fit."""
    # Each as inside a name (an `x` after it): a value that ends a part loses its trailing dots
    # and spaces (templates.portable), one inside a name keeps them.
    sizes = {f.name: len(os.fsencode(templates.fill(templates.Template("", (f, "x")), values, as_path=True))) - 1
             for f in template.parts if not isinstance(f, str)}
    name = max(sizes, key=lambda n: sizes[n])
    room = NAME_MAX - (len(os.fsencode(part)) - sizes[name])
    cut = room // 4 if room < 40 else room // 4 // 10 * 10
    return name, sizes[name], max(cut, 1)


def holding(name: str, ext: str) -> str:
    """`name` ending in an extension of the format it holds (the one `ext` names). A
    template may end in a value (`{name}`, `.{source_ext}`): a PNG's name given to a JPEG
    output wrote JPEG bytes into `p.png` (a review); another format's extension is
    replaced (`p.jpg`), anything else kept and the output's added (`Sunset v1.2.jpg`)."""
    fmt = formats.BY_EXTENSION.get(ext.lower())
    base, dot, suffix = name.rpartition(".")
    if fmt is None or (dot and "/" not in suffix and suffix.lower() in fmt.extensions):
        return name
    if dot and "/" not in suffix and suffix.lower() in formats.BY_EXTENSION and not base.endswith("/") and base:
        return f"{base}.{ext}"
    return f"{name}.{ext}"


def _ends_in_a_name(template: templates.Template, values: Mapping[str, object]) -> bool:
    """Whether the template's last part (after its last literal `/`) is more than its literal
    text: a name made only of `.{ext}` when the rest is empty is no name."""
    tail: list[templates.Part] = []
    for part in template.parts:
        if isinstance(part, str) and "/" in part:
            tail = [part.rsplit("/", 1)[1]]
        else:
            tail.append(part)
    fields = [p for p in tail if not isinstance(p, str)]
    if not fields:
        return True
    return any(templates.fill(templates.Template("", (f,)), values) for f in fields if f.name != "ext")
