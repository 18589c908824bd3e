"""A rendition: its name and file name, then the keys of each step (steps/)."""
from __future__ import annotations

import re
from typing import Any

from hotfolder.config.keys import Key, as_fields, read_keys
from hotfolder.config.model import Rendition
from hotfolder.config.reader import Context, Reader, recorded, section
from hotfolder.config.sections import levels, when
from hotfolder.config.sections.steps import STEPS
from hotfolder.config.template_values import Template
from hotfolder.config.values import Nested, Text
from hotfolder.engine import formats
from hotfolder.recipes import templates
from hotfolder.recipes.templates import Template as TemplateText
from hotfolder.spool.fsnames import NAME_MAX


def _name_problem(name: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        return f"{name!r} may only hold letters, digits, '_', '-' and '.'"
    return None


def _filename_problem(template: TemplateText) -> str | None:
    """A path inside the output folder, ending in a file name, that tells the originals apart."""
    skeleton = "".join(p if isinstance(p, str) else "x" for p in template.parts)  # a field is never a . or ..
    parts = skeleton.split("/")
    if skeleton.startswith("/"):
        return f"{template.text!r} must be a path inside the output folder, not an absolute one"
    if any(p in (".", "..") or p.startswith(".") for p in parts if p) or not parts[-1]:
        return (f"{template.text!r} must name a file, in folders under the output if it has a /, with no "
                "'..' or hidden (.) names")
    if not template.fields & {"stem", "name", "seq", "hash"}:
        return f"{template.text!r} must contain {{stem}}, {{name}}, {{seq}} or {{hash}}{_alike(template)}"
    return None


def _alike(template: TemplateText) -> str:
    """Which photos would write one file, and the template with {stem} added: 'every input'
    was said of `sku/{keywords|pick(SKU-*)}.{ext}` too (a shop's audit), whose name varies."""
    varying = dict.fromkeys(f"{{{p.name}}}" for p in template.parts
                            if not isinstance(p, str) and p.name not in ("rendition", "folder", "ext"))
    said = (f": two photos of one {', '.join(varying)} (or of none) would write the same file" if varying
            else ", or every input would write the same file")
    text = template.text
    head, dot, tail = text.rpartition(".")
    ends_in_ext = dot and re.fullmatch(r"\{ext\}|[A-Za-z0-9]+", tail) and head and not head.endswith("/")
    example = f"{head}_{{stem}}.{tail}" if ends_in_ext else f"{text}_{{stem}}"
    return f"{said}; e.g. {example!r}"


def _check_file_name(r: Reader, values: dict) -> None:
    """The file's own name fits in 255 bytes at the least, and ends in an extension, the
    format's where it is written out: `{stem}.webp` with `format: jpeg` wrote JPEG bytes into
    `.webp` files, `{stem}_{rendition}` files with none, and `{width:>100}{height:>100}
    {stem:>100}` failed every file (a review's findings)."""
    text, fmt = values.get("filename"), formats.BY_NAME.get(str(values.get("format")))
    if not isinstance(text, str) or not r.ok("filename") or not r.has("filename"):
        return
    template = templates.parsed(text, templates.FILENAME_FIELDS)
    name: list = []  # the parts of the file's own name, after the last /
    for part in template.parts:
        name = [part.rsplit("/", 1)[1]] if isinstance(part, str) and "/" in part else [*name, part]
    least = sum(len(p.encode()) if isinstance(p, str) else templates.padded_to(p) for p in name)
    if least > NAME_MAX:
        r.fail("filename", f"{text!r} makes names of {least} bytes or more, longer than a file name may be "
                           f"({NAME_MAX} bytes): pad less")
    has_dot = any(isinstance(p, str) and "." in p for p in name)
    if not has_dot and not any(getattr(p, "name", "") == "name" for p in name):  # {name} has the original's
        said = f".{{ext}} (.{fmt.extensions[0]})" if fmt is not None else ".{ext}"
        r.fail("filename", f"{text!r} gives the outputs no extension: end it in {said}")
    if fmt is None:
        return
    last = template.parts[-1] if template.parts else ""
    if not isinstance(last, str) or "." not in last:
        return  # ends in a field ({ext}, or one the user chose): nothing literal to compare
    ext = last.rsplit(".", 1)[1]
    if ext and "/" not in ext and ext.lower() not in fmt.extensions:
        r.fail("filename", f"{template.text!r} ends in .{ext}, but this rendition writes {fmt.name}: end it in "
                           f".{{ext}} (.{fmt.extensions[0]}) or ." + " or .".join(fmt.extensions))


_FIELDS_SAID = ("fields (the README's Recipes section says each): " + ", ".join(
    f"`{{{name}}}`" for name in sorted(templates.FILENAME_FIELDS)) + "; filters `|slug`, `|lower`, `|upper`, "
    "`|default(text)`, and for `{subdir}` and `{keywords}` `|first`, `|last`, `|pick(glob)`; `/` makes subfolders "
    "under the output")

OWN_KEYS = (
    Key("name", Text(), None, "required; letters, digits, `_ - .`", required=True, check=_name_problem),
    Key("filename", Template(templates.FILENAME_FIELDS, _filename_problem), "{stem}_{rendition}.{ext}",
        _FIELDS_SAID),
    Key("when", Nested(when.read), None, "conditions a file must meet for this rendition, all of them (below); "
                                         "without it, every file",
        shown="every file"),  # and an empty `when:` is warned of as "the default: every file" (a new user)
)

KEYS: tuple[Key, ...] = OWN_KEYS + tuple(key for step in STEPS for key in step.keys)


@section
def read(ctx: Context, data: Any, path: str) -> Rendition:
    r = Reader(ctx, data, path)
    values = read_keys(r, KEYS)
    for step in STEPS:
        if step.check is not None:
            with recorded():
                step.check(r, values)
    with recorded():
        _check_file_name(r, values)
    r.done(elsewhere=levels.rendition())
    return Rendition(**as_fields(KEYS, values))
