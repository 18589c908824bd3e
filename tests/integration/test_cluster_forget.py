"""The cluster's index of originals forgets what is older than duplicate_window, as local
mode's does (cluster/forget.py), and a file's held `{seq}` goes when it ends; against a real
redis-server, and a real head and worker."""
from __future__ import annotations

import json
import logging
import time

import pytest

from hotfolder.likeness import Look
from hotfolder.state.originals import RENDERED, Entry
from tests.harness import files_under, wait_for
from tests.harness.cluster import redis_client

redis = pytest.importorskip("redis", reason="the cluster extra is not installed (pip install -e '.[cluster]')")
DAY = 86400.0
OLD, NEW, ELSEWHERE = "a" * 64, "b" * 64, "c" * 64


def _seed(index, now: float) -> dict[str, int]:
    """An old and a new original of `photos` (the old in a subfolder, scoped by it), and an old one
    of a folder the config lacks; the old one's name then rendered again as a new version."""
    ids = {"old": index.record(Entry(OLD, 1, RENDERED, "photos", "sub/x.jpg", 10, look=Look(0xF0F0, 40, 30),
                                     outputs=("sub/x_web.jpg",), time=now - 3 * DAY, subdir="sub")),
           "new": index.record(Entry(NEW, 2, RENDERED, "photos", "y.jpg", 10, look=Look(0x0F0F, 40, 30), time=now)),
           "elsewhere": index.record(Entry(ELSEWHERE, 3, RENDERED, "gone", "z.jpg", 10, look=Look(0xFFFF, 40, 30),
                                           time=now - 3 * DAY))}
    ids["again"] = index.record(Entry("d" * 64, 4, RENDERED, "photos", "sub/x.jpg", 10, look=Look(0xF0F1, 40, 30),
                                      generation=1, time=now, subdir="sub"))
    return ids


def _assert_forgotten(index, ids: dict[str, int], epoch_before, more: tuple[int, ...] = ()) -> None:
    r = index.r
    kept = sorted([ids["new"], ids["elsewhere"], ids["again"], *more])
    assert sorted(int(k) for k in r.hkeys(index._k("rec"))) == kept
    fid = index.folder_id("photos")
    for seen in (index._k("seen"), index._k("seen", str(fid)), index._subfolder(fid, "sub")):
        assert not r.hexists(seen, OLD), seen
    assert r.hget(index._k("seen", str(fid)), NEW) == str(ids["new"]).encode()
    assert r.hget(index._k("seen"), ELSEWHERE) == str(ids["elsewhere"]).encode()  # its window is not known
    assert [n.record for n in index.named("photos", "sub/x.jpg")] == [ids["again"]]  # the old id out of its name
    assert sorted(int.from_bytes(e[12:16], "big") for e in _entries(r.get(index._k("phash")))) == kept
    assert r.get(index._k("epoch")) != epoch_before  # every node's mirror loads phash anew
    assert index.claim(OLD, 9, "/x", folder="photos", scope_all=False, since=0).verdict == "new"


def _entries(data: bytes) -> list[bytes]:
    return [data[i:i + 16] for i in range(0, len(data), 16)]


def test_records_older_than_the_window_are_forgotten_in_bounded_steps(redis_server, monkeypatch):
    from hotfolder.cluster import forget
    from hotfolder.cluster.originals import SharedOriginals

    index = SharedOriginals(redis.Redis.from_url(redis_server.url), "hotfolder:t:", 60_000)
    ids = _seed(index, time.time())
    more = tuple(index.record(Entry(f"{i:064x}", 10 + i, RENDERED, "photos", f"n{i}.jpg", 10, look=Look(i, 4, 3)))
                 for i in range(10))  # more records than one step takes
    assert index.lookalikes(Look(0xF0F0, 40, 30), 0, folder="photos", scope_all=False, since=0)  # a mirror, loaded
    epoch = index.r.get(index._k("epoch"))
    monkeypatch.setattr(forget, "BATCH", 3)
    forgetting = forget.Forgetting(index, logging.getLogger("test"))
    steps = 0
    forgetting.step({"photos": DAY}, 0.0)
    while forgetting.cursor is not None:
        forgetting.step({"photos": DAY}, 0.0)
        steps += 1
    assert steps >= 2, "one step took the whole index"
    _assert_forgotten(index, ids, epoch, more)
    assert index.lookalikes(Look(0xF0F0, 40, 30), 0, folder="photos", scope_all=False, since=0) == []
    forgetting.step({"photos": DAY}, 10.0)
    assert forgetting.cursor is None, "a second pass before FORGET_EVERY"


