"""The third attack round (issue 20), on folders and records: nothing a user drops and
nothing a client sends moves a file outside the daemon's own folders.

- a failure record whose `file_as` is absolute or climbs out (`../..`): requeue (the
  command, the page's API, spool.requeue) refuses it, and the file stays in failed/;
- a folder (inbox, processing, output, archive, failed) swapped for a symbolic link
  while the daemon runs: an outage, never a new source or destination;
- a path longer than PATH_MAX: it reaches failed/ with its reason;
- one folder's failed/ inside another's (issue 26): each failed file goes back to the
  folder it failed in.

Unit tests call spool (and the worker) on real trees under tmp_path; integration tests
start a real daemon (tests.harness) and attack its folders while it runs.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from hotfolder import jobs
from hotfolder.config.model import Folder, Rendition
from hotfolder.errors import HotfolderError
from hotfolder.spool import atomic, fsnames, moves, nofollow, oserrors, recovery
from hotfolder.spool import records as spool_records
from hotfolder.spool.failed_files import FailedIndex, failed_originals
from hotfolder.workers import render
from tests.harness import files_under, http_url, wait_for

TOKEN = "folders-token-0123456789"
KINDS = ("inbox", "processing", "output", "archive", "failed")


def jpeg(color=(200, 30, 30), size=(320, 240)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def make_folder(root: Path, name: str = "t", **dirs: Path) -> Folder:
    paths = {kind: dirs.get(kind, root / kind) for kind in KINDS}
    folder = Folder(name=name, renditions=(Rendition(name="web", width=100, height=100),), **paths)
    moves.ensure_dirs(folder)
    return folder


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root and its bytes (links as their target's text): what an attack
    must leave exactly as it was."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[path.relative_to(root).as_posix()] = os.readlink(path).encode()
        elif path.is_file():
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def victim_tree(root: Path) -> Path:
    """Someone else's files, where a swapped folder's link will point."""
    victim = root / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "keep.jpg").write_bytes(jpeg())
    (victim / "bad.jpg").write_bytes(b"not an image, but someone's")
    (victim / "sub" / "deep.jpg").write_bytes(jpeg((10, 200, 10)))
    return victim


def plant_failure(folder_failed: Path, name: str, file_as: str, data: bytes = b"planted") -> Path:
    """A file and a record written into failed/ by anyone who can write there."""
    (folder_failed / name).write_bytes(data)
    record = {"file": name, "error": "x", "step": "render", "attempts": 1, "time": "2026-01-01T00:00:00Z",
              "folder": "t", "failed_as": os.fsencode(name).hex(), "file_as": os.fsencode(file_as).hex()}
    (folder_failed / (name + spool_records.SIDECAR)).write_text(json.dumps(record))
    return folder_failed / name


def swap_for_link(path: Path, target: Path) -> Path:
    """Move the real folder aside and put a symbolic link in its place; the real one's new path."""
    aside = path.with_name(path.name + ".real")
    os.rename(path, aside)
    os.symlink(target, path)
    return aside


def put_back(path: Path, aside: Path) -> None:
    os.unlink(path)
    os.rename(aside, path)


# ---------------------------------------------------------------- 1. requeue and the record's names

@pytest.mark.parametrize("file_as", ["{outside}/evil.jpg", "../../outside/evil.jpg", "sub/../../../outside/evil.jpg",
                                     "", "."])
def test_requeue_refuses_a_record_that_names_a_path_outside_the_inbox(tmp_path, file_as):
    folder = make_folder(tmp_path / "var")
    outside = tmp_path / "outside"
    outside.mkdir()
    planted = plant_failure(folder.failed, "evil.jpg", file_as.format(outside=outside))
    with pytest.raises(HotfolderError, match="not a name inside the inbox"):
        moves.requeue(folder, planted)
    assert planted.read_bytes() == b"planted" and (folder.failed / "evil.jpg.error.json").exists()
    assert tree(outside) == {} and tree(folder.inbox) == {}
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path / "var" / "evil.jpg").exists()


def test_requeue_of_a_good_record_still_restores_the_name_inside_the_inbox(tmp_path):
    folder = make_folder(tmp_path / "var")
    (folder.failed / "sub").mkdir()
    planted = plant_failure(folder.failed / "sub", "a_1.jpg", "sub/a.jpg")
    assert moves.requeue(folder, planted) == folder.inbox / "sub" / "a.jpg"
    assert tree(folder.inbox) == {"sub/a.jpg": b"planted"} and tree(folder.failed) == {}


