"""A folder on a share that is not mounted (spool/shares.py): never made on the disk beneath.

The "NAS" is a tmpfs of its own (its disk, kept apart), bind-mounted at `nas/` as a client
mounts a share; unmounting it leaves `nas/` an empty folder of the test's own disk, exactly
what an NFS or SMB mount point is when the share is away. Needs root (mount); skipped with
the reason where it is not allowed. Every mount is undone in the fixture's teardown.
"""
from __future__ import annotations

import json
import os
import subprocess
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests import corpus as c
from tests.harness import files_under, hotfolder, http_url, wait_for
from tests.harness.mounts import mount_tmpfs, umount
from tests.integration.test_notifications import Receiver


class Share:
    """`server`: the share's own file system (a tmpfs); `at`: where it is mounted (a bind mount)."""

    def __init__(self, root: Path):
        self.server, self.at = root / "nas-server", root / "nas"
        self.server.mkdir()
        self.at.mkdir()
        self.mounted = False

    def mount(self) -> None:
        subprocess.run(["mount", "--bind", str(self.server), str(self.at)], check=True, capture_output=True)
        self.mounted = True

    def unmount(self) -> None:
        """As an admin's umount: refused while a process of ours has a folder in it open (a
        worker between two files may, for a moment), so tried until it is done."""
        def done() -> bool:
            return subprocess.run(["umount", str(self.at)], capture_output=True).returncode == 0
        wait_for(done, 20, interval=0.1, what=f"umount {self.at}")
        self.mounted = False


@pytest.fixture
def share(tmp_path):
    s = Share(tmp_path)
    mount_tmpfs(s.server, "64m")  # skips, saying why, where mounting is not allowed
    try:
        yield s
    finally:
        if s.mounted:
            umount(s.at)
        umount(s.server)


@pytest.fixture
def hook():
    """A webhook endpoint that keeps what it is sent (notify:)."""
    receiver = Receiver()
    yield receiver
    receiver.close()


FOLDER = """
  - name: {name}
    inbox: {root}/inbox
    output: {output}
    archive: {root}/archive
    failed: {root}/failed
    processing: {root}/processing
    quiet_period: 0.2
    rescan_interval: 2
    on_duplicate: process  # one picture under many names, each rendered
    renditions: [{{name: web, size: 64, format: jpeg}}]
"""


def config(d, share: Share, nas_output: str | None = None, nas_folder: bool = True, extra: str = "") -> None:
    """Two folders: `test` on the local disk (the harness's var/), and `nas` with its places on
    the share (or only `test`, its output on the share: `nas_output`)."""
    local = FOLDER.format(name="test", root=d.var, output=nas_output or d.var / "output")
    nas = FOLDER.format(name="nas", root=share.at / "photos", output=share.at / "photos" / "output")
    d.config.write_text(textwrap.dedent(f"""\
        workers: 2
        state_dir: {d.var / "state"}
        drain_timeout: 20
        http: {{listen: "127.0.0.1:0"}}
        """) + extra + "folders:" + local + (nas if nas_folder else ""))


