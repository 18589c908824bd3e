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
    here = _closest(name, [r for f in folders for r in _names(f)])
    if here is not None:
        return said + f"; did you mean {here!r}?"
    there = _closest(name, [r for f in others for r in _names(f)])
    if there is not None:
        where = next(f.name for f in others if there in _names(f))
        return said + f"; did you mean {there!r}, of folder {where} (give --folder {where})?"
    return said + "; give --rendition a name as the config spells it"


def _closest(name: str, names: list[str]) -> str | None:
    """The one of `names` `name` was likely meant to be, whatever its case (`WEB` is `web`:
    difflib alone, which tells case apart, found nothing like it)."""
    folded: dict[str, str] = {}
    for each in names:
        folded.setdefault(each.casefold(), each)
    near = difflib.get_close_matches(name.casefold(), list(folded), n=1)
    return folded[near[0]] if near else None


def _names(folder: Folder) -> list[str]:
    return [r.name for r in folder.renditions]
