"""What a cluster reads back from Redis is data anyone with Redis can write: JSON nested past
the parser's recursion (100,000 `[`) is no verdict, no node, no refusal, no queued message and
no record, read as what is not one is, never a RecursionError in the head's loop (the attack
round's finding for the folders, carried to Redis)."""
from __future__ import annotations

import json

from hotfolder.cluster import forget, told
from hotfolder.cluster.store import Store
from hotfolder.config.model import Cluster

NESTED = "[" * 100_000


def test_nested_json_in_redis_is_read_as_nothing_of_ours(redis_server):
    cluster = Cluster(enabled=True, broker_url=redis_server.url, cluster_id="t")
    store = Store(cluster)
    r = store.r
    good = told.ended("photos", "a.jpg", "j1", 1, ok=True, outputs=("a_web.jpg",))
    listed, _ = told.keys(store.prefix)
    nested_manifest = "[" * 2_000  # under MAX_MANIFEST characters, past the parser's recursion
    r.lpush(listed, NESTED, json.dumps({**good, "manifest": nested_manifest}), json.dumps(good))
    taken = told.take(r, store.prefix, {"photos"})
    assert [n.file for n in taken.notices] == ["a.jpg", "a.jpg"], taken
    assert [n.manifest for n in taken.notices] == ["", ""], "a nested manifest is passed on as none"
    assert taken.refused == 1
    r.set(store._k("node", "evil"), NESTED)
    assert store.nodes() == {}
    r.hset(store._k("refused"), mapping={"j1|evil": NESTED, "j2|evil": "[1, 2]",
                                         "j3|evil": json.dumps({"job": "../../etc/x", "node": "evil"}),
                                         "j4|n": json.dumps({"job": "j4", "node": "n", "reason": "x" * 5000})})
    assert store.take_refusals() == [{"job": "j4", "node": "n", "reason": "x" * 1000}]
    assert forget._record(b"7", NESTED) == (7, {})
    # a queued message (the head reads them to know which quiet jobs are held): it was a
    # RecursionError in the head's status, said as the broker unreachable
    r.rpush(store.prefix + "q1", NESTED, json.dumps({"headers": {"id": "j5.1"}}))
    assert store.queued_jobs(["q1"]) == frozenset({"j5"})
    r.close()
