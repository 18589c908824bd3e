"""Cluster mode with the real thing: redis-server, the head (`hotfolder run`) and 2–3
`hotfolder worker` processes (one render process each) on a temp shared root
(tests/harness/cluster.py; its hook holds or kills a render mid-task). Every wait has a deadline.
"""
from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.harness import files_under, wait_for
from tests.harness.cluster import Cluster, redis_client, send_again
from tests.sources import xmp_packet


def stat_count(c: Cluster, what: str) -> int:
    return int(redis_client(c).get(f"hotfolder:test-cluster:hf:stats:{what}") or 0)


def wait_counts(c: Cluster, processed: int, failed: int = 0) -> None:
    """The counts are added just after the job ends: wait for them, briefly."""
    wait_for(lambda: (stat_count(c, "processed"), stat_count(c, "failed")) == (processed, failed), 5,
             what=f"the cluster counts to read processed {processed}, failed {failed}")


# ---------------------------------------------------------------------------------------------

def test_burst_exactly_once_across_three_workers(cluster_factory):
    c = cluster_factory()
    c.start_head()
    for i in range(3):
        c.start_worker(f"w{i}")
    names = [f"img{i:02d}.jpg" for i in range(30)]
    c.drop(names)
    wait_for(lambda: c.settled(30), 60, what="30 files to be archived")
    c.assert_exactly_once(names)
    nodes = Counter(e["node"].split("@")[0] for e in c.worker_events("file_done"))
    assert len(nodes) >= 2, f"the work was not shared: {nodes}"
    wait_counts(c, processed=30)
    wait_for(lambda: c.status().get("cluster", {}).get("processed") == 30, 10, what="status to say 30")
    st = c.status()
    assert st["running"] and st["cluster"]["in_flight"] == 0 and st["cluster"]["broker"] == "ok"
    human = subprocess.run([sys.executable, "-m", "hotfolder", "status", "--config", str(c.config)],
                           capture_output=True, text=True, timeout=30).stdout
    assert "queue length" in human and "oldest claimed" in human
    assert c.stop("head") == 0
    assert c.stop("w0") == 0


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def hold(c: Cluster, name: str) -> Path:
    path = c.hold / f"hold-{name}"
    path.write_text("")
    return path


def done_event(c: Cluster, name: str) -> dict:
    found = [e for e in c.worker_events("file_done") if e["file"] == name]
    assert len(found) == 1, f"{name}: {len(found)} file_done events\n{c.logs()}"
    return found[0]


def queued(c: Cluster) -> int:
    """Messages waiting in the cluster's queues (one per config version)."""
    r = redis_client(c)
    return sum(r.llen(key) for key in r.scan_iter(match="hotfolder:test-cluster:hotfolder.*"))




def test_the_head_and_check_config_say_the_nodes_render_not_workers(cluster_factory):
    """`workers` is unused in cluster mode: the head's `ready` and check-config said '2 workers',
    as if the head rendered too (the cluster audit)."""
    from tests.harness.daemon import hotfolder

    c = cluster_factory()
    c.start_head()
    ready, = c.events("head", "ready")
    assert (ready["workers"], ready["cluster"]) == (0, "test-cluster"), ready
    said = wait_for(lambda: (out := hotfolder("status", "--config", str(c.config)).stdout) and "cluster " in out
                    and out, 15, what="the head's status").splitlines()
    assert "  workers    none here: the cluster's nodes render (`hotfolder worker`)" in said, said
    assert any(line.startswith("  processed  0") and line.endswith("by the cluster's nodes (Redis's counts)")
               for line in said), said
    checked = hotfolder("check-config", str(c.config))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[0].endswith("; cluster test-cluster: its nodes render (`hotfolder worker`, a "
                                                   "render process per core a node), not `workers`"), checked.stdout


