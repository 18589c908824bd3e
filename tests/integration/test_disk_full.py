"""Out of space on the output file system (ENOSPC), on a real 2 MB tmpfs.

No partial output under a final name, no temp file left, no original lost or failed
for lack of space: the daemon gives the files back to the inbox, pauses claiming,
keeps running, and finishes everything once space is freed.
"""
from __future__ import annotations

import grp
import os
import pwd
import re
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from tests import corpus as c
from tests.harness import files_under, wait_for
from tests.harness.mounts import mount_tmpfs, umount
from tests.harness.permissions import bound_by_permissions

RENDITIONS = """
- name: big
  operation: fit
  size: 4000x4000
  format: png
- name: small
  operation: fit
  size: 64x64
  format: jpeg
"""


def _noise_png(path: Path, side: int) -> Path:
    """Incompressible: its PNG output is as large as its pixels (side*side*3 bytes)."""
    return c.save(Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)), path, "PNG",
                  compress_level=1)


def _complete(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:  # noqa: BLE001 - anything short of a full decode is a partial file
        return False


def _check_outputs_whole(d) -> None:
    names = files_under(d.output)
    assert not [n for n in names if os.path.basename(n).startswith(c.TEMP_MARK)], f"temp outputs left: {names}"
    broken = [n for n in names if not _complete(d.output / n)]
    assert not broken, f"partial outputs under final names: {broken}"


def test_enospc_on_output_pauses_and_loses_nothing(daemon_factory, tmp_path):
    d = daemon_factory(renditions=RENDITIONS)
    d.output.mkdir(parents=True)
    mount_tmpfs(d.output, "2m")
    try:
        d.start()
        staging = tmp_path / "staging"
        # Four files of ~0.9 MB of output each (two fit in 2 MB, at most) and one of ~3 MB
        # (never fits): most outputs cannot be written.
        names = [f"n{i}.png" for i in range(4)] + ["huge.png"]
        for name in names:
            _noise_png(staging / name, 1000 if name == "huge.png" else 550)
        originals = {n: (staging / n).read_bytes() for n in names}
        for name in names:
            os.rename(staging / name, d.inbox / name)

        # Disk full: the daemon says so, pauses, and gives the files back.
        wait_for(lambda: d.event("claiming_paused"), 30, what="claiming_paused in the log")
        paused = d.event("claiming_paused")
        assert "space" in paused.get("reason", "").lower(), paused

        def quiet() -> bool:
            """Every original is archived or back in the inbox; none in processing."""
            return not files_under(d.processing) and len(c.archived(d)) + len(files_under(d.inbox)) == len(names)

        wait_for(quiet, 30, what="the originals to be back in the inbox (or done)")
        assert d.proc.poll() is None, "the daemon died of a full disk"
        assert c.failed_originals(d) == [], f"failed for lack of space: {c.failed_originals(d)}"
        assert "huge.png" in files_under(d.inbox), "a file whose output can never fit was lost or failed"
        assert len(c.archived(d)) <= 2
        for name in files_under(d.inbox):  # given back intact
            assert (d.inbox / name).read_bytes() == originals[name]
        _check_outputs_whole(d)
        st = d.status_json()
        assert st["running"] and st["workers_alive"] == 2, st
        paused_count = len(d.events("claiming_paused"))

        # Space comes back: everything completes, each file exactly once.
        t_free = time.monotonic()
        subprocess.run(["mount", "-o", "remount,size=64m", str(d.output)], check=True)
        wait_for(lambda: len(c.archived(d)) == len(names), 90,
                 what=f"all files to complete after space was freed (archived {c.archived(d)}, "
                      f"inbox {files_under(d.inbox)})")
        print(f"\nENOSPC: {paused_count} pauses while full; all done {time.monotonic() - t_free:.1f} s "
              f"after space was freed (last pause {d.event('claiming_paused').get('retry_in_s')} s)")
        for name in names:
            c.assert_succeeded(d, name, renditions=("big.png", "small.jpg"))
            assert (d.archive / name).read_bytes() == originals[name]
        with Image.open(d.output / "huge_big.png") as im:
            assert im.size == (1000, 1000)
        _check_outputs_whole(d)
        assert sorted(files_under(d.output)) == sorted(
            f"{n[:-4]}_{r}" for n in names for r in ("big.png", "small.jpg")), "a _1 copy or a stray output"
        assert c.failed_originals(d) == []
        counts = c.done_counts(d)
        assert counts == {n: 1 for n in names}, counts
        c.assert_nothing_left(d)
        assert files_under(d.inbox) == []
        assert d.stop() == 0
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        umount(d.output)


def test_a_full_disk_is_said_by_its_folder_mount_point_and_free_space(daemon_factory, tmp_path):
    """ENOSPC said "no space left on the output file system: free some space ([Errno 28] No
    space left on device)": which folder, which file system? (an admin's report). It names
    the output, the folder and its key, the mount point and its type, what is free there
    and what the file's outputs need."""
    d = daemon_factory(renditions=RENDITIONS)
    d.output.mkdir(parents=True)
    mount_tmpfs(d.output, "2m")
    try:
        d.start()
        _noise_png(tmp_path / "huge.png", 1000)  # ~3 MB of output: never fits in 2 MB
        os.rename(tmp_path / "huge.png", d.inbox / "huge.png")
        paused = wait_for(lambda: d.event("claiming_paused"), 30, what="claiming_paused")
        reason = paused["reason"]
        assert f"{d.output / 'huge_big.png'} could not be written (No space left on device)" in reason, reason
        assert f"`output` of folder test ({d.output}) is on the file system mounted at {d.output} (tmpfs)" in reason
        assert re.search(r", [\d.]+ (B|KiB|MiB) free of 2\.0 MiB \(this file's outputs need 2\.\d MiB\): "
                         r"free some space there", reason), reason
        note = wait_for(lambda: d.status_json().get("message"), 10, what="the status to say why")
        assert f"mounted at {d.output} (tmpfs)" in note, note
        subprocess.run(["mount", "-o", "remount,size=64m", str(d.output)], check=True)
        wait_for(lambda: c.archived(d) == ["huge.png"], 90, what="the file archived once there is room")
        assert d.stop() == 0
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        umount(d.output)


def test_read_only_output_waits_instead_of_failing_every_file(daemon_factory, tmp_path):
    """A folder problem (here EROFS) is not the files' fault: none may land in failed/."""
    d = daemon_factory()
    d.output.mkdir(parents=True)
    mount_tmpfs(d.output, "16m")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(d.output)], check=True)
        d.start()
        names = [f"ro{i}.jpg" for i in range(3)]
        for name in names:
            c.write(d.inbox / name, c.jpeg_bytes())
        paused = wait_for(lambda: d.event("claiming_paused"), 30, what="claiming_paused")
        assert "read-only" in paused["reason"] and "remount" in paused["reason"], paused
        wait_for(lambda: not files_under(d.processing) and len(files_under(d.inbox)) == len(names), 30,
                 what="the files back in the inbox")
        assert c.failed_originals(d) == []
        subprocess.run(["mount", "-o", "remount,rw", str(d.output)], check=True)
        wait_for(lambda: len(c.archived(d)) == len(names), 90, what="all files once the folder is writable")
        assert c.failed_originals(d) == []
        assert d.stop() == 0
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        umount(d.output)


