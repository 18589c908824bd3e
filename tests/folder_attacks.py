"""What the folder attack tests do to a tree, at every tier: plant a failure record, swap a
folder for a symbolic link and put it back, and read a tree byte for byte."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

from PIL import Image

from hotfolder.spool import records as spool_records

KINDS = ("inbox", "processing", "output", "archive", "failed")


def jpeg(color=(200, 30, 30), size=(320, 240)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root and its bytes (links as their target's text): what an attack
    must leave exactly as it was."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[path.relative_to(root).as_posix()] = os.readlink(path).encode()
        elif path.is_file():
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def victim_tree(root: Path) -> Path:
    """Someone else's files, where a swapped folder's link will point."""
    victim = root / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "keep.jpg").write_bytes(jpeg())
    (victim / "bad.jpg").write_bytes(b"not an image, but someone's")
    (victim / "sub" / "deep.jpg").write_bytes(jpeg((10, 200, 10)))
    return victim


def plant_failure(folder_failed: Path, name: str, file_as: str, data: bytes = b"planted") -> Path:
    """A file and a record written into failed/ by anyone who can write there."""
    (folder_failed / name).write_bytes(data)
    record = {"file": name, "error": "x", "step": "render", "attempts": 1, "time": "2026-01-01T00:00:00Z",
              "folder": "t", "failed_as": os.fsencode(name).hex(), "file_as": os.fsencode(file_as).hex()}
    (folder_failed / (name + spool_records.SIDECAR)).write_text(json.dumps(record))
    return folder_failed / name


def swap_for_link(path: Path, target: Path) -> Path:
    """Move the real folder aside and put a symbolic link in its place; the real one's new path."""
    aside = path.with_name(path.name + ".real")
    os.rename(path, aside)
    os.symlink(target, path)
    return aside


def put_back(path: Path, aside: Path) -> None:
    os.unlink(path)
    os.rename(aside, path)