def test_the_head_logs_a_line_for_each_file_a_node_ended(cluster_factory):
    """The head's log said `file_sent` of each file and nothing of its end: an admin at the head
    (its journal, its terminal) had to read every node's to know what failed (the cluster audit)."""
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    c.drop(["a.jpg"])
    (c.inbox / "notes.jpg").write_bytes(b"shot list for Monday")
    wait_for(lambda: c.settled(2), 30, what="both files to end")
    told = {e["file"]: e for e in wait_for(lambda: len(c.events("head", "file_told")) == 2
                                           and c.events("head", "file_told"), 10, what="the head's lines")}
    assert (told["a.jpg"]["told"], told["a.jpg"]["outputs"], told["a.jpg"]["level"]) == ("done", ["a_web.jpg"], "info")
    bad = told["notes.jpg"]
    assert (bad["told"], bad["step"], bad["level"]) == ("failed", "open", "warning")
    assert "not an image in an accepted format" in bad["reason"]


def test_a_late_sidecar_of_an_image_no_rendition_took_on_a_node_is_told_so(cluster_factory):
    """A node archives an image no rendition's `when:` took and tells the head, which notes it as
    local mode's ledger does: its late sidecar is said taken by no rendition without it, where
    the head said 'its image was rendered before it arrived' (nothing was: the cluster audit)."""
    c = cluster_factory()
    c.config.write_text(c.config.read_text().replace("        format: jpeg\n", "        format: jpeg\n"
                                                     "        when: {keywords: portfolio}\n", 1))
    c.start_head()
    c.start_worker("w0")
    c.drop(["late.jpg"])
    wait_for(lambda: any(e["file"] == "late.jpg" for e in c.events("head", "file_told")), 30,
             what="the head to hear late.jpg ended")
    assert files_under(c.archive) == ["late.jpg"] and not files_under(c.output)
    staged = c.tmp / "staging" / "late.xmp"
    staged.write_bytes(xmp_packet(keywords=("portfolio",)))
    os.rename(staged, c.inbox / "late.xmp")
    said = wait_for(lambda: c.events("head", "sidecar_alone"), 30, what="the head to archive the sidecar")[0]
    assert said["late"] is True, said
    assert said["note"].startswith("its image late.jpg arrived before it, and no rendition's `when:` took it "
                                   "without it (archived, nothing written)"), said


def test_the_status_page_of_a_head_says_which_nodes_render(cluster_factory):
    """The page's 'Being rendered' is the local workers': on a cluster's head it said 'nothing is
    being rendered' while its nodes rendered (the cluster audit)."""
    import urllib.request

    c = cluster_factory()
    c.config.write_text(c.config.read_text() + 'http: {listen: "127.0.0.1:0"}\n')
    c.start_head()
    c.start_worker("w0")
    url = wait_for(lambda: c.events("head", "http_listening"), 20, what="the head's listener")[-1]["url"]
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")

    def page() -> str:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()

    text = wait_for(lambda: (p := page()) and 'class="node"><td>w0@' in p and p, 15, what="the page to name w0")
    assert "<h2>Being rendered on the cluster's nodes</h2>" in text and "nothing is being rendered" not in text
    held.unlink()
    wait_for(lambda: c.settled(1), 30, what="a.jpg to be done")
    wait_for(lambda: "no node is rendering now" in page(), 15, what="the page to say no node renders")


def test_pool_child_killed_mid_task_is_redelivered(cluster_factory):
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg", "b.jpg"])
    (attempt, pid), = wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    assert attempt == 1 and parent_of(pid) in {p.pid for p in c.procs.values()}  # a pool child
    os.kill(pid, signal.SIGKILL)
    held.unlink()
    wait_for(lambda: c.settled(2), 30, what="both files to end")
    c.assert_exactly_once(["a.jpg", "b.jpg"])
    assert done_event(c, "a.jpg")["attempts"] == 2
    assert [a for a, _ in c.started("a.jpg")] == [1, 2]


