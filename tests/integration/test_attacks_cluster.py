"""The third attack round on the cluster (issue 20): nodes started with a stale copy of
the config rendered other outputs unnoticed (640 px and an extra rendition on one node,
160 px on another), and a node lacking a folder left its file in processing/ for ever,
with a message naming the wrong cause. Also a head's reload of its cluster keys.

The real thing, as tests/integration/test_cluster.py: redis-server, the head and `hotfolder worker`
processes, each node with its own copy of the config.
"""
from __future__ import annotations

import json
import re
import signal
import urllib.request
from pathlib import Path

from PIL import Image

from tests.harness import files_under, wait_for
from tests.harness.cluster import Cluster, redis_client

EXTRA_RENDITION = """\
      - name: extra
        operation: fit
        size: 64x64
        format: png
"""


def node_config(c: Cluster, name: str, text: str) -> Path:
    """A node's own copy of the config."""
    path = c.tmp / f"{name}.yaml"
    path.write_text(text)
    return path


def stale_config(c: Cluster) -> Path:
    """Yesterday's config: the web rendition at 640 px, and one rendition more."""
    text = c.config.read_text().replace("size: 160x160", "size: 640x640")
    text = text.replace("        format: jpeg\n", "        format: jpeg\n" + EXTRA_RENDITION, 1)
    assert "640x640" in text and "name: extra" in text
    return node_config(c, "stale", text)


def bare_config(c: Cluster) -> Path:
    """A config without the folder photos (the same paths, under another folder name)."""
    text = c.config.read_text().replace("  - name: photos", "  - name: elsewhere")
    assert "name: elsewhere" in text
    return node_config(c, "bare", text)


def status_when(c: Cluster, condition, what: str, timeout: float = 30) -> dict:
    found: list[dict] = []

    def check() -> bool:
        found[:] = [c.status()]
        return condition(found[0])

    wait_for(check, timeout, what=what)
    return found[0]


def metrics(c: Cluster) -> str:
    url = wait_for(lambda: c.events("head", "http_listening"), 20, what="the head's listener")[-1]["url"]
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=10) as r:
        return r.read().decode()


def metric(text: str, name: str, **labels) -> float | None:
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if m and all(f'{k}="{v}"' in m.group(1) for k, v in labels.items()):
            return float(m.group(2))
    return None


def test_nodes_with_another_config_take_none_of_its_files(cluster_factory):  # noqa: F811 - the fixture
    c = cluster_factory()
    c.config.write_text(c.config.read_text() + "http: {listen: \"127.0.0.1:0\"}\n")
    stale, bare = stale_config(c), bare_config(c)
    c.start_head()
    c.start_worker("stale", config=stale)
    c.start_worker("bare", config=bare)
    names = ["a.jpg", "b.jpg", "c.jpg"]
    c.drop(names)

    # No node has the head's config: the files wait, and the head says why. (It may claim
    # the three in more than one turn, as their events reach it: a snapshot can say 1 or 2.)
    st = status_when(c, lambda s: "3 job(s) wait for its config" in s.get("message", "") or files_under(c.output),
                     "the head to say why the three files wait")
    assert not files_under(c.output), f"a node of another config rendered them: {files_under(c.output)}"
    message = st["message"]
    assert "folder photos: 3 job(s) wait for its config" in message, message
    assert re.search(r"stale@\S+ has version [0-9a-f]{12}", message), message
    assert re.search(r"bare@\S+ has no folder photos", message), message
    states = st["cluster"]["nodes"]["photos"]
    assert sorted(states.values()) == ["missing", "other"], states
    text = metrics(c)
    assert metric(text, "hotfolder_cluster_nodes", folder="photos", config="other") == 1, text
    assert metric(text, "hotfolder_cluster_nodes", folder="photos", config="missing") == 1
    assert metric(text, "hotfolder_cluster_nodes", folder="photos", config="same") == 0
    assert c.events("head", "config_version_mismatch")
    assert sorted(files_under(c.processing)) == names
    assert not c.worker_events("file_done") and not c.worker_events("job_refused")

    # A node with the head's config takes them, and renders them as the head's config says.
    c.start_worker("good")
    wait_for(lambda: c.settled(3), 30, what="the files to be rendered by the good node")
    c.assert_exactly_once(names)  # only *_web.jpg: no "extra" rendition
    for name in names:
        with Image.open(c.output / f"{name[:-4]}_web.jpg") as im:
            assert max(im.size) == 160, (name, im.size)
    assert {e["node"].split("@")[0] for e in c.worker_events("file_done")} == {"good"}
    st = status_when(c, lambda s: "wait for its config" not in s.get("message", ""), "the waiting note to go")
    assert "takes none of its files" in st["message"], st["message"]  # the stale nodes are still said
    assert not c.events("head", "config_versions_match")

    # The stale nodes leave: the head's log says the mismatch is over (its last word was an error)
    c.stop("stale")
    c.stop("bare")
    agree = wait_for(lambda: c.events("head", "config_versions_match"), 30, what="the head to say the nodes agree")
    assert re.fullmatch(r".*: folder photos: good@\S+", agree[-1]["reason"]), agree


