"""Template values of keys (`filename`, set_metadata's texts): a text with
`{field:spec|filter}`s, checked at load by recipes/templates.py, or a list of them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotfolder.config.reader import Reader, kind
from hotfolder.config.values import Kind
from hotfolder.recipes import templates
from hotfolder.recipes.templates import Template as TemplateText


@dataclass(frozen=True)
class Template(Kind):
    """A text with `{field:spec|filter}`s (recipes/templates.py): known fields and filters
    only, each spec one its field can take. `check` is a further test of the parsed template."""

    fields: frozenset[str]
    check: Callable[[TemplateText], str | None] | None = None
    example: str | None = None  # a file name template to show, for a key that names a file ("{stem}.json")

    def read(self, r: Reader, name: str, default: Any) -> str | None:
        value = r.raw(name)
        return default if value is None else self.text(r, name, value)

    def text(self, r: Reader, at: str, value: Any) -> str:
        """`value` (read at `at`) as a template's text, or its problem said there."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # `credit: 2026` is meant as text
        if isinstance(value, dict) and len(value) == 1 and next(iter(value.values())) is None:
            # `filename: {name}` unquoted: YAML reads a mapping of one key with no value
            r.fail(at, f"must be a non-empty text, not a mapping: YAML reads a value that starts with {{ as one; "
                       f"quote the template, e.g. \"{{{next(iter(value))}}}\"")
        if isinstance(value, bool) and self.example is not None:  # `manifest: true`: asked for, not named
            r.fail(at, f"must be a file name template such as {self.example}, not {kind(value)}"
                       + ("" if value else " (leave the key out for none)"))
        if not isinstance(value, str) or not value.strip():
            r.fail(at, f"must be a non-empty text, not {kind(value)}")
        try:
            parsed = templates.parse(value, self.fields)
        except templates.TemplateError as exc:
            r.fail(at, str(exc))
        problem = self.check(parsed) if self.check is not None else None
        if problem:
            r.fail(at, problem)
        return value


@dataclass(frozen=True)
class Templates(Kind):
    """One template or a list of them (`keywords: [client, "{folder}"]`), each checked."""

    item: Template

    def read(self, r: Reader, name: str, default: Any) -> tuple[str, ...]:
        value = r.raw(name)
        if value is None:
            return default
        if isinstance(value, list):
            return tuple(self.item.text(r, f"{name}[{i}]", item) for i, item in enumerate(value))
        return (self.item.text(r, name, value),)

    def shown(self, default: Any) -> str:
        return "—"
