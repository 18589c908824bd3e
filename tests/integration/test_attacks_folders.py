"""The third attack round (issue 20) on the folders of a running daemon: a planted record
cannot send a file out by command or by the API, a folder swapped for a link is an
outage, a path longer than PATH_MAX reaches failed/, a forged cluster job record takes
nothing from outside the folders. (The same attacks on spool itself:
tests/unit/test_attacks_folders.py.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.folder_attacks import KINDS, jpeg, plant_failure, put_back, swap_for_link, tree, victim_tree
from tests.harness import files_under, http_url, wait_for
from tests.harness.cluster import send_again

TOKEN = "folders-token-0123456789"


def api_requeue(url: str, fid: str) -> tuple[int, dict]:
    req = urllib.request.Request(url + "/requeue", data=json.dumps({"id": fid}).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def listed_failed(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url + "/api/status", timeout=15) as response:
        return {f["file"]: f["id"] for f in json.loads(response.read())["failed"]}


def test_a_planted_record_cannot_send_a_file_out_by_command_or_by_the_api(daemon_factory, tmp_path):
    d = daemon_factory(extra=f'http: {{listen: "127.0.0.1:0", token: "{TOKEN}"}}').start()
    url = http_url(d)
    outside = tmp_path / "outside"
    outside.mkdir()
    plant_failure(d.failed, "abs.jpg", str(outside / "abs.jpg"))
    plant_failure(d.failed, "up.jpg", "../../../outside/up.jpg")
    wait_for(lambda: {"abs.jpg", "up.jpg"} <= set(listed_failed(url)), 20, what="the planted files listed")
    ids = listed_failed(url)
    for name in ("abs.jpg", "up.jpg"):
        status, body = api_requeue(url, ids[name])
        assert status == 409 and body["code"] == "refused" and "not a name inside the inbox" in body["message"], body
    run = subprocess.run([sys.executable, "-m", "hotfolder", "requeue", "--config", str(d.config), "--all"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and "0 file(s) requeued" in run.stdout, run.stdout + run.stderr
    assert run.stderr.count("not a name inside the inbox") == 2 and "Traceback" not in run.stderr
    assert tree(outside) == {} and sorted(tree(d.failed)) == ["abs.jpg", "abs.jpg.error.json", "up.jpg",
                                                             "up.jpg.error.json"]
    assert len(d.events("requeue_refused")) == 2
    (d.inbox / "ok.jpg").write_bytes(jpeg())  # and it keeps serving
    wait_for(lambda: "ok.jpg" in files_under(d.archive), 20, what="ok.jpg")
    assert d.stop() == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_folder_swapped_for_a_link_while_running_is_an_outage_never_a_new_place(daemon_factory, tmp_path, kind):
    d = daemon_factory(workers=1).start()
    (d.inbox / "first.jpg").write_bytes(jpeg())
    wait_for(lambda: files_under(d.archive) == ["first.jpg"], 20, what="a first file")
    victim = victim_tree(tmp_path)
    before = tree(victim)
    path = getattr(d, kind)
    aside = swap_for_link(path, victim)
    wait_for(lambda: d.event("inbox_unavailable") or tree(victim) != before, 20, what="the outage")
    assert tree(victim) == before, "the daemon took files through the swapped folder"
    down = d.event("inbox_unavailable")
    assert f"the {kind} folder" in down["reason"] and "symbolic link" in down["reason"], down
    wait_for(lambda: "not served" in d.status_json()["message"], 10, what="the outage in the status")
    inbox = aside if kind == "inbox" else d.inbox
    (inbox / "second.jpg").write_bytes(jpeg((0, 0, 200)))  # waits: no claim while a folder is swapped
    (inbox / "third.jpg").write_bytes(b"not an image")
    time.sleep(2.5)  # a negative check: a rescan (2 s) and many claim turns must take nothing from the link
    assert tree(victim) == before, "the daemon moved or wrote files through the swapped folder"
    assert sorted(files_under(inbox)) == ["second.jpg", "third.jpg"]
    if kind == "failed":  # and the command refuses to follow the link too
        run = subprocess.run([sys.executable, "-m", "hotfolder", "requeue", "--config", str(d.config), "--all"],
                             capture_output=True, text=True, timeout=30)
        assert run.returncode != 0 and "symbolic link" in run.stderr, run.stdout + run.stderr
    put_back(path, aside)
    wait_for(lambda: d.event("inbox_back"), 45, what="the folder back in service")
    wait_for(lambda: "second.jpg" in files_under(d.archive) and "third.jpg" in files_under(d.failed), 30,
             what="the waiting files served")
    assert tree(victim) == before
    assert d.proc.poll() is None and d.stop() == 0


def test_a_folder_that_is_a_link_is_refused_by_the_config(daemon_factory, tmp_path):
    d = daemon_factory()
    real = tmp_path / "elsewhere"
    real.mkdir()
    d.var.mkdir(parents=True, exist_ok=True)
    os.symlink(real, d.failed)
    run = subprocess.run([sys.executable, "-m", "hotfolder", "check-config", "--config", str(d.config)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode != 0 and "failed" in run.stderr and "symbolic link" in run.stderr, run.stderr


def deep_path(root: Path, depth: int = 16, name_bytes: int = 240) -> tuple[Path, list[str]]:
    """A file under `depth` folders of `name_bytes`-byte names, made by descriptors (its
    whole path is longer than PATH_MAX, so open() by path cannot reach it)."""
    names = [f"{i:02d}" + "d" * (name_bytes - 2) for i in range(depth)]
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in names:
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = "f" * (name_bytes - 4) + ".jpg"
        out = os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, jpeg())
        os.close(out)
    finally:
        os.close(fd)
    return root.joinpath(*names, leaf), names


def deep_files(root: Path) -> dict[str, bytes]:
    """Files under root and their bytes, however long their paths (by descriptors: os.fwalk).
    A file gone between the listing and its open is left out: the daemon writes a failure
    record under a temp name and renames it (a poll once listed such a temp name, then
    failed to open it: FileNotFoundError); the next poll sees the record."""
    out = {}
    for top, _, files, dir_fd in os.fwalk(root):
        for name in files:
            try:
                fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
            except FileNotFoundError:
                continue
            with os.fdopen(fd, "rb") as f:
                out[os.path.relpath(os.path.join(top, name), root)] = f.read()
    return out


def test_a_path_longer_than_path_max_reaches_failed_with_its_reason(daemon_factory, tmp_path):
    d = daemon_factory().start()
    staging = tmp_path / "staging"
    staging.mkdir()
    deep, names = deep_path(staging)
    assert len(os.fsencode(str(d.inbox / deep.relative_to(staging)))) > 4096
    os.rename(staging / names[0], d.inbox / names[0])
    folders = "/".join(names) + "/"
    records = wait_for(lambda: [rel for rel in deep_files(d.failed) if rel.endswith(".error.json")], 30,
                       what="the deep file in failed/")
    failed = deep_files(d.failed)
    # in its folders, its name shortened to leave room for the record's (fail() always did)
    assert len(failed) == 2 and records[0].startswith(folders), sorted(failed)
    original = records[0][: -len(".error.json")]
    assert failed[original] == jpeg() and not deep_files(d.inbox) and not deep_files(d.processing)
    record = json.loads(failed[records[0]])
    assert "PATH_MAX" in record["error"] and record["file"] == deep.relative_to(staging).as_posix(), record
    # The record is written before the line is logged (supervisor/failing.refused): waited for,
    # not read at once (a fresh-clone run read the log between the two: 0 lines).
    refused = wait_for(lambda: [e for e in d.events("file_refused") if "PATH_MAX" in e["reason"]], 10,
                       what="the refusal's log line")
    assert len(refused) == 1, d.events("file_refused")
    (d.inbox / "ok.jpg").write_bytes(jpeg())
    wait_for(lambda: "ok.jpg" in files_under(d.archive), 20, what="ok.jpg: the daemon goes on")
    assert len([e for e in d.events("file_refused") if "PATH_MAX" in e["reason"]]) == 1, "said once"
    assert d.stop() == 0


def test_a_forged_cluster_job_record_cannot_take_or_place_a_file_outside_the_folders(cluster_factory):
    """Anyone who can write the shared root's job records writes `rel` and `src`: a worker
    takes the original from its processing/ + a checked name, never from the record's path."""
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    outside = c.tmp / "outside"  # ../../../outside from the folders under shared/photos/
    outside.mkdir()
    (outside / "x.jpg").write_bytes(jpeg())
    before = tree(outside)
    job = "20260101T000000-f0f0f0f0f0"
    record = {"job": job, "folder": "photos", "rel": "../../../outside/x.jpg", "src": "../outside/x.jpg",
              "claimed_at": time.time(), "attempts": 0, "nodes": []}
    (c.root / ".hotfolder" / "jobs" / f"{job}.json").write_text(json.dumps(record))
    send_again(c, job, record["src"])
    wait_for(lambda: c.worker_events("job_refused") or tree(outside) != before, 30, what="the forged job refused")
    assert tree(outside) == before, "the worker took a file outside the folders, or put one there"
    assert not files_under(c.output) and not files_under(c.archive)
    assert "not a path inside" in c.worker_events("job_refused")[0]["reason"]
    c.drop(["ok.jpg"])  # and the cluster goes on
    wait_for(lambda: "ok.jpg" in files_under(c.archive), 30, what="ok.jpg")


