"""The third attack round (issue 20), on the daemon's state: folders that feed each
other in a cycle, folders inside processing/ or another folder's failed/, the name
records in state_dir, and the count of a large failed/.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from hotfolder.config import load, model
from tests.harness import files_under, wait_for

pytestmark = pytest.mark.integration


def jpeg(color=(200, 30, 30), size=(320, 240), fmt="JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def folder_yaml(name: str, **paths: str) -> str:
    """One folder of a config; each place under its own name unless given."""
    places = {key: f"{name}/{key}" for key in ("inbox", "output", "archive", "failed", "processing")}
    places.update(paths)
    lines = [f"  - name: {name}"] + [f"    {key}: {value}" for key, value in places.items()]
    return "\n".join(lines + ["    renditions: [{name: web, size: 100, format: jpeg}]"]) + "\n"


def write_config(root: Path, *folders: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "hotfolder.yaml"
    path.write_text("state_dir: state\nfolders:\n" + "".join(folders))
    return path


def check_config(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hotfolder", "check-config", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)


def line_of(path: Path, text: str, nth: int = 0) -> int:
    return [i + 1 for i, line in enumerate(path.read_text().splitlines()) if line.strip() == text][nth]


def problems_of(path: Path) -> list:
    with pytest.raises(model.ConfigError) as info:
        load.load(path)
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


def test_an_output_inside_another_folders_inbox_is_a_chain_that_is_served(daemon_factory):
    """A legitimate chain (b renders what a writes), refused before as a folder inside an inbox."""
    d = daemon_factory()
    d.config.write_text("state_dir: var/state\nfolders:\n"
                        + folder_yaml("a", output="var/b/inbox/from-a").replace("a/", "var/a/")
                        + folder_yaml("b").replace("b/", "var/b/"))
    assert check_config(d.config).returncode == 0
    d.start()
    (d.root / "var/a/inbox").mkdir(parents=True, exist_ok=True)
    (d.root / "var/a/inbox/x.jpg").write_bytes(jpeg())
    wait_for(lambda: files_under(d.root / "var/b/archive") == ["from-a/x_web.jpg"], 30, what="b to render a's output")
    assert files_under(d.root / "var/b/output") == ["from-a/x_web_web.jpg"]
    assert files_under(d.root / "var/a/archive") == ["x.jpg"]
    assert d.stop() == 0


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


# ---------------------------------------------------------------- 15. state_dir/names

RED, GREEN = (210, 20, 20), (20, 200, 20)


def colour_of(path: Path) -> tuple[int, int, int]:
    with Image.open(path) as im:
        return im.convert("RGB").resize((1, 1)).getpixel((0, 0))


def near(a, b, tol=12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def markers(state: Path) -> list[Path]:
    names = state / "names"
    return [p for p in names.rglob("*") if p.is_symlink()] if names.exists() else []


def drop(d, name: str, data: bytes) -> None:
    staging = d.root / "staging"
    staging.mkdir(exist_ok=True)
    (staging / name).write_bytes(data)
    (staging / name).rename(d.inbox / name)


def test_deleting_the_name_records_does_not_let_another_original_replace_an_output(daemon_factory):
    """With state_dir/names gone, y.png used to replace y.jpg's outputs silently."""
    d = daemon_factory().start()
    drop(d, "y.jpg", jpeg(RED))
    wait_for(lambda: files_under(d.archive) == ["y.jpg"], 30, what="y.jpg")
    assert d.stop() == 0
    import shutil

    shutil.rmtree(d.var / "state" / "names")
    d.start()
    drop(d, "y.png", jpeg(GREEN, fmt="PNG"))
    wait_for(lambda: len(files_under(d.archive)) == 2, 30, what="y.png")
    assert sorted(d.outputs()) == ["y_thumb.webp", "y_thumb~png.webp", "y_web.jpg", "y_web~png.jpg"]
    assert near(colour_of(d.output / "y_web.jpg"), RED), "y.jpg's output was replaced by another original's"
    assert near(colour_of(d.output / "y_web~png.jpg"), GREEN)
    assert d.stop() == 0


def test_an_output_of_unknown_owner_is_kept_or_replaced_as_on_name_clash_says(tmp_path):
    """No record and an output there: which original wrote it cannot be known (the file
    says nothing of it, and a.jpg and a.png make the same name): it is another's."""
    from hotfolder.spool import owners as names

    path = write_config(tmp_path, folder_yaml("a"))
    folder = load.load(path).folders[0]
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


def test_the_records_of_outputs_that_are_gone_are_pruned_at_start(daemon_factory):
    """One marker per output name ever written, never pruned: 40,000 after 20,000 files."""
    d = daemon_factory().start()
    for i in range(3):
        drop(d, f"p{i}.jpg", jpeg((60 * i, 30, 30)))
    wait_for(lambda: len(files_under(d.archive)) == 3, 30, what="three files")
    assert len(markers(d.var / "state")) == 6  # two renditions each
    assert d.stop() == 0
    for name in ("p0_web.jpg", "p0_thumb.webp", "p1_web.jpg"):  # a consumer took these away
        (d.output / name).unlink()
    d.start()
    pruned = wait_for(lambda: d.event("names_pruned"), 10, what="the prune at start")
    assert (pruned["kept"], pruned["removed"]) == (3, 3), pruned
    assert len(markers(d.var / "state")) == 3
    drop(d, "p1.png", jpeg(GREEN, fmt="PNG"))  # p1_web.jpg is free again; p1_thumb.webp is still p1.jpg's
    wait_for(lambda: len(files_under(d.archive)) == 4, 30, what="p1.png")
    assert {"p1_web.jpg", "p1_thumb~png.webp", "p1_thumb.webp"} <= set(d.outputs()), d.outputs()
    assert near(colour_of(d.output / "p1_web.jpg"), GREEN)
    assert d.stop() == 0