def test_whole_worker_killed_job_recovered(cluster_factory):
    # visibility_timeout 5: Redis gives the dead node's message back; stale_after 8: else the reconciler
    c = cluster_factory(visibility_timeout=5, stale_after=8, lease_ttl=2)
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    (_, pid), = wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    victim = next(n for n, p in c.procs.items() if p.pid == parent_of(pid))
    t0 = time.monotonic()
    c.stop(victim, signal.SIGKILL)  # the whole process group: the machine is gone
    held.unlink()
    wait_for(lambda: c.settled(1), 30, what="a.jpg to be done by the surviving worker")
    recovered_in = time.monotonic() - t0
    c.assert_exactly_once(["a.jpg"])
    survivor = done_event(c, "a.jpg")
    assert survivor["node"].split("@")[0] != victim and survivor["attempts"] == 2
    assert recovered_in < 30
    # said where it is rendered again, as local mode says it (no log said the first attempt was lost)
    retry, = [e for e in c.worker_events("file_retry") if e["file"] == "a.jpg"]
    assert retry["attempt"] == 2 and f"on {victim}@" in retry["reason"] and "killed" in retry["reason"]


def test_the_status_says_a_job_a_killed_node_took_waits_for_redis_to_hand_it_back(cluster_factory):
    """A node killed outright holds its jobs' messages unacked until visibility_timeout (15 min
    by default): the head's status said '1 in flight', nothing being rendered, nothing queued,
    and not why nor for how long (the cluster audit)."""
    # reconcile_interval 30: the note comes within seconds of the lease going, not at a reconciler's pass
    c = cluster_factory(visibility_timeout=16, stale_after=16, lease_ttl=1, reconcile_interval=30)
    c.start_head()
    c.start_worker("w0")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    c.stop("w0", signal.SIGKILL)  # the whole machine: its message stays unacked in Redis
    held.unlink()
    st = wait_for(lambda: (s := c.status()).get("cluster", {}).get("held") and s, 12,
                  what="the status to say a stopped node holds a job")
    assert st["cluster"]["held"] == 1 and st["cluster"]["rendering"] == 0, st["cluster"]
    assert "1 job(s) are neither being rendered nor queued: a node that took them stopped" in st["message"], st
    assert "cluster.visibility_timeout (16 s)" in st["message"]
    said, = c.events("head", "jobs_held")
    assert said["count"] == 1
    c.start_worker("w1")
    wait_for(lambda: c.settled(1), 40, what="a.jpg to be handed to w1 and done")
    wait_for(lambda: not c.status()["cluster"].get("held"), 10, what="the note to go")


def test_poison_file_fails_after_max_attempts(cluster_factory):
    c = cluster_factory(max_attempts=3)
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    (c.hold / "kill-poison.jpg").write_text("")  # every render of it kills its process
    c.drop(["poison.jpg", "good1.jpg", "good2.jpg"])
    wait_for(lambda: c.settled(3), 60, what="the poison file to reach failed/")
    assert files_under(c.failed) == ["poison.jpg", "poison.jpg.error.json"]
    record = json.loads((c.failed / "poison.jpg.error.json").read_text())
    assert "worker lost 3 times" in record["error"] and record["attempts"] == 3 and record["step"] == "worker"
    assert [a for a, _ in c.started("poison.jpg")] == [1, 2, 3]  # bounded: no fourth render
    assert sorted(files_under(c.archive)) == ["good1.jpg", "good2.jpg"]
    assert not files_under(c.processing)
    wait_counts(c, processed=2, failed=1)


def test_same_job_sent_twice_is_a_noop(cluster_factory):
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    sent = c.events("head", "file_sent")[0]
    src = "photos/processing/a.jpg"
    send_again(c, sent["job"], src)  # while it renders: the other worker must not start it
    wait_for(lambda: [e for e in c.worker_events("job_skipped") if e["reason"] == "in_progress_elsewhere"],
             20, what="the duplicate to be skipped (lease)")
    held.unlink()
    wait_for(lambda: c.settled(1), 20, what="a.jpg to end")
    send_again(c, sent["job"], src)  # after it ended: nothing to do
    wait_for(lambda: [e for e in c.worker_events("job_skipped") if e["reason"] == "already_done"],
             20, what="the late duplicate to be a no-op")
    c.assert_exactly_once(["a.jpg"])
    assert len(c.started("a.jpg")) == 1
    wait_counts(c, processed=1)


