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
    others = [f.name for f in cfg.folders if f not in folders and name in _names(f)]
    close = difflib.get_close_matches(name, list(dict.fromkeys(r for f in folders for r in _names(f))), n=1)
    if folder_given is not None or len(folders) == 1:
        (folder,) = folders
        said = f"folder {folder.name} has no rendition {name!r} (its renditions: {', '.join(_names(folder))})"
    else:
        said = (f"no rendition {name!r} in the folders to render ("
                + "; ".join(f"folder {f.name}: {', '.join(_names(f))}" for f in folders) + ")")
    if close:
        said += f"; did you mean {close[0]!r}?"
    if others:
        said += (f"; folders that have it: {', '.join(others)} (give --folder {others[0]}, or a path in its "
                 f"archive)")
    else:
        said += "; give --rendition one of those names as the config spells it"
    return said


def _names(folder: Folder) -> list[str]:
    return [r.name for r in folder.renditions]
