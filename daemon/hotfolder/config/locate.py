"""Which config file a command uses when `--config` is not given.

The order: `$HOTFOLDER_CONFIG`, then `./config/hotfolder.yaml` (a checkout of this
repository), then `/etc/hotfolder/hotfolder.yaml` (what systemd/install.sh installs).
A command that found its config this way says which one (one line on stderr), so a
status or requeue never silently acts on another daemon's folders.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from hotfolder.errors import ExitCode, HotfolderError

ENV = "HOTFOLDER_CONFIG"
PLACES = (Path("config/hotfolder.yaml"), Path("/etc/hotfolder/hotfolder.yaml"))


class NoConfig(HotfolderError):
    """No --config, and none of the usual places holds a config."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Found:
    path: Path
    origin: str  # how it was found, for the one line that says so; "" when given

    def said(self) -> str:
        return f"hotfolder: using {self.path} ({self.origin}; --config FILE for another)"


def find(given: Path | None, environ=os.environ, places: tuple[Path, ...] = PLACES) -> Found:
    """The config to use: `given`, else the first of $HOTFOLDER_CONFIG and `places`.
    $HOTFOLDER_CONFIG is used even if the file is missing: it says what was meant, and
    loading it then says it cannot be read."""
    if given is not None:
        return Found(given, "")
    if environ.get(ENV):
        return Found(Path(environ[ENV]), f"from ${ENV}")
    for place in places:
        if place.is_file():
            where = "found in the current folder" if not place.is_absolute() else "the system's config"
            return Found(place, where)
    tried = ", ".join(str(p) for p in places)
    raise NoConfig(f"no config given and none found (tried ${ENV}, {tried}); "
                   "give one with --config FILE, or make one to edit with `hotfolder init DIR` and run the "
                   "commands from DIR")


def option(config: Path | None) -> str:
    """` --config FILE` for a command printed for the admin (a log line's hint), unless FILE is
    the system's config, which a command finds from any folder; empty when the config is not
    a file's (a text parsed in a test), or its path is no text a shell reads back. Without it,
    a daemon run with --config /srv/x.yaml printed commands that acted on whatever config the
    admin's current folder held."""
    if config is None or not config.is_absolute() or config == PLACES[-1]:
        return ""
    text = str(config)
    return f" --config {shlex.quote(text)}" if text.isprintable() else ""