def test_a_revoke_from_anyone_with_redis_access_stops_no_file(cluster_factory):
    """A Celery `revoke` of a job id (the task id was the job id) dropped every later send of
    that job too: its file stayed in processing/ for ever (a tester's finding). Each send has
    a task id of its own now, and a node answers no remote control command but `ping` (its
    watchdog's): neither a revoke nor a terminate of the running task's own id stops it."""
    import re

    from hotfolder.cluster import app as app_mod
    from hotfolder.config import load

    c = cluster_factory(visibility_timeout=3, stale_after=3)
    c.start_head()
    c.start_worker("w0")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg", "b.jpg"])  # b.jpg waits in the queue while a.jpg renders
    wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    job_ids = [e["job"] for e in c.events("head", "file_sent")]
    task_ids = re.findall(r"hotfolder\.render\[([^\]]+)\] received", c.log("w0"))
    app = app_mod.make_app(load(c.config).cluster)
    try:
        app.control.revoke([*job_ids, *task_ids], terminate=True)
        assert app.control.ping(destination=["w0@" + os.uname().nodename], timeout=5)  # the watchdog's still works
    finally:
        app.close()
    time.sleep(1.0)
    held.unlink()
    wait_for(lambda: c.settled(2), 30, what="both files to end")
    c.assert_exactly_once(["a.jpg", "b.jpg"])
    assert len(c.started("a.jpg")) == 1, "the revoke terminated the running render"


def test_task_longer_than_visibility_timeout_runs_once(cluster_factory):
    # Redis hands the unacked message out again after 3 s while the render takes ~7 s (celery #5935).
    # The lease (refreshed every third of it) outlives a loaded machine's stalls: at 1 s a
    # node starved for a second lost its job to the redelivered copy, by design.
    c = cluster_factory(visibility_timeout=3, stale_after=30, lease_ttl=5)
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    held = hold(c, "long.jpg")
    c.drop(["long.jpg"])
    wait_for(lambda: c.started("long.jpg"), 20, what="long.jpg to start")
    wait_for(lambda: [e for e in c.worker_events("job_skipped") if e["reason"] == "in_progress_elsewhere"],
             20, what="the redelivered copy to meet the lease")
    held.unlink()
    wait_for(lambda: c.settled(1), 20, what="long.jpg to end")
    time.sleep(1.0)  # a late redelivery would start a second render now
    c.assert_exactly_once(["long.jpg"])
    assert len(c.started("long.jpg")) == 1


def test_a_node_paused_past_its_lease_writes_nothing_once_another_took_the_job_over(cluster_factory):
    """SIGSTOP (a VM suspended, a swap storm) past the lease and the visibility timeout: another
    node renders and archives the file. Resumed, the first still wrote its outputs (with
    `{seq}`: a second set for one drop) and moved the original, or logged a failure for a
    file that was done (an attack round). It asks the share first: the job is no longer its."""
    c = cluster_factory(visibility_timeout=3, stale_after=30, lease_ttl=1)
    c.config.write_text(c.config.read_text().replace(
        "        format: jpeg", '        format: jpeg\n        filename: "{stem}_{seq:04}.{ext}"'))
    c.start_head()
    paused = c.start_worker("wa")
    held = hold(c, "x.jpg")
    c.drop(["x.jpg"])
    wait_for(lambda: c.started("x.jpg"), 20, what="x.jpg to start on wa")
    os.killpg(paused.pid, signal.SIGSTOP)
    try:
        held.unlink()
        c.start_worker("wb")
        wait_for(lambda: files_under(c.archive) == ["x.jpg"], 30, what="wb to take the job over and archive it")
        assert files_under(c.output) == ["x_0001.jpg"]
    finally:
        os.killpg(paused.pid, signal.SIGCONT)
    wait_for(lambda: c.events("wa", "job_superseded"), 30, what="wa to find the job no longer its")
    # wb logs file_done a few ms after its move archives the file, and wa, resumed, can find the job
    # no longer its within them: read at once, wb's line was not written yet (once in 5 full runs)
    wait_for(lambda: c.events("wb", "file_done"), 10, what="wb's file_done")
    assert files_under(c.output) == ["x_0001.jpg"] and files_under(c.archive) == ["x.jpg"], c.logs()
    assert not files_under(c.failed) and not c.worker_events("file_failed"), c.logs()
    assert [e["file"] for e in c.worker_events("file_done")] == ["x.jpg"]


