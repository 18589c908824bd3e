"""supervisor/in_line: claims kept in line in processing/, submitted again when due."""
from __future__ import annotations

from pathlib import Path

from hotfolder.config.model import Folder, Rendition
from hotfolder.jobs import Job
from hotfolder.supervisor.in_line import InLine


def folder(name: str) -> Folder:
    root = Path("/srv") / name
    return Folder(name=name, inbox=root / "inbox", output=root / "output", failed=root / "failed",
                  processing=root / "processing", archive=root / "archive",
                  renditions=(Rendition(name="web", width=64, height=64, format="jpeg"),))


def job(job_id: int, f: Folder, rel: str) -> Job:
    return Job(job_id, f, f.processing / rel, rel, ("jpeg",), 10**8)


def test_due_jobs_leave_in_the_order_kept_up_to_the_limit():
    line, a = InLine(), folder("a")
    for i, rel in enumerate(["x.jpg", "y.jpg", "z.jpg"], 1):
        line.keep(job(i, a, rel))
    assert [j.rel for j in line.due(0.0, lambda name: True, 2)] == ["x.jpg", "y.jpg"]
    assert [j.rel for j in line.due(0.0, lambda name: True, 5)] == ["z.jpg"]
    assert line.due(0.0, lambda name: True, 5) == [], "each leaves once"


def test_a_held_job_waits_for_its_time_and_a_release_lets_it_go_now():
    line, a = InLine(), folder("a")
    line.keep(job(1, a, "held.jpg"))
    line.keep(job(2, a, "free.jpg"))
    line.hold(job(1, a, "held.jpg"), until=100.0)
    assert [j.rel for j in line.due(50.0, lambda name: True, 5)] == ["free.jpg"]
    assert [j.rel for j in line.due(99.0, lambda name: True, 5)] == []
    line.release("a", "held.jpg")
    assert [j.id for j in line.due(99.0, lambda name: True, 5)] == [1]


def test_a_paused_folder_keeps_its_jobs_and_the_others_go():
    line, a, b = InLine(), folder("a"), folder("b")
    line.keep(job(1, a, "p.jpg"))
    line.keep(job(2, b, "p.jpg"))
    assert [j.id for j in line.due(0.0, lambda name: name != "a", 5)] == [2]
    assert [j.id for j in line.due(0.0, lambda name: True, 5)] == [1]


def test_hold_and_release_of_a_file_not_kept_change_nothing():
    line, a = InLine(), folder("a")
    line.hold(job(1, a, "gone.jpg"), until=10.0)
    line.release("a", "gone.jpg")
    assert line.due(0.0, lambda name: True, 5) == []
