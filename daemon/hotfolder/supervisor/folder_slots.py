"""Each folder name's slot in the backend's shared per-folder counts.
"""
from __future__ import annotations

import dataclasses

from hotfolder.backend import MAX_FOLDERS
from hotfolder.config.model import Config, ConfigError


class FolderSlots:
    """Which slot of the shared counts each folder name has: given at first sight and
    kept for the life of the process, so a reload that removes a folder and brings it
    back continues its counts, and a new folder never inherits another's."""

    def __init__(self):
        self._slots: dict[str, int] = {}

    def assign(self, config: Config) -> Config:
        """The config, each folder carrying its slot. ConfigError when there is no slot left."""
        for i, folder in enumerate(config.folders):
            if folder.name not in self._slots:
                if len(self._slots) >= MAX_FOLDERS:
                    raise ConfigError(str(config.source), f"folders[{i}].name",
                                      f"this daemon has counted {MAX_FOLDERS} folder names since it started; "
                                      "restart it to use a new one")
                self._slots[folder.name] = len(self._slots)
        folders = tuple(dataclasses.replace(f, slot=self._slots[f.name]) for f in config.folders)
        return dataclasses.replace(config, folders=folders)

    def names(self) -> list[str]:
        """Every folder name given a slot, in slot order (including folders a reload removed)."""
        return sorted(self._slots, key=self._slots.__getitem__)