def test_a_link_or_fifo_left_in_processing_is_failed_as_it_is_never_followed(daemon_factory, tmp_path):
    """processing/ is adopted after a crash: a link planted there was followed, and the file
    it named (anywhere the daemon can read) rendered into output/ (an attack round)."""
    d = daemon_factory()
    for place in (d.inbox, d.processing, d.failed):
        place.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(jpeg())
    (d.processing / "adopted.jpg").symlink_to(secret)
    os.mkfifo(d.processing / "pipe.jpg")
    d.start()
    wait_for(lambda: {"adopted.jpg.error.json", "pipe.jpg.error.json"} <= set(files_under(d.failed)), 30,
             what="both in failed/ with their records")
    assert (d.failed / "adopted.jpg").is_symlink() and (d.failed / "pipe.jpg").is_fifo(), "moved as they are"
    assert not files_under(d.output), "nothing was rendered from the link's target"
    said = {rel: json.loads((d.failed / rel).read_text())["error"] for rel in files_under(d.failed)
            if rel.endswith(".json")}
    assert "links are never followed" in said["adopted.jpg.error.json"], said
    assert "not a file but a folder, FIFO" in said["pipe.jpg.error.json"], said
    (d.inbox / "ok.jpg").write_bytes(jpeg())
    wait_for(lambda: "ok.jpg" in files_under(d.archive), 20, what="ok.jpg: the daemon goes on")
    assert d.stop() == 0


