"""The third attack round on the supervisor and the pool (issue 20), on real daemons:
reloads that reported keys they never applied, a broken watermark failing every file, and
`status` calling a daemon with a full state_dir dead. (One hung worker rebuilding the whole
pool: tests/process/test_attacks_pool.py.)

Real signals: SIGSTOP holds a render exactly as long as a test needs (a worker that is
stopped is busy and silent, as a long render is).
"""
from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from tests.harness import REPO, files_under, resume, wait_for
from tests.harness.mounts import mount_tmpfs, umount

# ---------------------------------------------------------------------------------------------
# 19. A reload logged file_timeout and queue_size changes and never applied them

FULL_PNG = """
- name: full
  operation: none
  format: png
"""


def _drop(d, tmp_path: Path, name: str, size=(320, 240), noise: bool = False) -> None:
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    pixels = os.urandom(size[0] * size[1] * 3) if noise else bytes(size[0] * size[1] * 3)
    Image.frombytes("RGB", size, pixels).save(staging / name, "JPEG", quality=90)
    os.rename(staging / name, d.inbox / name)


def _reload(d, old: str, new: str) -> dict:
    reloads = len(d.events("reloaded"))
    d.config.write_text(d.config.read_text().replace(old, new))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(d.events("reloaded")) > reloads or d.event("reload_refused"), 20, what="the reload")
    assert not d.event("reload_refused"), d.event("reload_refused")
    return d.events("reloaded")[-1]


def _hold_the_render_of(d, name: str) -> int:
    """SIGSTOP the worker rendering `name` (a file of seconds): busy and silent, as a long
    render is. The status names it only after it started, so it holds no lock then."""
    busy = wait_for(lambda: [b for b in d.status_json().get("current", []) if b["file"] == name] or
                    d.events("worker_hung"), 30, what=f"{name} to be rendered")
    assert not d.events("worker_hung"), f"killed by the old file_timeout: {d.events('worker_hung')}"
    os.kill(busy[0]["pid"], signal.SIGSTOP)
    return busy[0]["pid"]


def test_a_reload_applies_file_timeout_to_the_files_that_follow(daemon_factory, tmp_path):
    """Finding: `file_timeout 1 → 60` was logged, and a file held for 3 s was still killed
    at 1 s (a valid 30 s file failed at the old 20 s)."""
    d = daemon_factory(renditions=FULL_PNG, workers=1, extra="file_timeout: 1").start()
    reloaded = _reload(d, "file_timeout: 1", "file_timeout: 60")
    assert "file_timeout 1 → 60" in reloaded["changes"], reloaded
    _drop(d, tmp_path, "long.jpg", size=(5000, 4000), noise=True)
    pid = _hold_the_render_of(d, "long.jpg")
    try:
        # Held well past the old limit: the status counts its seconds.
        wait_for(lambda: any(b["seconds"] >= 3 for b in d.status_json().get("current", [])) or
                 d.events("worker_hung"), 30, what="the render to run 3 s")
    finally:
        resume(pid)
    wait_for(lambda: files_under(d.archive) == ["long.jpg"] or d.events("worker_hung"), 60, what="long.jpg")
    assert not d.events("worker_hung"), f"killed by the old file_timeout: {d.events('worker_hung')}"
    assert files_under(d.archive) == ["long.jpg"] and d.outputs() == ["long_full.png"]
    assert d.stop() == 0


def test_a_reload_applies_queue_size(daemon_factory, tmp_path):
    """Finding: `queue_size 1 → 4` was logged, and the pool kept taking one file at a time."""
    d = daemon_factory(renditions=FULL_PNG, workers=1, extra="queue_size: 1").start()
    _drop(d, tmp_path, "long.jpg", size=(5000, 4000), noise=True)
    pid = _hold_the_render_of(d, "long.jpg")
    try:
        for i in range(6):
            _drop(d, tmp_path, f"small{i}.jpg")
        # One rendering and one claimed for the queue; the rest wait in the inbox.
        wait_for(lambda: d.status_json()["waiting"] == 5 and len(files_under(d.processing)) == 2, 20,
                 what="one file queued, five waiting")
        reloaded = _reload(d, "queue_size: 1", "queue_size: 4")
        assert "queue_size 1 → 4" in reloaded["changes"], reloaded
        wait_for(lambda: len(files_under(d.processing)) == 5, 20,
                 what=f"four files queued after the reload (processing: {files_under(d.processing)})")
    finally:
        resume(pid)
    wait_for(lambda: len(files_under(d.archive)) == 7, 60, what="every file")
    assert not files_under(d.failed)
    assert d.stop() == 0


