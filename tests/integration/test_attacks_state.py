"""The third attack round (issue 20), on a running daemon's state: an output inside another
folder's inbox is a chain that is served; the name records in state_dir, deleted or stale,
let no original replace another's output. (The config's refusals and spool's records:
tests/unit/test_attacks_state.py.)"""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

from PIL import Image

from tests.harness import check_config, files_under, folder_yaml, wait_for


def jpeg(color=(200, 30, 30), size=(320, 240), fmt="JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def test_an_output_inside_another_folders_inbox_is_a_chain_that_is_served(daemon_factory):
    """A legitimate chain (b renders what a writes), refused before as a folder inside an inbox."""
    d = daemon_factory()
    d.config.write_text("state_dir: var/state\nfolders:\n"
                        + folder_yaml("a", output="var/b/inbox/from-a").replace("a/", "var/a/")
                        + folder_yaml("b").replace("b/", "var/b/"))
    assert check_config(d.config).returncode == 0
    d.start()
    (d.root / "var/a/inbox").mkdir(parents=True, exist_ok=True)
    (d.root / "var/a/inbox/x.jpg").write_bytes(jpeg())
    wait_for(lambda: files_under(d.root / "var/b/archive") == ["from-a/x_web.jpg"], 30, what="b to render a's output")
    assert files_under(d.root / "var/b/output") == ["from-a/x_web_web.jpg"]
    assert files_under(d.root / "var/a/archive") == ["x.jpg"]
    assert d.stop() == 0


# ---------------------------------------------------------------- 15. state_dir/names

RED, GREEN = (210, 20, 20), (20, 200, 20)


def colour_of(path: Path) -> tuple[int, int, int]:
    with Image.open(path) as im:
        return im.convert("RGB").resize((1, 1)).getpixel((0, 0))


def near(a, b, tol=12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=False))


def markers(state: Path) -> list[Path]:
    names = state / "names"
    return [p for p in names.rglob("*") if p.is_symlink()] if names.exists() else []


def drop(d, name: str, data: bytes) -> None:
    staging = d.root / "staging"
    staging.mkdir(exist_ok=True)
    (staging / name).write_bytes(data)
    (staging / name).rename(d.inbox / name)


def test_deleting_the_name_records_does_not_let_another_original_replace_an_output(daemon_factory):
    """With state_dir/names gone, y.png used to replace y.jpg's outputs silently."""
    d = daemon_factory().start()
    drop(d, "y.jpg", jpeg(RED))
    wait_for(lambda: files_under(d.archive) == ["y.jpg"], 30, what="y.jpg")
    assert d.stop() == 0
    import shutil

    shutil.rmtree(d.var / "state" / "names")
    d.start()
    drop(d, "y.png", jpeg(GREEN, fmt="PNG"))
    wait_for(lambda: len(files_under(d.archive)) == 2, 30, what="y.png")
    assert sorted(d.outputs()) == ["y_thumb.webp", "y_thumb~png.webp", "y_web.jpg", "y_web~png.jpg"]
    assert near(colour_of(d.output / "y_web.jpg"), RED), "y.jpg's output was replaced by another original's"
    assert near(colour_of(d.output / "y_web~png.jpg"), GREEN)
    assert d.stop() == 0


def test_the_records_of_outputs_that_are_gone_are_pruned_at_start(daemon_factory):
    """One marker per output name ever written, never pruned: 40,000 after 20,000 files."""
    d = daemon_factory().start()
    for i in range(3):
        drop(d, f"p{i}.jpg", jpeg((60 * i, 30, 30)))
    wait_for(lambda: len(files_under(d.archive)) == 3, 30, what="three files")
    assert len(markers(d.var / "state")) == 12  # two renditions each, two markers a name (owners.folded)
    assert d.stop() == 0
    from hotfolder.spool.owners import RESERVED_FOR

    then = time.time() - RESERVED_FOR - 60  # the names taken long enough ago that no write can be under way
    for marker in markers(d.var / "state"):
        os.utime(marker, (then, then), follow_symlinks=False)
    for name in ("p0_web.jpg", "p0_thumb.webp", "p1_web.jpg"):  # a consumer took these away
        (d.output / name).unlink()
    d.start()
    pruned = wait_for(lambda: d.event("names_pruned"), 10, what="the prune at start")
    assert (pruned["kept"], pruned["removed"]) == (6, 6), pruned
    assert len(markers(d.var / "state")) == 6
    drop(d, "p1.png", jpeg(GREEN, fmt="PNG"))  # p1_web.jpg is free again; p1_thumb.webp is still p1.jpg's
    wait_for(lambda: len(files_under(d.archive)) == 4, 30, what="p1.png")
    assert {"p1_web.jpg", "p1_thumb~png.webp", "p1_thumb.webp"} <= set(d.outputs()), d.outputs()
    assert near(colour_of(d.output / "p1_web.jpg"), GREEN)
    assert d.stop() == 0
