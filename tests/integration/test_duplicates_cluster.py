"""The cluster's index of originals (cluster/originals.py) against a real redis-server: one
claim among processes, a node killed at each step of the protocol, the nodes' mirror when
Redis lost its data; and a head with two nodes never rendering the same bytes twice."""
from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time

import pytest

from hotfolder.likeness import Kind, Look
from hotfolder.state.originals import RENDERED, Entry
from tests import index_scenarios
from tests.harness import files_under, wait_for
from tests.redis_server import RedisServer
from tests.same_photos import card

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(RedisServer.binary is None and not os.environ.get("HOTFOLDER_REQUIRE_REDIS"),
                       reason="redis-server is not installed (apt-get install redis-server)"),
]
redis = pytest.importorskip("redis", reason="the cluster extra is not installed (pip install -e '.[cluster]')")

A, B = "a" * 64, "b" * 64
PREFIX = "hotfolder:test:"


@pytest.fixture
def server(tmp_path):
    s = RedisServer(tmp_path / "redis").start()
    yield s
    s.stop()


def _index(server, ttl_ms: int = 60_000):
    from hotfolder.cluster.originals import SharedOriginals

    return SharedOriginals(redis.Redis.from_url(server.url), PREFIX, ttl_ms)


def _claimer(url, job, barrier, out):
    from hotfolder.cluster.originals import SharedOriginals

    index = SharedOriginals(redis.Redis.from_url(url), PREFIX, 60_000)
    barrier.wait(10)
    out.put(index.claim(A, job, "/x", folder="f", scope_all=False, since=0).verdict)


