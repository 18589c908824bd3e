"""`hotfolder run` as a real subprocess: files copied, moved and written slowly in."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from tests.harness import files_under, wait_for


def photo(path: Path, size=(800, 600), color=(200, 60, 40), fmt="JPEG", mode="RGB", **save) -> Path:
    """A small photo-like image with a gradient, so encoders have real work."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.linear_gradient("L").resize(size).convert(mode) if mode != "RGBA" else None
    if mode == "RGBA":
        im = Image.new("RGBA", size, color + (128,))
    else:
        im = Image.merge("RGB", [Image.linear_gradient("L").resize(size),
                                  Image.new("L", size, color[1]),
                                  Image.linear_gradient("L").rotate(90).resize(size)])
    im.save(path, fmt, **save)
    return path


def stage(tmp_path: Path, names: list[str]) -> Path:
    staging = tmp_path / "staging"
    for name in names:
        if name.endswith(".png"):
            photo(staging / name, fmt="PNG", mode="RGBA")
        else:
            photo(staging / name)
    return staging


def test_copy_move_and_slow_write(daemon_factory, tmp_path):
    d = daemon_factory().start()
    staging = stage(tmp_path, [f"copied{i}.jpg" for i in range(4)] + ["moved.jpg", "alpha.png"])
    for i in range(4):
        shutil.copy(staging / f"copied{i}.jpg", d.inbox / f"copied{i}.jpg")
    os.rename(staging / "moved.jpg", d.inbox / "moved.jpg")  # same file system: an atomic move
    shutil.copy(staging / "alpha.png", d.inbox / "alpha.png")
    (d.inbox / "notes.txt").write_text("not an image")

    # A slow writer: the file grows over ~1.5 s with the handle open; it must not be read early.
    data = (staging / "copied0.jpg").read_bytes()
    with open(d.inbox / "slow.jpg", "wb") as f:
        for i in range(0, len(data), len(data) // 6 + 1):
            f.write(data[i:i + len(data) // 6 + 1])
            f.flush()
            time.sleep(0.25)
            assert (d.inbox / "slow.jpg").exists(), "claimed while still being written"

    wait_for(lambda: d.settled(8), 30, what="8 files to reach archive or failed")
    outs = d.outputs()
    for stem in ["copied0", "copied1", "copied2", "copied3", "moved", "alpha", "slow"]:
        assert f"{stem}_web.jpg" in outs and f"{stem}_thumb.webp" in outs, outs
    assert sorted(files_under(d.archive)) == sorted(
        [f"copied{i}.jpg" for i in range(4)] + ["moved.jpg", "alpha.png", "slow.jpg"])
    assert files_under(d.failed) == ["notes.txt", "notes.txt.error.json"]
    record = json.loads((d.failed / "notes.txt.error.json").read_text())
    assert "accepted" in record["error"] and record["step"] and record["time"]
    with Image.open(d.output / "slow_web.jpg") as im:
        im.load()  # a complete image, not half of one
        assert im.size == (320, 240)

    wait_for(lambda: d.status_json().get("processed") == 7, 10, what="status to say processed 7")
    st = d.status_json()
    assert (st["failed"], st["workers_alive"], st["running"]) == (1, 2, True)
    children = d.descendants()
    assert len(children) >= 2
    assert d.stop(signal.SIGTERM) == 0
    assert d.status().returncode == 1
    assert not files_under(d.processing) and not files_under(d.inbox)
    for pid in children:
        wait_for(lambda pid=pid: not os.path.exists(f"/proc/{pid}") or _zombie(pid), 5, what=f"pid {pid} to exit")
    logs = d.events("rendition_written")
    assert logs and {"file", "rendition", "duration_ms", "worker_pid", "outcome"} <= set(logs[0])
    failed = d.events("file_failed")
    assert failed and "reason" in failed[0]


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_subfolders_kept_and_temp_names_ignored(daemon_factory, tmp_path):
    d = daemon_factory().start()
    staging = stage(tmp_path, ["a.jpg"])
    (d.inbox / "2026" / "june").mkdir(parents=True)
    shutil.copy(staging / "a.jpg", d.inbox / "2026" / "june" / "a.jpg")
    for ignored in (".hidden.jpg", "b.jpg.part", "c.tmp", "d.jpg.crdownload"):
        shutil.copy(staging / "a.jpg", d.inbox / ignored)
    wait_for(lambda: d.settled(1), 20, what="the file in a subfolder")
    assert "2026/june/a_web.jpg" in d.outputs()
    assert files_under(d.archive) == ["2026/june/a.jpg"]
    time.sleep(0.5)  # the ignored names had as long as the real one; they must still be there
    assert sorted(files_under(d.inbox)) == sorted([".hidden.jpg", "b.jpg.part", "c.tmp", "d.jpg.crdownload"])
    assert d.stop() == 0


def test_recovery_at_start(daemon_factory, tmp_path):
    d = daemon_factory()
    staging = stage(tmp_path, ["waiting.jpg", "interrupted.jpg"])
    for sub in (d.inbox, d.processing, d.output, d.failed):
        sub.mkdir(parents=True, exist_ok=True)
    shutil.copy(staging / "waiting.jpg", d.inbox / "waiting.jpg")
    shutil.copy(staging / "interrupted.jpg", d.processing / "interrupted.jpg")
    from hotfolder.config import load
    from hotfolder.spool import atomic
    from hotfolder.spool import owners as names

    token = load(d.config).folders[0].temp_token
    ours = atomic.temp_prefix(token) + "3-interrupted_web.jpg.Xy12ab34"
    (d.output / ours).write_bytes(b"half")
    (d.output / ".interrupted_web.jpg.hf-tmp-abc").write_bytes(b"a user's hidden file, not ours")
    # the earlier run recorded the name as interrupted.jpg's, then wrote it
    names.reserve(load(d.config).folders[0], "interrupted.jpg", [d.output / "interrupted_web.jpg"])
    (d.output / "interrupted_web.jpg").write_bytes(b"stale output of the earlier run")
    d.start()
    wait_for(lambda: d.settled(2), 20, what="waiting and interrupted files")
    assert sorted(files_under(d.archive)) == ["interrupted.jpg", "waiting.jpg"]
    outs = d.outputs()
    assert ours not in outs and ".interrupted_web.jpg.hf-tmp-abc" in outs
    assert outs.count("interrupted_web.jpg") == 1 and "interrupted_web_1.jpg" not in outs
    with Image.open(d.output / "interrupted_web.jpg") as im:
        im.load()  # replaced by a real image
    assert d.stop(signal.SIGINT) == 0


def test_status_when_not_running(daemon_factory):
    d = daemon_factory()
    proc = d.status()
    assert proc.returncode == 1
    plain = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.config)],
                           capture_output=True, text=True, timeout=30)
    assert plain.returncode == 1 and "not running" in plain.stdout
    # Killed, its last state is "running": said as a daemon that ended without stopping, not
    # "not running (…, state running)" (a new user read a contradiction).
    d.start()
    d.kill()
    killed = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.config)],
                            capture_output=True, text=True, timeout=30)
    assert killed.returncode == 1 and "it ended without stopping (killed, or it crashed) while running" in \
        killed.stdout, killed.stdout


