"""What a reload changes, said for people (the `reloaded` event's `changes`).
"""
from __future__ import annotations

import dataclasses
import json
import shlex
from typing import Any

import yaml

from hotfolder import redact
from hotfolder.config import locate
from hotfolder.config.model import Config, Http, Rendition
from hotfolder.recipes.conditions import When

# Said apart, rendition by rendition (the model's fields marked DERIVED, set from elsewhere and
# not read from the file, are no news to a person reloading it: a folder's `slot` was said as
# "slot 0 → 1").
_SAID_APART = {"renditions"}
# A rendition's fields that `size:` fills: said as one `size`, as written.
_SIZE_FIELDS = ("width", "height", "long", "short", "megapixels")
# Values the YAML writes otherwise than the model holds them.
_WRITTEN = {"output_mode": lambda mode: f"{mode:04o}",
            "queue_size": lambda n: str(n) if n else "2 × workers",  # 0 is the default: twice the workers
            # (camera glob, seconds, as written): said as the mapping is written
            "clock_offsets": lambda offsets: _flow({glob: written for glob, _, written in offsets})}


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
    renamed = _renamed(before, after)
    changes += [_said_renamed(before[old_name], after[name]) for name, old_name in renamed.items()]
    changes += [f"folder {name} added" for name in after if name not in before and name not in renamed]
    changes += [f"folder {name} removed" for name in before if name not in after and name not in renamed.values()]
    for name in (n for n in after if n in before or n in renamed):
        was = before[renamed.get(name, name)]
        changes += [f"{name}: {c}" for c in _changed_fields(dataclasses.replace(was, name=name), after[name])]
        old_r = {r.name: r for r in was.renditions}
        new_r = {r.name: r for r in after[name].renditions}
        changes += [f"{name}: rendition {r} added" for r in new_r if r not in old_r]
        changes += [f"{name}: rendition {r} removed" for r in old_r if r not in new_r]
        changes += [f"{name}: {r}: {c}" for r in new_r if r in old_r for c in _changed_fields(old_r[r], new_r[r])]
    return changes


def rerender_hint(old: Config, new: Config) -> str:
    """For a reload that adds or changes renditions: how the originals archived before get
    them (they keep their outputs, and a copy of one dropped again is skipped as a duplicate:
    a web publisher changed a quality and dropped the same photos again); "" when none is
    added or changed, or the folder keeps no archive (on_success: delete)."""
    before = {f.name: f for f in old.folders}
    commands = []
    for folder in new.folders:
        was = before.get(folder.name)
        if was is None or folder.archive is None:
            continue
        had = {r.name: r for r in was.renditions}
        names = [r.name for r in folder.renditions if r.name not in had or _changed_fields(had[r.name], r)]
        if names:
            only = "" if len(new.folders) == 1 else f" --folder {shlex.quote(folder.name)}"
            asked = "".join(f" --rendition {shlex.quote(name)}" for name in names)
            commands.append(f"`hotfolder rerender{locate.option(folder.config_file)}{only}{asked}`")
    if not commands:
        return ""
    return ("the originals archived before keep their outputs, and a copy of one dropped again is a duplicate, "
            f"skipped: {' and '.join(commands)} makes them again")


def _said_renamed(was, now) -> str:
    """A folder renamed, and what it forgets by it: `{seq}` knows it by its name; the index of
    originals follows a folder that keeps its processing/ (state/places.py: the owner of its
    outputs, spool/owners.py), else knows it by its name (with duplicate_scope: all, copies
    are still found in any folder)."""
    from hotfolder.config.choices import DuplicateScope
    from hotfolder.recipes import select

    lost, knowing = [], []
    if (DuplicateScope.ALL not in (was.duplicate_scope, now.duplicate_scope) and now.index_dir is not None
            and was.processing != now.processing):
        lost.append(f"knows none of {was.name}'s originals (copies of them are rendered again)")
        knowing.append("the index of originals (with another processing folder)")
    if "seq" in select.template_fields(list(now.renditions)):
        lost.append("counts {seq} anew")
        knowing.append("{seq}")
    if not lost:
        return f"folder {was.name} renamed {now.name} (the same inbox)"
    return (f"folder {was.name} renamed {now.name} (the same inbox): a folder's name is what {' and '.join(knowing)} "
            f"{'know' if len(knowing) > 1 else 'knows'} it by, so {now.name} {' and '.join(lost)}; name it "
            f"{was.name} again to keep them")


