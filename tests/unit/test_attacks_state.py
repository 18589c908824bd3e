"""The third attack round (issue 20), on the daemon's state, as the config and spool see
it: folders that feed each other in a cycle, folders inside processing/, another folder's
inbox or failed/, state_dir inside an inbox, the name records in state_dir. (On a running
daemon: tests/integration/test_attacks_state.py; the count of a large failed/:
tests/process/test_attacks_state.py.)
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from hotfolder.config import load, model
from tests.harness import check_config, folder_yaml, write_config


def line_of(path: Path, text: str, nth: int = 0) -> int:
    return [i + 1 for i, line in enumerate(path.read_text().splitlines()) if line.strip() == text][nth]


def problems_of(path: Path) -> list:
    with pytest.raises(model.ConfigError) as info:
        load(path)
    return list(info.value.problems)


# ---------------------------------------------------------------- 11. cycles of folders

def test_two_folders_whose_outputs_are_each_others_inboxes_are_refused(tmp_path):
    """They used to pass check-config and render exponentially until the disk was full."""
    path = write_config(tmp_path, folder_yaml("a", output="b/inbox"), folder_yaml("b", output="a/inbox"))
    proc = check_config(path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    where = f"{path}:{line_of(path, 'output: b/inbox')}:5: folders[a].output: "
    assert where in proc.stderr, proc.stderr
    for said in ("folders[a].output", "folders[b].output", "folders[b].inbox", "folders[a].inbox",
                 "feed each other in a cycle", "point one of"):
        assert said in proc.stderr, (said, proc.stderr)


def test_a_cycle_through_three_folders_and_nested_paths_is_refused_once(tmp_path):
    # a writes into a subfolder of b's inbox; b's output holds c's inbox; c's archive is a's inbox
    path = write_config(tmp_path, folder_yaml("a", output="b/inbox/from-a"),
                        folder_yaml("b", output="shared", inbox="b/inbox"),
                        folder_yaml("c", inbox="shared/c-in", archive="a/inbox"))
    found = problems_of(path)
    assert len(found) == 1, found
    problem = found[0]
    assert (problem.key, problem.line) == ("folders[a].output", line_of(path, "output: b/inbox/from-a"))
    for said in ("folders[a].output", "lies inside folders[b].inbox", "folders[b].output",
                 "holds folders[c].inbox", "folders[c].archive", "is folders[a].inbox", "'a', 'b', 'c'"):
        assert said in problem.reason, (said, problem.reason)


# ---------------------------------------------------------------- 12. folders inside processing/

@pytest.mark.parametrize("key", ["output", "archive", "failed"])
def test_a_folder_inside_processing_is_refused(tmp_path, key):
    """Every restart used to adopt what lay there (the outputs) as originals."""
    path = write_config(tmp_path, folder_yaml("a", **{key: "a/processing/sub"}))
    proc = check_config(path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    where = f"{path}:{line_of(path, f'{key}: a/processing/sub')}:5: folders[a].{key}: "
    assert where in proc.stderr, proc.stderr
    assert "lies inside the processing" in proc.stderr and "adopted and rendered again as an original" in proc.stderr


# ---------------------------------------------------------------- issue 26, 1: across folders

def test_nestings_that_make_an_end_ambiguous_are_refused_each_with_its_reason(tmp_path):
    path = write_config(
        tmp_path,
        folder_yaml("a"),
        folder_yaml("b", failed="a/failed/b"),  # a would list, count and requeue b's failures
        folder_yaml("c", failed="a/failed"),  # one failed/ for two folders: whose is each file?
        folder_yaml("d", processing="a/output/d"),  # a's outputs for inbox/d/ would be adopted by d
        folder_yaml("e", archive="a/output/e"),  # an output could replace an archived original
        folder_yaml("f", output="a/output", archive="a/archive"),  # shared: names are owned, archives never overwrite
        folder_yaml("g", failed="a/inbox/.g-failed"),  # in an inbox under a name it ignores: never taken
    )
    found = {p.key: p for p in problems_of(path)}
    assert sorted(found) == ["folders[b].failed", "folders[c].failed", "folders[d].processing",
                             "folders[e].archive"], found
    assert found["folders[b].failed"].line == line_of(path, "failed: a/failed/b")
    assert "lies inside folders[a].failed" in found["folders[b].failed"].reason
    assert "requeued as a failure of folder 'a'" in found["folders[b].failed"].reason
    assert "is folders[a].failed" in found["folders[c].failed"].reason
    assert "would land in it and be adopted and rendered again as an original of folder 'd'" \
        in found["folders[d].processing"].reason
    assert "replace it (on_name_clash: replace)" in found["folders[e].archive"].reason
    for problem in found.values():
        assert "give" in problem.reason and "a folder of its own" in problem.reason


def test_a_folder_inside_another_folders_inbox_is_a_config_error(tmp_path):
    """(An output there is a chain, allowed unless it cycles: tests/integration/test_attacks_state.py.)"""
    from hotfolder.config import model, parse

    text = f"""