def test_redis_restarted_mid_burst(cluster_factory):
    c = cluster_factory(lease_ttl=1)
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")
    holds = [hold(c, "img00.jpg"), hold(c, "img01.jpg")]  # both workers busy: the rest waits in Redis
    names = [f"img{i:02d}.jpg" for i in range(20)]
    c.drop(names)
    wait_for(lambda: c.started("img00.jpg") and c.started("img01.jpg"), 20, what="both held files to start")
    wait_for(lambda: queued(c) >= 10, 10, what="the other files to wait in the queue")
    c.redis.restart()  # no persistence: the queue, the leases and the counts are gone
    for h in holds:
        h.unlink()
    wait_for(lambda: c.settled(20), 60, what="all 20 files after the restart")
    c.assert_exactly_once(names)
    assert c.events("head", "jobs_resent"), "the reconciler re-sent nothing"
    # the nodes' registrations went with Redis's data for a few seconds: not "no node is registered: start a node"
    assert not c.events("head", "config_version_mismatch"), c.events("head", "config_version_mismatch")


def test_redis_down_a_while_is_not_said_as_no_node_registered_when_it_is_back(cluster_factory):
    """The head waited a refresh after the last node it saw before saying 'no node is
    registered: start a node': with Redis down longer than that (its machine rebooted), the
    error came at once when Redis was back, before the nodes could register again."""
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    held = hold(c, "a.jpg")  # a job in flight: what the error was said of
    c.drop(["a.jpg"])
    wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    wait_for(lambda: "w0@" in json.dumps(c.status().get("cluster", {}).get("nodes")), 20,
             what="the head to see w0")
    c.redis.stop()
    down = time.monotonic()
    wait_for(lambda: str(c.status().get("cluster", {}).get("broker", "")).startswith("unreachable")
             and time.monotonic() - down > 8, 20, what="Redis to be down longer than a node's refresh")
    failed = len(c.events("w0", "registration_failed"))  # back just after w0 tried: it tries again in 5 s
    wait_for(lambda: len(c.events("w0", "registration_failed")) > failed, 10, what="w0 to try to register")
    c.redis.start()
    wait_for(lambda: (s := c.status().get("cluster", {})).get("broker") == "ok" and "w0@" in json.dumps(s.get("nodes")),
             30, what="w0 to register again")
    held.unlink()
    wait_for(lambda: c.settled(1), 60, what="a.jpg to be done")
    assert not c.events("head", "config_version_mismatch"), c.events("head", "config_version_mismatch")


def test_the_head_says_when_redis_lost_its_data_while_it_ran(cluster_factory):
    """Redis restarted without persistence forgets the index of originals, `{seq}` and the
    counts: the head said so (index_empty) only at its own start, so a copy of a photo dropped
    after such a restart was rendered again with no word in any log (an admin's audit)."""
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    c.drop(["a.jpg"])
    wait_for(lambda: c.settled(1), 30, what="a.jpg to be done")
    c.redis.restart()
    lost = wait_for(lambda: c.events("head", "redis_data_lost"), 15, what="the head to say Redis lost its data")
    assert len(lost) == 1 and "index of originals is empty" in lost[0]["reason"]
    assert "appendonly yes" in lost[0]["action"] and "hotfolder index rebuild" in lost[0]["action"]
    assert "{seq}" not in lost[0]["action"]  # no name uses it here (below: one that does)
    c.stop("head")
    c.start_head()  # its own mark is there again: nothing more is said
    wait_for(lambda: len(c.events("head", "ready")) == 2, 30, what="the head to start again")
    c.drop(["b.jpg"])  # its first poll looks at the mark at once; b.jpg's end comes after
    wait_for(lambda: c.settled(2), 30, what="b.jpg to be done")
    assert len(c.events("head", "redis_data_lost")) == 1, c.log("head")


