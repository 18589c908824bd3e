"""Configs of several folders, written as text (each place under the folder's own name),
and `hotfolder check-config` on one."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.harness.daemon import hotfolder


def folder_yaml(name: str, **paths: str) -> str:
    """One folder of a config; each place under its own name unless given."""
    places = {key: f"{name}/{key}" for key in ("inbox", "output", "archive", "failed", "processing")}
    places.update(paths)
    lines = [f"  - name: {name}"] + [f"    {key}: {value}" for key, value in places.items()]
    return "\n".join(lines + ["    renditions: [{name: web, size: 100, format: jpeg}]"]) + "\n"


def write_config(root: Path, *folders: str) -> Path:
    """ROOT/hotfolder.yaml with these folders (folder_yaml) and state_dir ROOT/state."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "hotfolder.yaml"
    path.write_text("state_dir: state\nfolders:\n" + "".join(folders))
    return path


def check_config(path: Path) -> subprocess.CompletedProcess:
    return hotfolder("check-config", str(path), timeout=60)
