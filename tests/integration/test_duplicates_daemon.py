"""Issue 23's "Done when", with the real daemon: a studio drops a card twice, a resized and
recompressed copy of a photo, the same photo stored turned (EXIF), and a second shot of the
scene. The copy is skipped with a record naming the first, the resized and the turned ones are
flagged, the second shot is rendered as itself; after a restart the same holds, and after the
database is deleted (rebuilt from the archive, with a warning)."""
from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.harness import files_under, hotfolder, http_url, wait_for
from tests.same_photos import card, jpeg, scene, shot

pytestmark = pytest.mark.integration

CARD = ("astronaut", "coffee", "chelsea")


class Webhook:
    """A real HTTP endpoint for `notify:`: the events of every POST it received."""

    def __init__(self):
        self.events: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.events += json.loads(body)["events"]
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def _card_files() -> dict[str, bytes]:
    """The card: three photos of three scenes."""
    return {f"{which}.jpg": jpeg(shot(scene(which))) for which in CARD}


def _drop(d, rel: str, data: bytes) -> None:
    """Written beside the inbox and renamed in, as a copy tool does."""
    staging = d.root / "staging" / rel
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.write_bytes(data)
    target = d.inbox / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)


def _originals(root) -> list[str]:
    """The originals under a folder of records (duplicates/, failed/): not the records, nor a
    record still under its temp name (`.hf-…`, renamed after the original is moved)."""
    return [p for p in files_under(root) if not p.endswith(".json") and not p.rpartition("/")[2].startswith(".hf-")]


def _ended(d) -> int:
    return len(files_under(d.archive)) + len(_originals(d.var / "duplicates")) + len(_originals(d.failed))


def _settled(d, n: int) -> bool:
    """`n` originals at their end, each skipped one with its record and its line: the ledger
    moves the original, renames its record, syncs, then says `file_skipped` (a flaky-test
    hunt: a test read the record or the line in between, with a delay put there)."""
    skipped = _originals(d.var / "duplicates")
    return (_ended(d) >= n and not files_under(d.processing)
            and all((d.var / "duplicates" / f"{o}.duplicate.json").exists() for o in skipped)
            and not any(p.rpartition("/")[2].startswith(".hf-") for p in files_under(d.var / "duplicates"))
            and len(d.events("file_skipped")) >= len(skipped))


def _settle(d, n: int) -> None:
    wait_for(lambda: _settled(d, n), 60, what=f"{n} originals at their end, with their records")


def _record(d, rel: str) -> dict:
    return json.loads((d.var / "duplicates" / (rel + ".duplicate.json")).read_text())


def _found(d) -> dict[str, dict]:
    out = subprocess.run([sys.executable, "-m", "hotfolder", "duplicates", "--json", "--config", str(d.config)],
                         capture_output=True, text=True, timeout=60, cwd=d.root)
    assert out.returncode == 0, out.stderr
    return {f"{f['folder']}/{f['file']}": f for f in json.loads(out.stdout)}


def test_a_studio_drop_is_known_by_content_across_restarts_and_a_lost_database(daemon_factory, webhook):
    extra = (f"http: {{listen: '127.0.0.1:0'}}\nnotify_interval: 1\n"
             f"notify: [{{url: '{webhook.url}', events: [duplicate, similar]}}]")
    d = daemon_factory(extra=extra, on_duplicate=None).start()  # the folder's defaults
    photos = card("astronaut")
    for name, data in _card_files().items():
        _drop(d, f"card1/{name}", data)
    _settle(d, 3)
    for name, data in _card_files().items():  # the card copied a second time
        _drop(d, f"card2/{name}", data)
    _drop(d, "edits/resized.jpg", photos["resized"])
    _drop(d, "edits/turned.jpg", photos["turned"])
    _drop(d, "edits/second.jpg", photos["second"])
    _settle(d, 9)

    # The copy: skipped, never rendered, with a record naming the first and its outputs.
    assert files_under(d.var / "duplicates") == sorted(
        [f"card2/{n}" for n in _card_files()] + [f"card2/{n}.duplicate.json" for n in _card_files()])
    record = _record(d, "card2/astronaut.jpg")
    assert record["kind"] == "exact" and record["matched"]["name"] == "card1/astronaut.jpg"
    assert record["matched"]["archived"] == "card1/astronaut.jpg"
    assert record["matched"]["outputs"] == ["card1/astronaut_web.jpg", "card1/astronaut_thumb.webp"]
    assert not [o for o in d.outputs() if o.startswith("card2/")]
    # The resized and the turned copies: flagged (rendered, and recorded with what they resemble).
    found = _found(d)
    for name in ("resized", "turned"):
        f = found[f"test/edits/{name}.jpg"]
        assert f["action"] == "rendered" and f["matched"]["kind"] == "similar", f
        assert f["matched"]["name"] == "card1/astronaut.jpg" and f["matched"]["bits"] <= 6
        assert f"edits/{name}_web.jpg" in d.outputs()
    # The second shot of the scene: rendered as itself, nothing found.
    assert "test/edits/second.jpg" not in found and "edits/second_web.jpg" in d.outputs()
    assert found["test/card2/coffee.jpg"]["action"] == "skipped"
    # Everywhere the admin looks: the status, /metrics.
    # The whole count: a snapshot of the second before can have the 3 copies and 1 look-alike
    # (the copies are counted when skipped, look-alikes when archived; a flaky-test hunt).
    wait_for(lambda: d.status_json()["folders"]["test"]["duplicates"] == {"exact": 3, "similar": 2,
                                                                          "passed_through": 0}, 10,
             what="the status's duplicate counts")
    metrics = urllib.request.urlopen(http_url(d) + "/metrics", timeout=10).read().decode()
    assert 'hotfolder_duplicates_total{folder="test",kind="exact"} 3.0' in metrics
    assert 'hotfolder_duplicates_total{folder="test",kind="similar"} 2.0' in metrics
    page = urllib.request.urlopen(http_url(d) + "/", timeout=10).read().decode()
    assert '<td class="n dup-exact">3</td>' in page and '<td class="n dup-similar">2</td>' in page
    assert "skipped: the same bytes as test/card1/astronaut.jpg" in page  # the Done list says why
    human = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(d.config)],
                           capture_output=True, text=True, timeout=60).stdout
    assert "duplicates 3 " in " ".join(human.split()), human
    events = wait_for(lambda: len(webhook.events) >= 5 and webhook.events, 20, what="the webhook's events")
    kinds = sorted((e["event"], e["file"]) for e in events)
    assert kinds == sorted([("duplicate", f"card2/{n}") for n in _card_files()]
                           + [("similar", "edits/resized.jpg"), ("similar", "edits/turned.jpg")]), kinds
    assert d.stop() == 0

    # After a restart the same holds.
    d.start()
    for name, data in _card_files().items():
        _drop(d, f"card3/{name}", data)
    _drop(d, "edits/resized-again.jpg", photos["resized"])  # the same bytes as edits/resized.jpg
    _settle(d, 13)
    assert _record(d, "card3/chelsea.jpg")["matched"]["name"] == "card1/chelsea.jpg"
    assert _record(d, "edits/resized-again.jpg")["matched"]["name"] == "edits/resized.jpg"
    assert d.stop() == 0

    # The database deleted: rebuilt from the archive, with a warning, and the same holds.
    for path in (d.var / "state").glob("hotfolder.db*"):
        path.unlink()
    # `duplicates` meanwhile reads nothing and makes no database: one it made was taken for
    # a new index, and the rebuild never came (an attack round)
    listed = hotfolder("duplicates", "--config", str(d.config))
    assert listed.returncode == 0 and "no photo found to repeat or resemble" in listed.stdout, (
        listed.stdout + listed.stderr)
    assert not list((d.var / "state").glob("hotfolder.db*")), "duplicates made a database"
    d.start()
    wait_for(lambda: d.event("index_rebuilt"), 60, what="the index rebuilt")
    assert d.event("index_rebuilding")["level"] == "warning"
    assert d.event("index_rebuilt")["indexed"] == 6  # card1's three, resized, turned, second
    for name, data in _card_files().items():
        _drop(d, f"card4/{name}", data)
    _drop(d, "edits/turned-again.jpg", jpeg(shot(scene("astronaut")).rotate(0), 80))  # a look-alike
    _settle(d, 17)
    assert _record(d, "card4/astronaut.jpg")["matched"]["archived"] == "card1/astronaut.jpg"
    assert _found(d)["test/edits/turned-again.jpg"]["action"] == "rendered"
    assert d.stop() == 0