def test_a_forged_record_or_id_neither_stops_the_pass_nor_costs_the_head_its_memory(redis_server):
    from hotfolder.cluster import forget
    from hotfolder.cluster.originals import SharedOriginals

    index = SharedOriginals(redis.Redis.from_url(redis_server.url), "hotfolder:t:", 60_000)
    ids = _seed(index, time.time())
    epoch = index.r.get(index._k("epoch"))
    index.r.hset(index._k("rec"), mapping={"x": "{}", "99": "not json", "98": json.dumps({"f": ["photos"], "t": 0}),
                                           "97": json.dumps({"f": "photos", "t": "old", "c": 5})})
    forgetting = forget.Forgetting(index, logging.getLogger("test"))
    index.r.set(index._k("next"), str(10**15))
    while True:
        forgetting.step({"photos": DAY}, 0.0)
        if forgetting.cursor is None:
            break
    assert len(forgetting.kept) <= forget.MAX_ID // 8 + 1
    assert {b"x", b"99", b"98", b"97"} <= set(index.r.hkeys(index._k("rec")))  # data: left alone
    assert not index.r.hexists(index._k("rec"), ids["old"]) and index.r.get(index._k("epoch")) != epoch


def test_the_head_forgets_the_shared_index_and_a_node_lets_a_held_number_go(cluster_factory):
    c = cluster_factory()
    c.config.write_text(c.config.read_text().replace(
        "        format: jpeg", '        format: jpeg\n        filename: "{stem}_{seq:04}.{ext}"').replace(
        "    quiet_period: 0.1", "    quiet_period: 0.1\n    duplicate_window: 1d"))
    from hotfolder.cluster.originals import SharedOriginals

    index = SharedOriginals(redis_client(c), "hotfolder:test-cluster:", 60_000)
    ids = _seed(index, time.time())
    epoch = index.r.get(index._k("epoch"))
    c.start_head()
    forgot = wait_for(lambda: c.events("head", "index_forgot"), 20, what="the head's first pass")
    assert [(e["folder"], e["rows"]) for e in forgot] == [("photos", 1)]
    _assert_forgotten(index, ids, epoch)
    c.start_worker("w0")
    c.drop(["a.jpg"])
    wait_for(lambda: c.settled(1), 60, what="a.jpg")
    assert files_under(c.output) == ["a_0001.jpg"]
    r = redis_client(c)
    assert r.get("hotfolder:test-cluster:hf:seq:photos") == b"1"
    # The node lets the number go after it removed the job's record (cluster/tasks._end): a moment
    # after `settled`, which once looked in between under load (a suite beside a busy loop)
    wait_for(lambda: not list(r.scan_iter("hotfolder:test-cluster:hf:seq:photos:held:*")), 10,
             what="the held number let go, not kept 30 days")


def test_a_seq_counter_that_is_not_a_number_makes_the_files_wait_with_the_key_to_mend(redis_server):
    """`SET …hf:seq:photos abc` (by hand, or damaged): INCR's ResponseError was said as "the
    index of originals cannot be used", and a forged held number failed the file (ValueError).
    Now the folder's files wait (a RecipeError) with the key and both ways out; a held number
    that is not one reads as not held."""
    from hotfolder.cluster.store import Store
    from hotfolder.config.model import Cluster
    from hotfolder.engine.errors import RecipeError

    store = Store(Cluster(enabled=True, broker_url=redis_server.url, cluster_id="t"))
    key = store._k("seq", "photos")
    assert store.next_number("photos") == 1
    store.r.set(key, "abc")
    with pytest.raises(RecipeError) as said:
        store.next_number("photos", holder=7)
    assert str(said.value) == (
        f"the {{seq}} counter of folder 'photos', Redis key {key}, holds 'abc', not a number it can count on from "
        f"(set by hand, or damaged): the files that use {{seq}} wait. `SET {key} N` with the last number its "
        f"outputs were given, or `DEL {key}` to count from 1 again (outputs already there are never replaced: a "
        "name that comes again gets a ~N)")
    store.r.delete(key)
    store.r.hset(key, "x", "1")  # another type under the key
    with pytest.raises(RecipeError, match="holds 'a hash', not a number"):
        store.next_number("photos")
    store.r.set(key, str(2**63 - 1))  # INCR's largest: it cannot count on
    with pytest.raises(RecipeError, match=f"holds '{2**63 - 1}', not a number it can count on from"):
        store.next_number("photos")
    store.r.set(key, "41")
    store.r.set(store._k("seq", "photos", "held", "7"), "forged")
    assert store.next_number("photos", holder=7) == 42  # the forged hold read as none: a number of its own
    assert store.next_number("photos", holder=7) == 42  # and then held