def _renamed(before: dict, after: dict) -> dict[str, str]:
    """New name -> old name of each folder whose inbox stayed and whose name changed (a
    new user renamed one and its duplicates were rendered again, with nothing said)."""
    gone = {f.inbox: name for name, f in before.items() if name not in after}
    return {name: gone[f.inbox] for name, f in after.items() if name not in before and f.inbox in gone}


def _changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Each field that differs, said with the YAML's key and as its value is written."""
    out = []
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if f.name in _SAID_APART or f.metadata.get("derived") or a == b:
            continue
        if isinstance(old, Rendition) and f.name in _SIZE_FIELDS:
            said = f"{prefix}size {_size(old)} → {_size(new)}"
            out += [said] if said not in out else []
        elif isinstance(old, Http) and f.name in ("host", "port"):  # both written as `listen` (an admin)
            said = f"{prefix}listen {old.address} → {new.address}"
            out += [said] if said not in out else []
        elif isinstance(a, When) or isinstance(b, When):
            out += _when_changes(a, b, f"{prefix}{f.name}")
        elif f.metadata.get("secret"):
            out.append(f"{prefix}{f.name} {_secret_change(f, a, b)}")
        elif _preset(a) or _preset(b):  # `sharpen: standard → high`, not its radius and amount
            out.append(f"{prefix}{f.name} {_preset(a) or _show(a)} → {_preset(b) or _show(b)}")
        elif dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):  # a watermark, the cluster
            out += _changed_fields(a, b, f"{prefix}{f.name}.")
        elif dataclasses.is_dataclass(a) or dataclasses.is_dataclass(b):
            out.append(f"{prefix}{f.name} {'added' if a is None else 'removed'}")
        else:
            shown = _WRITTEN.get(f.name, _show)
            out.append(f"{prefix}{f.name} {shown(a)} → {shown(b)}")
    return out


def _size(r: Rendition) -> str:
    """A rendition's `size` as written: `1600x1200` (0: a free side), `{long: 2048}`, …"""
    for side in ("long", "short", "megapixels"):
        if getattr(r, side) is not None:
            return f"{{{side}: {_show(getattr(r, side))}}}"
    return "none" if r.width is None and r.height is None else f"{r.width or 0}x{r.height or 0}"


def _preset(value: Any) -> str:
    """The preset a value is (`sharpen: standard`); "" for none or one written out."""
    preset = getattr(value, "preset", "")
    return "" if preset == "custom" else preset


def _when_changes(a: When | None, b: When | None, key: str) -> list[str]:
    """A `when:` changed, entry by entry as the YAML writes them (`when.subfolder books/** →
    books`): the reload said the entries' Python reprs (a shop admin's report)."""
    was, now = (a.written if a else {}), (b.written if b else {})
    if not was or not now:
        return [f"{key} added: {_flow(now)}" if now else f"{key} removed (was {_flow(was)})"]
    return _mapping_changes(was, now, key)


def _mapping_changes(was: dict, now: dict, key: str) -> list[str]:
    """What differs between two mappings as written, a mapping in both (`exif:`) key by key."""
    out = []
    for name in [*was, *(n for n in now if n not in was)]:
        at = f"{key}.{name}"
        if name not in now:
            out.append(f"{at} removed (was {_flow(was[name])})")
        elif name not in was:
            out.append(f"{at} added: {_flow(now[name])}")
        elif isinstance(was[name], dict) and isinstance(now[name], dict):
            out += _mapping_changes(was[name], now[name], at)
        elif was[name] != now[name]:
            out.append(f"{at} {_flow(was[name])} → {_flow(now[name])}")
    return out


def _flow(value: Any) -> str:
    """`value` in YAML's flow style, a text quoted where YAML would read it otherwise (`"*"`)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str) and not _plain(value):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _plain(text: str) -> bool:
    """Whether YAML reads `text` unquoted, in a flow list, as this text."""
    try:
        return bool(text) and yaml.safe_load(f"[{text}]") == [text]
    except yaml.YAMLError:
        return False


def _secret_change(f: dataclasses.Field, a: Any, b: Any) -> str:
    """`changed`, `set`, `removed`; a URL's shown parts when they changed. Never a value."""
    if not a or not b:
        return "set" if b else "removed"
    shown_a, shown_b = redact.shown(f, a), redact.shown(f, b)
    return f"{shown_a} → {shown_b}" if shown_a != shown_b else "changed"


def _show(value: Any) -> str:
    if isinstance(value, bool):  # YAML's words: `upscale False → True` was Python's
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():  # seconds of a duration: `36h` is 129600, not 129600.0
        return str(int(value))
    return "none" if value is None else str(value)