folders:
  - name: a
    inbox: {tmp_path}/a/inbox
    output: {tmp_path}/a/output
    archive: {tmp_path}/a/archive
    failed: {tmp_path}/a/failed
    renditions: [{{name: web, size: 100}}]
  - name: b
    inbox: {tmp_path}/b/inbox
    output: {tmp_path}/b/output
    archive: {tmp_path}/b/archive
    failed: {tmp_path}/a/inbox/b-failed
    renditions: [{{name: web, size: 100}}]
"""
    with pytest.raises(model.ConfigError) as err:
        parse(text, str(tmp_path / "c.yaml"), tmp_path)
    assert err.value.key == "folders[b].failed" and "inside folders[a].inbox" in err.value.reason
    assert "taken as input by folder 'a'" in err.value.reason


# ---------------------------------------------------------------- 15. state_dir/names

def test_an_output_of_unknown_owner_is_kept_or_replaced_as_on_name_clash_says(tmp_path):
    """No record and an output there: which original wrote it cannot be known (the file
    says nothing of it, and a.jpg and a.png make the same name): it is another's."""
    from hotfolder.spool import owners as names

    path = write_config(tmp_path, folder_yaml("a"))
    folder = load(path).folders[0]
    folder.output.mkdir(parents=True)
    made = folder.output / "a_web.jpg"
    made.write_bytes(b"written before the records, or their record deleted")
    assert names.reserve(folder, "a.jpg", [made]) == [folder.output / "a_web~jpg.jpg"]
    import dataclasses

    with pytest.raises(names.NameClash) as clash:
        names.reserve(dataclasses.replace(folder, on_name_clash="fail"), "a.png", [made])
    assert "which original wrote it is not known" in str(clash.value) and "remove or rename that output" \
        in str(clash.value)
    assert names.reserve(dataclasses.replace(folder, on_name_clash="replace"), "a.png", [made]) == [made]
    free = folder.output / "b_web.jpg"
    assert names.reserve(folder, "b.jpg", [free]) == [free], "a name with no output is free"


def made_long_ago(names, folder, output: Path) -> None:
    """Its marker made before RESERVED_FOR: no write of its output can be under way."""
    then = time.time() - names.RESERVED_FOR - 60
    os.utime(names._marker(folder.names_dir, output), (then, then), follow_symlinks=False)


def test_a_prune_keeps_the_records_of_outputs_there_and_of_files_being_rendered(tmp_path):
    from hotfolder.spool import owners as names

    path = write_config(tmp_path, folder_yaml("a"))
    folder = load(path).folders[0]
    for d in folder.all_dirs():
        d.mkdir(parents=True)
    out = folder.output
    (out / "sub").mkdir()
    names.reserve(folder, "sub/kept.jpg", [out / "sub" / "kept_web.jpg"])
    (out / "sub" / "kept_web.jpg").write_bytes(b"an output")
    names.reserve(folder, "gone.jpg", [out / "gone_web.jpg"])  # its output was taken away...
    made_long_ago(names, folder, out / "gone_web.jpg")  # ...after it was written
    (folder.processing / "busy.jpg").write_bytes(b"being rendered")
    names.reserve(folder, "busy.jpg", [out / "busy_web.jpg"])  # reserved, not written yet
    leftover = next((folder.names_dir).glob("??")) / ".0123abcd.4242"  # a crash between symlink and rename
    os.symlink("x", leftover)
    names.reserve(folder, "w.jpg", [out / "w_web.jpg"], source=tmp_path / "batch" / "w.jpg")
    # ^ `process` writing its output now: not in processing/, its marker just made: kept
    pruned = names.prune((folder,))
    # Two markers a name (its own and its name in any case: owners.folded), kept or removed together
    assert (pruned.kept, pruned.removed) == (6, 3), pruned
    assert not os.path.lexists(leftover)
    # the kept records still say whose each name is
    assert names.reserve(folder, "busy.png", [out / "busy_web.jpg"]) == [out / "busy_web~png.jpg"]
    assert names.reserve(folder, "sub/kept.png", [out / "sub" / "kept_web.jpg"]) == \
        [out / "sub" / "kept_web~png.jpg"]
    # and the pruning runs again only after as many files as it kept records (PRUNE_AFTER at least)
    for made in (out / "busy_web~png.jpg", out / "sub" / "kept_web~png.jpg", out / "w_web.jpg"):
        made_long_ago(names, folder, made)
    pruning = names.Pruning()
    again = pruning.run(load(path), rendered=0)
    assert (again.kept, again.removed) == (4, 6)  # the ~png two and w's: no output, owners not rendering
    assert pruning.next_at == names.PRUNE_AFTER