def test_requeue_never_moves_into_a_linked_subfolder_of_the_inbox(tmp_path):
    """A link planted in the inbox where the file's subfolder should be is stepped around."""
    folder = make_folder(tmp_path / "var")
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, folder.inbox / "sub")
    (folder.failed / "sub").mkdir()
    planted = plant_failure(folder.failed / "sub", "a.jpg", "sub/a.jpg")
    dst = moves.requeue(folder, planted)
    assert dst == folder.inbox / "sub~1" / "a.jpg" and dst.read_bytes() == b"planted"
    assert tree(outside) == {}


def test_recovery_takes_a_records_failed_as_as_one_name_only(tmp_path):
    """Not a finding on the base (Path.with_name refused these already); kept as a guard."""
    folder = make_folder(tmp_path / "var")
    (folder.failed / "sub").mkdir()
    (folder.failed / "evil.jpg").write_bytes(b"a user's file, one folder up")
    for i, failed_as in enumerate(["../evil.jpg", "..", "/etc/passwd", ""]):
        temp = folder.failed / "sub" / f"{atomic.temp_prefix(folder.temp_token)}sidecar-{i}"
        temp.write_text(json.dumps({"failed_as": os.fsencode(failed_as).hex()}))
    found = recovery.recover(folder)
    assert found.sidecars_finished == 0 and not found.problems
    assert tree(folder.failed) == {"evil.jpg": b"a user's file, one folder up"}


def test_a_record_that_is_a_link_or_a_fifo_is_not_read(tmp_path):
    folder = make_folder(tmp_path / "var")
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"error": "the secret's content"}))
    (folder.failed / "a.jpg").write_bytes(b"x")
    os.symlink(secret, folder.failed / "a.jpg.error.json")
    (folder.failed / "b.jpg").write_bytes(b"x")
    os.mkfifo(folder.failed / "b.jpg.error.json")  # read_text() would wait for a writer for ever
    assert spool_records.read_failure(folder, folder.failed / "a.jpg") is None
    assert spool_records.read_failure(folder, folder.failed / "b.jpg") is None


# ---------------------------------------------------------------- 2. a folder swapped for a link (spool, worker)

def test_a_swapped_inbox_is_neither_scanned_nor_claimed_from(tmp_path):
    folder = make_folder(tmp_path / "var")
    victim = victim_tree(tmp_path)
    before = tree(victim)
    (folder.inbox / "mine.jpg").write_bytes(jpeg())
    aside = swap_for_link(folder.inbox, victim)
    assert list(fsnames.walk_files(folder.inbox)) == []
    for name in ("keep.jpg", "bad.jpg", "mine.jpg"):
        assert moves.claim(folder, folder.inbox / name) is None  # not there, as far as the daemon can see
    assert tree(victim) == before and tree(folder.processing) == {}
    assert "inbox" in moves.swapped_folder(folder)
    put_back(folder.inbox, aside)
    assert moves.swapped_folder(folder) is None
    assert moves.claim(folder, folder.inbox / "mine.jpg").rel == "mine.jpg"


def test_a_swapped_processing_folder_receives_no_claim_and_gives_nothing_back(tmp_path):
    folder = make_folder(tmp_path / "var")
    victim = victim_tree(tmp_path)
    (folder.inbox / "keep.jpg").write_bytes(b"the user's drop")
    claimed = moves.claim(folder, folder.inbox / "keep.jpg")
    (folder.inbox / "bad.jpg").write_bytes(b"a second drop")
    aside = swap_for_link(folder.processing, victim)
    before = tree(victim)
    with pytest.raises(nofollow.FolderSwapped):
        moves.claim(folder, folder.inbox / "bad.jpg")
    for move in (lambda: moves.finish(folder, claimed), lambda: moves.unclaim(folder, claimed),
                 lambda: moves.fail(folder, claimed.path, claimed.rel, error="x", step="render")):
        with pytest.raises(nofollow.FolderSwapped):
            move()  # the victim's keep.jpg has the claimed file's name: it must not be taken for it
    assert list(recovery.claimed_files(folder)) == []
    assert tree(victim) == before and tree(folder.archive) == {} and tree(folder.failed) == {}
    assert tree(folder.inbox) == {"bad.jpg": b"a second drop"}
    put_back(folder.processing, aside)
    moves.finish(folder, claimed)
    assert tree(folder.archive) == {"keep.jpg": b"the user's drop"}


@pytest.mark.parametrize("kind", ["archive", "failed"])
def test_a_swapped_archive_or_failed_folder_receives_nothing(tmp_path, kind):
    folder = make_folder(tmp_path / "var")
    victim = victim_tree(tmp_path)
    before = tree(victim)
    (folder.inbox / "a.jpg").write_bytes(b"the user's drop")
    claimed = moves.claim(folder, folder.inbox / "a.jpg")
    aside = swap_for_link(getattr(folder, kind), victim)
    with pytest.raises(nofollow.FolderSwapped) as caught:
        if kind == "archive":
            moves.finish(folder, claimed)
        else:
            moves.fail(folder, claimed.path, claimed.rel, error="bad", step="render")
    assert oserrors.output_problem(caught.value), "the ledger gives the file back and pauses, as for a full disk"
    assert tree(victim) == before and tree(folder.processing) == {"a.jpg": b"the user's drop"}
    assert list(failed_originals([folder])) == []  # a swapped failed/ lists nothing (requeue takes nothing)
    put_back(getattr(folder, kind), aside)