def test_an_empty_index_is_said_when_redis_comes_up_after_the_head(cluster_factory):
    """The head checks the index at its start (index_empty) and watches its mark after: with
    Redis down at the start and up later without its data (a reboot of both, Redis without
    persistence), neither said a word, and copies of archived originals were rendered again."""
    c = cluster_factory()
    c.archive.mkdir(parents=True, exist_ok=True)
    (c.archive / "old.jpg").write_bytes(b"an original archived before")
    c.redis.stop()
    c.start_head()
    assert c.events("head", "index_unreachable") and not c.events("head", "index_empty")
    c.redis.start()
    said = wait_for(lambda: c.events("head", "index_empty"), 15, what="the head to say the index is empty")
    assert "hotfolder index rebuild" in said[0]["action"], said
    assert not c.events("head", "redis_data_lost")  # not seen lost: never seen


def test_redis_restarts_during_a_render_are_not_attempts(cluster_factory):
    """Each reconnect after a Redis restart terminates the running render (Celery: its message
    cannot be acked any more) and it starts again: three restarts during one slow render sent
    a good file to failed/ as "worker lost 3 times" (a tester's finding)."""
    c = cluster_factory(max_attempts=2)
    c.start_head()
    c.start_worker("w0")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    for n in (2, 3):
        c.redis.restart()
        wait_for(lambda: len(c.started("a.jpg")) == n or files_under(c.failed), 30,  # noqa: B023
                 what=f"a.jpg to start again after Redis restart {n - 1}")
        assert not files_under(c.failed), c.logs()
    held.unlink()
    wait_for(lambda: c.settled(1), 30, what="a.jpg to end")
    c.assert_exactly_once(["a.jpg"])
    assert [a for a, _ in c.started("a.jpg")] == [1, 1, 1]
    assert done_event(c, "a.jpg")["attempts"] == 1
    assert "Terminating it instead" in c.log("w0")  # Celery did stop the render each time


def test_a_render_over_the_hard_time_limit_is_still_an_attempt(cluster_factory):
    """The hard limit stops a render with SIGTERM (then SIGKILL), as a lost broker connection
    does: that one must still count, or a file that hangs every render would loop forever."""
    # The soft limit must land in the hang: 2 s for what a node does before it (its Redis and share
    # round trips), which took over 1 s once on a CI machine under four test processes
    c = cluster_factory(max_attempts=2, task_time_limit=3, task_soft_time_limit=2, visibility_timeout=4, stale_after=4)
    c.start_head()
    c.start_worker("w0")
    (c.hold / "hang-stuck.jpg").write_text("")  # deaf to the soft limit: only the hard one ends it
    c.drop(["stuck.jpg"])
    wait_for(lambda: c.settled(1), 60, what="stuck.jpg to reach failed/")
    record = json.loads((c.failed / "stuck.jpg.error.json").read_text())
    assert "worker lost 2 times" in record["error"] and record["attempts"] == 2, record
    assert [a for a, _ in c.started("stuck.jpg")] == [1, 2]
    assert not c.events("w0", "job_stopped")


def test_worker_sigterm_mid_task_finishes_it(cluster_factory):
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    (_, pid), = wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    c.procs["w0"].send_signal(signal.SIGTERM)  # warm shutdown
    time.sleep(1.0)
    assert c.procs["w0"].poll() is None, "the worker left with a render running"
    held.unlink()
    assert c.procs["w0"].wait(20) == 0
    assert c.ended() == 1
    c.assert_exactly_once(["a.jpg"])
    assert done_event(c, "a.jpg")["attempts"] == 1