def test_process_batch(daemon_factory, tmp_path):
    d = daemon_factory()
    staging = stage(tmp_path, ["x.jpg", "y.jpg", "z.png"])
    (staging / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    proc = subprocess.run([sys.executable, "-m", "hotfolder", "process", "--config", str(d.config), str(staging)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "processed 3 of 4" in proc.stderr and "bad.jpg" in proc.stderr
    assert sorted(d.outputs()) == sorted(f"{s}_{r}" for s in "xyz" for r in ("web.jpg", "thumb.webp"))
    assert (staging / "x.jpg").exists(), "process leaves the originals in place"


def test_requeue_moves_failed_back(daemon_factory):
    d = daemon_factory(folder_extra="stalled_after: 1").start()  # cut short: held 1 s for its writer, then failed
    (d.inbox / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    wait_for(lambda: (d.failed / "broken.jpg.error.json").exists(), 20, what="broken.jpg to fail")
    assert d.stop() == 0
    proc = subprocess.run([sys.executable, "-m", "hotfolder", "requeue", "--config", str(d.config), "--all"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and "1 file(s) requeued" in proc.stdout
    assert files_under(d.inbox) == ["broken.jpg"] and files_under(d.failed) == []


def test_second_daemon_on_the_same_config_refuses_to_start(daemon_factory, tmp_path):
    d = daemon_factory().start()
    stage(tmp_path, ["a.jpg"])
    os.rename(tmp_path / "staging" / "a.jpg", d.inbox / "a.jpg")
    second = subprocess.run([sys.executable, "-m", "hotfolder", "run", "--config", str(d.config)],
                            capture_output=True, text=True, timeout=30, cwd=d.root)
    assert second.returncode == 1
    assert "already running" in second.stderr and str(d.proc.pid) in second.stderr
    wait_for(lambda: d.settled(1), 20, what="the first daemon to go on")
    assert not d.events("claiming_paused") and d.proc.poll() is None
    assert d.stop() == 0
    # Once it is gone, the lock is free again.
    d.start()
    assert d.stop() == 0


def test_every_end_is_counted_and_requeue_takes_a_glob(daemon_factory, tmp_path):
    d = daemon_factory().start()
    outside = tmp_path / "outside.jpg"
    photo(outside)
    (d.inbox / "link.jpg").symlink_to(outside)  # refused by the supervisor, not a worker
    (d.inbox / "junk.jpg").write_bytes(b"junk")  # failed by a worker
    wait_for(lambda: len([p for p in files_under(d.failed) if p.endswith(".error.json")]) == 2, 20,
             what="both in failed/")
    wait_for(lambda: d.status_json()["failed"] == 2, 10, what="status to count both")
    assert d.stop() == 0
    glob = sorted(str(p) for p in d.failed.iterdir())  # what `failed/*` expands to: sidecars too
    proc = subprocess.run([sys.executable, "-m", "hotfolder", "requeue", "-c", str(d.config), *glob],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "2 file(s) requeued" in proc.stdout and "Traceback" not in proc.stderr
    assert sorted(files_under(d.inbox)) == ["junk.jpg", "link.jpg"] and files_under(d.failed) == []


def test_process_keeps_subfolders(daemon_factory, tmp_path):
    d = daemon_factory()
    batch = tmp_path / "batch"
    photo(batch / "a" / "shot.jpg")
    photo(batch / "b" / "shot.jpg", color=(10, 200, 10))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "hotfolder", "process", "-c", str(d.config), "-o", str(out),
                           str(batch)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert files_under(out) == ["a/shot_thumb.webp", "a/shot_web.jpg", "b/shot_thumb.webp", "b/shot_web.jpg"]
    assert d.outputs() == [], "--output was honoured"


def test_status_says_what_it_counts_and_what_is_in_failed_now(daemon_factory):
    d = daemon_factory().start()
    (d.inbox / "notes.jpg").write_bytes(b"not an image")
    for n in range(1, 5):
        wait_for(lambda: (d.failed / "notes.jpg.error.json").exists(), 20, what=f"failure {n}")
        if n < 4:
            subprocess.run([sys.executable, "-m", "hotfolder", "requeue", "--config", str(d.config), "--all"],
                           check=True, capture_output=True, timeout=30)
    wait_for(lambda: d.status_json()["failed"] == 4 and d.status_json()["in_failed"] == 1, 40,
             what="4 failures since the start, 1 file in failed/ now")
    text = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.config)],
                          capture_output=True, text=True, timeout=30).stdout
    assert "files moved to failed/ since the start (1 in failed/ now" in text, text
    assert d.stop() == 0


def test_status_says_a_running_daemon_lost_its_lock_file(daemon_factory):
    """state_dir deleted under a running daemon: status said "not running (last seen 0m00s
    ago, … state running)", exit 1, of a daemon rendering on (a review)."""
    d = daemon_factory().start()
    (d.var / "state" / "hotfolder.lock").unlink()
    run = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.config)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "is running" in run.stdout and "hotfolder.lock is gone" in run.stdout and "restart it" in run.stdout
    as_json = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--json", "--config", str(d.config)],
                             capture_output=True, text=True, timeout=30)
    said = json.loads(as_json.stdout)  # JSON alone (a review: the prose line came first)
    assert as_json.returncode == 0 and said["running"] and said["lock_missing"].endswith("hotfolder.lock")
    assert d.stop() == 0
