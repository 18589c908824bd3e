"""spool/shares.py on real mounts: a folder's places on a tmpfs of their own, recorded in a
real state_dir database, then the tmpfs unmounted under them. Needs root (mount): skipped
with the reason where it is not allowed; every mount is undone in the fixture's teardown."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from hotfolder.arrival.watcher import OutageKind, Watcher
from hotfolder.config.model import Folder, Rendition
from hotfolder.spool import folders
from hotfolder.spool.shares import PlaceGone, Places
from hotfolder.state import filesystems
from tests.harness import wait_for
from tests.harness.mounts import mount_tmpfs, umount


class Nas:
    """A tmpfs mounted at `at` (as a share): unmount() and mount() again, undone at the end."""

    def __init__(self, at: Path):
        self.at, self.mounted = at, False
        at.mkdir()

    def mount(self) -> None:
        mount_tmpfs(self.at, "8m")  # skips, saying why, where mounting is not allowed
        self.mounted = True

    def unmount(self) -> None:
        umount(self.at)
        self.mounted = False


@pytest.fixture
def nas(tmp_path):
    share = Nas(tmp_path / "nas")
    share.mount()
    try:
        yield share
    finally:
        if share.mounted:
            share.unmount()


def on_share(tmp_path: Path, root: Path, output: Path | None = None) -> Folder:
    return Folder(name="photos", inbox=root / "inbox", output=output or root / "output", failed=root / "failed",
                  processing=root / "processing", archive=root / "archive",
                  renditions=(Rendition(name="r", width=10, height=10),), state_dir=tmp_path / "state")


def test_a_folder_on_a_share_is_recorded_then_never_made_beneath_it_once_unmounted(tmp_path, nas):
    folder = on_share(tmp_path, nas.at / "photos")
    folders.ensure_dirs(folder, Places(folder.state_dir))
    seen = filesystems.load(folder.state_dir)[folder.output]
    assert (seen.mount, seen.fstype, seen.folder, seen.key) == (str(nas.at), "tmpfs", "photos", "output")

    nas.unmount()
    places = Places(folder.state_dir)  # as after a restart: the records are read from the database
    with pytest.raises(PlaceGone) as raised:
        folders.ensure_dirs(folder, places)
    assert raised.value.gone.key == "inbox" and "tmpfs mounted at" in str(raised.value)
    assert os.listdir(nas.at) == [], "made on the disk beneath the mount point"
    # A worker's output folder: refused alike, by the record it reads (never writes).
    with pytest.raises(PlaceGone):
        with folders.opened_folder(folder.output, "2026/june", folder.state_dir):
            pass
    assert os.listdir(nas.at) == []

    nas.mount()  # a fresh share with the folder's places on it: there, so used (and recorded again)
    (nas.at / "photos" / "inbox").mkdir(parents=True)
    assert places.gone(folder) is None
    folders.ensure_dirs(folder, places)
    assert sorted(os.listdir(nas.at / "photos")) == ["archive", "failed", "inbox", "output", "processing"]


def test_a_place_deleted_on_its_own_file_system_is_made_again(tmp_path, nas):
    folder = on_share(tmp_path, nas.at / "photos")
    places = Places(folder.state_dir)
    folders.ensure_dirs(folder, places)
    shutil.rmtree(folder.output)  # `rm -r output` on the share, mounted
    folders.ensure_dirs(folder, places)
    with folders.opened_folder(folder.output, "sub", folder.state_dir) as made:
        assert made.path == folder.output / "sub"
    shutil.rmtree(nas.at / "photos")  # the whole folder: its nearest folder is the share's root
    folders.ensure_dirs(folder, Places(folder.state_dir))
    assert folder.inbox.is_dir()


def test_a_place_that_is_the_mount_point_itself_is_gone_while_nothing_is_mounted_on_it(tmp_path, nas):
    local = tmp_path / "local"
    folder = on_share(tmp_path, local, output=nas.at)  # `output:` the share's mount point
    places = Places(folder.state_dir)
    folders.ensure_dirs(folder, places)
    assert places.gone(folder) is None
    nas.unmount()  # the empty folder beneath is there: it would take the outputs
    gone = Places(folder.state_dir).gone(folder)
    assert gone is not None and gone.key == "output" and not gone.missing
    assert f"nothing is mounted on the output folder {nas.at} now" in gone.reason()
    nas.mount()
    assert Places(folder.state_dir).gone(folder) is None


def test_the_watcher_pauses_the_folder_says_why_and_serves_it_again_once_mounted(tmp_path, nas):
    local = tmp_path / "local"
    folder = on_share(tmp_path, local, output=nas.at / "renditions")
    places = Places(folder.state_dir)
    folders.ensure_dirs(folder, places)
    asked: list[str] = []

    def prepare(f: Folder) -> str:
        asked.append(f.name)
        return ""

    watcher = Watcher((folder,), places=places, prepare=prepare)
    watcher.start()
    try:
        assert asked == ["photos"] and watcher.healthy() and watcher.unmounted() == {}
        nas.unmount()
        watcher.check()
        assert watcher._outages["photos"].kind == OutageKind.UNMOUNTED
        assert watcher.healthy(), "a restart would not mend it: the systemd watchdog is still fed"
        assert "output folder" in watcher.unmounted()["photos"] and "not served" in watcher.notes()
        assert not watcher.inboxes["photos"].available
        assert os.listdir(nas.at) == []

        nas.mount()
        (nas.at / "renditions").mkdir()

        def back() -> bool:
            watcher.check()
            return not watcher.unmounted()

        wait_for(back, 10, interval=0.1, what="the folder to be served again (its next look, after 1 s)")
        assert watcher.inboxes["photos"].available and asked == ["photos", "photos"]
    finally:
        watcher.stop()


def test_a_database_that_cannot_be_written_is_said_and_the_places_are_made_as_before(tmp_path):
    state = tmp_path / "state"
    state.write_text("a file where state_dir's folder should be")
    folder = on_share(tmp_path, tmp_path / "photos")
    folder = Folder(**{**folder.__dict__, "state_dir": state})
    started = time.monotonic()
    folders.ensure_dirs(folder, Places(state))
    assert folder.output.is_dir() and time.monotonic() - started < 5


def test_a_cluster_head_never_marks_a_shared_root_beneath_a_share_that_is_not_mounted(tmp_path, nas):
    from hotfolder.cluster import jobs  # no Celery: the shared root's marker and records only

    root, state = nas.at / "cluster", tmp_path / "state"
    jobs.mark(root, "c1", state)  # the first start: made, and where it is recorded
    nas.unmount()
    with pytest.raises(jobs.SharedRootError, match=f"is missing.*Is {nas.at} mounted"):
        jobs.mark(root, "c1", state)
    assert os.listdir(nas.at) == [], "a new shared root marked on the disk beneath"
    nas.mount()  # a fresh share without the root: a place that is there (the share's top) holds it
    jobs.mark(root, "c1", state)
    assert jobs.read_marker(root) == "c1"
