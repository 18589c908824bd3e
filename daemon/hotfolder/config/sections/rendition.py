"""A rendition: its name and file name, then the keys of each step (steps/)."""
from __future__ import annotations

import re
from typing import Any

from hotfolder.config.keys import Key, as_fields, read_keys
from hotfolder.config.model import TEMPLATE_FIELDS, Rendition
from hotfolder.config.reader import Context, Reader, recorded, section
from hotfolder.config.sections.steps import STEPS
from hotfolder.config.values import Template, Text


def _name_problem(name: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        return f"{name!r} may only hold letters, digits, '_', '-' and '.'"
    return None


def _fields() -> str:
    return ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))


def file_name_problem(template: str) -> str | None:
    """What is wrong with a file name template (a rendition's `filename`, a folder's `manifest`)."""
    if "/" in template.replace("{folder}", "") or template.startswith("."):
        return f"{template!r} must name a file, not a path or a hidden file"
    if "{stem}" not in template and "{name}" not in template:
        return f"{template!r} must contain {{stem}} or {{name}}, or every input would write the same file"
    return None


OWN_KEYS = (
    Key("name", Text(), None, "required; letters, digits, `_ - .`", required=True, check=_name_problem),
    Key("filename", Template(frozenset(TEMPLATE_FIELDS), lambda value: f"use {_fields()}"),
        "{stem}_{rendition}.{ext}",
        "fields: `{stem}`, `{name}` (with extension), `{rendition}`, `{ext}` (the output's), `{source_ext}` "
        "(the original's, lower case, no dot), `{folder}`", check=file_name_problem),
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
    r.done()
    return Rendition(**as_fields(KEYS, values))