def test_an_archive_it_cannot_move_into_leaves_one_set_of_outputs(daemon_factory):
    """archive/ not writable (here immutable: the tests run as root): each retry rendered the
    file again into a new set, `a_web~2.jpg` … `~6` in 95 s, logged as a different photo, and
    the reason named no folder (an admin's report). The file waits in the inbox, each retry
    replaces its own outputs, and it is archived once the folder works."""
    d = daemon_factory()
    d.archive.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["chattr", "+i", str(d.archive)], capture_output=True).returncode != 0:
        pytest.skip("this file system has no immutable flag (chattr +i)")
    try:
        d.start()
        c.write(d.inbox / "a.jpg", c.jpeg_bytes())
        paused = wait_for(lambda: d.event("claiming_paused"), 30, what="claiming_paused")
        assert f"could not move the original into {d.archive}" in paused["reason"], paused
        wait_for(lambda: len(d.events("claiming_paused")) >= 2, 30, what="a second try")
    finally:
        subprocess.run(["chattr", "-i", str(d.archive)], check=True)
    wait_for(lambda: c.archived(d) == ["a.jpg"], 90, what="the file archived once the folder works")
    assert sorted(files_under(d.output)) == ["a_thumb.webp", "a_web.jpg"]
    assert wait_for(lambda: d.event("claiming_resumed"), 10, what="the log to say claiming resumed")["folder"] == "test"
    assert c.failed_originals(d) == []
    assert d.stop() == 0


