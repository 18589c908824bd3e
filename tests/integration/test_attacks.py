"""Attacks a hostile tester made on a running daemon (after issue 10), kept as tests:
folders named like temp files, a folder renamed by a reload while its files render,
files and folders with the same name, a file where a whole folder should be, a reload
that moves state_dir, nested folders across two watched folders, a stop beside a newer
drop of the same name, a SIGHUP at start, a cross-device mount inside the inbox,
requeue by the listed name, a flood of empty files, a hard link with its writer open.
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import ends, failed_originals, files_under, wait_for


def jpeg(color=(200, 30, 30), size=(320, 240), fmt="JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


FULL = """
- name: full
  operation: none
  format: png
"""


def test_a_folder_named_like_a_temp_file_is_ignored_alike_by_events_and_scans(daemon_factory):
    d = daemon_factory(folder_extra="rescan_interval: 0.3")
    for folder in ("upload.tmp", ".sync", "down~"):  # there before the start: found by the scan
        (d.inbox / folder).mkdir(parents=True)
        (d.inbox / folder / "a.jpg").write_bytes(jpeg())
    d.start()
    for folder in ("late.part", ".late"):  # made while it runs: seen by events
        (d.inbox / folder).mkdir()
        (d.inbox / folder / "b.jpg").write_bytes(jpeg())
    (d.inbox / "real.jpg").write_bytes(jpeg())
    wait_for(lambda: files_under(d.archive) == ["real.jpg"], 20, what="the real file")
    time.sleep(1.0)  # a negative check: three more rescans (0.3 s) must not take them either
    assert files_under(d.archive) == ["real.jpg"], "a file in an ignored folder was taken"
    assert not files_under(d.processing)
    assert d.stop() == 0


def test_a_claim_from_processing_is_adopted_whatever_its_path(daemon_factory):
    """processing/ is ours: after a crash every file there is rendered, even in a folder
    whose name a scan of the inbox would skip."""
    d = daemon_factory()
    (d.processing / "upload.tmp").mkdir(parents=True)
    (d.processing / "upload.tmp" / "a.jpg").write_bytes(jpeg())
    d.start()
    wait_for(lambda: files_under(d.archive) == ["upload.tmp/a.jpg"], 20, what="the adopted file")
    assert d.stop() == 0


def test_renaming_a_folder_by_reload_while_its_files_render_renders_each_once(daemon_factory, tmp_path):
    d = daemon_factory(renditions=FULL, workers=1)
    d.start()
    for i in range(5):
        Image.frombytes("RGB", (2000, 1500), os.urandom(2000 * 1500 * 3)).save(tmp_path / f"big{i}.png")
        os.rename(tmp_path / f"big{i}.png", d.inbox / f"big{i}.png")
    wait_for(lambda: d.events("file_rendered"), 60, what="the first render")
    d.config.write_text(d.config.read_text().replace("name: test", "name: studio"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.event("reloaded"), 10, what="the reload")
    wait_for(lambda: ends(d) == 5, 90, what="every file")
    rendered = [e["file"] for e in d.events("file_rendered")]
    assert sorted(rendered) == [f"big{i}.png" for i in range(5)], rendered
    assert not d.events("file_vanished") and not files_under(d.failed)
    wait_for(lambda: d.status_json()["processed"] == 5, 10, what="5 processed, not more")
    assert d.stop() == 0


def test_a_file_and_a_folder_of_one_name_each_reach_one_end(daemon_factory, tmp_path):
    d = daemon_factory().start()
    (d.inbox / "2024").write_bytes(jpeg())  # a JPEG without extension: archive/2024
    (d.inbox / "bad.jpg").write_bytes(b"not an image")  # failed/bad.jpg
    (d.inbox / "a.jpg").write_bytes(jpeg())  # output/a_web.jpg
    wait_for(lambda: ends(d) == 3, 20, what="the three first files")
    staging = tmp_path / "staging"
    for name, inner, data in (("2024", "img.jpg", jpeg()), ("bad.jpg", "x.jpg", b"also bad"),
                              ("a_web.jpg", "p.jpg", jpeg())):
        (staging / name).mkdir(parents=True)
        (staging / name / inner).write_bytes(data)
        os.rename(staging / name, d.inbox / name)
    wait_for(lambda: ends(d) == 6, 30, what="the three folders' files")
    assert sorted(files_under(d.archive)) == ["2024", "2024~1/img.jpg", "a.jpg", "a_web.jpg/p.jpg"]
    assert failed_originals(d) == ["bad.jpg", "bad.jpg~1/x.jpg"]
    assert "a_web.jpg~1/p_web.jpg" in d.outputs()
    assert not d.events("claiming_paused")
    assert d.stop() == 0


@pytest.mark.parametrize("where", ["archive", "output"])
def test_a_file_where_a_whole_folder_should_be_pauses_instead_of_failing(daemon_factory, where):
    d = daemon_factory().start()
    target = d.archive if where == "archive" else d.output
    (d.inbox / "first.jpg").write_bytes(jpeg())
    wait_for(lambda: ends(d) == 1, 20, what="a first file")
    subprocess.run(["rm", "-rf", str(target)], check=True)
    target.write_text("a file where the folder was")
    (d.inbox / "a.jpg").write_bytes(jpeg())
    paused = wait_for(lambda: d.event("claiming_paused"), 20, what="claiming to pause")
    assert "a file stands where" in paused["reason"], paused
    assert not failed_originals(d), "no file is failed for a problem of the folder"
    target.unlink()
    target.mkdir()
    wait_for(lambda: "a.jpg" in files_under(d.archive), 70, what="a.jpg once the folder is back")
    assert d.stop() == 0


def test_a_reload_cannot_move_state_dir(daemon_factory):
    d = daemon_factory().start()
    d.config.write_text(d.config.read_text().replace("state_dir: var/state", "state_dir: var/state2"))
    d.proc.send_signal(signal.SIGHUP)
    refused = wait_for(lambda: d.event("reload_refused"), 10, what="the reload to be refused")
    assert refused["key"] == "state_dir" and "restart" in refused["reason"], refused
    second = subprocess.run([sys.executable, "-m", "hotfolder", "run", "--config", str(d.config)],
                            capture_output=True, text=True, timeout=30, cwd=d.root)
    assert second.returncode == 1 and "another hotfolder daemon" in second.stderr, second.stderr
    assert d.stop() == 0


def test_a_second_daemon_with_folders_of_its_own_but_the_same_inbox_is_refused(daemon_factory):
    """An admin followed the refusals' advice (another state_dir, then another processing
    folder) and ended with two daemons taking from one inbox, each with an index of its own:
    the inbox is locked as processing/ is."""
    d = daemon_factory().start()
    other = d.config.with_name("other.yaml")
    other.write_text(d.config.read_text().replace("state_dir: var/state", "state_dir: var/state2")
                     .replace("processing: var/processing", "processing: var/processing2")
                     .replace("output: var/output", "output: var/output2")
                     .replace("archive: var/archive", "archive: var/archive2")
                     .replace("failed: var/failed", "failed: var/failed2"))
    second = subprocess.run([sys.executable, "-m", "hotfolder", "run", "--config", str(other)],
                            capture_output=True, text=True, timeout=30, cwd=d.root)
    assert second.returncode == 1, second.stderr
    assert f"another hotfolder daemon is using the folder whose inbox folder is {d.inbox}" in second.stderr
    assert "two daemons must never take from one inbox" in second.stderr
    assert d.stop() == 0


def test_a_stop_keeps_a_claim_in_line_beside_a_newer_drop(daemon_factory, tmp_path):
    """A stop used to give the claim back as a_1.png beside the newer a.png: a name the
    user never dropped, rendered as a_1_full.png."""
    d = daemon_factory(renditions=FULL, workers=1, extra="drain_timeout: 0.5").start()
    Image.frombytes("RGB", (5000, 4000), os.urandom(5000 * 4000 * 3)).save(tmp_path / "a.png", compress_level=1)
    os.rename(tmp_path / "a.png", d.inbox / "a.png")
    wait_for(lambda: files_under(d.processing) == ["a.png"], 20, interval=0.005, what="a.png claimed")
    (d.inbox / "a.png").write_bytes(jpeg((20, 200, 20), fmt="PNG"))  # a newer a.png while it renders
    assert d.stop() == 0  # the drain's 0.5 s cannot finish a 20 MP PNG: the claim is cut off
    assert files_under(d.inbox) == ["a.png"] and files_under(d.processing) == ["a.png"], \
        "the cut-off claim waits in processing/, in line before the newer drop"
    d.start()
    wait_for(lambda: ends(d) == 2, 90, what="both a.png")
    # A different picture under the name keeps the first one's output and gets its own (26.2).
    assert sorted(d.outputs()) == ["a_full.png", "a_full~2.png"], d.outputs()
    assert d.stop() == 0


def sighup_blocked(pid: int) -> bool:
    """Whether the process holds SIGHUP back (SigBlk in /proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigBlk:"))
    except (OSError, StopIteration):
        return False
    return bool(mask & (1 << (signal.SIGHUP - 1)))


def test_a_sighup_right_at_start_is_a_reload_not_a_death(daemon_factory):
    d = daemon_factory()
    d.start(wait_ready=False)
    # As soon as SIGHUP is held back (cli's first statement), while the daemon still
    # imports its modules, long before its handlers exist.
    wait_for(lambda: d.proc.poll() is not None or sighup_blocked(d.proc.pid), 30,
             interval=0.002, what="the daemon to hold SIGHUP back")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.events("ready") or d.proc.poll() is not None, 30, what="the daemon to start")
    assert d.proc.poll() is None, f"the SIGHUP killed it:\n{d.log_text()[-2000:]}"
    assert d.stop() == 0