def test_a_damaged_database_says_where_it_is_and_how_it_is_made_again(daemon_factory):
    """Random bytes over hotfolder.db's header: the daemon paused claiming again and again
    saying only "DatabaseError: file is not a database" (a review). Nothing is lost: the
    files wait; the reason names the file and the cure, and the cure works."""
    d = daemon_factory().start()
    _drop(d, "first.jpg", jpeg(shot(scene("astronaut")), 85))
    _settle(d, 1)
    assert d.stop() == 0
    db_file = d.var / "state" / "hotfolder.db"
    with open(db_file, "r+b") as f:
        f.write(bytes(range(7, 107)))
    d.start()
    _drop(d, "second.jpg", jpeg(shot(scene("coffee")), 85))
    said = wait_for(lambda: [e for e in d.events() if str(db_file) in str(e.get("reason", ""))], 30,
                    what="a reason naming the database")[0]
    assert "is damaged): stop the daemon, delete that file and start it again" in said["reason"], said
    assert "second.jpg" not in files_under(d.failed)
    assert d.stop() == 0
    for path in (d.var / "state").glob("hotfolder.db*"):
        path.unlink()
    d.start()
    wait_for(lambda: "second.jpg" in files_under(d.archive), 60, what="the waiting file, once the index is new")
    assert d.stop() == 0