def test_head_restart_leaves_claimed_files_to_the_workers(cluster_factory):
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    held = hold(c, "a.jpg")
    c.drop(["a.jpg"])
    wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    assert c.stop("head", signal.SIGTERM) == 0
    assert files_under(c.processing) == ["a.jpg"] and not files_under(c.inbox)  # not given back
    c.start_head()
    time.sleep(1.0)
    assert files_under(c.processing) == ["a.jpg"] and not files_under(c.inbox)
    held.unlink()
    wait_for(lambda: c.settled(1), 20, what="a.jpg to end")
    c.assert_exactly_once(["a.jpg"])
    assert len(c.started("a.jpg")) == 1


def test_head_restart_leaves_a_claimed_sidecar_with_its_image(cluster_factory):
    """The restarted head adopted the XMP sidecar of a job in flight as a job of its own: it
    went to failed/ ("not an image") and the image was rendered without it (a tester's finding)."""
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    c.start_worker("w1")  # free while a.jpg renders on the other
    held = hold(c, "a.jpg")
    (c.inbox / "a.xmp").write_bytes(xmp_packet(title="with its sidecar"))
    c.drop(["a.jpg"])
    wait_for(lambda: c.started("a.jpg"), 20, what="a.jpg to start")
    assert files_under(c.processing) == ["a.jpg", "a.xmp"]
    assert c.stop("head", signal.SIGTERM) == 0
    before = len(c.events("head", "recovered"))
    c.start_head()
    # The restarted head's adoption: before, the sidecar became a job of its own here (adopted 1),
    # sent after lease_ttl and failed as "not an image"
    recovered = wait_for(lambda: c.events("head", "recovered")[before:], 20, what="the restarted head's recovery")
    assert recovered[0]["adopted"] == 0, recovered
    held.unlink()
    wait_for(lambda: c.settled(2), 20, what="a.jpg and a.xmp to end")  # each an end, in archive/ or failed/
    assert not files_under(c.failed), c.logs()
    assert files_under(c.archive) == ["a.jpg", "a.xmp"]


def test_soft_time_limit_moves_the_file_to_failed(cluster_factory):
    c = cluster_factory(task_soft_time_limit=1, task_time_limit=10)
    c.start_head()
    c.start_worker("w0")
    hold(c, "slow.jpg")  # never released: the soft limit must end it
    c.drop(["slow.jpg"])
    wait_for(lambda: c.settled(1), 20, what="slow.jpg to reach failed/")
    record = json.loads((c.failed / "slow.jpg.error.json").read_text())
    assert record["error"].startswith("timeout") and record["attempts"] == 1
    assert not files_under(c.output) and not files_under(c.processing)


@pytest.mark.parametrize("case", ["no_marker", "foreign", "missing"])
def test_worker_refuses_a_wrong_shared_root(cluster_factory, case):
    c = cluster_factory()
    c.root.mkdir(parents=True)
    config = c.config
    if case == "foreign":
        (c.root / ".hotfolder-cluster").write_text("someone-else\n")
        want = "belongs to cluster 'someone-else'"
    elif case == "missing":
        config = c.write_config({"enabled": True, "broker_url": c.redis.url, "cluster_id": "test-cluster",
                                 "shared_root": str(c.root), "path_map": {str(c.root): "/nonexistent/share"}},
                                c.tmp / "node.yaml")
        want = "does not exist"
    else:
        want = "has no .hotfolder-cluster"
    proc = c.start_worker("w0", wait=False, config=config)
    assert proc.wait(30) == 2
    assert want in c.log("w0"), c.log("w0")
    assert not c.events("w0", "ready")


