"""A folder standing at an output's name (an attack round): a template that takes a value
of the photo (`{camera}/…`) makes folders, and a client's photo whose EXIF Make is the
name of another original's output (`IMG_0002_thumb.webp`) makes a folder of that name.
Under `on_name_clash: replace` the real IMG_0002.jpg then failed with a bare
`IsADirectoryError` (and a traceback in the log); under the default its thumb went beside
with a reason that blamed a moved output folder. Now the folder is stepped around as an
output of unknown owner is, whatever on_name_clash says (`fail` fails, saying so), and the
log says a folder stands there. Each case failed before the fix."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.harness import wait_for
from tests.sources import camera_exif, camera_jpeg

RENDITIONS = """
- {name: web, size: 100, format: jpeg, filename: "{camera}/{stem}_{rendition}.{ext}"}
- {name: thumb, size: 50, format: webp}
"""


def drop(d, name: str, make: str, seed: int) -> None:
    d.inbox.mkdir(parents=True, exist_ok=True)
    camera_jpeg(d.root / name, (120, 80), exif=camera_exif(make=make, model=None), seed=seed)
    os.rename(d.root / name, d.inbox / name)


@pytest.mark.parametrize("policy", ["suffix", "replace", "fail"])
def test_a_folder_made_from_a_photos_value_at_another_originals_output_name(daemon_factory, policy):
    d = daemon_factory(renditions=RENDITIONS, folder_extra=f"on_name_clash: {policy}").start()
    drop(d, "client.jpg", "IMG_0002_thumb.webp", seed=1)  # its web output: IMG_0002_thumb.webp/client_web.jpg
    wait_for(lambda: d.settled(1), 30, what="the client's photo")
    assert (d.output / "IMG_0002_thumb.webp" / "client_web.jpg").is_file()
    drop(d, "IMG_0002.jpg", "Canon", seed=2)
    wait_for(lambda: d.settled(2), 30, what="the studio's photo")
    assert (d.output / "IMG_0002_thumb.webp" / "client_web.jpg").is_file(), "the client's output stays"
    def failed_events() -> list[dict]:
        return [e for e in d.events("file_failed") if e.get("file") == "IMG_0002.jpg" and "failed" in e]

    failed = failed_events()
    if policy == "fail":
        # The original is moved to failed/ before file_failed is logged (Failing.rendered): settled
        # can be seen between the two (a full suite under load: `[]`), so the line is waited for.
        failed = wait_for(failed_events, 10, what="file_failed of IMG_0002.jpg")
        assert failed and "a directory stands at its output's name IMG_0002_thumb.webp" in failed[0]["reason"], failed
        assert d.stop() == 0
        return
    assert not failed, failed
    assert (d.output / "IMG_0002_thumb~jpg.webp").is_file(), sorted(p.name for p in d.output.iterdir())
    kept = [e for e in d.events("outputs_kept") if e.get("file") == "IMG_0002.jpg"]
    said = "IMG_0002_thumb.webp is kept: it is a folder (or a FIFO, a link: no regular file)"
    assert kept and said in kept[0]["reason"], kept
    assert "moved or copied" not in kept[0]["reason"], kept
    assert d.stop() == 0


@pytest.mark.parametrize("there", ["file", "loop", "unsearchable"])
def test_explain_of_an_output_whose_folder_cannot_be_looked_in_says_it_and_does_not_break(daemon_factory, there):
    """What stands where an output's folder would be (`output/Canon`) keeps the output's name
    from being looked at: a regular file (NotADirectoryError), a symlink to itself (ELOOP), a
    folder this user may not search (EACCES). The check of what stands at the output's name
    (os.lstat) raised each in `explain`, which reads the names without opening the folders,
    where os.path.lexists said "nothing" (`hotfolder explain: …/Canon/a_web.jpg: Too many
    levels of symbolic links`, exit 1)."""
    from tests.harness import hotfolder
    from tests.harness.permissions import bound_by_permissions

    launcher = bound_by_permissions() if there == "unsearchable" else ()
    d = daemon_factory(renditions=RENDITIONS).start()
    assert d.stop() == 0
    d.output.mkdir(parents=True, exist_ok=True)
    if there == "file":
        (d.output / "Canon").write_bytes(b"a file, not a folder")
    elif there == "loop":
        os.symlink("Canon", d.output / "Canon")
    else:
        (d.output / "Canon").mkdir(mode=0o600)
    camera_jpeg(d.root / "a.jpg", (120, 80), exif=camera_exif(make="Canon", model=None), seed=3)
    args = ("explain", "--config", str(d.config), str(d.root / "a.jpg"))
    said = (hotfolder(*args) if not launcher else
            subprocess.run([*launcher, sys.executable, "-m", "hotfolder", *args], capture_output=True, text=True,
                           timeout=30))
    assert said.returncode == 0 and "Traceback" not in said.stderr, said.stdout + said.stderr
    assert "Canon/a_web.jpg" in said.stdout, said.stdout


def test_explain_of_an_output_whose_name_a_folder_holds_says_what_stands_there(daemon_factory):
    """explain said the thumb 'is a folder (or no file) standing at that name': read as
    "or nothing there", which contradicts it; the log's outputs_kept said the same."""
    from tests.harness import hotfolder

    d = daemon_factory(renditions=RENDITIONS).start()
    assert d.stop() == 0
    (d.output / "IMG_0002_thumb.webp").mkdir(parents=True)
    camera_jpeg(d.root / "IMG_0002.jpg", (120, 80), exif=camera_exif(make="Canon", model=None), seed=4)
    said = hotfolder("explain", "--config", str(d.config), str(d.root / "IMG_0002.jpg"))
    assert said.returncode == 0, said.stdout + said.stderr
    assert ("IMG_0002_thumb.webp is a folder (or a FIFO, a link: no regular file) standing at that name: this one "
            "would get a ~suffix") in said.stdout, said.stdout
    assert "or no file" not in said.stdout
