"""SIGHUP and reload_on_change: good configs swapped in, bad ones refused; journal prefixes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from PIL import Image

from tests import corpus as c
from tests.harness import files_under, wait_for


def drop(d, name: str) -> None:
    tmp = d.root / name
    Image.new("RGB", (640, 480), (10, 120, 200)).save(tmp, "JPEG")
    os.rename(tmp, d.inbox / name)


def test_sighup_swaps_a_good_config_and_refuses_a_bad_one(daemon_factory):
    d = daemon_factory().start()
    drop(d, "before.jpg")
    wait_for(lambda: "before_web.jpg" in d.outputs(), 20, what="a file under the first config")
    original = d.config.read_text()

    # A good config: one more rendition, one worker fewer.
    d.config.write_text(original.replace("workers: 2", "workers: 1") + (
        "      - name: tiny\n        operation: fit\n        size: 32x32\n        format: png\n"))
    d.proc.send_signal(signal.SIGHUP)
    reloaded = wait_for(lambda: d.event("reloaded"), 20, what="the reload")
    assert reloaded["changes"] == ["workers 2 → 1", "test: rendition tiny added"], reloaded
    # before.jpg keeps its outputs, and a copy of it dropped again is a duplicate: the reload says how it gets tiny
    assert reloaded["rerender"] == (
        "the originals archived before keep their outputs, and a copy of one dropped again is a duplicate, "
        f"skipped: `hotfolder rerender --config {d.config} --rendition tiny` makes them again"), reloaded
    wait_for(lambda: d.status_json().get("workers_alive") == 1, 20, what="one worker after the reload")
    drop(d, "after.jpg")
    wait_for(lambda: "after_tiny.png" in d.outputs(), 20, what="the new rendition")
    with Image.open(d.output / "after_tiny.png") as im:
        assert max(im.size) == 32

    # A bad config, two problems: refused, the running one stays, and status says both.
    bad = original.replace("quality: 85", "quality: 850").replace("format: webp", "format: gif")
    d.config.write_text(bad)
    d.proc.send_signal(signal.SIGHUP)
    refused = wait_for(lambda: d.event("reload_refused"), 20, what="the refusal")
    assert refused["key"] == "folders[test].renditions[web].quality" and "at most 100" in refused["reason"]
    lines = bad.splitlines()
    quality = next(i for i, line in enumerate(lines) if "quality: 850" in line) + 1
    fmt = next(i for i, line in enumerate(lines) if "format: gif" in line) + 1
    assert [p.split(": ", 1)[0] for p in refused["problems"]] == [f"{d.config}:{quality}:9", f"{d.config}:{fmt}:9"]
    assert "renditions[thumb].format" in refused["problems"][1]
    wait_for(lambda: "reload refused" in d.status_json().get("message", ""), 10, what="status to say so")
    plain = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.config)],
                           capture_output=True, text=True, timeout=30)
    assert plain.returncode == 0 and "reload refused" in plain.stdout
    assert "renditions[web].quality" in plain.stdout and "renditions[thumb].format" in plain.stdout
    drop(d, "still.jpg")
    wait_for(lambda: "still_tiny.png" in d.outputs(), 20, what="the previous config still serving")
    assert d.proc.poll() is None

    # A config saved in Latin-1 and one whose aliases expand a billion times were tracebacks
    # that stopped the daemon (a review's findings): refused like any other.
    laughs = "x_a: &a [" + ", ".join(["lol"] * 9) + "]\n" + "".join(
        f"x_{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
    for text, says in ((original.encode("utf-8") + "# © Studio\n".encode("latin-1"), "not UTF-8 text"),
                       (original.encode("utf-8") + laughs.encode(), "billion laughs")):
        d.config.write_bytes(text)
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda says=says: any(says in e.get("reason", "") for e in d.events("reload_refused")), 20,
                 what=f"the refusal: {says}")
    drop(d, "later.jpg")
    wait_for(lambda: "later_tiny.png" in d.outputs(), 20, what="the previous config still serving")
    assert d.proc.poll() is None
    assert d.stop() == 0


def test_status_finds_a_daemon_whose_config_is_no_longer_yaml(daemon_factory):
    """Not YAML at all: `status` looked in the default state_dir and said "not running"
    (exit 1) while the daemon ran on with its previous config (a review)."""
    d = daemon_factory(extra="state_dir: var/elsewhere").start()
    d.config.write_text(d.config.read_text() + "workers: [\n  bad: :\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.event("reload_refused"), 20, what="the refusal of text that is not YAML")
    plain = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.config)],
                           capture_output=True, text=True, timeout=30)
    assert plain.returncode == 0 and "reload refused" in plain.stdout, plain.stdout + plain.stderr
    assert d.stop() == 0
    stopped = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.config)],
                             capture_output=True, text=True, timeout=30)
    assert stopped.returncode == 1 and "the config is not valid YAML" in stopped.stdout
    assert "so its state_dir is a guess" in stopped.stdout
    gone = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.root / "nowhere.yaml")],
                          capture_output=True, text=True, timeout=30)
    assert gone.returncode != 0 and "cannot read the config file" in gone.stdout + gone.stderr, gone


def test_status_of_a_config_too_large_to_be_one_says_so_not_that_it_is_not_yaml(tmp_path):
    """A config grown past 4 MiB (a log appended to it, the wrong file) is refused unread: status
    said "the config is not valid YAML (`hotfolder check-config` says …)" of a file of valid YAML."""
    config = tmp_path / "hotfolder.yaml"
    config.write_text("state_dir: state\n" + "# a comment\n" * 400_000)
    said = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(config)],
                          capture_output=True, text=True, timeout=30)
    assert said.returncode == 1, said.stdout + said.stderr
    assert "not valid YAML" not in said.stdout and "holds more than 4 MiB" in said.stdout, said.stdout


def test_a_config_path_that_is_no_config_file_refuses_the_reload_at_once(daemon_factory):
    """A FIFO at the config's path held the reload in the daemon's loop for good (nothing
    claimed, no status, SIGTERM unheard); a link to /dev/zero grew the daemon past 6 GB in
    30 s; a file of a million values held the loop for minutes and 1.4 GB (an attack
    round). Each is refused at once, saying what it is, and the daemon renders on;
    `hotfolder status` hung on the FIFO too."""
    d = daemon_factory().start()
    real = d.root / "real.yaml"
    os.rename(d.config, real)
    os.mkfifo(d.config)
    d.proc.send_signal(signal.SIGHUP)
    refused = wait_for(lambda: d.event("reload_refused"), 20, what="the refusal of a FIFO")
    assert "it is a FIFO, socket or device, not a regular file" in refused["reason"], refused
    drop(d, "after_fifo.jpg")
    wait_for(lambda: "after_fifo_web.jpg" in d.outputs(), 20, what="the daemon still rendering")
    status = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.config)],
                            capture_output=True, text=True, timeout=30)  # it hung on the FIFO too
    assert status.returncode == 0 and "reload refused" in status.stdout, status.stdout + status.stderr

    d.config.unlink()
    d.config.symlink_to("/dev/zero")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(d.events("reload_refused")) == 2, 20, what="the refusal of /dev/zero")
    assert "not a regular file" in d.events("reload_refused")[1]["reason"]

    d.config.unlink()
    d.config.write_bytes(real.read_bytes() + b"#" * (5 * 1024 * 1024) + b"\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(d.events("reload_refused")) == 3, 20, what="the refusal of 5 MiB")
    assert "it holds more than 4 MiB" in d.events("reload_refused")[2]["reason"]

    d.config.write_text(real.read_text() + "x_junk: [" + ",".join(["1"] * 1_000_000) + "]\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(d.events("reload_refused")) == 4, 20, what="the refusal of a million values")
    assert "it holds more than 100,000 values (counted up to line" in d.events("reload_refused")[3]["reason"]
    drop(d, "after_all.jpg")
    wait_for(lambda: "after_all_web.jpg" in d.outputs(), 20, what="the daemon still rendering")
    assert d.stop() == 0


def test_reload_on_change(daemon_factory):
    d = daemon_factory(extra="reload_on_change: true").start()
    text = d.config.read_text()
    d.config.write_text(text.replace("size: 320x320", "size: 100x100"))
    wait_for(lambda: d.event("reloaded"), 20, what="a reload after the edit")
    drop(d, "x.jpg")
    wait_for(lambda: "x_web.jpg" in d.outputs(), 20, what="x_web.jpg")
    with Image.open(d.output / "x_web.jpg") as im:
        assert max(im.size) == 100
    assert d.stop() == 0


def test_journal_priority_prefix(daemon_factory):
    """Under systemd (JOURNAL_STREAM names our stderr) each line starts with <N>."""
    d = daemon_factory()
    d.log_path.touch()
    st = os.stat(d.log_path)
    # its lines start with <N>: not JSON, so the harness does not see "ready" by itself
    d.start(env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, wait_ready=False)
    wait_for(lambda: '"event": "ready"' in d.log_text(), 30, what="ready")
    (d.inbox).mkdir(parents=True, exist_ok=True)
    (d.inbox / "junk.jpg").write_bytes(b"junk")
    wait_for(lambda: '"file_failed"' in d.log_text(), 20, what="a failure line")
    assert d.stop() == 0
    lines = [ln for ln in d.log_text().splitlines() if ln.startswith("<")]
    ready = next(ln for ln in lines if '"ready"' in ln)
    assert ready.startswith("<6>{") and json.loads(ready[3:])["event"] == "ready"
    failed = next(ln for ln in lines if '"file_failed"' in ln)
    assert failed.startswith("<4>{")  # a bad input file is a warning for the admin, not an error of ours


def test_a_start_refused_for_its_config_is_an_error_in_the_journal(tmp_path):
    """`systemctl restart` after a bad edit: the daemon's reasons are said before its log
    starts. In the journal they were priority info, so `journalctl -u hotfolder -p err`
    showed only systemd's "Failed to start", not why."""
    config = tmp_path / "hotfolder.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nbogus_key: 1\nfolders: []\n")
    journal = tmp_path / "journal"
    journal.touch()
    st = os.stat(journal)
    env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
    with open(journal, "w") as stderr:
        r = subprocess.run([sys.executable, "-m", "hotfolder", "run", "--config", str(config)], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, timeout=90)
    assert r.returncode == 1
    lines = journal.read_text().splitlines()
    assert any("bogus_key: unknown key" in line for line in lines), lines
    assert lines and all(line.startswith("<3>") for line in lines), lines
    # not in the journal (a terminal, a pipe): the lines as they were
    r = subprocess.run([sys.executable, "-m", "hotfolder", "run", "--config", str(config)],
                       env={k: v for k, v in env.items() if k != "JOURNAL_STREAM"},
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 1 and r.stderr.startswith("hotfolder: config error:"), r.stderr


def test_an_empty_key_is_warned_of_in_the_log_at_start_and_on_reload(daemon_factory):
    # check-config says it; a service's warnings are read in the journal, so `run` says them too.
    d = daemon_factory(extra="drain_timeout:").start()
    warned = wait_for(lambda: d.event("config_warning"), 20, what="the warning at start")
    assert warned["level"] == "warning"
    assert f"{d.config}:" in warned["problem"] and warned["problem"].endswith(
        "drain_timeout: is empty, so it reads as not written (the default: 30); give it a value, or remove the key")
    d.config.write_text(d.config.read_text().replace("drain_timeout:", "drain_timeout: 20\nmax_attempts:"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.event("reloaded"), 20, what="the reload")
    wait_for(lambda: "max_attempts: is empty" in d.event("config_warning")["problem"], 20,
             what="the new file's warning")
    assert d.stop() == 0


def test_a_broker_url_that_cannot_be_parsed_refuses_the_reload_and_the_daemon_runs_on(daemon_factory):
    """An unclosed [ made urlsplit raise inside the config's check: a traceback that stopped a
    local daemon on SIGHUP, cluster disabled and all (a checker's finding)."""
    d = daemon_factory().start()
    d.config.write_text(d.config.read_text() + 'cluster:\n  enabled: false\n  broker_url: "redis://:pw@[::1:6392/0"\n')
    d.proc.send_signal(signal.SIGHUP)
    refused = wait_for(lambda: d.event("reload_refused"), 20, what="the refusal")
    assert refused["key"] == "cluster.broker_url" and "is not a URL that can be read" in refused["reason"], refused
    assert "pw" not in json.dumps(refused)
    drop(d, "after.jpg")
    wait_for(lambda: "after_web.jpg" in d.outputs(), 20, what="the daemon still serving")
    assert d.stop() == 0


def test_files_left_in_a_processing_folder_the_config_no_longer_names_are_found(daemon_factory):
    """A reload changed `processing:` while files were queued in the old one; killed then,
    the next start looked only in the new one, and those originals stayed in the old one
    for ever, unsaid (an attack round: 5 of 12). They go back to the inbox of their folder;
    those of a folder gone from the config are said at every start."""
    d = daemon_factory()
    d.start()
    assert d.stop() == 0  # the daemon has used var/processing (state/places.py)
    for name in ("a.jpg", "b.jpg"):  # as a kill leaves them
        c.write(d.root / "var" / "processing" / "sub" / name, c.solid_jpeg_bytes((320, 240), (200, 30, 30)))
    d.config.write_text(d.config.read_text().replace("processing: var/processing", "processing: var/processing2"))
    d.start()
    wait_for(lambda: sorted(files_under(d.archive)) == ["sub/a.jpg", "sub/b.jpg"], 30, what="both rendered")
    assert d.event("processing_returned")["files"] == 2
    assert files_under(d.root / "var" / "processing") == []
    assert d.stop() == 0

    c.write(d.root / "var" / "processing2" / "c.jpg", c.solid_jpeg_bytes((320, 240), (30, 30, 200)))
    # the folder "test" is gone from the config: another took its inbox
    d.config.write_text(d.config.read_text().replace("name: test", "name: renamed")
                        .replace("processing: var/processing2", "processing: var/processing3"))
    d.start()
    left = wait_for(lambda: d.event("processing_left"), 20, what="the file left behind said")
    assert left["folder"] == "test" and left["files"] == 1 and "move them into an inbox" in left["action"]
    assert (d.root / "var" / "processing2" / "c.jpg").exists(), "a file of a folder gone from the config moved"
    assert d.stop() == 0


def test_a_processing_folder_used_before_that_is_another_place_now_is_left_alone(daemon_factory):
    """The old processing folder made the archive: its files are archived originals, not
    leftovers; emptied into the inbox they would all be rendered again (a review)."""
    d = daemon_factory()
    d.start()
    assert d.stop() == 0  # var/processing is remembered
    d.config.write_text(d.config.read_text().replace("processing: var/processing", "processing: var/processing2")
                        .replace("archive: var/archive", "archive: var/processing"))
    c.write(d.root / "var" / "processing" / "old.jpg", c.solid_jpeg_bytes((320, 240), (200, 30, 30)))
    d.start()
    drop(d, "new.jpg")
    wait_for(lambda: (d.root / "var" / "processing" / "new.jpg").exists(), 30, what="new.jpg archived")
    assert (d.root / "var" / "processing" / "old.jpg").exists() and not d.event("processing_returned")
    assert d.stop() == 0


def test_a_folder_renamed_in_a_reload_keeps_knowing_its_originals(daemon_factory):
    """A new user renamed `shop` to `products` (the same inbox and processing/) and dropped a
    photo again: it was logged `naming: different_photo` and written as `a_web~2.jpg` beside its
    own outputs, and the reload said "products: slot 0 → 1". The index follows the name of the
    folder whose processing/ owns the outputs: the same bytes are the same photo."""
    d = daemon_factory()
    d.start()
    data = c.solid_jpeg_bytes((320, 240), (200, 30, 30))
    c.write(d.inbox / "a.jpg", data)
    wait_for(lambda: files_under(d.archive) == ["a.jpg"], 20, what="a.jpg archived")
    d.config.write_text(d.config.read_text().replace("name: test", "name: products"))
    d.proc.send_signal(signal.SIGHUP)
    reloaded = wait_for(lambda: d.event("reloaded"), 20, what="the reload")
    assert reloaded["changes"] == ["folder test renamed products (the same inbox)"], reloaded
    c.write(d.inbox / "a.jpg", data)
    # Its `file_done` line, not its archived original: the ledger archives (and syncs) first and
    # says `file_done` after, and a loaded machine read the first file's line in between.
    wait_for(lambda: len(d.events("file_done")) == 2, 20, what="a.jpg again done")
    assert len(files_under(d.archive)) == 2
    assert files_under(d.output) == ["a_thumb.webp", "a_web.jpg"]
    again = d.events("file_done")[-1]
    assert again["folder"] == "products" and again.get("naming") != "different_photo", again
    assert d.stop() == 0


def test_a_new_folder_on_a_read_only_file_system_is_refused_saying_what_to_change(daemon_factory):
    """Under systemd the sandbox (ProtectSystem=strict) makes every path read-only but those
    the unit grants: an admin who adds a folder under /srv and reloads, as the README's
    "after editing" says, was told `[Errno 30] Read-only file system` and nothing more; the
    grant (ReadWritePaths= in a drop-in) applies only at a restart."""
    from tests.harness.mounts import mount_tmpfs, umount

    d = daemon_factory().start()
    ro = d.root / "ro"
    ro.mkdir()
    mount_tmpfs(ro, "1m")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True, capture_output=True, timeout=30)
        d.config.write_text(d.config.read_text() + "".join(
            f"    {key}: {ro}/{key}\n" if key != "name" else "  - name: srv\n"
            for key in ("name", "inbox", "output", "archive", "failed", "processing"))
            + "    renditions:\n      - name: web\n        operation: fit\n        size: 64x64\n        format: png\n")
        d.proc.send_signal(signal.SIGHUP)
        refused = wait_for(lambda: d.event("reload_refused"), 20, what="the refusal")
        reason = refused["reason"]
        assert "Read-only file system" in reason and f"{ro}/inbox" in reason, reason
        assert f"ReadWritePaths={ro}/inbox" in reason and "systemctl restart hotfolder" in reason, reason
        assert "mounted read-only" in reason, reason
        assert d.stop() == 0
    finally:
        umount(ro)


def test_a_start_refused_for_a_folder_on_a_read_only_file_system_says_what_to_change(tmp_path):
    """README's recipe for a folder of one's own is the drop-in, then `systemctl restart`:
    an admin who forgot the drop-in (or mistyped its path) restarted into the sandbox's
    read-only /srv, and the start said only `Read-only file system`, where a reload of the
    same config named ReadWritePaths= and the restart."""
    from tests.harness.mounts import mount_tmpfs, umount

    ro = tmp_path / "ro"
    ro.mkdir()
    mount_tmpfs(ro, "1m")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True, capture_output=True, timeout=30)
        config = tmp_path / "hotfolder.yaml"
        config.write_text(f"state_dir: {tmp_path / 'state'}\nfolders:\n  - name: srv\n" + "".join(
            f"    {key}: {ro}/{key}\n" for key in ("inbox", "output", "archive", "failed", "processing"))
            + "    renditions:\n      - name: web\n        operation: fit\n        size: 64x64\n        format: png\n")
        r = subprocess.run([sys.executable, "-m", "hotfolder", "run", "--config", str(config)],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
        assert r.returncode != 0 and "Read-only file system" in r.stderr, r.stderr
        assert f"ReadWritePaths={ro}/inbox" in r.stderr and "systemctl restart hotfolder" in r.stderr, r.stderr
    finally:
        umount(ro)