def test_a_job_record_that_cannot_be_written_gives_the_file_back(cluster_factory):
    """Finding: if writing the job record failed after the claim rename, the file stayed
    in processing/ until the next head start."""
    c = cluster_factory()
    c.start_head()
    jobs_dir = c.root / ".hotfolder" / "jobs"
    jobs_dir.rmdir()
    jobs_dir.write_text("a file where the job records should go")
    try:
        c.drop(["a.jpg"])
        wait_for(lambda: c.events("head", "claiming_paused"), 20, what="the head to refuse to hand a.jpg over")
        wait_for(lambda: files_under(c.inbox) == ["a.jpg"] and not files_under(c.processing), 10,
                 what="a.jpg back in the inbox")
    finally:
        jobs_dir.unlink()
        jobs_dir.mkdir()
    c.start_worker("w0")
    wait_for(lambda: c.settled(1), 30, what="a.jpg to be rendered once the records can be written")
    c.assert_exactly_once(["a.jpg"])


def test_a_worker_that_redis_refuses_exits_with_failure_so_systemd_restarts_it(cluster_factory):
    """Redis at maxmemory (noeviction, as the README advises) refuses the delivery's write:
    Celery's "Unrecoverable error" ended the node with 0, and Restart=on-failure left it
    down for good (an attack round). Nothing is lost: once Redis has room, a node renders it."""
    c = cluster_factory()
    c.start_head()
    c.drop(["a.jpg"])
    wait_for(lambda: queued(c) >= 1, 20, what="the job to wait in the queue")
    client = redis_client(c)
    try:
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", int(client.info("memory")["used_memory"]))  # every write refused now
        proc = c.start_worker("w0", wait=False)
        code = proc.wait(60)
        assert code != 0, c.log("w0")
        assert "OutOfMemoryError" in c.log("w0") or "OOM" in c.log("w0"), c.log("w0")
    finally:
        client.config_set("maxmemory", 0)
    c.start_worker("w1")
    wait_for(lambda: c.settled(1), 60, what="a.jpg once Redis has room")
    c.assert_exactly_once(["a.jpg"])


def test_a_node_s_output_is_json_lines_only(cluster_factory):
    """Celery's banner came as plain text among the JSON lines, into the journal (an attack round)."""
    c = cluster_factory()
    c.start_head()
    c.start_worker("w0")
    c.drop(["a.jpg"])
    wait_for(lambda: c.settled(1), 60, what="a.jpg")
    c.stop("w0")
    # Celery's own word at a stop is printed to the process's stdout whatever the options: the one exception
    lines = [line for line in c.log("w0").splitlines() if line.strip() and not line.startswith("worker: Warm shutdown")]
    assert len(lines) > 3, "the node said nothing"
    for line in lines:
        json.loads(line)  # raises on a line that is not JSON: the banner's were not


def test_a_broker_that_does_not_answer_is_said_in_the_status_message(cluster_factory):
    """Said only in the cluster's own line of `hotfolder status`: the page, its message and
    systemd's status line showed nothing while files waited (an attack round)."""
    from tests.redis_server import free_port

    c = cluster_factory(broker_url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    c.start_head()
    wait_for(lambda: "the broker (Redis) is unreachable" in _status_message(c), 30, what="the status to say so")
    assert "check cluster.broker_url" in _status_message(c)


def _status_message(c: Cluster) -> str:
    """The head's status message ("" while its status file is not there or half written)."""
    try:
        return json.loads((c.tmp / "state" / "status.json").read_text()).get("message", "")
    except (OSError, ValueError):
        return ""


def test_a_full_broker_is_said_full_not_unreachable(cluster_factory):
    """Redis at its maxmemory (noeviction) refuses writes: the status said "unreachable …
    check cluster.broker_url", which is fine; what helps is room (an attack round)."""
    import redis

    c = cluster_factory()
    c.start_head()
    said = functools.partial(_status_message, c)
    client = redis.Redis.from_url(c.redis.url)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1")  # below what it holds: every write refused
    try:
        wait_for(lambda: "the broker (Redis) is full" in said(), 30, what="the status to say so")
        assert "raise its maxmemory" in said() and "check cluster.broker_url" not in said(), said()
    finally:
        client.config_set("maxmemory", "0")