def test_an_unwritable_output_folder_is_named_with_what_to_change(daemon_factory):
    """`chmod 555 output/`: the reason named our temp file (`Permission denied:
    '.hf-0cb8416fe9ab.1-a_web.jpg.9494a52b'`), no output path and no folder to change (an
    admin's report). It names the output's final path, the folder, its owner and mode, and
    what to change, in the log and the status alike."""
    d = daemon_factory()
    d.output.mkdir(parents=True)
    d.output.chmod(0o555)
    try:
        d.start(launcher=bound_by_permissions())
        c.write(d.inbox / "a.jpg", c.jpeg_bytes())
        paused = wait_for(lambda: d.event("claiming_paused"), 30, what="claiming_paused")
        reason = paused["reason"]
        assert ".hf-" not in reason, reason
        assert f"{d.output / 'a_web.jpg'} could not be written (Permission denied)" in reason, reason
        st = d.output.stat()
        owner = f"{pwd.getpwuid(st.st_uid).pw_name}:{grp.getgrgid(st.st_gid).gr_name}"
        assert f"the folder {d.output} (`output` of folder test; owner {owner}, mode 555)" in reason, reason
        assert "change that folder's permissions or owner" in reason, reason
        note = wait_for(lambda: d.status_json().get("message"), 10, what="the status to say why")
        assert note == f"claiming paused: {reason}", note
    finally:
        d.output.chmod(0o755)
    wait_for(lambda: c.archived(d) == ["a.jpg"], 90, what="the file archived once the folder is writable")
    assert c.failed_originals(d) == []
    assert d.stop() == 0


