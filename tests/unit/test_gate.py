"""The claim gate in-process, on real files: the output pause and its backoff, a folder
paused for its recipe and re-checked, a file stuck in processing/, files an inbox
cannot give up. The ledger's side (what makes it pause) is in test_ledger.py."""
from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest
import structlog
from PIL import Image

from hotfolder.config.model import Folder, Rendition, Watermark
from hotfolder.ops.notices import Notice
from hotfolder.spool import moves
from hotfolder.supervisor.gate import MAX_PAUSE, ClaimGate


def make_folder(tmp_path: Path, watermark: Path | None = None) -> Folder:
    mark = Watermark(image=watermark) if watermark else None
    folder = Folder(name="t", inbox=tmp_path / "inbox", output=tmp_path / "output", failed=tmp_path / "failed",
                    processing=tmp_path / "processing", archive=tmp_path / "archive",
                    renditions=(Rendition(name="web", width=64, height=64, format="jpeg", watermark=mark),))
    for d in folder.all_dirs():
        d.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_output_pause_doubles_once_per_episode_and_starts_over_after_a_success():
    gate = ClaimGate()
    now = 100.0
    assert gate.pause(now, "no space left") and gate.paused(now + 0.99) and not gate.paused(now + 1.0)
    assert not gate.pause(now + 0.5, "no space left"), "another file of the same episode: no doubling"
    waits = []
    for _ in range(8):
        now = gate.pause_until
        assert gate.pause(now, "no space left")
        waits.append(gate.pause_until - now)
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, MAX_PAUSE, MAX_PAUSE, MAX_PAUSE]
    assert gate.message == "claiming paused: no space left" and gate.closed_anywhere(now)
    assert gate.resume() and not gate.resume(), "resumed once"
    assert gate.message == ""
    now = gate.pause_until
    assert gate.pause(now, "disk full") and gate.pause_until == now + 1.0, "a new episode waits 1 s again"


def test_a_folder_paused_for_its_recipe_is_rechecked_with_backoff_and_resumes(tmp_path):
    heard: list[Notice] = []
    mark = tmp_path / "mark.png"
    folder = make_folder(tmp_path, watermark=mark)
    gate = ClaimGate(heard.append)
    gate.recipes.pause(folder, "the watermark image is missing", "a.jpg")
    gate.recipes.pause(folder, "the watermark image is missing", "b.jpg")  # said once per episode
    assert not gate.open_for("t") and gate.closed_anywhere(0.0)
    assert [n.event for n in heard] == ["paused"]
    pause = gate.recipes.pauses["t"]
    first = pause.next_check
    gate.look_again((folder,), first)  # still missing: the next check twice as far
    assert not gate.open_for("t") and pause.next_check == first + 2.0
    assert "mark.png" in gate.recipes.reasons()["t"] and "claiming paused for folder t" in gate.notes()
    Image.new("RGBA", (16, 16), (255, 255, 255, 128)).save(mark)
    gate.look_again((folder,), first + 1.0)  # not due yet
    assert not gate.open_for("t")
    gate.look_again((folder,), first + 2.0)
    assert gate.open_for("t") and not gate.closed_anywhere(0.0) and gate.notes() == ""
    assert [n.event for n in heard] == ["paused", "recovered"]


def _chattr(flag: str, path: Path) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def test_a_file_stuck_in_processing_is_retried_with_backoff_until_it_moves(tmp_path):
    folder = make_folder(tmp_path)
    path = folder.processing / "a.jpg"
    path.write_bytes(b"x")
    if not _chattr("+i", path):
        pytest.skip("chattr +i is not allowed here (needs root and CAP_LINUX_IMMUTABLE on ext4/xfs/btrfs)")
    gate = ClaimGate()
    try:
        gate.stuck_in_processing(folder, moves.Claimed("a.jpg", path), OSError(errno.EPERM, "Operation not permitted"))
        entry = gate.stuck[path]
        first = entry.due
        gate.retry_stuck(first - 0.01)  # not due
        assert entry.backoff.delay == 1.0
        gate.retry_stuck(first)  # due, and still immutable: twice the wait
        assert entry.due == first + 2.0 and path.exists()
    finally:
        _chattr("-i", path)
    gate.retry_stuck(entry.due)
    assert not gate.stuck and (folder.inbox / "a.jpg").exists() and not path.exists()


