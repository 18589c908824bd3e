"""The third attack round (issue 20), on folders and records: nothing a user drops and
nothing a client sends moves a file outside the daemon's own folders.

- a failure record whose `file_as` is absolute or climbs out (`../..`): requeue (the
  command, the page's API, spool.requeue) refuses it, and the file stays in failed/;
- a folder (inbox, processing, output, archive, failed) swapped for a symbolic link
  while the daemon runs: an outage, never a new source or destination;
- a path longer than PATH_MAX: it reaches failed/ with its reason;
- one folder's failed/ inside another's (issue 26): each failed file goes back to the
  folder it failed in.

Here spool (and the worker) are called on real trees under tmp_path;
tests/integration/test_attacks_folders.py attacks the folders of a running daemon.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hotfolder import jobs
from hotfolder.config.model import Folder, Rendition
from hotfolder.errors import HotfolderError
from hotfolder.spool import atomic, folders, fsnames, moves, nofollow, oserrors, recovery
from hotfolder.spool import records as spool_records
from hotfolder.spool.failed_files import FailedIndex, failed_originals
from hotfolder.workers import render
from tests.folder_attacks import KINDS, jpeg, plant_failure, put_back, swap_for_link, tree, victim_tree
from tests.harness import wait_for


def make_folder(root: Path, name: str = "t", **dirs: Path) -> Folder:
    paths = {kind: dirs.get(kind, root / kind) for kind in KINDS}
    folder = Folder(name=name, renditions=(Rendition(name="web", width=100, height=100),), **paths)
    folders.ensure_dirs(folder)
    return folder


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


@pytest.mark.parametrize("file_as", [".out/evil.html", ".state/names/zz/planted", "x.jpg.part", "Thumbs.db",
                                     "$RECYCLE.BIN/x.jpg", "sub/.hidden.jpg"])
def test_requeue_refuses_a_record_that_names_a_place_the_inbox_ignores(tmp_path, file_as):
    """A record asking for a hidden or ignored name put the file where the inbox never takes
    it (said "requeued", then nothing), or into a folder of the daemon's kept inside the inbox
    under a hidden name (output: inbox/.out, state_dir: inbox/.state): an attack round."""
    folder = make_folder(tmp_path / "var")
    planted = plant_failure(folder.failed, "evil.jpg", file_as)
    with pytest.raises(HotfolderError, match="where the inbox never takes a file"):
        moves.requeue(folder, planted)
    assert planted.read_bytes() == b"planted" and tree(folder.inbox) == {}


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
    assert "inbox" in folders.swapped_folder(folder)
    put_back(folder.inbox, aside)
    assert folders.swapped_folder(folder) is None
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


@pytest.mark.parametrize("fast", [True, False], ids=["openat2", "walk"])
def test_open_dir_refuses_a_link_at_any_depth_whether_by_openat2_or_by_the_walk(tmp_path, monkeypatch, fast):
    real = tmp_path / "real" / "deep"
    real.mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.setattr(nofollow._openat2, "usable", fast)
    fd = nofollow.open_dir(real)
    try:
        assert os.fstat(fd).st_ino == real.stat().st_ino
    finally:
        os.close(fd)
    for through in (tmp_path / "link", tmp_path / "link" / "deep"):
        with pytest.raises(nofollow.FolderSwapped) as refused:
            nofollow.open_dir(through)
        assert refused.value.link == tmp_path / "link"
    assert nofollow._openat2.usable is fast  # a refusal is the walk's to explain, not a reason to stop using openat2
    with pytest.raises(ValueError):
        nofollow.open_dir(Path(f"{real}\0/etc"))  # never cut short at the NUL (C would open `real`)
    made = tmp_path / "new" / "folders"
    os.close(nofollow.open_dir(made, make=True))
    assert made.is_dir()


def test_this_kernel_opens_folders_by_openat2():
    """The fast path is the one in use here (Linux >= 5.6), not a fallback nobody runs."""
    assert nofollow._openat2.usable
    fd = nofollow._openat2.open_dir(os.fsencode(Path(__file__).parent))
    assert fd is not None
    os.close(fd)
