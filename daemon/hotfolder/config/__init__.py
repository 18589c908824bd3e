"""The YAML config: parsed, checked, every problem at once with its line; plain data after.

    from hotfolder import config
    cfg = config.load(path)              # or config.parse(text, source, base)

model.py      the dataclasses and the choices (StrEnums); no I/O
keys.py       a key's declaration (Key, Step, Reload); values.py: the kinds of values
sections/     the keys of each section, declared once, and how a mapping is read
reader.py     walking the YAML: every problem recorded with its place (problems.py)
parsing.py    load / parse / check: the sections, then the machine checks (hotfolder.preflight)
changes.py    what a reload changes, for people; reloadable.py: what a reload may change
docs.py       the README's config reference, printed from the declarations
locate.py     which config file a command uses; nesting.py: where folders may lie

The names below are loaded on first use: the engine and the workers import only
config.model, and must not pay for the parser (it doubles that import's time, 50 → 110 ms).
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotfolder.config.changes import describe_changes
    from hotfolder.config.model import (
        Cluster,
        Config,
        ConfigError,
        Folder,
        Http,
        NotifyTarget,
        Rendition,
        SetMetadata,
        Sharpen,
        Watermark,
    )
    from hotfolder.config.parsing import Checked, check, load, parse, state_dir_in, state_dir_of
    from hotfolder.config.reader import EVERY_PART

_WHERE = {
    "describe_changes": "changes",
    **dict.fromkeys(("Cluster", "Config", "ConfigError", "Folder", "Http", "NotifyTarget", "Rendition",
                     "SetMetadata", "Sharpen", "Watermark"), "model"),
    **dict.fromkeys(("Checked", "check", "load", "parse", "state_dir_in", "state_dir_of"), "parsing"),
    "EVERY_PART": "reader",
}

__all__ = [
    "EVERY_PART", "Checked", "Cluster", "Config", "ConfigError", "Folder", "Http", "NotifyTarget", "Rendition",
    "SetMetadata", "Sharpen", "Watermark", "check", "describe_changes", "load", "parse", "state_dir_in",
    "state_dir_of",
]


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'hotfolder.config' has no attribute {name!r}")
    value = getattr(import_module(f"hotfolder.config.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