def test_a_cluster_job_naming_a_link_in_processing_fails_it_never_follows_it(cluster_factory):
    """The same on a cluster's share: a job record for a link someone put in processing/."""
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    secret = c.tmp / "secret.jpg"
    secret.write_bytes(jpeg())
    processing = c.base / "processing"
    processing.mkdir(parents=True, exist_ok=True)
    (processing / "link.jpg").symlink_to(secret)
    job = "20260101T000000-a1a1a1a1a1"
    record = {"job": job, "folder": "photos", "rel": "link.jpg", "src": "photos/processing/link.jpg",
              "claimed_at": time.time(), "attempts": 0, "nodes": []}
    (c.root / ".hotfolder" / "jobs" / f"{job}.json").write_text(json.dumps(record))
    send_again(c, job, record["src"])
    wait_for(lambda: (c.failed / "link.jpg.error.json").exists(), 30, what="the link in failed/")
    assert (c.failed / "link.jpg").is_symlink() and not files_under(c.output)
    assert "links are never followed" in json.loads((c.failed / "link.jpg.error.json").read_text())["error"]


def test_records_on_the_share_that_are_not_records_stop_neither_the_head_nor_its_start(cluster_factory):
    """A record with a field of a newer version, a string for a number or a JSON list was a
    TypeError in the head's loop: 21 in 20 s stopped it, and it could not start again."""
    c = cluster_factory()
    jobs_dir = c.root / ".hotfolder" / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    base = {"folder": "photos", "rel": "gone.jpg", "src": "photos/processing/gone.jpg", "claimed_at": time.time()}
    (jobs_dir / "20260101T000000-b1b1b1b1b1.json").write_text(json.dumps({**base, "job": "20260101T000000-b1b1b1b1b1",
                                                                          "attempts": "5"}))
    (jobs_dir / "20260101T000000-b2b2b2b2b2.json").write_text("[1, 2]")
    c.start_head()
    c.start_worker("w0")
    c.drop(["ok.jpg"])
    wait_for(lambda: "ok.jpg" in files_under(c.archive), 30, what="ok.jpg")
    assert c.procs["head"].poll() is None and not c.events("head", "service_error"), c.logs()