def test_every_config_key_is_applied_by_a_reload_or_refused():
    """Every key of the config declares what a reload does with it (Key.reload): a new
    key cannot be reported by a reload without being applied, or refused."""
    from dataclasses import fields

    from hotfolder.config import reloadable
    from hotfolder.config.model import Cluster, Config
    from hotfolder.config.sections import cluster, daemon

    keys = {f.name for f in fields(Config) if f.name not in ("source", "cluster")}
    keys |= {f"cluster.{f.name}" for f in fields(Cluster)}
    assert set(reloadable.KEYS) == keys
    declared = {k.name for k in daemon.KEYS if k.reload} | {f"cluster.{k.name}" for k in cluster.KEYS if k.reload}
    assert declared == keys
    assert {k for k, r in reloadable.KEYS.items() if r.applies == reloadable.RESTART} == {
        "state_dir", "cluster.enabled", "cluster.broker_url", "cluster.cluster_id", "cluster.shared_root",
        "cluster.queue"}


# ---------------------------------------------------------------------------------------------
# 21. status said "not running" while state_dir was full


def _fill(where: Path) -> Path:
    """Write a file until the file system is full (ENOSPC). Unbuffered: a buffered file kept
    the part a full disk refused, and its close raised ENOSPC again (the suite met it once
    the daemon's files left a free space that was not a multiple of the chunk)."""
    filler = where / "filler"
    with open(filler, "wb", buffering=0) as f:
        while True:
            try:
                f.write(b"\0" * 65536)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    return filler


def test_status_reports_a_running_daemon_whose_state_dir_is_full(daemon_factory):
    """Finding: with state_dir full the snapshot could not be replaced, and 15 s later
    `hotfolder status` said "not running" about a daemon that was serving files. The
    instance lock says it runs; its note (written in bytes reserved at start) says why
    the snapshot is stale."""
    d = daemon_factory()
    state = d.var / "state"
    state.mkdir(parents=True)
    mount_tmpfs(state, "256k")  # a real file system that fills
    try:
        d.start()
        wait_for(lambda: d.status_json().get("running"), 20, what="a first snapshot")
        filler = _fill(state)
        wait_for(lambda: d.event("status_write_failed"), 20, what="the daemon to fail to write its status")
        st = d.status_json()
        assert st["running"] and st["pid"] == d.proc.pid, st
        assert "No space left on device" in st.get("snapshot_stale", {}).get("reason", ""), st
        # Past the age at which the snapshot alone made status call the daemon dead.
        wait_for(lambda: time.time() - st["updated"] > 16, 30, interval=0.5, what="the snapshot to age")
        plain = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.config)],
                               capture_output=True, text=True, timeout=30)
        assert plain.returncode == 0, plain.stdout + plain.stderr
        first = plain.stdout.splitlines()[0]
        assert first.startswith(f"hotfolder is running (pid {d.proc.pid}), status snapshot stale since "), first
        assert "cannot be written: [Errno 28] No space left on device" in first, first
        assert len(d.events("status_write_failed")) == 1, "said once per episode, not once a second"

        # Room again: the snapshot is current, the note gone.
        filler.unlink()
        wait_for(lambda: d.event("status_write_recovered"), 20, what="the status to be written again")
        st = d.status_json()
        assert st["running"] and "snapshot_stale" not in st and time.time() - st["updated"] < 5, st
        assert d.stop() == 0
        assert not d.status_json()["running"]
    finally:
        d.stop()
        umount(state)


# ---------------------------------------------------------------------------------------------
# 20. A missing or unusable watermark failed every file dropped meanwhile