def test_a_file_given_back_steps_around_a_link_planted_where_its_inbox_folder_was(tmp_path):
    folder = make_folder(tmp_path / "var")
    victim = victim_tree(tmp_path)
    before = tree(victim)
    (folder.inbox / "sub").mkdir()
    (folder.inbox / "sub" / "new.jpg").write_bytes(b"drop")
    claimed = moves.claim(folder, folder.inbox / "sub" / "new.jpg")
    os.rmdir(folder.inbox / "sub")
    os.symlink(victim, folder.inbox / "sub")
    assert moves.unclaim(folder, claimed) == folder.inbox / "sub~1" / "new.jpg"
    assert tree(victim) == before


def test_a_linked_subfolder_of_archive_or_output_is_stepped_around(tmp_path):
    folder = make_folder(tmp_path / "var")
    victim = victim_tree(tmp_path)
    before = tree(victim)
    os.symlink(victim, folder.archive / "2024")
    (folder.inbox / "2024").mkdir()
    (folder.inbox / "2024" / "a.jpg").write_bytes(b"drop")
    moves.finish(folder, moves.claim(folder, folder.inbox / "2024" / "a.jpg"))
    assert tree(folder.archive / "2024~1") == {"a.jpg": b"drop"} and tree(victim) == before


def render_job(folder: Folder, tmp_path: Path) -> jobs.Job:
    (folder.inbox / "a.jpg").write_bytes(jpeg())
    claimed = moves.claim(folder, folder.inbox / "a.jpg")
    return jobs.Job(1, folder, claimed.path, claimed.rel, ("jpeg", "png"), 100_000_000)


def test_a_worker_writes_no_output_into_a_swapped_output_folder(tmp_path):
    folder = make_folder(tmp_path / "var")
    victim = victim_tree(tmp_path)
    before = tree(victim)
    job = render_job(folder, tmp_path)
    aside = swap_for_link(folder.output, victim)
    result = render.process_one(job)
    assert not result.ok and result.retry_later and "symbolic link" in result.error, result
    assert tree(victim) == before
    put_back(folder.output, aside)
    result = render.process_one(job)
    assert result.ok and tree(folder.output).keys() == {"a_web.jpg"}


def test_a_worker_reads_no_source_through_a_swapped_processing_folder(tmp_path):
    folder = make_folder(tmp_path / "var")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "a.jpg").write_bytes(jpeg((0, 0, 255)))  # someone's photo, named as the claimed file
    job = render_job(folder, tmp_path)
    aside = swap_for_link(folder.processing, victim)
    result = render.process_one(job)
    assert not result.ok and result.retry_later, result
    assert tree(folder.output) == {}, "the victim's photo was rendered into output/"
    put_back(folder.processing, aside)


def test_the_watcher_holds_a_swapped_folder_in_an_outage_without_failing_the_systemd_watchdog(tmp_path):
    from hotfolder.arrival.watcher import Watcher

    folder = make_folder(tmp_path / "var")
    victim = victim_tree(tmp_path)
    (folder.inbox / "a.jpg").write_bytes(jpeg())
    past = time.time() - 60
    os.utime(folder.inbox / "a.jpg", (past, past))  # long still: ready at the first look
    watcher = Watcher((folder,))
    watcher.start()
    try:
        inbox = watcher.inboxes["t"]
        aside = swap_for_link(folder.output, victim)
        assert inbox.ready(10, time.monotonic() + 60) == []  # the swap holds claims back at once
        watcher.check()
        assert not inbox.available and "output folder" in watcher.notes() and "symbolic link" in watcher.notes()
        assert watcher.healthy(), "a restart would not help: the systemd watchdog must not kill the daemon"
        put_back(folder.output, aside)
        wait_for(lambda: (watcher.check(), inbox.available)[1], 10, what="the outage to end")
        assert watcher.notes() == ""
        assert wait_for(lambda: inbox.ready(10, time.monotonic() + 60), 10, what="a.jpg") == [folder.inbox / "a.jpg"]
    finally:
        watcher.stop()


# ---------------------------------------------------------------- 26. nested failed/ folders