def test_a_prune_long_enough_to_pause_a_start_is_said_even_when_it_removed_nothing(tmp_path, monkeypatch):
    """At 100,000 outputs the prune at start holds the loop ~1.3 s before `ready`; with nothing
    to remove it was said at debug only, so the pause had no line at the default level."""
    from hotfolder.runtime.console import ConsoleRenderer
    from hotfolder.spool import owners as names

    path = write_config(tmp_path, folder_yaml("a"))
    folder = load(path).folders[0]
    for d in folder.all_dirs():
        d.mkdir(parents=True)
    names.reserve(folder, "kept.jpg", [folder.output / "kept_web.jpg"])
    (folder.output / "kept_web.jpg").write_bytes(b"an output")

    class Said:  # the two levels when_due chooses between
        def __init__(self):
            self.lines: list[tuple[str, str, dict]] = []

        def info(self, event, **fields):
            self.lines.append(("info", event, fields))

        def debug(self, event, **fields):
            self.lines.append(("debug", event, fields))

    quick = Said()
    names.Pruning().when_due(load(path), 0, quick)
    assert [(level, event) for level, event, _ in quick.lines] == [("debug", "names_pruned")]
    monkeypatch.setattr(names, "SAID_AFTER", 0.0)  # every prune is "long"
    slow = Said()
    names.Pruning().when_due(load(path), 0, slow)
    ((level, event, fields),) = slow.lines
    assert (level, event, fields["removed"], fields["kept"]) == ("info", "names_pruned", 0, 2)
    line = ConsoleRenderer(verbose=False)(None, "info", {"level": "info", "event": event, **fields})
    assert "checked the owners of 2 output name record(s) against the outputs in" in line, line
    assert "none to forget" in line and "forgot" not in line, line


def test_a_state_dir_inside_an_inbox_is_refused(tmp_path):
    """Its status.json would be taken as input every second, and its name records (symlinks)
    refused into failed/, leaving every output unowned."""
    path = write_config(tmp_path, folder_yaml("a"))
    path.write_text(path.read_text().replace("state_dir: state", "state_dir: a/inbox/state"))
    proc = check_config(path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{path}:1:1: state_dir: " in proc.stderr, proc.stderr
    assert "lies inside folders[a].inbox" in proc.stderr and "taken as input by folder 'a'" in proc.stderr
    for fine in (".", "a/inbox/.state"):  # holding the folders, or in the inbox under a name it ignores
        path.write_text(path.read_text().replace("state_dir: a/inbox/state", f"state_dir: {fine}"))
        assert check_config(path).returncode == 0, fine
        path.write_text(path.read_text().replace(f"state_dir: {fine}", "state_dir: a/inbox/state"))


def test_a_state_dir_whose_name_holds_a_hash_or_question_mark_is_the_database_opened(tmp_path):
    """SQLite reads `file:…/st#1/hotfolder.db?mode=rw` as a fragment: a command's read-only and
    write-existing opens (rerender, explain) opened, and made, an empty database at `…/st`,
    and rerender's notes never reached the index (a review)."""
    from hotfolder.state import db

    for name in ("st#1", "st?x=1", "st%20"):
        state = tmp_path / name
        conn = db.connect(state)
        with db.transaction(conn):
            conn.execute("CREATE TABLE t (v INTEGER)")
            conn.execute("INSERT INTO t VALUES (7)")
        conn.close()
        with db.read_only(state) as ro:
            assert ro is not None and ro.execute("SELECT v FROM t").fetchall() == [(7,)]
        with db.existing(state) as rw:
            assert rw is not None
            rw.execute("INSERT INTO t VALUES (8)")
        with db.read_only(state) as ro:
            assert ro is not None and ro.execute("SELECT v FROM t").fetchall() == [(7,), (8,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["st#1", "st%20", "st?x=1"]


def test_tables_a_newer_hotfolder_took_further_are_never_migrated_or_written(tmp_path):
    """A downgrade, met by any process that opens a part (a worker's `{seq}`, a command):
    refused with what to do, the tables left as the newer version wrote them."""
    from hotfolder.state import db

    conn = db.connect(tmp_path)
    steps = ("CREATE TABLE t (a INTEGER)", "ALTER TABLE t ADD COLUMN b INTEGER")
    db.ensure(conn, "part", steps)
    with pytest.raises(db.StateTooNew, match=r"its 'part' tables are at version 2; hotfolder .* knows up to 1\)"):
        db.ensure(conn, "part", steps[:1])
    with pytest.raises(db.StateTooNew):
        db.refuse_newer(tmp_path, {"part": steps[:1]})
    db.refuse_newer(tmp_path, {"part": steps, "another": ()})  # the same or an older version: goes on
    db.refuse_newer(tmp_path / "none", {"part": steps})  # no database yet: nothing to refuse
    assert not (tmp_path / "none").exists()
    assert db.version(conn, "part") == 2


def test_a_seq_counter_of_a_newer_database_is_refused_at_every_number_not_only_the_first(tmp_path):
    """LocalNumbers kept its connection before the version check: the first file of a
    worker was refused, the next one took a number from (and wrote) the newer tables."""
    from hotfolder.recipes import sequence
    from hotfolder.state import db

    conn = db.connect(tmp_path)
    db.ensure(conn, sequence.PART, sequence.MIGRATIONS)
    conn.execute("UPDATE schema SET version = ? WHERE part = ?", (len(sequence.MIGRATIONS) + 1, sequence.PART))
    numbers = sequence.LocalNumbers(tmp_path)
    for _ in range(2):
        with pytest.raises(db.StateTooNew):
            numbers.next_number("f")
    assert conn.execute("SELECT count(*) FROM sequence").fetchone() == (0,), "nothing written"