def _status_when(d, condition, what: str, timeout: float = 10) -> dict:
    """The daemon's status once `condition(status)` holds (it is written once a second)."""
    found: list[dict] = []

    def check() -> bool:
        found[:] = [d.status_json()]
        return condition(found[0])

    wait_for(check, timeout, what=what)
    return found[0]


def _recipe(tmp_path: Path) -> tuple[str, dict[str, Path]]:
    mark = tmp_path / "mark.jpg"
    shutil.copy(REPO / "docs" / "watermark-landscape.jpg", mark)
    icc = tmp_path / "target.icc"
    icc.write_bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    renditions = f"""
        - name: web
          operation: fit
          size: 200x200
          format: jpeg
          watermark:
            image: {mark}
        - name: tuned
          operation: fit
          size: 100x100
          format: png
          color_profile: {icc}
    """
    return renditions, {"watermark": mark, "profile": icc}


@pytest.mark.parametrize("part, garbage_says", [("watermark", "cannot identify image file"),
                                                 ("profile", "not an ICC profile")])
def test_a_broken_recipe_pauses_its_folder_and_fails_no_file(daemon_factory, tmp_path, part, garbage_says):
    """Finding: with the watermark image gone, every file dropped meanwhile went to
    failed/. A problem of the recipe (the same for every file) now pauses claiming for
    that folder, says why once, is checked again with backoff, and resumes by itself;
    a file's own problem still fails that file."""
    renditions, files = _recipe(tmp_path)
    d = daemon_factory(renditions=renditions).start()
    (d.inbox / "bad.jpg").write_bytes(b"not an image at all")  # the file's own problem
    wait_for(lambda: "bad.jpg" in files_under(d.failed), 20, what="bad.jpg to fail")
    assert not d.events("claiming_paused")

    broken = files[part]
    good = broken.read_bytes()
    broken.unlink()
    names = ["a.jpg", "b.jpg", "c.jpg"]
    for name in names:
        _drop(d, tmp_path, name)
    wait_for(lambda: d.event("claiming_paused") or set(names) & set(files_under(d.failed)), 30,
             what="claiming to pause")
    assert sorted(files_under(d.failed)) == ["bad.jpg", "bad.jpg.error.json"], "a file failed for the recipe"
    paused = d.event("claiming_paused")
    assert paused["folder"] == "test" and str(broken) in paused["reason"], paused
    assert "No such file or directory" in paused["reason"], paused
    wait_for(lambda: sorted(files_under(d.inbox)) == names and not files_under(d.processing), 20,
             what="the files back in the inbox")
    st = _status_when(d, lambda st: st["claiming_paused"], "the status to say claiming is paused")
    assert st["folders"]["test"]["paused"] == paused["reason"], st
    assert f"claiming paused for folder test: {paused['reason']}" in st["message"], st["message"]
    assert sorted(files_under(d.failed)) == ["bad.jpg", "bad.jpg.error.json"], "a file failed for the recipe"
    assert st["failed"] == 1 and not [o for o in d.outputs() if not o.startswith("bad")]

    # Broken another way: the re-check sees it (the status follows), the log does not repeat.
    broken.write_text("junk, not a " + part)
    wait_for(lambda: garbage_says in d.status_json()["message"], 30, what="the re-check to see the new problem")
    assert len(d.events("claiming_paused")) == 1, d.events("claiming_paused")

    # Fixed: claiming resumes by itself and every file is rendered once.
    broken.write_bytes(good)
    wait_for(lambda: d.event("claiming_resumed"), 90, what="claiming to resume")
    wait_for(lambda: sorted(files_under(d.archive)) == names, 30, what="every file rendered")
    assert sorted(d.outputs()) == sorted(f"{n[:-4]}_{r}" for n in names for r in ("web.jpg", "tuned.png"))
    st = _status_when(d, lambda st: st["processed"] == 3, "the status to count them")
    assert not st["claiming_paused"] and st["failed"] == 1 and not st["folders"]["test"]["paused"], st
    assert d.stop() == 0