def test_a_prune_keeps_the_records_of_outputs_there_and_of_files_being_rendered(tmp_path):
    from hotfolder.spool import owners as names

    path = write_config(tmp_path, folder_yaml("a"))
    folder = load.load(path).folders[0]
    for d in folder.all_dirs():
        d.mkdir(parents=True)
    out = folder.output
    (out / "sub").mkdir()
    names.reserve(folder, "sub/kept.jpg", [out / "sub" / "kept_web.jpg"])
    (out / "sub" / "kept_web.jpg").write_bytes(b"an output")
    names.reserve(folder, "gone.jpg", [out / "gone_web.jpg"])  # its output was taken away
    (folder.processing / "busy.jpg").write_bytes(b"being rendered")
    names.reserve(folder, "busy.jpg", [out / "busy_web.jpg"])  # reserved, not written yet
    leftover = next((folder.names_dir).glob("??")) / ".0123abcd.4242"  # a crash between symlink and rename
    os.symlink("x", leftover)
    pruned = names.prune((folder,))
    assert (pruned.kept, pruned.removed) == (2, 2), pruned
    assert not os.path.lexists(leftover)
    # the kept records still say whose each name is
    assert names.reserve(folder, "busy.png", [out / "busy_web.jpg"]) == [out / "busy_web~png.jpg"]
    assert names.reserve(folder, "sub/kept.png", [out / "sub" / "kept_web.jpg"]) == \
        [out / "sub" / "kept_web~png.jpg"]
    # and the pruning runs again only after as many files as it kept records (PRUNE_AFTER at least)
    pruning = names.Pruning()
    again = pruning.run(load.load(path), rendered=0)
    assert (again.kept, again.removed) == (2, 2)  # the ~png two: no output, their owners not rendering
    assert pruning.next_at == names.PRUNE_AFTER


# ---------------------------------------------------------------- 16. a large failed/

def test_a_failure_costs_no_walk_of_a_large_failed_folder(tmp_path, monkeypatch):
    """Each failure used to walk all of failed/ again (150,000 files: a full core). Now the
    ledger's own moves keep the count and the page's list, and failed/ is walked at the
    first look, and again only when something else changed it."""
    import json
    import threading

    from hotfolder.jobs import Result
    from hotfolder.supervisor.service import Service
    from hotfolder.workers.pool import LocalPool

    config = load.load(write_config(tmp_path, folder_yaml("a")))
    folder = config.folders[0]
    for d in folder.all_dirs():
        d.mkdir(parents=True)
    n = 2000
    for i in range(n):
        original = folder.failed / f"day{i % 30}" / f"old{i}.jpg"
        original.parent.mkdir(exist_ok=True)
        original.write_bytes(b"x")
        original.with_name(original.name + ".error.json").write_text(json.dumps({"error": "old", "step": "decode"}))
    service = Service(config, LocalPool(1, 2, 60, log_level="error"))
    reads = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path=".": reads.append(path) or real_scandir(path))

    assert service.status().in_failed == n  # the one walk at start
    assert len(reads) == 31  # failed/ and its 30 subfolders
    for i in range(5):
        (folder.inbox / f"bad{i}.jpg").write_bytes(b"not an image")
        job = service.ledger.claim(folder, folder.inbox / f"bad{i}.jpg")
        service.ledger.settle(job, Result(job.id, False, error="cannot identify image file", step="decode"))
        reads.clear()
        assert service.status().in_failed == n + i + 1
        assert reads == [], f"failure {i} walked failed/ again: {len(reads)} folders read"
        assert service.ops.failed.files[0].file == f"bad{i}.jpg"  # listed first, for the page
    # a requeue from the page: uncounted and unlisted, no walk either
    newest = service.ops.failed.files[0]
    asked = {}
    asker = threading.Thread(target=lambda: asked.update(outcome=service.ops.request_requeue(newest.id)))
    asker.start()
    wait_for(lambda: service.ops.serve(stopping=False) or not asker.is_alive(), 10, what="the requeue")
    asker.join(10)
    assert asked["outcome"].ok, asked
    assert (folder.inbox / "bad4.jpg").exists()
    reads.clear()
    assert service.status().in_failed == n + 4 and reads == []
    assert newest.id not in {f.id for f in service.ops.failed.files}
    # someone else's change (a hand, `hotfolder requeue`) is seen: one walk puts the count right
    (folder.failed / "bad0.jpg").unlink()
    (folder.failed / "bad0.jpg.error.json").unlink()
    wait_for(lambda: service.status().in_failed == n + 3, 10, what="the count to follow a change by hand")
    assert service.ops.failed.walks == 2  # the one at start, and this one


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
