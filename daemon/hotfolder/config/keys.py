"""A config key, declared once: its name, how its value is read, its default, a help
line for the README, and what a reload does with it.

Each section (sections/*.py) lists its keys as `Key`s and reads them all with
`read_keys`; the README's tables are printed from them (docs.py, checked by a test),
and the reload rules come from them (reloadable.py). Adding a key is one `Key(...)` in
its section, the field of the same name in model.py, and the README regenerated.

A rendition step (sharpen, watermark, …) declares its keys as a `Step` in a module that
needs only the standard library and hotfolder.config, so the step's keys can live next
to its engine code: the rendition section reads every step listed in
sections/steps/__init__.py.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from hotfolder.config.reader import Invalid, Reader, Unset


class Applies(StrEnum):
    """When a reload's new value of a key takes effect."""

    NOW = "now"  # the reload applies it (`how` names who)
    RESTART = "restart"  # the reload is refused naming the key (`how` says why)
    NODES = "nodes"  # cluster mode: each `hotfolder worker` reads it at its start


@dataclass(frozen=True)
class Reload:
    applies: Applies
    how: str  # who applies it, or why the daemon must restart
    cluster_only: bool = False  # the rule holds in cluster mode; in local mode nothing reads the key


class Value(Protocol):
    """How a key's YAML value is read (values.py has the kinds)."""

    def read(self, r: Reader, name: str, default: Any) -> Any:
        """The value for the model; a problem goes through `r.fail` (it raises)."""
        ...

    def shown(self, default: Any) -> str:
        """The default as the README's table writes it."""
        ...


@dataclass(frozen=True)
class Key:
    name: str
    value: Value
    default: Any = None  # the model's value when the key is absent (None: none)
    help: str = ""  # the README's "meaning" cell
    required: bool | str = False  # True, or what to say when it is absent ("is required: a list of …")
    check: Callable[[Any], str | None] | None = None  # a further check of the value read: what is wrong, or None
    reload: Reload | None = None  # top-level and cluster keys; the others follow their section's key
    fields: tuple[str, ...] = ()  # the model fields it fills, when not just `name`: size -> width, height
    shown: str | None = None  # the README's default when the value does not say it ("2 × workers")
    env: bool = False  # `${VAR}` in it is taken from the environment (the value kind expands it)

    @property
    def model_fields(self) -> tuple[str, ...]:
        return self.fields or (self.name,)

    @property
    def shown_default(self) -> str:
        return self.shown if self.shown is not None else self.value.shown(self.default)

    def read(self, r: Reader) -> Any:
        """The key's value; after a problem (recorded), its default, and the key is
        `skipped` so that checks across keys leave it alone (one mistake, one problem)."""
        try:
            if self.required and not r.has(self.name):
                r.missing(self.name, self.required if isinstance(self.required, str) else "is required")
            if self.name in r.data and r.data[self.name] is None:
                # `quality:` with nothing after it reads as absent: said, since the value
                # meant may have slipped onto a line YAML reads otherwise.
                r.warn(self.name, f"is empty, so it reads as not written ({self._default_said()}); "
                                  "give it a value, or remove the key")
            value = self.value.read(r, self.name, self.default)
            if self.check is not None and value is not None and value != self.default:  # a default is valid
                problem = self.check(value)
                if problem:
                    r.fail(self.name, problem)
            return value
        except Unset as unset:
            r.skipped.add(self.name)
            return unset.written
        except Invalid:
            r.skipped.add(self.name)
            return self.default

    def _default_said(self) -> str:
        shown = self.shown_default.replace("`", "")
        return "it has no default" if shown in ("", "—") else f"the default: {shown}"


@dataclass(frozen=True)
class Step:
    """A rendition step's keys (sharpen, watermark, …) and its checks across keys.

    `check(r, values)` sees every key of the rendition read so far (name -> value) and
    reports through `r.fail`; a key in `r.skipped` had a problem of its own already."""

    name: str
    keys: tuple[Key, ...]
    check: Callable[[Reader, dict[str, Any]], None] | None = None


def read_keys(r: Reader, keys: Iterable[Key]) -> dict[str, Any]:
    """Every declared key of a mapping, read: name -> value."""
    return {key.name: key.read(r) for key in keys}


def as_fields(keys: Iterable[Key], values: dict[str, Any]) -> dict[str, Any]:
    """The values read as the model's fields: `size` (width, height) fills both."""
    out: dict[str, Any] = {}
    for key in keys:
        if key.name not in values:
            continue
        if len(key.model_fields) == 1:
            out[key.model_fields[0]] = values[key.name]
        else:
            out.update(zip(key.model_fields, values[key.name], strict=True))
    return out