def test_a_failed_file_belongs_to_the_folder_whose_failed_folder_holds_it_most_closely(tmp_path):
    photos = make_folder(tmp_path / "photos", "photos", failed=tmp_path / "failed")
    prints = make_folder(tmp_path / "print", "print", failed=tmp_path / "failed" / "print",
                         archive=tmp_path / "failed" / "print-archive")
    for folder, name in ((photos, "a.jpg"), (prints, "client_print.jpg")):
        (folder.inbox / name).write_bytes(b"bad " + name.encode())
        claimed = moves.claim(folder, folder.inbox / name)
        moves.fail(folder, claimed.path, claimed.rel, error="bad", step="render")
    (prints.archive / "done.jpg").write_bytes(b"print's archive: not a failed file of anyone's")
    found = sorted((f.name, p.relative_to(tmp_path).as_posix()) for f, p in failed_originals([photos, prints]))
    assert found == [("photos", "failed/a.jpg"), ("print", "failed/print/client_print.jpg")]
    index = FailedIndex()
    index.refresh((photos, prints))
    assert sorted((f.folder, f.file) for f in index.files) == [("photos", "a.jpg"), ("print", "client_print.jpg")]
    listed = {f.file: f.id for f in index.files}
    name, path = index.lookup(listed["client_print.jpg"])
    moves.requeue(prints if name == "print" else photos, path)
    assert tree(prints.inbox) == {"client_print.jpg": b"bad client_print.jpg"} and tree(photos.inbox) == {}


def test_hotfolder_requeue_refuses_a_config_whose_failed_folders_nest(tmp_path, capsys):
    """`hotfolder requeue print/client_print.jpg` with print's failed/ inside photos' once
    sent the file to photos' inbox. Such a layout is now refused by every command (the
    config's nesting check), naming the way out; failed_originals above keeps each file
    to its own folder whatever the layout."""
    from hotfolder.cli import commands

    config = tmp_path / "hotfolder.yaml"
    config.write_text("state_dir: state\nfolders:\n" + "".join(
        f"  - {{name: {n}, inbox: {n}/inbox, output: {n}/output, archive: {n}/archive, failed: {f}, "
        f"renditions: [{{name: web, operation: fit, size: 100x100}}]}}\n"
        for n, f in (("photos", "failed"), ("print", "failed/print"))))
    for n, name in (("photos", "a.jpg"), ("print", "client_print.jpg")):
        folder = make_folder(tmp_path / n, n, failed=tmp_path / "failed" / ("print" if n == "print" else ""))
        (folder.inbox / name).write_bytes(b"bad")
        claimed = moves.claim(folder, folder.inbox / name)
        moves.fail(folder, claimed.path, claimed.rel, error="bad", step="render")
    assert commands.main(["requeue", "--config", str(config), "print/client_print.jpg"]) == 1
    err = capsys.readouterr().err
    assert "failed" in err and "a folder of its own" in err, err
    assert tree(tmp_path / "print" / "inbox") == {} and tree(tmp_path / "photos" / "inbox") == {}


# ---------------------------------------------------------------- integration: a running daemon

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


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
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
    """Files under root and their bytes, however long their paths (by descriptors: os.fwalk)."""
    out = {}
    for top, _, files, dir_fd in os.fwalk(root):
        for name in files:
            fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
            with os.fdopen(fd, "rb") as f:
                out[os.path.relpath(os.path.join(top, name), root)] = f.read()
    return out


@pytest.mark.integration
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
    refused = [e for e in d.events("file_refused") if "PATH_MAX" in e["reason"]]
    assert len(refused) == 1, d.events("file_refused")
    (d.inbox / "ok.jpg").write_bytes(jpeg())
    wait_for(lambda: "ok.jpg" in files_under(d.archive), 20, what="ok.jpg: the daemon goes on")
    assert len([e for e in d.events("file_refused") if "PATH_MAX" in e["reason"]]) == 1, "said once"
    assert d.stop() == 0


@pytest.fixture
def cluster(tmp_path):
    """A head and one worker (tests/integration/test_cluster.py's Cluster) on a real redis-server."""
    from tests.redis_server import RedisServer

    if RedisServer.binary is None and not os.environ.get("HOTFOLDER_REQUIRE_REDIS"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    pytest.importorskip("celery", reason="the cluster extra is not installed (pip install -e '.[cluster]')")
    from tests.integration.test_cluster import Cluster

    server = RedisServer(tmp_path / "redis").start()
    c = Cluster(tmp_path / "c", server)
    try:
        yield c
    finally:
        c.stop_all()
        server.stop()


@pytest.mark.integration
def test_a_forged_cluster_job_record_cannot_take_or_place_a_file_outside_the_folders(cluster):
    """Anyone who can write the shared root's job records writes `rel` and `src`: a worker
    takes the original from its processing/ + a checked name, never from the record's path."""
    from tests.integration.test_cluster import send_again

    c = cluster
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
