"""`hotfolder rerender --rendition NAME`: which renditions are rendered again in which folder,
checked against the config before anything is rendered. A name no folder to render has is a
mistake (a typo renders nothing, and said nothing: exit 2, naming the renditions there and the
closest one); a folder to render that has none of the names is passed over, said.
"""
from __future__ import annotations

import difflib

from hotfolder.config.model import Config, Folder


def renditions_asked(cfg: Config, folders: list[Folder], names: list[str],
                     folder_given: str | None) -> dict[str, tuple[str, ...]] | str:
    """Each of `folders` (those to render) by name: the renditions of `names` it has, in its
    recipe's order ((): none); or what is wrong, to say (exit 2)."""
    for name in dict.fromkeys(names):
        if any(name in _names(f) for f in folders):
            continue
        return _unknown(cfg, folders, name, folder_given)
    return {f.name: tuple(r for r in _names(f) if r in names) for f in folders}


def _unknown(cfg: Config, folders: list[Folder], name: str, folder_given: str | None) -> str:
    if folder_given is not None or len(folders) == 1:
        (folder,) = folders
        said = f"folder {folder.name} has no rendition {name!r} (its renditions: {', '.join(_names(folder))})"
    else:
        said = (f"no rendition {name!r} in the folders to render ("
                + "; ".join(f"folder {f.name}: {', '.join(_names(f))}" for f in folders) + ")")
    others = [f for f in cfg.folders if f not in folders]
    having = [f.name for f in others if name in _names(f)]
    if having:
        return (said + f"; folders that have it: {', '.join(having)} (give --folder {having[0]}, or a path in "
                       f"its archive)")
    here = difflib.get_close_matches(name, list(dict.fromkeys(r for f in folders for r in _names(f))), n=1)
    if here:
        return said + f"; did you mean {here[0]!r}?"
    there = difflib.get_close_matches(name, list(dict.fromkeys(r for f in others for r in _names(f))), n=1)
    if there:
        where = next(f.name for f in others if there[0] in _names(f))
        return said + f"; did you mean {there[0]!r}, of folder {where} (give --folder {where})?"
    return said + "; give --rendition a name as the config spells it"


def _names(folder: Folder) -> list[str]:
    return [r.name for r in folder.renditions]