def test_one_node_among_many_claims_the_bytes(server):
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(server.url, i + 1, barrier, out)) for i in range(4)]
    for p in procs:
        p.start()
    verdicts = sorted(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(30)
    assert verdicts == ["busy", "busy", "busy", "new"]


def test_duplicate_lookalike_and_names_across_nodes(server):
    a, b = _index(server), _index(server)
    look = Look(0xF0F0_0000_FFFF_1234, 4000, 3000, (4, -8))
    assert a.claim(A, 1, "/x", folder="f", scope_all=False, since=0).verdict == "new"
    record = a.record(Entry(A, 1, RENDERED, "f", "IMG_7777.jpg", 10, look=look, outputs=("IMG_7777_web.jpg",)))
    got = b.claim(A, 2, "/y", folder="f", scope_all=False, since=0)
    assert got.verdict == "duplicate" and got.match.record == record and got.match.name == "IMG_7777.jpg"
    assert b.claim(A, 3, "/y", folder="g", scope_all=False, since=0).verdict == "new"  # another folder
    b.release(A, 3)
    assert b.claim(A, 3, "/y", folder="g", scope_all=True, since=0).verdict == "duplicate"
    near = b.lookalikes(Look(look.phash ^ 0b11, 4000, 3000), 6, folder="f", scope_all=False, since=0)
    assert [(r, d) for r, d, _ in near] == [(record, 2)]
    assert [n.record for n in b.named("f", "IMG_7777.jpg")] == [record] and b.next_generation("f", "IMG_7777.jpg") == 1


def test_the_same_bytes_count_in_their_own_subfolder_only_when_the_scope_is_the_subfolder(server):
    index_scenarios.subfolder_scope(_index(server), "/x")


def test_ten_clients_each_find_their_own_look_alike_and_are_known_in_their_own_subfolder(server):
    index_scenarios.ten_clients(_index(server), "/x")


def test_a_record_scoped_by_its_folder_writes_no_subfolder_hash(server):
    """A seen hash per subfolder only for records whose copies are matched there: at a
    million records a hash entry each would be ~100 MB of Redis for nothing."""
    index = _index(server)
    assert index.claim(A, 1, "/x", folder="f", scope_all=False, since=0).verdict == "new"
    index.record(Entry(A, 1, RENDERED, "f", "card1/a.jpg", 10))
    keys = {k.decode() for k in redis.Redis.from_url(server.url).keys(PREFIX + "hf:orig:seen*")}
    assert keys == {PREFIX + "hf:orig:seen", PREFIX + "hf:orig:seen:1"}, keys
    assert index.known(A, "f") and not index.known(A, "f", "card1")


def test_a_node_killed_between_claim_and_record(server):
    """Its claim is no longer refreshed: it expires after lease_ttl and the bytes are free."""
    a, b = _index(server, ttl_ms=300), _index(server, ttl_ms=300)
    assert a.claim(A, 1, "/x", folder="f", scope_all=False, since=0).verdict == "new"
    assert b.claim(A, 2, "/y", folder="f", scope_all=False, since=0).verdict == "busy"
    a.refresh_claims()  # a live node keeps it
    time.sleep(0.2)
    assert b.claim(A, 2, "/y", folder="f", scope_all=False, since=0).verdict == "busy"
    wait_for(lambda: b.claim(A, 2, "/y", folder="f", scope_all=False, since=0).verdict == "new", 5,
             what="the dead node's claim to expire")


def test_a_claim_or_a_job_lease_without_a_ttl_or_a_far_one_holds_for_one_lease_not_for_ever(server):
    """Every holder of ours sets a TTL; a key without one (forged by anyone who can write to
    the Redis, or restored from elsewhere) held its bytes or its job for ever. Met, it is
    given one: busy for a lease's time, then free."""
    from hotfolder.cluster.store import Holder, Store
    from hotfolder.config.model import Cluster

    client = redis.Redis.from_url(server.url)
    b = _index(server, ttl_ms=300)
    claim = f"{PREFIX}hf:orig:claim:{A}"
    client.set(claim, "999")  # no PX
    assert b.claim(A, 2, "/y", folder="f", scope_all=False, since=0).verdict == "busy"
    assert 0 < client.pttl(claim) <= 300
    wait_for(lambda: b.claim(A, 2, "/y", folder="f", scope_all=False, since=0).verdict == "new", 5,
             what="the claim without a TTL to expire")

    store = Store(Cluster(enabled=True, broker_url=server.url, cluster_id="test", lease_ttl=0.3), client)
    lease = store._k("lease", "job-1")
    forged = Holder("elsewhere", "another-host", 4242, "f00d")
    client.set(lease, str(forged))  # no PX, another machine's: not provably dead
    me = Holder.here("n1")
    assert store.acquire("job-1", me) == forged
    assert 0 < client.pttl(lease) <= 300
    wait_for(lambda: store.acquire("job-1", me) is None, 5, what="the lease without a TTL to expire")
    assert client.get(lease).decode() == str(me) and client.pttl(lease) > 0
    client.set(store._k("lease", "job-2"), b"\xff\xfe not text")  # no PX, not UTF-8: raised before it was bounded
    assert store.acquire("job-2", me) is not None and 0 < client.pttl(store._k("lease", "job-2")) <= 300
    # A live holder's lease is left as it is: it has its TTL, and refreshes keep it.
    other = Holder("n2", "another-host", 4243, "beef")
    assert store.acquire("job-1", other) == me
    # A TTL longer than any holder sets (10 years, forged) held its job and its bytes for ever
    # too (an attack round); a node's longer lease_ttl, up to the config's hour, is left as it
    # is (bounding at 10x this node's cut such a live lease: a review).
    client.set(store._k("lease", "job-3"), str(forged), px=10 * 365 * 86400 * 1000)
    assert store.acquire("job-3", me) == forged and 0 < client.pttl(store._k("lease", "job-3")) <= 300
    client.set(store._k("lease", "job-4"), str(forged), px=3600 * 1000)  # 12,000 of this node's leases
    assert store.acquire("job-4", me) == forged and client.pttl(store._k("lease", "job-4")) > 3500 * 1000
    client.set(claim, "999", px=10 * 365 * 86400 * 1000)
    assert b.claim(A, 2, "/y", folder="f", scope_all=False, since=0).verdict == "busy"
    assert 0 < client.pttl(claim) <= 300


def test_a_node_killed_between_record_and_archive_renders_again(server):
    """The re-sent job finds its own record: dropped, and the file rendered again (not a
    duplicate of itself); the look-alike lookup no longer finds the dropped record."""
    a = _index(server)
    a.claim(A, 7, "/x", folder="f", scope_all=False, since=0)
    a.record(Entry(A, 7, RENDERED, "f", "a.jpg", 10, look=Look(99, 4, 3)))
    again = _index(server)
    assert again.claim(A, 7, "/x", folder="f", scope_all=False, since=0).verdict == "new"
    assert again.lookalikes(Look(99, 4, 3), 0, folder="f", scope_all=False, since=0) == []
    assert _index(server).claim(A, 8, "/z", folder="f", scope_all=False, since=0).verdict == "busy"


def test_the_mirror_starts_over_when_redis_lost_its_data(server):
    a = _index(server)
    a.record(Entry(A, 1, RENDERED, "f", "a.jpg", 10, look=Look(5, 4, 3)))
    assert a.lookalikes(Look(5, 4, 3), 0, folder="f", scope_all=False, since=0)
    redis.Redis.from_url(server.url).flushall()
    b = _index(server)
    b.record(Entry(B, 2, RENDERED, "f", "b.jpg", 10, look=Look(7, 4, 3)))
    assert a.lookalikes(Look(5, 4, 3), 0, folder="f", scope_all=False, since=0) == []
    assert a.lookalikes(Look(7, 4, 3), 0, folder="f", scope_all=False, since=0)


def test_two_nodes_never_render_the_same_bytes(tmp_path, server):
    """Eight copies of one photo and a resized copy dropped at once into a cluster of two
    nodes: one rendering, seven skipped with records naming it, the resized one flagged."""
    from tests.harness.cluster import Cluster

    c = Cluster(tmp_path / "c", server)
    try:
        c.start_head()
        c.start_worker("w0")
        c.start_worker("w1")
        photos = card("coffee")
        staging = c.tmp / "staging"
        staging.mkdir()
        names = [f"copy{i}.jpg" for i in range(8)]
        for name in names:
            (staging / name).write_bytes(photos["first"])
        (staging / "resized.jpg").write_bytes(photos["resized"])
        for name in [*names, "resized.jpg"]:
            os.rename(staging / name, c.inbox / name)
        duplicates = c.base / "duplicates"
        # A node logs file_done just after the archive move: waiting for the folders alone, the
        # events were read in between once in ~10 runs under load (resized.jpg archived, its line not yet written).
        wait_for(lambda: len(files_under(c.archive)) + len([p for p in files_under(duplicates)
                                                            if not p.endswith(".json")]) == 9
                 and not files_under(c.processing) and len(c.worker_events("file_done")) >= 2, 90,
                 what="nine originals at their end, and the two renders said")
        rendered = [e["file"] for e in c.worker_events("file_done")]
        assert sorted(rendered) in (sorted([n, "resized.jpg"]) for n in names), c.logs()
        first = next(n for n in rendered if n != "resized.jpg")
        skipped = sorted(p for p in files_under(duplicates) if not p.endswith(".json"))
        assert skipped == sorted(set(names) - {first})
        lines = {e["file"]: e for e in c.worker_events("file_skipped")}
        for name in skipped:
            record = json.loads((duplicates / f"{name}.duplicate.json").read_text())
            assert record["kind"] == "exact" and record["matched"]["name"] == first
            # a copy under a name of its own: the node's line and record say how to have it rendered as that
            # too, as a local daemon's do (they said only what it repeats)
            own = f"its outputs are {first}'s; to have it rendered as {name} too: `cp {duplicates / name} "
            assert record.get("own_name", "").startswith(own), record
            assert lines[name].get("own_name") == record["own_name"], lines[name]
        assert sorted(files_under(c.output)) == sorted([f"{first[:-4]}_web.jpg", "resized_web.jpg"])
        found = subprocess.run([sys.executable, "-m", "hotfolder", "duplicates", "--json", "--config", str(c.config)],
                               capture_output=True, text=True, timeout=60)
        listed = {f["file"]: f for f in json.loads(found.stdout)}
        assert listed["resized.jpg"]["action"] == "rendered" and listed["resized.jpg"]["matched"]["name"] == first
        assert all(listed[n]["own_name"].startswith(f"its outputs are {first}'s") for n in skipped), listed
        wait_for(lambda: (c.status()["folders"]["photos"].get("duplicates") or {}) == {"exact": 7, "similar": 1,
                                                                                  "passed_through": 0},
                 15, what="the head's status to count the nodes' duplicates")
    finally:
        c.stop_all()


def test_a_name_that_is_not_utf8_is_rendered_and_known_again_in_cluster_mode(cluster_factory):
    """Local mode renders it; the cluster's index sent the name to Redis as text, and
    redis-py's UTF-8 refused it: the file failed (an attack round on cluster mode)."""
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    name = "na\udcefve.jpg"  # b"na\xefve.jpg": Latin-1, as old cameras' cards and Windows shares write
    c.drop([name])
    wait_for(lambda: c.settled(1), 60, what="the file")
    assert name in files_under(c.archive) and "na\udcefve_web.jpg" in files_under(c.output), c.logs()
    assert not files_under(c.failed)
    again = c.tmp / "staging" / name
    again.write_bytes((c.archive / name).read_bytes())  # the same bytes again: a duplicate, by the index
    os.rename(again, c.inbox / name)
    duplicates = c.base / "duplicates"
    wait_for(lambda: name in files_under(duplicates), 60, what="the copy skipped, the index knowing it")
    record = json.loads((duplicates / f"{name}.duplicate.json").read_text())
    assert record["matched"]["name"] == "na\\xefve.jpg", record  # the name's bytes as \xNN, as records show them
    assert not files_under(c.failed), c.logs()


def test_a_cluster_head_s_status_counts_the_clip_it_compares(cluster_factory):
    """The head passes clips through and compares one dumped again itself (no node reads it):
    its status counts it while it lies in the inbox, as a local daemon's does. Held at the
    comparison's open of the archived clip (fanotify: tests/harness/held.py)."""
    from tests.harness import hotfolder
    from tests.harness.held import HeldOpen

    c = cluster_factory()
    c.start_head()
    clip = os.urandom(1 << 16)
    staging = c.tmp / "staging"
    staging.mkdir()
    (staging / "MVI_0009.MP4").write_bytes(clip)
    os.rename(staging / "MVI_0009.MP4", c.inbox / "MVI_0009.MP4")
    wait_for(lambda: c.events("head", "file_passed_through"), 30, what="the clip archived by the head")
    with HeldOpen(c.archive / "MVI_0009.MP4") as held:
        (staging / "MVI_0009.MP4").write_bytes(clip)
        os.rename(staging / "MVI_0009.MP4", c.inbox / "MVI_0009.MP4")
        held.wait_open(30)
        wait_for(lambda: c.status()["folders"]["photos"].get("comparing") == 1, 10,
                 what="the head's status to count the clip being compared")
        shown = hotfolder("status", "--config", str(c.config)).stdout
        assert "  comparing  1      clip in the inbox" in shown, shown
    wait_for(lambda: c.events("head", "file_skipped"), 30, what="the copy skipped")
    wait_for(lambda: c.status()["folders"]["photos"]["comparing"] == 0, 10, what="the count back to 0")
    assert files_under(c.archive) == ["MVI_0009.MP4"] and not files_under(c.failed), c.logs()


def test_a_cluster_s_card_dumped_again_into_another_subfolder_does_not_archive_its_clips_again(cluster_factory):
    """A studio's cluster: a card dumped into `card1/`, then again into `backup/`. Only a clip at
    its own path was compared (the rows of clips archived were state_dir's, and a cluster has
    none): every clip was archived a second time. The head keeps them in Redis now, written
    before the archive move; the copy (its name lower-cased by another reader) goes to
    duplicates/, another clip of that name and size is archived as before."""
    c = cluster_factory()
    c.start_head()
    clip = os.urandom(1 << 20)
    staging = c.tmp / "staging"
    first, again = "card1/DCIM/100CANON/MVI_0009.MP4", "backup/DCIM/100CANON/mvi_0009.mp4"
    for rel, data in ((first, clip), (again, clip)):
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_bytes(data)
    (c.inbox / "card1").mkdir()
    os.rename(staging / "card1/DCIM", c.inbox / "card1/DCIM")
    wait_for(lambda: files_under(c.archive) == [first], 30, what="the clip archived by the head")
    client = redis.Redis.from_url(c.redis.url)
    wait_for(lambda: client.keys("hotfolder:test-cluster:hf:passed:*"), 10, what="the clip's row in Redis")
    from tests.harness import hotfolder

    explained = hotfolder("explain", "--config", str(c.config), str(staging / again), "--subfolder",
                          "backup/DCIM/100CANON").stdout
    assert (f"but {c.archive / first}, archived from another subfolder, holds its very bytes (the same card dumped "
            "again?)") in explained, explained  # read from Redis by the command too
    (c.inbox / "backup").mkdir()
    os.rename(staging / "backup/DCIM", c.inbox / "backup/DCIM")
    duplicates = c.base / "duplicates"
    wait_for(lambda: (duplicates / f"{again}.duplicate.json").exists(), 30, what="the copy skipped")
    record = json.loads((duplicates / f"{again}.duplicate.json").read_text())
    assert record["matched"]["archived"] == first and record["matched"]["folder"] == "photos", record
    assert (duplicates / again).read_bytes() == clip and files_under(c.archive) == [first], c.logs()
    other = clip[:-1] + bytes([clip[-1] ^ 1])  # the same name and size, another clip
    (staging / "card3").mkdir()
    (staging / "card3/MVI_0009.MP4").write_bytes(other)
    os.rename(staging / "card3", c.inbox / "card3")
    wait_for(lambda: "card3/MVI_0009.MP4" in files_under(c.archive), 30, what="the other clip archived")
    assert len(c.events("head", "file_skipped")) == 1 and not files_under(c.failed), c.logs()
    wait_for(lambda: c.status()["folders"]["photos"]["duplicates"].get("passed_through") == 1, 10,
             what="the head's status to count the clip skipped")


def test_a_forged_index_record_fails_no_file_and_a_forged_count_is_no_broker_outage(cluster_factory):
    """The tester's two lines: a record with a names entry failed the good file of that name
    ("ValueError: invalid literal for int()"), and a count that is not one made the status say
    the broker was unreachable."""
    from tests.harness.cluster import jpeg

    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    c.drop(["first.jpg"])  # the folder gets its id in the index
    wait_for(lambda: c.settled(1), 60, what="first.jpg")
    client, p = redis.Redis.from_url(c.redis.url), "hotfolder:test-cluster:hf:"
    fid = client.hget(p + "orig:folders", "photos")
    client.hset(p + "orig:rec", 999999, '{"f":"photos","n":"victim.jpg","t":"soon","p":"x"}')
    client.hset(p + "orig:names", fid + b"\0victim.jpg", "999999")
    client.set(p + "stats:processed", "notanumber")
    os.rename(jpeg(c.tmp / "staging" / "victim.jpg", seed=5), c.inbox / "victim.jpg")  # other bytes than first.jpg
    wait_for(lambda: c.settled(2), 60, what="victim.jpg")
    assert sorted(files_under(c.archive)) == ["first.jpg", "victim.jpg"] and not files_under(c.failed), c.logs()
    wait_for(lambda: c.events("head", "count_unusable"), 10, what="the head to say which count is not one")
    cluster = c.status()["cluster"]
    assert cluster["broker"] == "ok" and cluster["failed"] == 0, cluster


def test_a_forged_send_time_neither_stops_the_re_sends_nor_holds_its_job(server, tmp_path):
    """One value in `hf:enqueued` that is not a time ("not-a-time") made every reconciler pass
    fail, and no lost job was sent again; `inf` or a far future time held its job for ever
    (an attack round). Each is taken as never sent: the job is sent again."""
    from hotfolder.cluster import jobs
    from hotfolder.cluster.reconcile import Reconciler
    from hotfolder.cluster.store import Store
    from hotfolder.config.model import Cluster

    client = redis.Redis.from_url(server.url)
    cluster = Cluster(enabled=True, broker_url=server.url, cluster_id="test", lease_ttl=1, stale_after=60)
    store, records = Store(cluster, client), jobs.Records(tmp_path)
    forged = {"j1": "not-a-time", "j2": "inf", "j3": "1e300", "j4": None}
    for job, value in forged.items():
        records.write(jobs.Record(job, "f", f"{job}.jpg", f"f/processing/{job}.jpg", 0.0))
        if value is not None:
            client.hset(store._k("enqueued"), job, value)
    now = time.time()
    client.hset(store._k("enqueued"), "j5", repr(now))  # sent a moment ago: waits
    records.write(jobs.Record("j5", "f", "j5.jpg", "f/processing/j5.jpg", 0.0))
    sent: list[str] = []
    reconciler = Reconciler(cluster, records, store, lambda rec: sent.append(rec.job))
    reconciler.run(now)  # the first pass without a lease only notes the time
    assert reconciler.run(now + 2).resent == 4
    assert sorted(sent) == ["j1", "j2", "j3", "j4"]


def test_a_lease_is_taken_over_at_once_only_from_a_dead_process_of_this_very_machine(server, tmp_path):
    """A holder on a machine of the same host name (a cloned VM, containers given one
    --hostname) whose pid is not in our /proc is alive elsewhere: by host name alone it was
    taken for dead, and the job rendered twice (an attack round). The machine is told by its
    boot id and PID namespace too; one of ours whose process is gone is taken over at once."""
    import socket
    from dataclasses import replace

    from hotfolder.cluster.store import Holder, Store, machine
    from hotfolder.config.model import Cluster

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(10)
    store = Store(Cluster(enabled=True, broker_url=server.url, cluster_id="test", lease_ttl=30),
                  redis.Redis.from_url(server.url))
    me = Holder.here("n1")
    twin = Holder("n2", f"{socket.gethostname()}@another-boot:4026531836", gone.pid, "f00d")
    store.r.set(store._k("lease", "job-1"), str(twin), px=30_000)
    assert store.acquire("job-1", me) == twin  # alive on its own machine, for all we can see
    old_form = replace(twin, host=socket.gethostname())  # a holder of a release before this one
    store.r.set(store._k("lease", "job-2"), str(old_form), px=30_000)
    assert store.acquire("job-2", me) == old_form
    dead_here = Holder("n2", machine(), gone.pid, "beef")
    store.r.set(store._k("lease", "job-3"), str(dead_here), px=30_000)
    assert store.acquire("job-3", me) is None  # provably dead: taken over at once


def test_the_fence_says_superseded_only_when_the_share_says_so(tmp_path):
    """cluster/tasks.py's fence: the job's record gone or another attempt's is Superseded; a
    record the share cannot read now (EIO, ESTALE; here a folder in its place) is not known
    to be another's, and was raised out of the task instead of the job retried (a review)."""
    pytest.importorskip("celery", reason="the cluster extra is not installed")
    from types import SimpleNamespace

    from hotfolder.cluster import jobs
    from hotfolder.cluster.tasks import _Fence
    from hotfolder.jobs import Superseded

    records = jobs.Records(tmp_path)
    mine = jobs.Record("j1", "f", "a.jpg", "f/processing/a.jpg", 0.0).started("n1")
    records.write(mine)
    fence = _Fence(SimpleNamespace(records=records), mine, SimpleNamespace(lost=False))
    fence()  # still this attempt's
    records.path("j1").unlink()
    records.path("j1").mkdir()  # reading it fails (IsADirectoryError), as a share's EIO would
    fence()
    records.path("j1").rmdir()
    with pytest.raises(Superseded, match="ended elsewhere"):
        fence()
    records.write(mine.started("n2"))
    with pytest.raises(Superseded, match="on n2"):
        fence()
    with pytest.raises(Superseded, match="took this job's lease"):
        _Fence(SimpleNamespace(records=records), mine, SimpleNamespace(lost=True))()


FORGED = ['{"f":"f","n":"victim.jpg","t":"soon","p":"x"}', "not json", "[1, 2]", '"text"', "[" * 5000,
          '{"f":"f","n":"victim.jpg","t":1.5,"s":1,"p":"x"}', '{"f":"f","n":5,"t":1.5,"s":1}',
          '{"f":"f","n":"victim.jpg","t":1e999,"s":1}', '{"f":"f","n":"victim.jpg","t":1.5,"s":[1]}',
          '{"f":"f","n":"victim.jpg","t":1.5,"s":1,"o":"x"}', '{"f":"f","n":{"b64":"%%"},"t":1.5,"s":1}',
          '{"f":"f","n":"victim.jpg","t":1.5,"s":1,"g":1e30}', '{"f":"f","n":"victim.jpg","t":1.5,"s":1,"k":[1]}',
          '{"f":"f","n":"victim.jpg","t":1.5,"s":1,"m":"x"}']


def test_index_values_that_are_not_the_nodes_are_read_as_absent_and_logged_once(server):
    """The index is data whoever can write to the Redis can change: one forged record under a
    file's name (`"t": "soon", "p": "x"`) failed every good file of that name with "ValueError:
    invalid literal for int()" (a tester's finding). A record or an id that is not one reads as
    no record, as a job record does (jobs.record_of), and is logged once."""
    from structlog.testing import capture_logs

    from hotfolder.cluster.originals import _name_key

    index, client = _index(server), redis.Redis.from_url(server.url)
    look = Look(0xF0F0_0000_FFFF_1234, 4000, 3000, (4, -8))
    assert index.claim(A, 1, "/x", folder="f", scope_all=False, since=0).verdict == "new"
    good = index.record(Entry(A, 1, RENDERED, "f", "victim.jpg", 10, look=look, outputs=("victim_web.jpg",)))
    forged = list(range(900_001, 900_001 + len(FORGED)))
    for record, raw in zip(forged, FORGED, strict=True):
        client.hset(PREFIX + "hf:orig:rec", record, raw)
        client.append(PREFIX + "hf:orig:phash", look.phash.to_bytes(8, "big") + (1).to_bytes(4, "big")
                      + record.to_bytes(4, "big"))
    ids = " ".join(["abc", "-3", *map(str, forged), str(good)])
    client.hset(PREFIX + "hf:orig:names", _name_key(index.folder_id("f"), "victim.jpg"), ids)
    client.lpush(PREFIX + "hf:orig:found", "abc", *forged)
    # other bytes "seen" as a forged record (its time a number: a duplicate to the claim's script), or a forged id
    C = "c" * 64
    client.hset(PREFIX + "hf:orig:seen:1", mapping={B: forged[5], C: "abc"})
    client.hset(PREFIX + "hf:orig:rec", "abc", '{"f":"f","n":"victim.jpg","t":1.5,"s":1}')
    client.hset(PREFIX + "hf:orig:stats", "f|exact", "many")
    client.hset(PREFIX + "hf:orig:folders", "g", "abc")
    with capture_logs() as said:
        for _ in range(2):
            assert [n.record for n in index.named("f", "victim.jpg")] == [good]
            assert all(index.match(record, Kind.EXACT, 0) is None for record in forged)
            near = index.lookalikes(look, 6, folder="f", scope_all=True, since=0)
            assert [r for r, _, _ in near] == [good]
            assert index.found(50) == []
            assert index.counts() == {}
            assert index.claim(B, 7, "/y", folder="f", scope_all=False, since=0).verdict == "new"
            assert index.claim(C, 8, "/z", folder="f", scope_all=False, since=0).verdict == "new"
    assert index.folder_id("g") >= 2  # a forged folder id is replaced by one of ours
    unusable = [e for e in said if e["event"] == "index_value_unusable"]
    assert len(unusable) == len(unusable_values := {(e["key"], e["value"]) for e in unusable}), unusable
    assert {(PREFIX + "hf:orig:rec", str(record)) for record in forged} <= unusable_values
    assert {(PREFIX + "hf:orig:names", "abc"), (PREFIX + "hf:orig:seen", "abc"),
            (PREFIX + "hf:orig:stats", "many")} <= unusable_values


def test_counts_that_are_not_counts_read_as_0_not_as_an_unreachable_broker(server):
    """`SET …hf:stats:processed notanumber` made the head's status say the broker was
    unreachable (a tester's finding): a count that is not one reads as 0, logged once with
    what to do."""
    from structlog.testing import capture_logs

    from hotfolder.cluster.store import Store
    from hotfolder.config.model import Cluster
    from hotfolder.jobs import Verdict

    client = redis.Redis.from_url(server.url)
    store = Store(Cluster(enabled=True, broker_url=server.url, cluster_id="test"), client)
    store.count(Verdict.FAILED, "photos")
    client.set(store._k("stats", "processed"), "notanumber")
    client.hset(store._k("stats", "processed", "by_folder"), "photos", "-2")
    client.set(store._k("stats", "refused"), "1e3")
    with capture_logs() as said:
        for _ in range(2):
            assert store.counts() == (0, 1)
            assert store.counts_by_folder() == {"photos": (0, 1)}
            assert store.refused_count() == 0
    logged = [(e["key"], e["field"], e["action"]) for e in said if e["event"] == "count_unusable"]
    assert logged == [(store._k("stats", "processed"), None, f"DEL {store._k('stats', 'processed')} (it counts "
                       "again from 0)"),
                      (store._k("stats", "processed", "by_folder"), "photos",
                       f"HDEL {store._k('stats', 'processed', 'by_folder')} photos (it counts again from 0)"),
                      (store._k("stats", "refused"), None, f"DEL {store._k('stats', 'refused')} (it counts again "
                       "from 0)")]


def test_index_rebuild_lists_a_cluster_s_archived_clips_again_into_redis(cluster_factory):
    """Redis lost its data: `redis_data_lost` says the records of clips went with the index and
    asks for `hotfolder index rebuild`, which made the index again but said "clips passed
    through not listed (cluster mode keeps no records of them)", untrue since the head keeps
    them in Redis: a card dumped again into another subfolder had its clips archived twice. The
    rebuild lists them into Redis now (a row there is kept), and the head finds them."""
    c = cluster_factory()
    c.start_head()
    clip = os.urandom(1 << 20)
    staging = c.tmp / "staging"
    for rel in ("card1/MVI_0009.MP4", "backup/mvi_0009.mp4"):
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_bytes(clip)
    os.rename(staging / "card1", c.inbox / "card1")
    wait_for(lambda: files_under(c.archive) == ["card1/MVI_0009.MP4"], 30, what="the clip archived by the head")
    client = redis.Redis.from_url(c.redis.url)
    wait_for(lambda: client.keys("hotfolder:test-cluster:hf:passed:*"), 10, what="the clip's row in Redis")
    assert c.stop("head") == 0
    (c.archive / "old").mkdir()
    (c.archive / "old/MVI_0001.MP4").write_bytes(b"old")
    client.flushall()  # Redis restarted without persistence
    from tests.harness import hotfolder

    rebuilt = hotfolder("index", "rebuild", "--config", str(c.config), timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "; 2 clips passed through listed (0 of them known already)" in rebuilt.stdout, rebuilt.stdout
    assert len(client.keys("hotfolder:test-cluster:hf:passed:*")) == 2
    again = hotfolder("index", "rebuild", "--config", str(c.config), timeout=120)
    assert "; 2 clips passed through listed (2 of them known already)" in again.stdout, again.stdout
    c.start_head()
    os.rename(staging / "backup", c.inbox / "backup")
    duplicates = c.base / "duplicates"
    wait_for(lambda: (duplicates / "backup/mvi_0009.mp4.duplicate.json").exists(), 30, what="the copy skipped")
    assert files_under(c.archive) == ["card1/MVI_0009.MP4", "old/MVI_0001.MP4"], c.logs()


def test_index_rebuild_says_what_to_do_when_the_cluster_s_redis_does_not_answer(cluster_factory, tmp_path):
    """A clip in archive/ and a Redis that refuses: a traceback of redis-py's, not a line."""
    from tests.harness import hotfolder
    from tests.redis_server import free_port

    c = cluster_factory()
    (c.archive / "card1").mkdir(parents=True)
    (c.archive / "card1/MVI_0009.MP4").write_bytes(b"clip")
    away = c.write_config({"enabled": True, "broker_url": f"redis://127.0.0.1:{free_port()}/0",
                           "cluster_id": "test-cluster", "shared_root": str(c.root)}, tmp_path / "away.yaml")
    rebuilt = hotfolder("index", "rebuild", "--config", str(away), timeout=60)
    assert rebuilt.returncode == 1 and "Traceback" not in rebuilt.stderr, rebuilt.stderr
    assert rebuilt.stderr.startswith("hotfolder index rebuild: the cluster's Redis does not answer ("), rebuilt.stderr
    assert f"check cluster.broker_url in {away} and that Redis runs, then run it again" in rebuilt.stderr


def test_index_rebuild_says_in_one_line_a_redis_that_does_not_answer_when_the_archive_holds_photos(
        cluster_factory, tmp_path):
    """A README audit: with photos and no clip in archive/, listing the clips never reached
    Redis, and each photo was said as `unreadable` (its ConnectionError, one line a photo),
    under 'index rebuilt from the archives': the README promises one line, exit 1."""
    from PIL import Image

    from tests.harness import hotfolder
    from tests.redis_server import free_port

    c = cluster_factory()
    (c.archive / "shoot").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (64, 48), (40 * i, 80, 120)).save(c.archive / "shoot" / f"IMG_{i}.jpg")
    away = c.write_config({"enabled": True, "broker_url": f"redis://127.0.0.1:{free_port()}/0",
                           "cluster_id": "test-cluster", "shared_root": str(c.root)}, tmp_path / "away.yaml")
    rebuilt = hotfolder("index", "rebuild", "--config", str(away), timeout=60)
    assert rebuilt.returncode == 1 and "Traceback" not in rebuilt.stderr, rebuilt.stderr
    assert rebuilt.stdout == "", rebuilt.stdout  # no "index rebuilt"
    assert rebuilt.stderr.startswith("hotfolder index rebuild: the cluster's Redis does not answer ("), rebuilt.stderr
    assert len(rebuilt.stderr.strip().splitlines()) == 1, rebuilt.stderr
