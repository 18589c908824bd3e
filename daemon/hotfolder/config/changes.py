"""What a reload changes, said for people (the `reloaded` event's `changes`).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from hotfolder import redact
from hotfolder.config.model import Config

# Set from elsewhere, not read from the file: no news to a person reloading it.
_DERIVED_FIELDS = {"source", "renditions", "temp_token", "names_dir", "index_dir"}


def describe_changes(old: Config, new: Config) -> list[str]:
    """What a reload changes, for people: `workers 2 → 1`, `folder shop added`,
    `photos: rendition tiny added`, `photos: web: quality 85 → 70`, `http.token changed`
    (a secret's value is never said); [] when nothing."""
    changes = _changed_fields(dataclasses.replace(old, folders=(), notify=()),
                              dataclasses.replace(new, folders=(), notify=()))
    for i in range(max(len(old.notify), len(new.notify))):
        a = old.notify[i] if i < len(old.notify) else None
        b = new.notify[i] if i < len(new.notify) else None
        if a is None or b is None:
            shown = (b.shown if b is not None else a.shown if a is not None else "")
            changes.append(f"notify[{i}] {'added' if a is None else 'removed'}: {shown}")
        else:
            changes += [f"notify[{i}]: {c}" for c in _changed_fields(a, b)]
    before = {f.name: f for f in old.folders}
    after = {f.name: f for f in new.folders}
    changes += [f"folder {name} added" for name in after if name not in before]
    changes += [f"folder {name} removed" for name in before if name not in after]
    for name in (n for n in after if n in before):
        changes += [f"{name}: {c}" for c in _changed_fields(before[name], after[name])]
        old_r = {r.name: r for r in before[name].renditions}
        new_r = {r.name: r for r in after[name].renditions}
        changes += [f"{name}: rendition {r} added" for r in new_r if r not in old_r]
        changes += [f"{name}: rendition {r} removed" for r in old_r if r not in new_r]
        changes += [f"{name}: {r}: {c}" for r in new_r if r in old_r for c in _changed_fields(old_r[r], new_r[r])]
    return changes


def _changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if f.name in _DERIVED_FIELDS or a == b:
            continue
        if f.metadata.get("secret"):
            out.append(f"{prefix}{f.name} {_secret_change(f, a, b)}")
        elif dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):  # a watermark, the cluster
            out += _changed_fields(a, b, f"{prefix}{f.name}.")
        elif dataclasses.is_dataclass(a) or dataclasses.is_dataclass(b):
            out.append(f"{prefix}{f.name} {'added' if a is None else 'removed'}")
        else:
            out.append(f"{prefix}{f.name} {_show(a)} → {_show(b)}")
    return out


def _secret_change(f: dataclasses.Field, a: Any, b: Any) -> str:
    """`changed`, `set`, `removed`; a URL's shown parts when they changed. Never a value."""
    if not a or not b:
        return "set" if b else "removed"
    shown_a, shown_b = redact.shown(f, a), redact.shown(f, b)
    return f"{shown_a} → {shown_b}" if shown_a != shown_b else "changed"


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():  # seconds of a duration: `36h` is 129600, not 129600.0
        return str(int(value))
    return "none" if value is None else str(value)
