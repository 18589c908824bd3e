"""A manifest is written atomically with its outputs: whenever a worker is stopped or
killed mid-file, a manifest that is there describes exactly the outputs beside it, never
outputs missing or another version's (workers/render.py). A real worker process,
frozen (SIGSTOP) the moment its first output of a new version replaces the old one,
then killed (SIGKILL)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from blake3 import blake3
from PIL import Image

from hotfolder import jobs
from hotfolder.config import load
from hotfolder.spool import moves
from hotfolder.workers import render
from tests.imaging import photo

RENDITIONS = 16  # each written and fsynced in turn: the worker is caught between the first and the manifest
DEADLINE = 60.0
WORKER = """\
import sys
from pathlib import Path
from hotfolder import jobs
from hotfolder.config import load
from hotfolder.workers import render
cfg = load(Path(sys.argv[1]))
folder = cfg.folders[0]
src = folder.processing / "a.jpg"
render.process_one(jobs.Job(2, folder, src, "a.jpg", cfg.accepted_formats, cfg.max_image_pixels))
"""


def config(tmp_path: Path) -> Path:
    renditions = "\n".join(f"      - {{name: r{i}, size: {200 + 40 * i}, format: png}}" for i in range(RENDITIONS))
    path = tmp_path / "hotfolder.yaml"
    path.write_text(textwrap.dedent("""\
        state_dir: state
        folders:
          - inbox: in
            output: out
            archive: archive
            failed: failed
            manifest: "{stem}.json"
            renditions:
        """) + renditions + "\n")
    return path


def consistent(out: Path, original: Path) -> str:
    """What is wrong with the manifest beside the outputs now ("" if none, or if there is none)."""
    try:
        doc = json.loads((out / "a.json").read_text())
    except FileNotFoundError:
        return ""
    if doc["source"]["blake3"] != blake3(original.read_bytes()).hexdigest():
        return "the manifest is another version's"
    for entry in doc["outputs"]:
        path = out / entry["path"]
        if not path.exists():
            return f"{entry['path']} is listed and missing"
        if path.stat().st_size != entry["bytes"]:
            return f"{entry['path']} is not the one listed ({path.stat().st_size} bytes, listed {entry['bytes']})"
    return ""


def test_a_worker_stopped_or_killed_mid_file_leaves_no_manifest_of_other_outputs(tmp_path):
    cfg = load(config(tmp_path))
    folder = cfg.folders[0]
    for place in folder.all_dirs():
        place.mkdir(parents=True, exist_ok=True)
    picture = photo((1600, 1000))
    picture.save(folder.inbox / "a.jpg", quality=92)
    claimed = moves.claim(folder, folder.inbox / "a.jpg")
    first = render.process_one(jobs.Job(1, folder, claimed.path, claimed.rel, cfg.accepted_formats,
                                        cfg.max_image_pixels))
    assert first.ok and consistent(folder.output, claimed.path) == "" and (folder.output / "a.json").exists()

    caught_mid_file = False
    for attempt in range(5):  # until the freeze lands between the first new output and the manifest
        # A new version of the original: a re-export of the same photo (so the index of
        # originals takes it for the same photo, whose outputs it replaces: issue 26.2), with
        # other pixels and bytes.
        scale = 0.9 - 0.05 * attempt
        picture.resize((round(1600 * scale), round(1000 * scale)), Image.Resampling.LANCZOS).save(
            claimed.path, quality=80 - 3 * attempt)
        first_output = folder.output / "a_r0.png"
        before = {p.name: p.stat().st_ino for p in folder.output.iterdir()}
        worker = subprocess.Popen([sys.executable, "-c", WORKER, str(config(tmp_path))], cwd=tmp_path)
        try:
            deadline = time.monotonic() + DEADLINE
            while first_output.stat().st_ino == before["a_r0.png"]:  # busy: the window is milliseconds
                assert worker.poll() is None, "the worker ended without replacing its first output"
                assert time.monotonic() < deadline, "the worker never replaced its first output"
            os.kill(worker.pid, signal.SIGSTOP)
            replaced = [name for name, inode in before.items()
                        if name != "a.json" and (folder.output / name).stat().st_ino != inode]
            assert consistent(folder.output, claimed.path) == "", "frozen"
            caught_mid_file = caught_mid_file or len(replaced) < RENDITIONS
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            worker.kill()
            worker.wait(timeout=DEADLINE)
        assert consistent(folder.output, claimed.path) == "", "killed"
        if caught_mid_file:
            assert not (folder.output / "a.json").exists()  # the old one went before the first new output
            break
    assert caught_mid_file, "the freeze never landed mid-file in 5 tries"
    # The file comes back (as after a restart): outputs and manifest of the one version.
    again = render.process_one(jobs.Job(3, folder, claimed.path, claimed.rel, cfg.accepted_formats,
                                        cfg.max_image_pixels))
    assert again.ok and (folder.output / "a.json").exists() and consistent(folder.output, claimed.path) == ""


def test_a_manifest_name_too_long_names_the_manifest_template(tmp_path):
    """A 251-byte stem made `{stem}.json` 256 bytes: the reason told the user to shorten the
    rendition's filename template, which was fine (an attack round)."""
    short = config(tmp_path).read_text().replace("format: png}", 'format: png, filename: "{hash:6}_{rendition}.{ext}"}')
    (tmp_path / "hotfolder.yaml").write_text(short)  # the outputs' names are short; the manifest's is not
    cfg = load(tmp_path / "hotfolder.yaml")
    folder = cfg.folders[0]
    for place in folder.all_dirs():
        place.mkdir(parents=True, exist_ok=True)
    name = "L" * 251 + ".jpg"
    photo((64, 48)).save(folder.inbox / name, quality=92)
    claimed = moves.claim(folder, folder.inbox / name)
    done = render.process_one(jobs.Job(1, folder, claimed.path, claimed.rel, cfg.accepted_formats,
                                       cfg.max_image_pixels))
    assert not done.ok and "the manifest's name" in done.error and "`manifest:` template" in done.error, done.error