def test_a_rebuild_reads_the_archived_originals_not_their_sidecars_or_videos(daemon_factory):
    """XMP sidecars archived beside their images and videos that pass through were counted
    as originals a rebuild could not read: `hotfolder index rebuild` exited 1 for every
    studio using sidecars (a new user's walkthrough)."""
    from tests import sources

    d = daemon_factory().start()
    _drop(d, "shoot/a.xmp", sources.xmp_packet(rating=4))
    _drop(d, "shoot/a.jpg", jpeg(shot(scene("astronaut")), 85))
    _drop(d, "shoot/clip.mp4", b"\0\0\0\x18ftypmp42 not really a video")
    wait_for(lambda: {"shoot/a.jpg", "shoot/a.xmp", "shoot/clip.mp4"} <= set(files_under(d.archive)), 60,
             what="the photo, its sidecar and the video archived")
    assert d.stop() == 0
    run = subprocess.run([sys.executable, "-m", "hotfolder", "index", "rebuild", "--config", str(d.config)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "unreadable" not in run.stdout + run.stderr or " 0 unreadable" in run.stdout + run.stderr


def test_a_rebuild_passes_over_a_link_and_a_file_that_is_no_image_and_counts_a_damaged_photo(daemon_factory,
                                                                                               tmp_path):
    """A README.txt put by hand in archive/ and a symbolic link there were counted as originals
    it could not read, and `hotfolder index rebuild` exited 1: a link is never followed, and a
    file that is no image is no original. Both are said apart (passed over, with why), and it
    exits 0; a damaged photo (a JPEG cut short) is still unreadable, and exits 1."""
    photo = jpeg(shot(scene("astronaut")), 85)
    d = daemon_factory().start()
    _drop(d, "shoot/a.jpg", photo)
    _settle(d, 1)
    assert d.stop() == 0
    (d.archive / "README.txt").write_text("the studio's archive: ask Anna before deleting\n")
    (tmp_path / "elsewhere.jpg").write_bytes(jpeg(shot(scene("coffee")), 85))
    (d.archive / "shoot" / "link.jpg").symlink_to(tmp_path / "elsewhere.jpg")

    def rebuild() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hotfolder", "index", "rebuild", "--config", str(d.config)],
                              capture_output=True, text=True, timeout=120)

    run = rebuild()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 unreadable" in run.stdout and "2 passed over (not originals: 1 symbolic link, 1 not an image)" in \
        run.stdout, run.stdout
    assert f"{d.archive / 'shoot' / 'link.jpg'}: a symbolic link: never followed" in run.stderr, run.stderr
    assert f"{d.archive / 'README.txt'}: not an image" in run.stderr, run.stderr
    (d.archive / "shoot" / "cut.jpg").write_bytes(photo[:200])  # cut short: its header, no picture
    run = rebuild()
    assert run.returncode == 1 and "1 unreadable" in run.stdout, run.stdout + run.stderr
    assert f"{d.archive / 'shoot' / 'cut.jpg'}: " in run.stderr, run.stderr


def test_the_daemon_s_rebuild_names_each_archived_file_it_cannot_read(daemon_factory):
    """`index_rebuild_skipped` gave only the reason: no file to act on (a new user's walkthrough)."""
    d = daemon_factory().start()
    _drop(d, "shoot/a.jpg", jpeg(shot(scene("astronaut")), 85))
    _settle(d, 1)
    assert d.stop() == 0
    (d.archive / "shoot" / "junk.jpg").write_bytes(b"not a picture")
    (d.archive / "README.txt").write_text("put by hand\n")  # no original: passed over, as `index rebuild` does
    (d.archive / "shoot" / "link.jpg").symlink_to(d.archive / "shoot" / "a.jpg")
    for path in (d.var / "state").glob("hotfolder.db*"):
        path.unlink()
    d.start()
    skipped = wait_for(lambda: d.event("index_rebuild_skipped"), 60, what="the unreadable archived file")
    assert (skipped["folder"], skipped["file"]) == ("test", "shoot/junk.jpg"), skipped
    wait_for(lambda: d.event("index_rebuilt"), 60, what="the rebuild's end")
    assert [e["file"] for e in d.events("index_rebuild_skipped")] == ["shoot/junk.jpg"]
    assert sorted((e["file"], e["reason"][:16]) for e in d.events("index_rebuild_passed_over")) == [
        ("README.txt", "not an image (ne"), ("shoot/link.jpg", "a symbolic link:")]
    assert (d.event("index_rebuilt")["unreadable"], d.event("index_rebuilt")["passed_over"]) == (1, 2)
    assert d.stop() == 0


CLIENTS = """
- name: web
  operation: fit
  size: 96x96
  format: jpeg
- name: client
  operation: fit
  size: 64x64
  format: jpeg
  filename: "{stem}_client.{ext}"
  when: {subfolder: "clients/*"}
"""


def test_the_same_photo_for_two_clients_is_two_deliveries_where_the_subfolder_chooses_the_renditions(
        daemon_factory):
    """A review: the studio's photo, then the same bytes for clients/bob and clients/alice, whose
    subfolder gives them a rendition of their own. With the folder's defaults (duplicate_scope:
    auto), each client got nothing before: their copies were skipped as duplicates of the
    studio's. A copy within one client's subfolder is still its duplicate."""
    d = daemon_factory(renditions=CLIENTS, on_duplicate=None).start()
    photo = jpeg(shot(scene("coffee")))
    _drop(d, "a.jpg", photo)
    _settle(d, 1)
    _drop(d, "clients/bob/a.jpg", photo)
    _settle(d, 2)
    _drop(d, "clients/alice/a.jpg", photo)
    _drop(d, "clients/bob/again/a.jpg", photo)  # not clients/*: no delivery of its own, the studio's duplicate
    _settle(d, 4)
    _drop(d, "clients/bob/a copy.jpg", photo)
    _settle(d, 5)
    outputs = d.outputs()
    for client in ("bob", "alice"):
        assert {f"clients/{client}/a_web.jpg", f"clients/{client}/a_client.jpg"} <= set(outputs), outputs
    assert "a_web.jpg" in outputs and not [o for o in outputs if o.startswith("clients/bob/again/")]
    assert files_under(d.var / "duplicates") == ["clients/bob/a copy.jpg", "clients/bob/a copy.jpg.duplicate.json",
                                                 "clients/bob/again/a.jpg", "clients/bob/again/a.jpg.duplicate.json"]
    assert _record(d, "clients/bob/a copy.jpg")["matched"]["name"] == "clients/bob/a.jpg"
    assert d.stop() == 0
    # `explain` foresees the same: a copy for carol would be rendered, one for bob skipped.
    copy = d.root / "card" / "a.jpg"
    copy.parent.mkdir()
    copy.write_bytes(photo)
    for client, skipped in (("carol", False), ("bob", True)):
        said = hotfolder("explain", "--config", str(d.config), "--subfolder", f"clients/{client}", str(copy))
        assert said.returncode == 0, said.stderr
        assert ("it would be skipped (on_duplicate: skip)" in said.stdout) == skipped, said.stdout
        # ...and says why carol's copy is no duplicate of the studio's (a new user did not foresee it)
        assert (f"copies of it count as duplicates only within clients/{client}/ (duplicate_scope: auto, and a "
                "rendition's `when: subfolder:` names it" in " ".join(said.stdout.split())), said.stdout
    said = hotfolder("explain", "--config", str(d.config), "--subfolder", "card", str(copy))
    assert "it would be skipped" in said.stdout and "count as duplicates only within" not in said.stdout, said.stdout
    # A skipped copy in duplicates/ is explained where it was dropped (it was read as dropped at
    # the inbox's top, its client's rendition excluded: a new user)
    said = hotfolder("explain", "--config", str(d.config), str(d.var / "duplicates" / "clients" / "bob" / "a copy.jpg"))
    assert "in its duplicates/, as it was dropped" in said.stdout and "it would be skipped" in said.stdout, said.stdout
    assert "subfolder clients/bob" in said.stdout and "applies: client" in said.stdout, said.stdout
    # ...under the name it came in with, which its record keeps (a review: a second copy lies there
    # as `a copy_1.jpg` and was explained as dropped under that name)
    second = d.var / "duplicates" / "clients" / "bob" / "a copy_1.jpg"
    second.write_bytes(photo)
    record = json.loads((d.var / "duplicates" / "clients" / "bob" / "a copy.jpg.duplicate.json").read_text())
    (second.parent / (second.name + ".duplicate.json")).write_text(json.dumps(record))
    said = hotfolder("explain", "--config", str(d.config), str(second))
    assert "(in its duplicates/, dropped as clients/bob/a copy.jpg)" in said.stdout, said.stdout
    # Rebuilt from archive/: each client's copy is known in its own subfolder (a review: the
    # rebuild indexed one of them, and a copy for the other would have been rendered again).
    for db in (d.var / "state").glob("hotfolder.db*"):
        db.unlink()
    rebuilt = hotfolder("index", "rebuild", "--config", str(d.config), timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    for where in ("clients/alice", "clients/bob", ""):
        said = hotfolder("explain", "--config", str(d.config), *(("--subfolder", where) if where else ()), str(copy))
        assert "it would be skipped (on_duplicate: skip)" in said.stdout, (where, said.stdout)


def test_without_a_subfolder_rule_a_copy_in_another_subfolder_is_a_duplicate_and_subfolder_scope_says_otherwise(
        daemon_factory):
    d = daemon_factory(renditions=CLIENTS.split("  when:")[0], on_duplicate=None).start()
    photo = jpeg(shot(scene("chelsea")))
    _drop(d, "card1/a.jpg", photo)
    _settle(d, 1)
    _drop(d, "card2/a.jpg", photo)
    _settle(d, 2)
    assert files_under(d.var / "duplicates") == ["card2/a.jpg", "card2/a.jpg.duplicate.json"]
    d.stop()
    e = daemon_factory(renditions=CLIENTS.split("  when:")[0], on_duplicate=None,
                       folder_extra="duplicate_scope: subfolder").start()
    _drop(e, "card1/a.jpg", photo)
    _settle(e, 1)
    _drop(e, "card2/a.jpg", photo)
    _settle(e, 2)
    assert not files_under(e.var / "duplicates") and "card2/a_web.jpg" in e.outputs()
    e.stop()


def test_a_copy_of_a_photo_whose_outputs_were_deleted_says_how_to_have_them_again(daemon_factory):
    """A review: the web output deleted, the original dropped again to bring it back; it was
    skipped as a duplicate, and its record listed the deleted output as if it were there."""
    d = daemon_factory(on_duplicate=None).start()
    photo = jpeg(shot(scene("astronaut")))
    _drop(d, "a.jpg", photo)
    _settle(d, 1)
    (d.output / "a_web.jpg").unlink()
    _drop(d, "again.jpg", photo)
    _settle(d, 2)
    matched = _record(d, "again.jpg")["matched"]
    assert matched["outputs"] == ["a_web.jpg", "a_thumb.webp"] and matched["outputs_gone"] == ["a_web.jpg"]
    (line,) = d.events("file_skipped")  # the line the admin reads
    hint = re.search(r"`(hotfolder rerender [^`]+)` renders them again", line["hint"])
    assert hint, line
    command = shlex.split(hint.group(1))  # as the admin runs it, from anywhere: the daemon's config named
    assert command[1:] == ["rerender", "--config", str(d.config), str(d.archive / "a.jpg")], command
    assert d.stop() == 0
    said = hotfolder(*command[1:], cwd=d.root.parent)
    assert said.returncode == 0, said.stderr
    assert (d.output / "a_web.jpg").is_file()


def test_duplicates_lists_the_outputs_gone_now_with_how_to_have_them_again(daemon_factory):
    """A README audit: `hotfolder duplicates` listed a skipped copy's original with its outputs as
    they were, though one was deleted since (a copy dropped to bring it back delivered nothing);
    it says which are gone now, and the command that makes them again."""
    d = daemon_factory(on_duplicate=None).start()
    photo = jpeg(shot(scene("astronaut")))
    _drop(d, "a.jpg", photo)
    _settle(d, 1)
    _drop(d, "again.jpg", photo)
    _settle(d, 2)
    assert "outputs_gone" not in _found(d)["test/again.jpg"]["matched"]
    (d.output / "a_web.jpg").unlink()  # after the copy was skipped: its record knows nothing of it
    assert _found(d)["test/again.jpg"]["matched"]["outputs_gone"] == ["a_web.jpg"]
    listed = hotfolder("duplicates", "--config", str(d.config), cwd=d.root)
    assert listed.returncode == 0, listed.stderr
    hint = re.search(r"gone now: a_web\.jpg: 1 of its 2 outputs is gone .*`(hotfolder rerender [^`]+)`", listed.stdout)
    assert hint, listed.stdout
    assert d.stop() == 0
    said = hotfolder(*shlex.split(hint.group(1))[1:], cwd=d.root.parent)
    assert said.returncode == 0, said.stderr
    assert "outputs_gone" not in _found(d)["test/again.jpg"]["matched"]
    assert "gone now" not in hotfolder("duplicates", "--config", str(d.config), cwd=d.root).stdout


def test_after_rerender_with_a_new_filename_the_index_knows_its_outputs(daemon_factory):
    """A new user: rerender with a new `filename` wrote a_sq.webp, and the index still listed
    a_thumb.webp. a_sq.webp deleted, the same bytes dropped again were skipped without saying
    that an output was gone, and `hotfolder duplicates` showed the old name."""
    d = daemon_factory(on_duplicate=None).start()
    photo = jpeg(shot(scene("coffee")))
    _drop(d, "a.jpg", photo)
    _settle(d, 1)
    assert d.stop() == 0
    d.config.write_text(d.config.read_text().replace("- name: thumb\n", "- name: thumb\n        filename: "
                                                                           "\"{stem}_sq.{ext}\"\n"))
    said = hotfolder("rerender", "--config", str(d.config))
    assert said.returncode == 0, said.stderr
    (d.output / "a_sq.webp").unlink()
    d.start()
    _drop(d, "again.jpg", photo)
    _settle(d, 2)
    matched = _record(d, "again.jpg")["matched"]
    assert matched["outputs"] == ["a_web.jpg", "a_sq.webp"] and matched["outputs_gone"] == ["a_sq.webp"], matched
    (line,) = d.events("file_skipped")
    assert "1 of its 2 outputs is gone" in line["hint"], line
    assert _found(d)["test/again.jpg"]["matched"]["outputs"] == ["a_web.jpg", "a_sq.webp"]
    assert d.stop() == 0


def test_a_copy_whose_archived_original_is_gone_too_is_told_what_works(daemon_factory):
    """A new user deleted archive/bags/small.jpg and its outputs, and dropped the same bytes
    again: the skip said `hotfolder rerender …/archive/bags/small.jpg`, a file no longer
    there. It says so, and how to put this copy back where rerender finds it."""
    d = daemon_factory(on_duplicate=None).start()
    photo = jpeg(shot(scene("chelsea")))
    _drop(d, "bags/small.jpg", photo)
    _settle(d, 1)
    for gone in (d.archive / "bags" / "small.jpg", d.output / "bags" / "small_web.jpg",
                 d.output / "bags" / "small_thumb.webp"):
        gone.unlink()
    _drop(d, "bags/small.jpg", photo)
    _settle(d, 1)  # the first is no longer counted: its archived original is gone
    (line,) = d.events("file_skipped")
    assert f"its original {d.archive / 'bags' / 'small.jpg'} is gone too" in line["hint"], line
    assert "`hotfolder rerender" not in line["hint"].split("is gone too")[0], line
    put_back = re.search(r"`(cp [^`]+)` puts it back", line["hint"])
    assert put_back, line
    assert d.stop() == 0
    assert subprocess.run(put_back.group(1), shell=True, cwd=d.root.parent).returncode == 0
    again = re.search(r"then `(hotfolder rerender [^`]+)` renders them again", line["hint"])
    assert again, line
    said = hotfolder(*shlex.split(again.group(1))[1:], cwd=d.root.parent)
    assert said.returncode == 0, said.stderr
    assert sorted(files_under(d.output / "bags")) == ["small_thumb.webp", "small_web.jpg"]


PROOFS = """
- name: proof
  operation: fit
  size: 96x96
  format: jpeg
  filename: "{stem}_proof.{ext}"
  when: {rating: ">= 4"}
- name: web
  operation: fit
  size: 64x64
  format: jpeg
"""


def test_a_look_alike_skipped_still_gets_the_renditions_its_earlier_photo_did_not(daemon_factory, tmp_path):
    """The wedding audit: a card's RAW+JPEG pairs under `similar: skip` (the same shot not
    delivered twice). The camera JPEG, unrated (Lightroom's sidecar is the RAW's), rendered
    first: web only; its RAW, rated 5 stars by its sidecar, was then skipped as its look-alike,
    and the client's proof of the best shot was never made. Now the RAW makes what the JPEG did
    not get (the proof), and not the web size again; a third look-alike, rated too, is skipped."""
    from PIL import Image

    from tests import sources

    d = daemon_factory(renditions=PROOFS, on_duplicate=None, folder_extra="similar: skip").start()
    picture = shot(scene("astronaut"))
    camera = tmp_path / "card" / "IMG_0001.JPG"
    camera.parent.mkdir()
    picture.save(camera, "JPEG", quality=92)
    _drop(d, "ceremony/IMG_0001.JPG", camera.read_bytes())
    _settle(d, 1)
    assert sorted(d.outputs()) == ["ceremony/IMG_0001_web.jpg"]
    raw = sources.dng(tmp_path / "card" / "IMG_0001.DNG", picture.convert("RGB"), preview_scale=1)
    _drop(d, "ceremony/IMG_0001.xmp", sources.xmp_packet(rating=5))
    _drop(d, "ceremony/IMG_0001.DNG", raw.read_bytes())
    _settle(d, 3)  # the JPEG, the RAW and its sidecar
    # the proof from the RAW (its own name beside the JPEG's stem: ~dng only where a name is taken)
    assert sorted(d.outputs()) == ["ceremony/IMG_0001_proof.jpg", "ceremony/IMG_0001_web.jpg"], d.outputs()
    with Image.open(d.output / "ceremony/IMG_0001_web.jpg") as web:
        assert max(web.size) == 64  # the JPEG's, not replaced
    line = d.event("lookalike_completed")
    assert line is not None and line["renditions"] == ["proof"] and line["matched"] == "test/ceremony/IMG_0001.JPG"
    assert "ceremony/IMG_0001.DNG" in files_under(d.archive) and "ceremony/IMG_0001.xmp" in files_under(d.archive)
    listed = subprocess.run([sys.executable, "-m", "hotfolder", "duplicates", "--config", str(d.config)],
                            capture_output=True, text=True, timeout=60, cwd=d.root)
    assert "test/ceremony/IMG_0001.DNG: rendered into ceremony/IMG_0001_proof.jpg\n" in listed.stdout, listed.stdout
    # a re-export of the same shot, rated: both its renditions were delivered, so it is skipped
    export = tmp_path / "card" / "IMG_0001-export.jpg"
    picture.resize((picture.width // 2, picture.height // 2)).save(export, "JPEG", quality=80,
                                                                   xmp=sources.xmp_packet(rating=5))
    _drop(d, "ceremony/IMG_0001-export.jpg", export.read_bytes())
    _settle(d, 4)  # the JPEG, the RAW, its sidecar, the export
    assert _originals(d.var / "duplicates") == ["ceremony/IMG_0001-export.jpg"]
    assert sorted(d.outputs()) == ["ceremony/IMG_0001_proof.jpg", "ceremony/IMG_0001_web.jpg"]
    d.stop()


def _camera_jpeg_then_rated_raw(d, tmp_path, stem: str, which: str, rating: int):
    """A shot's camera JPEG (web only: unrated), then its RAW rated by its sidecar: the RAW is
    rendered for the proof only. The RAW's path."""
    from tests import sources

    picture = shot(scene(which))
    camera = tmp_path / f"{stem}.JPG"
    picture.save(camera, "JPEG", quality=92)
    _drop(d, f"{stem}.JPG", camera.read_bytes())
    _settle(d, 1)
    raw = sources.dng(tmp_path / f"{stem}.DNG", picture.convert("RGB"), preview_scale=1)
    _drop(d, f"{stem}.xmp", sources.xmp_packet(rating=rating))
    _drop(d, f"{stem}.DNG", raw.read_bytes())
    _settle(d, 3)
    assert sorted(d.outputs()) == [f"{stem}_proof.jpg", f"{stem}_web.jpg"], d.outputs()
    return raw


def test_rerender_of_a_look_alike_rendered_for_what_its_earlier_photo_lacked_makes_only_that(daemon_factory,
                                                                                            tmp_path):
    """The wedding audit, after the proof size changed: `hotfolder rerender` rendered the rated
    RAW of a RAW+JPEG pair with every rendition today's recipe gives it, so the web size its
    camera JPEG had delivered came twice; it makes again only what it made (the proof), and
    --dry-run says the same."""
    from PIL import Image

    d = daemon_factory(renditions=PROOFS, on_duplicate=None, folder_extra="similar: skip").start()
    _camera_jpeg_then_rated_raw(d, tmp_path, "IMG_0002", "coffee", rating=4)
    assert d.stop() == 0
    d.config.write_text(d.config.read_text().replace("size: 96x96", "size: 80x80"))
    plan = hotfolder("rerender", "--dry-run", "--config", str(d.config))
    assert plan.returncode == 0, plan.stderr
    (raw_line,) = [line for line in plan.stdout.splitlines() if line.startswith("IMG_0002.DNG")]
    assert "IMG_0002_proof.jpg (replaced)" in raw_line and "web" not in raw_line, plan.stdout
    explained = hotfolder("explain", "--config", str(d.config), str(d.archive / "IMG_0002.DNG"))
    assert "applies: proof → IMG_0002_proof.jpg" in explained.stdout, explained.stdout
    assert "excluded: web (not made by this look-alike" in explained.stdout, explained.stdout
    said = hotfolder("rerender", "--config", str(d.config))
    assert said.returncode == 0, said.stderr
    assert sorted(d.outputs()) == ["IMG_0002_proof.jpg", "IMG_0002_web.jpg"], d.outputs()
    with Image.open(d.output / "IMG_0002_proof.jpg") as proof, Image.open(d.output / "IMG_0002_web.jpg") as web:
        assert max(proof.size) == 80 and max(web.size) == 64


def test_a_card_s_raw_and_jpeg_pairs_taken_at_once_are_delivered_once(daemon_factory, tmp_path):
    """The wedding audit: a card's RAW+JPEG pairs copied in at once under `similar: skip`; the
    two workers took a RAW and its JPEG at the same moment and both were rendered (neither was
    recorded when the other looked): the same shot twice in the client's gallery. Each pair
    now makes one web size: the second of a pair waits while the first is rendered."""
    from tests import sources

    d = daemon_factory(renditions=PROOFS, on_duplicate=None, folder_extra="similar: skip").start()
    staging = tmp_path / "card"
    staging.mkdir()
    scenes = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")
    for i, which in enumerate(scenes):
        picture = shot(scene(which)).convert("RGB")
        picture.save(staging / f"IMG_{i}.JPG", "JPEG", quality=92)
        sources.dng(staging / f"IMG_{i}.DNG", picture, preview_scale=1)
    for i in range(len(scenes)):  # each pair moved in together, as a card's copy lands them
        for ext in ("DNG", "JPG"):
            (staging / f"IMG_{i}.{ext}").rename(d.inbox / f"IMG_{i}.{ext}")
    _settle(d, 2 * len(scenes))
    webs = sorted(o for o in d.outputs() if "_web" in o)
    assert [w.split("_web")[0] for w in webs] == [f"IMG_{i}" for i in range(len(scenes))], webs
    assert len(_originals(d.var / "duplicates")) == len(scenes), files_under(d.var / "duplicates")
    d.stop()


GRADES = PROOFS + """
- name: print
  operation: fit
  size: 128x128
  format: jpeg
  filename: "{stem}_print.{ext}"
  when: {rating: ">= 5"}
"""


def test_rerender_of_a_look_alike_of_two_earlier_photos_makes_only_what_it_made(daemon_factory, tmp_path):
    """A look-alike under `similar: skip` of two earlier photos (a camera JPEG: web; its export
    rated 4: the proof it lacked) rated 5 made only the print neither had. rerender took out of
    it only what the closer of the two had made, so it made the other's again: a second proof
    (or web size) of one shot. It makes again what it made: the print."""
    from tests import sources

    d = daemon_factory(renditions=GRADES, on_duplicate=None, folder_extra="similar: skip").start()
    picture = shot(scene("chelsea")).convert("RGB")
    for n, (name, rating) in enumerate((("IMG_0003.jpg", None), ("IMG_0003-edit.jpg", 4),
                                        ("IMG_0003-best.jpg", 5)), start=1):
        path = tmp_path / name
        picture.save(path, "JPEG", quality=95 - 5 * n,
                     **({"xmp": sources.xmp_packet(rating=rating)} if rating is not None else {}))
        _drop(d, name, path.read_bytes())
        _settle(d, n)
    made = ["IMG_0003-best_print.jpg", "IMG_0003-edit_proof.jpg", "IMG_0003_web.jpg"]
    assert sorted(d.outputs()) == made, d.outputs()
    assert d.stop() == 0
    d.config.write_text(d.config.read_text().replace("size: 128x128", "size: 120x120"))
    plan = hotfolder("rerender", "--dry-run", "--config", str(d.config))
    assert plan.returncode == 0, plan.stderr
    (best,) = [line for line in plan.stdout.splitlines() if line.startswith("IMG_0003-best.jpg")]
    assert "_print" in best and "_proof" not in best and "_web" not in best, plan.stdout
    explained = hotfolder("explain", "--config", str(d.config), str(d.archive / "IMG_0003-best.jpg"))
    assert "excluded: web (not made by this look-alike" in explained.stdout, explained.stdout
    assert "excluded: proof (not made by this look-alike" in explained.stdout, explained.stdout
    said = hotfolder("rerender", "--config", str(d.config))
    assert said.returncode == 0, said.stderr
    assert sorted(d.outputs()) == made, d.outputs()


def test_a_raw_dropped_again_under_on_duplicate_process_is_not_delivered_twice(daemon_factory, tmp_path):
    """`similar: skip` with `on_duplicate: process`: a card's rated RAW, rendered for the proof
    its camera JPEG lacked, dropped again (the card copied twice): as the same bytes it was
    rendered whole, and its web size came beside its JPEG's (IMG_0004_web~dng.jpg, the shot
    delivered twice); before the RAW's first drop was rendered, its copy was judged again, and
    skipped. It makes again what it made: the proof."""
    from tests import sources

    d = daemon_factory(renditions=PROOFS, on_duplicate="process", folder_extra="similar: skip").start()
    raw = _camera_jpeg_then_rated_raw(d, tmp_path, "IMG_0004", "rocket", rating=5)
    _drop(d, "IMG_0004.xmp", sources.xmp_packet(rating=5))
    _drop(d, "IMG_0004.DNG", raw.read_bytes())
    _settle(d, 5)
    assert sorted(d.outputs()) == ["IMG_0004_proof.jpg", "IMG_0004_web.jpg"], d.outputs()
    assert d.stop() == 0
    d.config.write_text(d.config.read_text().replace("size: 96x96", "size: 80x80"))
    said = hotfolder("rerender", "--config", str(d.config))
    assert said.returncode == 0, said.stderr
    assert sorted(d.outputs()) == ["IMG_0004_proof.jpg", "IMG_0004_web.jpg"], d.outputs()


def test_a_look_alike_of_a_photo_whose_outputs_were_deleted_says_how_to_have_them_again(daemon_factory):
    """Under `similar: skip`, a look-alike (a resized export) of a photo whose web output was
    deleted since was skipped, and its record listed the deleted output as if it were there,
    nothing saying the shot was no longer delivered: as a copy of the same bytes, it says which
    are gone and the command that makes them again."""
    from PIL import Image

    d = daemon_factory(on_duplicate=None, folder_extra="similar: skip").start()
    picture = shot(scene("coffee"))
    _drop(d, "a.jpg", jpeg(picture))
    _settle(d, 1)
    (d.output / "a_web.jpg").unlink()
    _drop(d, "a-small.jpg", jpeg(picture.resize((picture.width // 2, picture.height // 2), Image.LANCZOS)))
    _settle(d, 2)
    assert _originals(d.var / "duplicates") == ["a-small.jpg"]
    matched = _record(d, "a-small.jpg")["matched"]
    assert matched["outputs_gone"] == ["a_web.jpg"], matched
    (line,) = d.events("file_skipped")
    assert "`hotfolder rerender" in line.get("hint", ""), line
    assert "(or similar: flag renders every look-alike)" in line["hint"], line  # on_duplicate is of copies
    # explain of it in duplicates/ says why it lies there (it said "applies: web → a-small_web.jpg",
    # as of a first drop: a look-alike needs the pixels; found on a studio's re-saved photo)
    said = hotfolder("explain", "--config", str(d.config), str(d.var / "duplicates" / "a-small.jpg"))
    assert said.returncode == 0, said.stderr
    assert ("problem: skipped as a look-alike (0 bits apart) of test/a.jpg, archived as a.jpg (similar: skip, its "
            "record a-small.jpg.duplicate.json says); dropped again, it is judged by its pixels anew") in said.stdout, \
        said.stdout
    d.stop()


def test_a_shop_s_photo_reused_under_another_name_is_told_how_to_have_it_rendered_as_that_too(daemon_factory):
    """A shop reuses one product photo for a second product: `shoe-blue.jpg` has the bytes of
    `shoe-red.jpg`. Skipped (on_duplicate: skip, as before), the line and the record named only
    what it repeats, not how to get `shoe-blue_web.jpg`. They say the command, which renders it
    under its own name into its own subfolder, leaving the first's outputs as they are; a copy
    of the same name (case and extension aside: a card copied twice) is told nothing more."""
    d = daemon_factory(on_duplicate=None).start()
    photo = jpeg(shot(scene("coffee")))
    _drop(d, "shoes/shoe-red.jpg", photo)
    _settle(d, 1)
    _drop(d, "shoes/shoe-blue.jpg", photo)
    _drop(d, "shoes/Shoe-Red.JPEG", photo)
    _settle(d, 3)
    assert _originals(d.var / "duplicates") == ["shoes/Shoe-Red.JPEG", "shoes/shoe-blue.jpg"], "what is skipped"
    lines = {line["file"]: line for line in d.events("file_skipped")}
    assert "own_name" not in lines["shoes/Shoe-Red.JPEG"] and "own_name" not in _record(d, "shoes/Shoe-Red.JPEG")
    said = lines["shoes/shoe-blue.jpg"]["own_name"]
    assert said == _record(d, "shoes/shoe-blue.jpg")["own_name"], "the record says it as the line does"
    assert said.startswith("its outputs are shoe-red.jpg's; to have it rendered as shoe-blue.jpg too: `cp "), said
    assert "or: set on_duplicate: process for folder test and move it back to the inbox" in said, said
    command = said.split("`")[1]
    # `hotfolder duplicates` says it too (it named only what the copy repeats), and its --json
    listed = hotfolder("duplicates", "--config", str(d.config)).stdout
    assert f"\n    {said}\n" in listed, listed
    assert listed.count("to have it rendered as") == 1, listed  # not of Shoe-Red.JPEG, a card copied twice
    by_file = {f["file"]: f for f in json.loads(hotfolder("duplicates", "--json", "--config", str(d.config)).stdout)}
    assert by_file["shoes/shoe-blue.jpg"]["own_name"] == said and "own_name" not in by_file["shoes/Shoe-Red.JPEG"]
    assert d.stop() == 0
    first = {rel: (d.output / rel).read_bytes() for rel in files_under(d.output)}
    done = subprocess.run(command.replace("hotfolder ", f"{shlex.quote(sys.executable)} -m hotfolder ", 1),
                          shell=True, cwd=d.root.parent, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert files_under(d.output / "shoes") == ["shoe-blue_thumb.webp", "shoe-blue_web.jpg", "shoe-red_thumb.webp",
                                               "shoe-red_web.jpg"]
    assert {rel: (d.output / rel).read_bytes() for rel in first} == first, "the first's outputs left as they were"
    assert (d.var / "duplicates" / "shoes" / "shoe-blue.jpg").read_bytes() == photo, "the copy stays where it was"

    # the console line says it too
    d.start("--log-format", "console", wait_ready=False)
    wait_for(lambda: " ready: " in d.log_text() or not d.running(), 30, what="the daemon to be ready")
    d.check_alive()
    _drop(d, "shoes/shoe-green.jpg", photo)
    wait_for(lambda: "skipped shoes/shoe-green.jpg" in d.log_text(), 60, what="the console's skip line")
    (line,) = [t for t in d.log_text().splitlines() if "skipped shoes/shoe-green.jpg" in t]
    assert ("moved to duplicates/; its outputs are shoe-red.jpg's; to have it rendered as shoe-green.jpg too: "
            f"`cp {d.var / 'duplicates' / 'shoes' / 'shoe-green.jpg'} ") in line, line
    assert d.stop() == 0


def test_where_nothing_is_archived_a_copy_under_its_own_name_is_told_the_setting_that_renders_it(daemon_factory):
    """With on_success: delete there is no archived original to rerender: the line gives the
    folder's setting and the move that drops the copy again, and both do render it."""
    d = daemon_factory(on_duplicate=None, folder_extra="on_success: delete")
    d.config.write_text(d.config.read_text().replace("    archive: var/archive\n", ""))
    d.start()
    photo = jpeg(shot(scene("chelsea")))
    _drop(d, "shoe-red.jpg", photo)
    wait_for(lambda: len(d.events("file_done")) == 1, 60, what="shoe-red.jpg rendered")
    _drop(d, "shoe-blue.jpg", photo)
    wait_for(lambda: len(d.events("file_skipped")) == 1, 60, what="shoe-blue.jpg skipped")
    said = d.events("file_skipped")[0]["own_name"]
    assert f"set on_duplicate: process for folder test in {d.config}, then `mv " in said, said
    move = said.split("`")[1]
    d.config.write_text(d.config.read_text().replace("    on_success: delete", "    on_success: delete\n"
                                                                                 "    on_duplicate: process"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.event("reloaded") is not None, 30, what="the reload")
    assert subprocess.run(move, shell=True, cwd=d.root.parent).returncode == 0
    wait_for(lambda: len(d.events("file_done")) == 2, 60, what="shoe-blue.jpg rendered")
    assert files_under(d.output) == ["shoe-blue_thumb.webp", "shoe-blue_web.jpg", "shoe-red_thumb.webp",
                                     "shoe-red_web.jpg"]
    assert d.stop() == 0


def test_duplicates_json_shows_a_name_s_terminal_controls_escaped(daemon_factory):
    """`hotfolder duplicates --json`, read in a terminal as often as piped: JSON escapes C0
    controls itself, but ensure_ascii=False wrote a name's C1 controls (U+009B is CSI: xterm acts
    on it in UTF-8 too) and bidi overrides (U+202E turns the text shown) as they are, in `file`,
    `where` and the own_name hint. Escaped as \\uNNNN now: the same JSON once parsed."""
    d = daemon_factory(on_duplicate=None).start()
    photo = jpeg(shot(scene("coffee")))
    _drop(d, "shoes/shoe-red.jpg", photo)
    _settle(d, 1)
    odd = "shoes/shoe-\u009b2J\u202egpj.blue.jpg"
    _drop(d, odd, photo)
    _settle(d, 2)
    out = hotfolder("duplicates", "--json", "--config", str(d.config)).stdout
    assert "\u009b" not in out and "\u202e" not in out and "\\u009b" in out and "\\u202e" in out, out
    by_file = {f["file"]: f for f in json.loads(out)}
    assert by_file[odd]["where"] == odd and "to have it rendered as" in by_file[odd]["own_name"], by_file
    assert d.stop() == 0