def metric(url: str, line_start: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return next((line for line in text.splitlines() if line.startswith(line_start)), "")


def test_a_folder_whose_share_is_not_mounted_at_start_waits_for_it_and_the_others_go_on(daemon_factory, share):
    d = daemon_factory()
    config(d, share)
    photos = share.at / "photos"
    data = c.jpeg_bytes((200, 150))
    share.mount()
    d.start()
    (photos / "inbox" / "a.jpg").write_bytes(data)
    wait_for(lambda: "a.jpg" in files_under(photos / "archive"), 30, what="a.jpg archived on the share")
    assert d.stop() == 0

    # The machine restarts without its share: the mount point is an empty folder of the local disk.
    share.unmount()
    assert os.listdir(share.at) == []
    (share.server / "photos" / "inbox" / "b.jpg").write_bytes(data)  # a client drops a file on the NAS meanwhile
    d.start()
    said = wait_for(lambda: d.event("folder_unmounted"), 20, what="folder_unmounted in the log")
    assert said["folder"] == "nas" and said["level"] == "error", said
    assert said["filesystem"] == "tmpfs" and said["mount"] == str(share.at), said
    assert said["path"].startswith(str(photos)), said
    assert f"is {share.at} mounted?" in said["action"] and "mkdir -p" not in said["action"], said

    # The other folder is served, and the snapshot, `status` and /metrics say which folder waits.
    (d.inbox / "c.jpg").write_bytes(data)
    wait_for(lambda: "c.jpg" in c.archived(d), 30, what="c.jpg of the local folder")
    status = wait_for(lambda: (s := d.status_json())["folders"].get("nas", {}).get("unmounted") and s, 10,
                      what="the status to name the folder waiting for its share")
    assert status["claiming_paused"] and "folder 'nas' not served" in status["message"], status
    assert "not running" not in d.status().stdout and "nas" in d.status().stdout
    url = http_url(d)
    assert metric(url, 'hotfolder_folder_unmounted{folder="nas"}').endswith(" 1.0")
    assert metric(url, 'hotfolder_folder_unmounted{folder="test"}').endswith(" 0.0")
    # Nothing was made beneath the mount point, whatever the daemon did meanwhile.
    assert os.listdir(share.at) == [], f"made on the local disk: {files_under(share.at)}"
    assert d.running()

    # The share comes back: the folder resumes by itself, and the file dropped meanwhile is taken.
    share.mount()
    wait_for(lambda: d.event("folder_remounted"), 70, what="folder_remounted (checked with backoff)")
    wait_for(lambda: "b.jpg" in files_under(photos / "archive"), 30, what="b.jpg, dropped while unmounted")
    assert "b_web.jpg" in files_under(photos / "output")
    wait_for(lambda: not d.status_json()["folders"]["nas"]["unmounted"], 10, what="the status to clear")
    assert d.stop() == 0


def test_an_output_share_unmounted_while_running_is_never_made_on_the_disk_beneath(daemon_factory, share, hook):
    d = daemon_factory()
    out = share.at / "renditions"
    config(d, share, nas_output=str(out), nas_folder=False,
           extra=f'notify_interval: 1\nnotify: [{{url: "{hook.url}/hook", events: [paused, recovered]}}]\n')
    data = c.jpeg_bytes((200, 150))
    share.mount()
    d.start()
    (d.inbox / "a.jpg").write_bytes(data)
    wait_for(lambda: "a.jpg" in c.archived(d), 30, what="a.jpg")
    assert "a_web.jpg" in files_under(out)

    share.unmount()
    said = wait_for(lambda: d.event("folder_unmounted"), 20, what="folder_unmounted in the log")
    assert said["folder"] == "test" and said["key"] == "output" and said["path"] == str(out), said
    (d.inbox / "b.jpg").write_bytes(data)
    wait_for(lambda: d.status_json()["folders"]["test"]["unmounted"], 10, what="the status to say it")
    assert "b.jpg" in files_under(d.inbox), "taken while its output's share was away"
    assert os.listdir(share.at) == [], f"made on the local disk: {files_under(share.at)}"
    assert d.running()
    paused = wait_for(lambda: [e for e in hook.events() if e["event"] == "paused"], 20, what="a paused notice")
    assert paused[0]["folder"] == "test" and "waits for its share" in paused[0]["reason"], paused

    share.mount()
    wait_for(lambda: "b.jpg" in c.archived(d), 70, what="b.jpg once the share is back")
    assert "b_web.jpg" in files_under(out)
    assert d.event("folder_remounted")["folder"] == "test"
    wait_for(lambda: [e for e in hook.events() if e["event"] == "recovered" and e["folder"] == "test"], 20,
             what="a recovered notice")
    assert d.stop() == 0


def test_an_output_deleted_on_its_own_file_system_is_made_again(daemon_factory, share):
    """A `rm -r output` on the share (mounted): the same file system holds its folder, so it
    is made again, as ever; nothing waits."""
    d = daemon_factory()
    out = share.at / "renditions"
    config(d, share, nas_output=str(out), nas_folder=False)
    data = c.jpeg_bytes((200, 150))
    share.mount()
    d.start()
    (d.inbox / "a.jpg").write_bytes(data)
    wait_for(lambda: "a.jpg" in c.archived(d), 30, what="a.jpg")
    subprocess.run(["rm", "-r", str(out)], check=True)
    (d.inbox / "b.jpg").write_bytes(data)
    wait_for(lambda: "b.jpg" in c.archived(d), 30, what="b.jpg into an output made again")
    assert "b_web.jpg" in files_under(out)
    assert not d.events("folder_unmounted") and not d.events("claiming_paused")
    assert d.stop() == 0


def test_check_config_says_a_place_whose_share_is_not_mounted(daemon_factory, share):
    d = daemon_factory()
    config(d, share)
    share.mount()
    d.start()
    assert d.stop() == 0  # the places are recorded on the share
    share.unmount()
    from tests.harness import check_config
    checked = check_config(d.config)
    assert checked.returncode == 0, checked.stderr
    assert f"folders[nas].inbox: the inbox folder {share.at / 'photos' / 'inbox'} is missing" in checked.stderr
    assert "tmpfs mounted at" in checked.stderr and f"Is {share.at} mounted?" in checked.stderr
    assert "(so are its processing, output, archive and failed folders)" in checked.stderr
    assert checked.stderr.count("warning:") == 1 and "folders[test]" not in checked.stderr
    assert os.listdir(share.at) == []


def test_places_forgotten_with_the_daemon_stopped_are_used_on_the_local_disk_for_good(daemon_factory, share):
    """README's way to keep a path on the local disk once its share is gone for good: the
    folders made there by hand are the disk beneath the share's mount point, never used while
    their records say the share; `hotfolder places --forget` them, and the next start serves
    the folder where it is."""
    d = daemon_factory()
    config(d, share)
    photos = share.at / "photos"
    share.mount()
    d.start()
    assert d.stop() == 0  # the nas folder's places are recorded on the share
    share.unmount()
    for key in ("inbox", "output"):  # the admin moves the folder to the local disk
        (photos / key).mkdir(parents=True)

    listed = hotfolder("places", "-c", str(d.config), "--json")
    assert listed.returncode == 0, listed.stderr
    nas = {place["path"]: place for place in json.loads(listed.stdout) if place["folder"] == "nas"}
    assert {str(photos / "inbox"), str(photos / "output"), str(photos / "archive")} <= nas.keys(), nas
    assert {place["now"] for place in nas.values()} == {"waiting"}, nas
    assert nas[str(photos / "inbox")]["said"].startswith("waits for its share: the folder there is one of the disk "
                                                         "beneath"), nas

    forgot = hotfolder("places", "-c", str(d.config), "--forget", *sorted(nas))
    assert forgot.returncode == 0, forgot.stderr
    assert forgot.stdout.count("forgot the record of ") == len(nas), forgot.stdout
    d.start()
    (photos / "inbox" / "a.jpg").write_bytes(c.jpeg_bytes((200, 150)))
    wait_for(lambda: "a.jpg" in files_under(photos / "archive"), 30, what="a.jpg archived on the local disk")
    assert "a_web.jpg" in files_under(photos / "output")
    assert not d.events("folder_unmounted"), d.events("folder_unmounted")
    assert d.stop() == 0
    assert "a.jpg" not in files_under(share.server), "the share is not mounted: nothing went to it"