def test_a_job_a_node_refuses_goes_to_a_node_of_the_heads_config(cluster_factory):  # noqa: F811 - the fixture
    """A message that reaches a node of another config (sent there by hand, or by a head
    of an older release) is refused with the reason, and the head sends the job again to
    the nodes of its config: it is rendered once, by one of them."""
    from hotfolder.cluster.app import TASK_NAME, make_app
    from hotfolder.config import load

    c = cluster_factory()
    stale, bare = stale_config(c), bare_config(c)
    c.start_head()
    c.start_worker("stale", config=stale)
    c.start_worker("bare", config=bare)
    c.drop(["a.jpg"])
    sent = wait_for(lambda: c.events("head", "file_sent"), 20, what="a.jpg to be sent")[0]
    head_version = status_when(c, lambda s: s.get("cluster", {}).get("versions"), "the head's versions")[
        "cluster"]["versions"]["photos"]
    queues = {name: c.events(name, "ready")[0]["queues"] for name in ("stale", "bare")}
    cfg = load(c.config)
    app = make_app(cfg.cluster)
    try:
        for name in ("stale", "bare"):  # the head's message, into each node's own queue
            app.send_task(TASK_NAME, kwargs={"job": sent["job"], "folder": "photos", "src": "photos/processing/a.jpg",
                                             "version": head_version}, queue=queues[name][0])
    finally:
        app.close()

    refused = wait_for(lambda: len(c.worker_events("job_refused")) == 2 and c.worker_events("job_refused"), 30,
                       what="both nodes to refuse the job")
    reasons = {e["node"].split("@")[0]: e["reason"] for e in refused}
    assert re.match(rf"this node has config version [0-9a-f]{{12}} of folder photos, the job was sent for version "
                    rf"{head_version}", reasons["stale"]), reasons
    assert reasons["bare"].startswith("this node has no folder photos"), reasons
    heard = wait_for(lambda: len(c.events("head", "job_refused_by_node")) == 2 and
                     c.events("head", "job_refused_by_node"), 20, what="the head to hear of both refusals")
    assert {e["file"] for e in heard} == {"a.jpg"} and {e["reason"] for e in heard} == set(reasons.values())
    assert int(redis_client(c).get("hotfolder:test-cluster:hf:stats:refused") or 0) == 2
    assert not files_under(c.output) and files_under(c.processing) == ["a.jpg"]

    c.start_worker("good")
    wait_for(lambda: c.settled(1), 30, what="a.jpg to be rendered by the good node")
    c.assert_exactly_once(["a.jpg"])
    assert [e["node"].split("@")[0] for e in c.worker_events("file_done")] == ["good"]


def test_a_heads_reload_refuses_its_connection_keys_and_applies_the_rest(cluster_factory):  # noqa: F811 - the fixture
    c = cluster_factory()
    c.start_head()
    original = c.config.read_text()
    settings = json.loads(re.search(r"^cluster: (\{.*\})$", original, re.M).group(1))

    def reload(**changes) -> dict:
        def outcomes() -> list[dict]:
            return [e for e in c.events("head") if e.get("event") in ("reloaded", "reload_refused")]

        before = len(outcomes())
        c.config.write_text(original.replace(json.dumps(settings), json.dumps({**settings, **changes})))
        c.procs["head"].send_signal(signal.SIGHUP)
        wait_for(lambda: len(outcomes()) > before, 20, what="the reload")
        return outcomes()[-1]

    refused = reload(broker_url=settings["broker_url"].replace("/0", "/1"))
    assert refused["event"] == "reload_refused" and refused["key"] == "cluster.broker_url", refused
    assert "restart" in refused["reason"]

    done = reload(max_in_flight=1, concurrency=2)
    assert done["event"] == "reloaded", done
    assert "cluster.max_in_flight 64 → 1" in done["changes"]
    assert done["nodes_restart_needed"] == ["cluster.concurrency"]
    c.drop(["a.jpg", "b.jpg", "c.jpg"])  # no node runs: what is claimed stays claimed
    wait_for(lambda: len(files_under(c.processing)) >= 1, 20, what="a claim")
    wait_for(lambda: len(c.events("head", "file_sent")) >= 1, 20, what="a send")
    st = status_when(c, lambda s: s.get("waiting") == 2, "two files to wait in the inbox")
    assert len(files_under(c.processing)) == 1, f"max_in_flight 1 not applied: {files_under(c.processing)}"
    assert st["running"]
