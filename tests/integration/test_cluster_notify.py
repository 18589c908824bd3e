"""Notifications in cluster mode: the nodes end the files, the head notifies of them as local
mode does (cluster/told.py), to a real HTTP receiver, with a real redis-server, head and
`hotfolder worker`."""
from __future__ import annotations

import json
import os
import urllib.request

from tests.harness import files_under, wait_for
from tests.harness.cluster import redis_client
from tests.integration.test_notifications import Receiver

EVENTS = "[failed, done, worker_lost, duplicate, similar]"


def notify(r: Receiver, events: str = EVENTS) -> str:
    return f'notify_interval: 1\nnotify:\n  - {{url: "{r.url}/hook", events: {events}}}\n'


def by_file(r: Receiver) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in r.events("/hook"):
        out.setdefault(e["file"], []).append(e)
    return out


def test_a_cluster_notifies_failed_done_worker_lost_and_duplicate_as_local_mode_does(cluster_factory):
    r = Receiver()
    try:
        c = cluster_factory(extra=notify(r), max_attempts=2)
        c.start_head()
        c.start_worker("w0")
        (c.hold / "kill-poison.jpg").write_text("")  # each render of it kills its process
        junk = c.tmp / "staging" / "junk.jpg"
        junk.parent.mkdir(parents=True, exist_ok=True)
        junk.write_bytes(b"not an image at all")
        os.rename(junk, c.inbox / "junk.jpg")
        c.drop(["a.jpg", "poison.jpg"])
        wait_for(lambda: c.settled(3), 90, what="the three files at their end")
        copy = c.tmp / "staging" / "copy.jpg"
        copy.write_bytes((c.archive / "a.jpg").read_bytes())  # the same bytes again: skipped
        os.rename(copy, c.inbox / "copy.jpg")
        wait_for(lambda: "copy.jpg" in files_under(c.base / "duplicates"), 60, what="the copy skipped")
        wait_for(lambda: {"junk.jpg", "a.jpg", "copy.jpg"} <= by_file(r).keys()
                 and len(by_file(r).get("poison.jpg", [])) >= 3, 30, what=f"the notices (got {by_file(r)})")
        got = by_file(r)
        failed, = got["junk.jpg"]
        assert [failed[k] for k in ("event", "folder", "step", "attempts")] == ["failed", "photos", "open", 1]
        assert "accepted" in failed["reason"] or "identif" in failed["reason"], failed
        done, = got["a.jpg"]
        assert done["event"] == "done" and done["outputs"] == ["a_web.jpg"] and done["attempts"] == 1
        skipped, = got["copy.jpg"]
        assert skipped["event"] == "duplicate" and skipped["step"] == "skipped", skipped
        assert "the same bytes as photos/a.jpg" in skipped["reason"], skipped
        poison = [(e["event"], e["attempts"]) for e in got["poison.jpg"]]
        assert poison == [("worker_lost", 1), ("worker_lost", 2), ("failed", 2)], poison
        assert "worker lost 2 times" in got["poison.jpg"][-1]["reason"]
        assert not redis_client(c).llen("hotfolder:test-cluster:hf:told")  # the head took every verdict
    finally:
        r.close()


def test_a_cluster_s_done_of_a_file_no_rendition_took_says_why_as_local_mode_s_does(cluster_factory):
    r = Receiver()
    try:
        c = cluster_factory(extra=notify(r, "[done]"))
        c.config.write_text(c.config.read_text().replace(
            "format: jpeg\n", 'format: jpeg\n        when: {name: "a*"}\n    on_no_rendition: archive\n', 1))
        c.start_head()
        c.start_worker("w0")
        c.drop(["a.jpg", "b.jpg"])
        wait_for(lambda: {"a.jpg", "b.jpg"} <= by_file(r).keys(), 90, what=f"both done (got {by_file(r)})")
        got = by_file(r)
        (a,), (b,) = got["a.jpg"], got["b.jpg"]
        assert a["outputs"] == ["a_web.jpg"] and a["reason"] == "", a
        assert b["outputs"] == [] and b["reason"] == (
            "no rendition applies, nothing written (web: when.name: its name b.jpg does not match a*)"), b
    finally:
        r.close()


def test_a_verdict_the_head_cannot_trust_is_skipped_and_a_full_list_counts_what_it_dropped(cluster_factory):
    """Redis is writable by anyone with its password: a verdict naming a folder the head lacks,
    a path out of the folder, or no JSON at all is said and skipped; drops are counted."""
    r = Receiver()
    try:
        c = cluster_factory(extra=notify(r) + "http: {listen: '127.0.0.1:0'}\n")
        rc = redis_client(c)
        good = {"job": "j1", "folder": "photos", "file": "ok.jpg", "end": "failed", "reason": "bad", "step": "open",
                "attempts": 1}
        for forged in [{**good, "folder": "elsewhere"}, {**good, "file": "../../etc/passwd"},
                       {**good, "end": "skipped", "match": {"kind": "nonsense"}}, "not json", good]:
            rc.lpush("hotfolder:test-cluster:hf:told", forged if isinstance(forged, str) else json.dumps(forged))
        rc.hset("hotfolder:test-cluster:hf:told:dropped", mapping={"failed": 5, "forged": 7, "done": "x"})
        c.start_head()
        wait_for(lambda: by_file(r).get("ok.jpg"), 20, what="the one good verdict notified")
        assert set(by_file(r)) == {"ok.jpg"}
        wait_for(lambda: c.events("head", "verdicts_refused"), 10, what="the refused verdicts said")
        assert sum(e["count"] for e in c.events("head", "verdicts_refused")) == 4
        dropped, = c.events("head", "notices_dropped")
        assert (dropped["kind"], dropped["count"]) == ("failed", 5)
        url = c.events("head", "http_listening")[0]["url"]  # the same metric a notify endpoint's drops are in
        line = 'hotfolder_notifications_total{endpoint="notify[0]",outcome="dropped"} 5.0'
        wait_for(lambda: line in urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode(), 10,
                 what="the dropped notices in /metrics")
    finally:
        r.close()


def test_a_full_list_drops_the_newest_verdicts_and_counts_them_by_event(redis_server, monkeypatch):
    """Bounded: a head stopped for long leaves at most MAX_TOLD verdicts in Redis."""
    import redis

    from hotfolder.cluster import told

    class Store:
        r, prefix = redis.Redis.from_url(redis_server.url), "hotfolder:t:"

    monkeypatch.setattr(told, "MAX_TOLD", 2)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        told.push(Store, told.ended("photos", name, "j", 1, ok=False, reason="bad", step="open"), None)
    assert [json.loads(v)["file"] for v in Store.r.lrange("hotfolder:t:hf:told", 0, -1)] == ["b.jpg", "a.jpg"]
    taken = told.take(Store.r, Store.prefix, {"photos"})
    assert [n.file for n in taken.notices] == ["a.jpg", "b.jpg"] and taken.dropped == {"failed": 1}
    assert not Store.r.exists("hotfolder:t:hf:told", "hotfolder:t:hf:told:dropped")
