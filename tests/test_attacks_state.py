"""The third attack round (issue 20), on the daemon's state: folders that feed each
other in a cycle, folders inside processing/ or another folder's failed/, the name
records in state_dir, and the count of a large failed/.
"""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from hotfolder import config as config_mod
from PIL import Image

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
    with pytest.raises(config_mod.ConfigError) as info:
        config_mod.load(path)
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
