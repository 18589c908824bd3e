"""A name's earlier photo the index no longer knows keeps its outputs (spool/owners.reserve_new),
and a file rendered again after a kill replaces its own outputs: never a second set (a review
of the first: the re-render of a different photo under a used name took `a_web~3.jpg`)."""
from __future__ import annotations

import os
import textwrap

from hotfolder import jobs
from hotfolder.config import load
from hotfolder.workers import render
from tests.harness import wait_for
from tests.same_photos import jpeg, scene, shot


def _folder(tmp_path):
    (tmp_path / "h.yaml").write_text(textwrap.dedent("""\
        state_dir: state
        folders:
          - inbox: in
            output: out
            archive: archive
            failed: failed
            renditions:
              - {name: web, size: 300, format: jpeg}
        """))
    cfg = load(tmp_path / "h.yaml")
    folder = cfg.folders[0]
    for place in folder.all_dirs():
        place.mkdir(parents=True, exist_ok=True)
    return cfg, folder


def _drop(path, data: bytes) -> None:
    """The original written, then the file system's clock past its change: an output written
    in the same tick as the claim (a coarse clock: 4-10 ms) counts as an earlier photo's, the
    safe side (spool/owners._earlier_photos), and a fast render landed there once (a fresh
    clone's run: `a_web~3.jpg`, a second set)."""
    path.write_bytes(data)
    claimed = os.stat(path).st_ctime_ns
    probe = path.with_name(".tick")

    def past() -> bool:
        probe.write_bytes(b"")
        return os.stat(probe).st_mtime_ns > claimed

    wait_for(past, 5, what="the file system's clock past the original's change")
    probe.unlink()


def _render(cfg, folder, job_id: int):
    return render.process_one(jobs.Job(job_id, folder, folder.processing / "a.jpg", "a.jpg", cfg.accepted_formats,
                                       cfg.max_image_pixels))


def test_a_file_rendered_again_after_a_kill_replaces_its_own_outputs(tmp_path):
    cfg, folder = _folder(tmp_path)
    _drop(folder.processing / "a.jpg", jpeg(shot(scene("astronaut")), 92))
    assert _render(cfg, folder, 1).ok
    first = (folder.output / "a_web.jpg").read_bytes()
    os.rename(folder.processing / "a.jpg", folder.archive / "a.jpg")
    _drop(folder.processing / "a.jpg", jpeg(shot(scene("coffee")), 92))  # another photo, the same name
    assert _render(cfg, folder, 2).outputs == ("a_web~2.jpg",)
    # killed between the record and the archive (or the outputs and the record): rendered again
    assert _render(cfg, folder, 3).outputs == ("a_web~2.jpg",)
    assert sorted(os.listdir(folder.output)) == ["a_web.jpg", "a_web~2.jpg"]
    assert (folder.output / "a_web.jpg").read_bytes() == first


def test_a_first_drop_rendered_again_after_a_kill_replaces_its_own_outputs(tmp_path):
    cfg, folder = _folder(tmp_path)
    _drop(folder.processing / "a.jpg", jpeg(shot(scene("astronaut")), 92))
    assert _render(cfg, folder, 1).outputs == ("a_web.jpg",)
    for path in (folder.state_dir).glob("hotfolder.db*"):  # as if killed before its record: the index knows nothing
        path.unlink()
    assert _render(cfg, folder, 2).outputs == ("a_web.jpg",)
    assert sorted(os.listdir(folder.output)) == ["a_web.jpg"]


def _given_back(folder) -> None:
    """As the supervisor gives a rendered file back when its archive move fails (archive/ not
    writable): to the inbox and claimed again, each a rename, past the clock's tick."""
    os.rename(folder.processing / "a.jpg", folder.inbox / "a.jpg")
    os.rename(folder.inbox / "a.jpg", folder.processing / "a.jpg")
    claimed = os.stat(folder.processing / "a.jpg").st_ctime_ns
    probe = folder.processing / ".tick"

    def past() -> bool:
        probe.write_bytes(b"")
        return os.stat(probe).st_mtime_ns > claimed

    wait_for(past, 5, what="the file system's clock past the claim")
    probe.unlink()


def test_a_file_given_back_after_its_render_replaces_its_own_outputs_on_each_retry(tmp_path):
    """An archive/ the daemon could not move into gave the rendered file back at each retry,
    and each retry wrote a new set (`a_web~2.jpg` … `~6`), logged as a different photo: its
    own earlier outputs, written before this claim, were taken for a forgotten photo's (an
    admin's report). The index knows this very file rendered before: they are its own."""
    cfg, folder = _folder(tmp_path)
    _drop(folder.processing / "a.jpg", jpeg(shot(scene("astronaut")), 92))
    assert _render(cfg, folder, 1).outputs == ("a_web.jpg",)
    for attempt in (2, 3):
        _given_back(folder)
        assert _render(cfg, folder, attempt).outputs == ("a_web.jpg",)
    os.rename(folder.processing / "a.jpg", folder.archive / "a.jpg")
    _drop(folder.processing / "a.jpg", jpeg(shot(scene("coffee")), 92))  # another photo, the same name
    assert _render(cfg, folder, 4).outputs == ("a_web~2.jpg",)
    _given_back(folder)
    assert _render(cfg, folder, 5).outputs == ("a_web~2.jpg",)
    assert sorted(os.listdir(folder.output)) == ["a_web.jpg", "a_web~2.jpg"]