def test_an_unclaimable_file_is_said_once_and_noted_while_it_is_there(tmp_path):
    folder = make_folder(tmp_path)
    path = folder.inbox / "mounted.jpg"
    path.write_bytes(b"x")
    gate = ClaimGate()
    gate.unclaimable(folder, path)
    gate.unclaimable(folder, path)
    assert gate.on_other_fs == {path}
    assert "1 file(s) in an inbox are on another file system" in gate.notes()
    assert gate.untakeable_by_folder() == {"t": {"permission": 0, "other_file_system": 1, "not_a_file": 0}}
    path.unlink()
    assert gate.notes() == "" and not gate.on_other_fs
    assert gate.untakeable_by_folder() == {}, "a file gone is no longer counted"


def test_an_output_subfolder_holds_its_files_once_an_episode_and_a_file_written_there_ends_it(tmp_path):
    """One file probes the subfolder's next try (1 s, doubled); the others given back meanwhile
    wait long, not rendered again at every try (a review: a client's backlog of 1,000 files,
    1,000 renders a minute), and are let go once a file is written there."""
    # Captured around all: a logger made and used before capture_logs stays cached with an earlier
    # test's configuration (structlog's cache_logger_on_first_use), and captured nothing
    with structlog.testing.capture_logs() as said:
        _subfolder_episode(tmp_path, said)


def _subfolder_episode(tmp_path, said: list) -> None:
    from hotfolder.supervisor import subfolders

    heard: list[Notice] = []
    released: list[str] = []
    gate = ClaimGate(on_notice=heard.append)
    gate.subfolders.on_release = lambda folder, rel: released.append(rel)
    folder = make_folder(tmp_path)
    holds = gate.subfolders
    assert holds.hold(folder, "acme/2024", "denied", "acme/2024/a.jpg", 100.0) == 101.0  # the probe
    others = 100.5 + subfolders.OTHERS_WAIT
    assert holds.hold(folder, "acme/2024", "denied", "acme/2024/b.jpg", 100.5) == others  # waits long
    assert holds.hold(folder, "acme/2024", "denied", "acme/2024/a.jpg", 101.2) == 103.2  # a failed try: doubled
    assert [n.event.value for n in heard] == ["paused"], "said once an episode"
    assert holds.by_folder(102.0) == {"t": 1}
    assert holds.notes(102.0) == ("files for the output subfolder acme/2024 of folder t wait: denied (tried again "
                                  "with backoff)")
    holds.written("t", ["other/x_web.jpg", "x_web.jpg"])  # elsewhere: still held
    assert holds.by_folder(102.0) == {"t": 1} and released == []
    holds.written("t", ["acme/2024/c_web.jpg"])
    assert holds.by_folder(102.0) == {} and [n.event.value for n in heard] == ["paused", "recovered"]
    assert released == ["acme/2024/b.jpg"], "the waiting files let go at once"
    writable = next(e for e in said if e["event"] == "output_subfolder_writable")
    assert (writable["files_held"], writable["tries"]) == (2, 3), "a.jpg tried twice is one file held"
    holds.hold(folder, "gone", "denied", "gone/a.jpg", 200.0)  # its probe never came back
    holds.hold(folder, "gone", "denied", "gone/b.jpg", 200.1)
    assert holds.by_folder(202.0 + subfolders.FORGET_AFTER) == {}
    assert released[-1] == "gone/b.jpg" and heard[-1].event.value == "recovered", "forgotten: said, let go"
