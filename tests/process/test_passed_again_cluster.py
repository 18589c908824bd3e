"""A cluster head's clips passed through again (supervisor/passed_again.py with cluster/passed.py):
the rows of clips archived kept in the cluster's Redis, a real redis-server; the ledger in-process
with its real comparing thread, on real files. A stopped (SIGSTOP) Redis is one that does not
answer: the clip waits in the inbox, the row of one archived meanwhile is written once it answers."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from hotfolder.config.model import Cluster, Config, Folder, Rendition
from hotfolder.supervisor.ledger import Ledger
from hotfolder.workers.counters import Counters
from tests.harness import files_under
from tests.process.test_passed_again import _drop, _settle_until
from tests.redis_server import RedisServer

pytestmark = pytest.mark.skipif(RedisServer.binary is None and not os.environ.get("HOTFOLDER_REQUIRE_REDIS"),
                                reason="redis-server is not installed (apt-get install redis-server)")
redis = pytest.importorskip("redis", reason="the cluster extra is not installed (pip install -e '.[cluster]')")

PREFIX = "hotfolder:t:hf:passed:"
CLIP, AGAIN = "card1/DCIM/MVI_0009.MP4", "backup/DCIM/mvi_0009.mp4"  # another reader lower-cased the names


@pytest.fixture
def server(tmp_path):
    s = RedisServer(tmp_path / "redis").start()
    yield s
    if s.proc is not None:
        s.proc.send_signal(signal.SIGCONT)  # a test stopped it
    s.stop()


def _ledger(tmp_path: Path, server: RedisServer, **changes) -> Ledger:
    folder = Folder(name="t", inbox=tmp_path / "inbox", output=tmp_path / "output", failed=tmp_path / "failed",
                    processing=tmp_path / "processing", archive=tmp_path / "archive",
                    duplicates=tmp_path / "duplicates",
                    renditions=(Rendition(name="web", width=64, height=64, format="jpeg"),), **changes)
    config = Config(source=tmp_path / "hotfolder.yaml", folders=(folder,), workers=1, state_dir=tmp_path / "state",
                    cluster=Cluster(enabled=True, broker_url=server.url, cluster_id="t", shared_root=tmp_path))
    led = Ledger(config, Counters(mp.get_context("spawn")), lambda f, rel: None)
    led.prepare(folder)
    led.folder = folder  # for the tests' eyes
    return led


@pytest.fixture
def ledger(tmp_path, server):
    led = _ledger(tmp_path, server)
    yield led
    led.passes.stop()


def _rows(server) -> dict[bytes, dict]:
    """Every row in Redis: its place (folder NUL path) -> its value."""
    client = redis.Redis.from_url(server.url)
    return {field: json.loads(value) for key in client.keys(PREFIX + "*")
            for field, value in client.hgetall(key).items()}


def test_a_copy_in_another_subfolder_is_compared_with_the_clip_its_redis_row_names(ledger, server):
    f = ledger.folder
    data = os.urandom(3 << 20)
    assert ledger.claim(f, _drop(f, CLIP, data)) is None
    assert files_under(f.archive) == [CLIP]
    rows = _rows(server)
    assert list(rows) == [b"t\0" + CLIP.encode()] and list(rows[b"t\0" + CLIP.encode()]) == ["t"], rows
    assert ledger.claim(f, _drop(f, AGAIN, data)) is None and ledger.passes._thread is not None
    _settle_until(ledger, lambda: (f.duplicates / AGAIN).exists(), "the copy moved to duplicates/")
    record = json.loads((f.duplicates / f"{AGAIN}.duplicate.json").read_text())
    assert record["matched"]["archived"] == CLIP and record["matched"]["folder"] == "t", record
    assert files_under(f.archive) == [CLIP] and files_under(f.inbox) == []
    assert ledger.sameness.counts["t"]["passed_through"] == 1


def test_a_row_whose_clip_is_gone_is_dropped_and_the_copy_archived_as_any(ledger, server):
    f = ledger.folder
    data = os.urandom(1 << 16)
    assert ledger.claim(f, _drop(f, CLIP, data)) is None
    (f.archive / CLIP).unlink()  # the user deleted it
    assert ledger.claim(f, _drop(f, AGAIN, data)) is None
    assert ledger.passes._thread is None and files_under(f.archive) == [AGAIN]
    assert list(_rows(server)) == [b"t\0" + AGAIN.encode()]


def test_under_duplicate_scope_subfolder_the_row_of_another_subfolder_is_no_twin(tmp_path, server):
    from hotfolder.config.choices import DuplicateScope

    led = _ledger(tmp_path, server, duplicate_scope=DuplicateScope.SUBFOLDER)
    f = led.folder
    data = os.urandom(1 << 16)
    assert led.claim(f, _drop(f, "card1/MVI_0009.MP4", data)) is None
    assert led.claim(f, _drop(f, "card2/MVI_0009.MP4", data)) is None
    assert led.passes._thread is None and files_under(f.archive) == ["card1/MVI_0009.MP4", "card2/MVI_0009.MP4"]
    assert len(_rows(server)) == 2
    led.passes.stop()


def test_while_redis_does_not_answer_a_clip_waits_in_the_inbox_and_is_compared_once_it_does(
        ledger, server, monkeypatch):
    """Without its rows a copy would be archived a second time: it waits, said once, and each
    look at a waiting clip meanwhile costs no wait for Redis (RETRY_AFTER)."""
    from structlog.testing import capture_logs

    from hotfolder.cluster import passed as shared

    monkeypatch.setattr(shared, "RETRY_AFTER", 1.0)
    f = ledger.folder
    data = os.urandom(1 << 16)
    assert ledger.claim(f, _drop(f, CLIP, data)) is None
    server.proc.send_signal(signal.SIGSTOP)
    with capture_logs() as logs:
        t = time.monotonic()
        assert ledger.claim(f, _drop(f, AGAIN, data)) is None
        first = time.monotonic() - t
        t = time.monotonic()
        assert ledger.claim(f, _drop(f, "backup/DCIM/MVI_0010.MP4", b"new")) is None  # no twin: it waits too
        second = time.monotonic() - t
        assert files_under(f.archive) == [CLIP] and ledger.passes._thread is None
        assert sorted(files_under(f.inbox)) == ["backup/DCIM/MVI_0010.MP4", AGAIN]
        ledger.compared()  # each turn of the loop: no row to write, Redis not said back
        assert [e["event"] for e in logs if e["event"].startswith("passed_rows")] == ["passed_rows_unreachable"]
        server.proc.send_signal(signal.SIGCONT)
        time.sleep(1.0)  # RETRY_AFTER, as patched: Redis is not asked before
        assert ledger.claim(f, _drop(f, AGAIN, data)) is None  # a rescan offers it again
        _settle_until(ledger, lambda: (f.duplicates / AGAIN).exists(), "the copy moved to duplicates/")
        assert ledger.claim(f, f.inbox / "backup/DCIM/MVI_0010.MP4") is None
    assert first < shared.TIMEOUT * 2 + 1 and second < 0.1, (first, second)
    said = [e for e in logs if e["event"] in ("passed_rows_unreachable", "passed_rows_reachable")]
    assert [e["event"] for e in said] == ["passed_rows_unreachable", "passed_rows_reachable"], said
    assert "wait in the inbox" in said[0]["action"] and "cluster.broker_url" in said[0]["action"]
    assert files_under(f.archive) == ["backup/DCIM/MVI_0010.MP4", CLIP]


def test_the_row_of_a_clip_archived_while_redis_does_not_answer_is_written_once_it_does(
        tmp_path, server, monkeypatch):
    """on_duplicate: process archives without asking (no comparison); its row is still noted
    for a later copy, and kept in memory while Redis is away."""
    from hotfolder.cluster import passed as shared
    from hotfolder.config.choices import OnDuplicate

    monkeypatch.setattr(shared, "RETRY_AFTER", 0.5)
    led = _ledger(tmp_path, server, on_duplicate=OnDuplicate.PROCESS)
    f = led.folder
    assert led.claim(f, _drop(f, "card1/A.MOV", b"a")) is None  # the client is made, Redis answers
    server.proc.send_signal(signal.SIGSTOP)
    assert led.claim(f, _drop(f, CLIP, b"clip")) is None
    assert files_under(f.archive) == ["card1/A.MOV", CLIP]
    server.proc.send_signal(signal.SIGCONT)
    _settle_until(led, lambda: len(_rows(server)) == 2, "the row written once Redis answers")
    assert b"t\0" + CLIP.encode() in _rows(server)
    led.passes.stop()


# ---------------------------------------------------------------- the rows in Redis (cluster/passed.py)

def _shared(server):
    from hotfolder.cluster.passed import SharedPassed

    return SharedPassed(redis.Redis.from_url(server.url), "hotfolder:t:")


def test_a_name_and_size_keeps_its_latest_rows_and_expires_after_the_longest_window(server):
    from hotfolder.cluster.passed import CANDIDATES

    rows = _shared(server)
    for i in range(CANDIDATES + 2):
        rows.note("t", "MVI_0009.MP4", f"card{i}", 100, f"card{i}/MVI_0009.MP4", window=3600, now=1000.0 + i)
    found = rows.find("mvi_0009.mp4", 100, folder="t", subdir=None)
    assert [r.subdir for r in found] == [f"card{i}" for i in range(CANDIDATES + 1, 1, -1)]
    assert rows.find("MVI_0009.MP4", 101, folder="t", subdir=None) == []
    key = rows.key("MVI_0009.MP4", 100)
    assert rows.r.hlen(key) == CANDIDATES and 3590_000 < rows.r.pttl(key) <= 3600_000
    rows.note("u", "MVI_0009.MP4", "", 100, "MVI_0009.MP4", window=60, now=2000.0)  # a shorter window
    assert rows.r.pttl(key) > 3590_000
    assert [r.folder for r in rows.find("MVI_0009.MP4", 100, folder=None, subdir=None)][:2] == ["u", "t"]
    assert [r.subdir for r in rows.find("MVI_0009.MP4", 100, folder="t", subdir="card3")] == ["card3"]
    rows.drop(found[0])
    assert "card9" not in [r.subdir for r in rows.find("MVI_0009.MP4", 100, folder="t", subdir=None)]


def test_clips_listed_again_keep_the_rows_there_and_their_windows_from_when_archived(server):
    """`hotfolder index rebuild` after Redis lost its data (cluster/passed.listed): each clip
    kept duplicate_window from its archiving, not from now; one older left out (Redis would
    drop it); a row there already (the head's, with the subfolder it truly came in) kept; a key
    that is not a hash (forged) passed over, not a failure."""
    from types import SimpleNamespace as Clip

    rows = _shared(server)
    rows.note("t", "MVI_0009.MP4", "card1", 100, "2026/MVI_0009.MP4", window=3600, now=9000.0)
    rows.r.set(rows.key("F.MOV", 3), "forged")
    listed = [Clip(name="MVI_0009.MP4", subdir="2026", size=100, archived="2026/MVI_0009.MP4", time=8000.0),
              Clip(name="A.MOV", subdir="", size=5, archived="A.MOV", time=9000.0),
              Clip(name="B.MOV", subdir="", size=5, archived="B.MOV", time=5000.0),  # past the window
              Clip(name="F.MOV", subdir="", size=3, archived="F.MOV", time=9000.0)]
    assert rows.listed("t", listed, window=3600, now=9600.0, batch=2) == (1, 1, 1)
    assert [r.subdir for r in rows.find("MVI_0009.MP4", 100, folder="t", subdir=None)] == ["card1"]
    assert 2990_000 < rows.r.pttl(rows.key("A.MOV", 5)) <= 3000_000  # 3600 s from 9000, at 9600
    assert rows.r.exists(rows.key("B.MOV", 5)) == 0 and rows.r.get(rows.key("F.MOV", 3)) == b"forged"
    # more clips of a name and size than a key keeps, listed in the archive's order: the latest stay
    many = [Clip(name="C.MOV", subdir=f"d{i}", size=7, archived=f"d{i}/C.MOV", time=9000.0 + i) for i in range(12)]
    rows.listed("t", many[::-1], window=3600, now=9600.0)
    assert sorted(r.subdir for r in rows.find("C.MOV", 7, folder="t", subdir=None)) == sorted(
        f"d{i}" for i in range(4, 12))


def test_names_that_are_not_utf8_are_kept_as_their_bytes(server):
    rows = _shared(server)
    name = os.fsdecode(b"clip\xff.mp4")
    rows.note("t", name, os.fsdecode(b"caf\xe9"), 5, os.fsdecode(b"caf\xe9/clip\xff.mp4"), window=60, now=1.0)
    [row] = rows.find(name, 5, folder="t", subdir=os.fsdecode(b"caf\xe9"))
    assert os.fsencode(row.archived) == b"caf\xe9/clip\xff.mp4"
    rows.note("t", name, os.fsdecode(b"caf\xe9"), 5, "other/clip.mp4", window=60, now=2.0)  # kept: not its path's
    assert [r.archived for r in rows.find(name, 5, folder="t", subdir=os.fsdecode(b"caf\xe9"))] == [
        "other/clip.mp4", row.archived]


def test_a_value_that_is_not_a_row_is_taken_as_absent_and_said_once(server):
    """Redis is written by whoever holds its password: a value not ours (not JSON, another type
    of key) finds nothing, fails nothing, and its key is named to clean."""
    from structlog.testing import capture_logs

    rows = _shared(server)
    rows.note("t", "A.MOV", "", 5, "A.MOV", window=60)
    key = rows.key("A.MOV", 5)
    rows.r.hset(key, b"t\0forged.MOV", b"not json")
    rows.r.set(rows.key("B.MOV", 5), "a string")
    with capture_logs() as logs:
        assert [r.archived for r in rows.find("A.MOV", 5, folder="t", subdir=None)] == ["A.MOV"]
        assert [r.archived for r in rows.find("A.MOV", 5, folder="t", subdir=None)] == ["A.MOV"]
        assert rows.find("B.MOV", 5, folder="t", subdir=None) == []
        rows.note("t", "B.MOV", "", 5, "B.MOV", window=60)  # said, and not kept for later
    said = [e for e in logs if e["event"] == "index_value_unusable"]
    assert [e["key"] for e in said] == [key, rows.key("B.MOV", 5)], said
    assert not rows._unwritten


def test_a_key_larger_than_any_the_head_writes_is_not_read(server):
    """The head keeps 8 rows a key; a key forged with 300,000 fields was read whole by the
    lookup's HGETALL in the head's main loop: 13.9 s and 140 MB at its peak (measured), its
    forged rows taken as twins. A key of more fields, or of a field or value larger than the
    head writes, is now taken as absent unread (a field too large: passed over, the others
    read) and said with the key to clean; the head's next row there trims it (the note's
    script)."""
    from structlog.testing import capture_logs

    from hotfolder.cluster.passed import CANDIDATES

    rows = _shared(server)
    key, huge = rows.key("MVI_0009.MP4", 100), rows.key("A.MOV", 5)
    rows.r.hset(key, mapping={f"t\0card{i}/MVI_0009.MP4": json.dumps({"t": i}) for i in range(2000)})
    rows.note("t", "A.MOV", "", 5, "A.MOV", window=60)
    rows.r.hset(huge, b"t\0B.MOV", b'{"t":1,"s":"' + b"x" * (1 << 20) + b'"}')
    with capture_logs() as logs:
        assert rows.find("MVI_0009.MP4", 100, folder=None, subdir=None) == []
        assert [r.archived for r in rows.find("A.MOV", 5, folder=None, subdir=None)] == ["A.MOV"]
    said = [(e["event"], e["key"], e.get("field"), e["action"]) for e in logs]
    assert said == [("index_value_unusable", key, None, f"DEL {key}"),
                    ("index_value_unusable", huge, "t\x00B.MOV", f"HDEL {huge} <that field> (or DEL {huge})")], logs
    rows.note("t", "MVI_0009.MP4", "card9", 100, "card9/MVI_0009.MP4", window=60)
    assert rows.r.hlen(key) == CANDIDATES and rows.find("MVI_0009.MP4", 100, folder="t", subdir="card9")


def test_explain_reads_the_rows_in_redis_and_says_when_it_cannot(ledger, server, tmp_path):
    from hotfolder.cli.explain import _passed_again

    f, cluster = ledger.folder, ledger.config.cluster
    data = os.urandom(1 << 16)
    assert ledger.claim(f, _drop(f, CLIP, data)) is None
    card = tmp_path / "card" / "mvi_0009.mp4"
    card.parent.mkdir()
    card.write_bytes(data)
    said = _passed_again(f, AGAIN, card, (f,), cluster)
    assert said.startswith(f"; but {f.archive / CLIP}, archived from another subfolder, holds its very bytes"), said
    server.stop()
    said = _passed_again(f, AGAIN, card, (f,), cluster)
    assert said.startswith("; the records of clips archived, in the cluster's Redis, cannot be read (Connection"), said
    assert said.endswith("the head keeps it in the inbox until Redis answers"), said


def test_rows_kept_past_the_bound_while_redis_is_away_are_said_dropped_once(server):
    """While Redis is away the rows to write are kept, at most UNWRITTEN; past it the oldest
    went silently (a review), and a copy of those clips would be archived again unexplained.
    Said once, with what to do; the latest rows are written once Redis answers."""
    from collections import deque

    from structlog.testing import capture_logs

    rows = _shared(server)
    rows._unwritten = deque(maxlen=2)  # the bound, small: 10,000 in the daemon
    server.stop()  # refused: Redis is away
    with capture_logs() as logs:
        for n in range(4):
            rows.note("t", f"C{n}.MOV", "", 5, f"C{n}.MOV", window=60)
    dropped = [e for e in logs if e["event"] == "passed_rows_dropped"]
    assert len(dropped) == 1 and "index rebuild" in dropped[0]["action"], logs
    assert [k for k, *_ in rows._unwritten] == [rows.key("C2.MOV", 5), rows.key("C3.MOV", 5)]