def test_requeue_takes_a_name_exactly_as_it_lists_it(daemon_factory):
    d = daemon_factory().start()
    (d.inbox / "w.jpg.error.json").write_bytes(b"not an image, named like a record")
    wait_for(lambda: (d.failed / "w.jpg.error.json.error.json").exists(), 20, what="the failure")
    listed = subprocess.run([sys.executable, "-m", "hotfolder", "requeue", "--config", str(d.config)],
                            capture_output=True, text=True, timeout=30)
    assert "w.jpg.error.json" in listed.stdout
    run = subprocess.run([sys.executable, "-m", "hotfolder", "requeue", "--config", str(d.config),
                          "w.jpg.error.json"], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    assert d.stop() == 0


def test_requeue_takes_an_escaped_name_as_it_lists_it(daemon_factory):
    """A name of bytes that are not UTF-8, or of terminal controls, is listed escaped, and
    that spelling matched nothing (a review): it stands for the file now."""
    d = daemon_factory().start()
    for raw in (b"bad\xff\xfeutf.jpg", b"esc\x1b[31mred.jpg"):
        with open(os.fsencode(d.inbox) + b"/" + raw, "wb") as f:
            f.write(b"not an image")
    wait_for(lambda: len(failed_originals(d)) == 2, 20, what="both to fail")
    assert d.stop() == 0
    listed = subprocess.run([sys.executable, "-m", "hotfolder", "requeue", "--config", str(d.config)],
                            capture_output=True, text=True, timeout=30).stdout
    for shown in ("bad\\xff\\xfeutf.jpg", "esc\\x1b[31mred.jpg"):
        assert shown in listed, listed
        run = subprocess.run([sys.executable, "-m", "hotfolder", "requeue", "--config", str(d.config), shown],
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(os.listdir(os.fsencode(d.inbox))) == [b"bad\xff\xfeutf.jpg", b"esc\x1b[31mred.jpg"]


def test_a_requeued_file_gets_its_own_name_back(daemon_factory):
    d = daemon_factory().start()
    (d.inbox / "y.jpg").write_bytes(b"bad")
    wait_for(lambda: (d.failed / "y.jpg.error.json").exists(), 20, what="y.jpg to fail")
    (d.inbox / "y.jpg.error.json").write_bytes(b"a user's file, bad too")
    wait_for(lambda: len(failed_originals(d)) == 2, 20, what="the second failure")
    assert d.stop() == 0
    run = subprocess.run([sys.executable, "-m", "hotfolder", "requeue", "--config", str(d.config), "--all"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(files_under(d.inbox)) == ["y.jpg", "y.jpg.error.json"]


def test_a_flood_of_empty_files_costs_little_cpu(daemon_factory):
    d = daemon_factory().start()
    for i in range(1500):
        (d.inbox / f"e{i:04d}.jpg").write_bytes(b"")
    (d.inbox / "good.jpg").write_bytes(jpeg())
    t0 = time.monotonic()
    wait_for(lambda: "good.jpg" in files_under(d.archive), 30, what="the good file")
    before = _cpu(d.proc.pid)
    time.sleep(2)  # the empty files wait out their grace: the loop must not spin over them
    assert _cpu(d.proc.pid) - before < 0.5, "the main process spun over waiting candidates"
    assert time.monotonic() - t0 < 30
    assert d.stop() == 0


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_hard_link_made_while_its_writer_has_it_open_is_taken_soon_after_the_close(daemon_factory, tmp_path):
    d = daemon_factory().start()
    writer = open(tmp_path / "c.jpg", "wb")
    data = jpeg(size=(800, 600))
    writer.write(data[:1000])
    writer.flush()
    os.link(tmp_path / "c.jpg", d.inbox / "c.jpg")
    time.sleep(1.0)
    assert (d.inbox / "c.jpg").exists(), "taken while its writer held it open"
    writer.write(data[1000:])
    writer.close()
    t0 = time.monotonic()
    wait_for(lambda: "c.jpg" in files_under(d.archive), 20, what="c.jpg after its writer closed it")
    assert time.monotonic() - t0 < 10
    assert d.stop() == 0


def test_a_file_on_a_mount_inside_the_inbox_is_said_once_and_shown(daemon_factory):
    d = daemon_factory(folder_extra="rescan_interval: 0.3").start()
    usb = d.inbox / "usb"
    usb.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(usb)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        (usb / "a.jpg").write_bytes(jpeg())
        wait_for(lambda: "another file system" in d.status_json()["message"], 20, what="the status to say so")
        time.sleep(1.0)  # several rescans: still said once
        assert len(d.events("file_on_another_file_system")) == 1
        assert not d.events("claim_failed") and (usb / "a.jpg").exists()
    finally:
        subprocess.run(["umount", str(usb)], check=True)
    assert d.stop() == 0