def test_one_unwritable_output_subfolder_holds_its_files_and_the_others_go_on(daemon_factory):
    """A client's output subfolder made by another user (`chmod 555 output/acme`): every
    claim paused for it, then resumed at the next file of another client, then paused again
    at the next try (a PAUSED and a RECOVERED notice each time; an admin's report). Now its
    files wait in the inbox, said once, the other clients' files are rendered meanwhile, and
    the held ones are done once the subfolder is writable again."""
    d = daemon_factory(renditions="- {name: web, size: 64, format: jpeg}")
    (d.output / "acme").mkdir(parents=True)
    (d.output / "acme").chmod(0o555)
    try:
        d.start(launcher=bound_by_permissions())
        (d.inbox / "acme").mkdir(parents=True)
        c.write(d.inbox / "acme" / "a.jpg", c.jpeg_bytes())
        held = wait_for(lambda: d.event("output_subfolder_unwritable"), 30, what="output_subfolder_unwritable")
        assert held["subfolder"] == "acme" and held["file"] == "acme/a.jpg", held
        assert f"{d.output / 'acme' / 'a_web.jpg'} could not be written (Permission denied)" in held["reason"], held
        c.write(d.inbox / "acme" / "c.jpg", c.jpeg_bytes(color=(90, 200, 40)))  # waits long: a.jpg probes
        wait_for(lambda: any(e.get("file") == "acme/c.jpg" for e in d.events("output_unwritable"))
                 and (d.inbox / "acme" / "c.jpg").exists(), 30,
                 what="acme/c.jpg tried once and given back")
        for i in range(6):  # other clients' files, one after another, while acme's waits
            (d.inbox / f"b{i}").mkdir(parents=True)
            c.write(d.inbox / f"b{i}" / "b.jpg", c.jpeg_bytes(color=(20 + 30 * i, 60, 40)))
            wait_for(lambda i=i: f"b{i}/b.jpg" in c.archived(d), 30, what=f"b{i}/b.jpg archived")
        assert d.events("claiming_paused") == [], "the output folder itself works: nothing paused"
        assert len(d.events("output_subfolder_unwritable")) == 1, "said once an episode"
        snap = wait_for(lambda: (s := d.status_json())["folders"]["test"]["subfolders_held"] == 1 and s, 10,
                        what="the status to count the held subfolder")
        assert "files for the output subfolder acme of folder test wait" in snap["message"], snap["message"]
        assert (d.inbox / "acme" / "a.jpg").exists() and c.failed_originals(d) == []
    finally:
        (d.output / "acme").chmod(0o755)
    wait_for(lambda: "acme/a.jpg" in c.archived(d), 90, what="acme/a.jpg archived once its subfolder is writable")
    # c.jpg waited OTHERS_WAIT (10 min): it is let go once a.jpg is written there
    wait_for(lambda: "acme/c.jpg" in c.archived(d), 30, what="acme/c.jpg let go at once")
    assert (d.output / "acme" / "a_web.jpg").exists()
    resumed = wait_for(lambda: d.event("output_subfolder_writable"), 10, what="output_subfolder_writable")
    assert resumed["subfolder"] == "acme", resumed
    wait_for(lambda: d.status_json()["folders"]["test"]["subfolders_held"] == 0, 10,
             what="the status to drop the hold (written once a second)")
    assert d.stop() == 0


def test_an_earlier_manifest_an_unwritable_subfolder_keeps_holds_only_that_subfolder_s_files(daemon_factory):
    """A new version first removes its earlier manifest: in `output/acme` made read-only, the
    unlink's error named only `a.json` (relative to the folder's descriptor), said as "a file
    in output could not be written: the folder output (mode 755) is not writable", and paused
    every claim. Now it names output/acme/a.json, and holds acme's files alone."""
    d = daemon_factory(renditions="- {name: web, size: 64, format: jpeg}", folder_extra='manifest: "{stem}.json"',
                       on_duplicate=None)
    d.start(launcher=bound_by_permissions())
    (d.inbox / "acme").mkdir(parents=True)
    c.write(d.inbox / "acme" / "a.jpg", c.solid_jpeg_bytes(color=(210, 20, 20)))
    wait_for(lambda: "acme/a.jpg" in c.archived(d), 30, what="acme/a.jpg archived")
    (d.output / "acme").chmod(0o555)
    try:
        c.write(d.inbox / "acme" / "a.jpg", c.solid_jpeg_bytes(color=(240, 30, 20)))  # exported again: a new version
        held = wait_for(lambda: d.event("output_subfolder_unwritable"), 30, what="output_subfolder_unwritable")
        assert held["subfolder"] == "acme", held
        assert held["reason"].startswith(f"{d.output / 'acme' / 'a.json'} could not be written (Permission "
                                         f"denied): the folder {d.output / 'acme'} "), held
        assert d.events("claiming_paused") == [], "the output folder itself works: nothing paused"
    finally:
        (d.output / "acme").chmod(0o755)
    wait_for(lambda: len(c.archived(d)) == 2, 90, what="the new version archived once acme is writable")
    assert d.stop() == 0
