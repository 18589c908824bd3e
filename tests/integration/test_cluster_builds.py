"""A node of other code than the head's (the same release, 0.1.0, a commit days apart)
takes none of its jobs, and says why: hotfolder's build (build.py) is part of each folder's
config version. The node runs a copy of the package with one line changed, put first on its
PYTHONPATH; the head and a good node run the installed code. A real redis-server, the head
and `hotfolder worker` processes, as tests/integration/test_attacks_cluster.py.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.harness import files_under, wait_for
from tests.harness.cluster import Cluster
from tests.integration.test_attacks_cluster import metric, metrics, status_when


def other_code(c: Cluster) -> Path:
    """A copy of the installed package with one line more: a node's PYTHONPATH."""
    import hotfolder

    copy = c.tmp / "other-code" / "hotfolder"
    shutil.copytree(Path(hotfolder.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    resample = copy / "engine" / "resample.py"
    resample.write_text(resample.read_text() + "# a fix of the next commit\n")
    return copy


def test_a_node_of_other_code_takes_none_of_the_heads_jobs_and_says_why(cluster_factory):  # noqa: F811
    from hotfolder.cluster.app import TASK_NAME, make_app
    from hotfolder.config import load

    c = cluster_factory()
    c.config.write_text(c.config.read_text() + "http: {listen: \"127.0.0.1:0\"}\n")
    copy = other_code(c)
    c.start_head()
    c.start_worker("newer", env={"PYTHONPATH": str(copy.parent)})  # the head's very config: only its code differs
    c.drop(["a.jpg"])

    st = status_when(c, lambda s: "1 job(s) wait for its config" in s.get("message", "") or files_under(c.output),
                     "the head to say why a.jpg waits")
    assert not files_under(c.output), f"a node of other code rendered it: {files_under(c.output)}"
    from hotfolder import build

    mine, theirs = build.identity(), build.identity().rpartition("+")[0] + "+" + build.digest_of(copy)
    assert theirs != mine
    message = st["message"]
    assert re.search(rf"newer@\S+ has version [0-9a-f]{{12}} \(it runs hotfolder {re.escape(theirs)}, the head "
                     rf"{re.escape(mine)}\)", message), message
    assert "start a node with the head's config and release" in message, message
    assert st["build"] == mine, st
    text = metrics(c)
    assert metric(text, "hotfolder_cluster_nodes", folder="photos", config="other") == 1, text
    assert metric(text, "hotfolder_build_info", version=mine.rpartition("+")[0], mode="cluster", build=mine) == 1, text

    # The head's message, sent by hand into the node's own queue: refused, naming both builds
    sent = wait_for(lambda: c.events("head", "file_sent"), 20, what="a.jpg to be sent")[0]
    queue = c.events("newer", "ready")[0]["queues"][0]
    app = make_app(load(c.config).cluster)
    try:
        app.send_task(TASK_NAME, kwargs={"job": sent["job"], "folder": "photos", "src": "photos/processing/a.jpg",
                                         "version": st["cluster"]["versions"]["photos"]}, queue=queue)
    finally:
        app.close()
    refused = wait_for(lambda: c.worker_events("job_refused"), 30, what="the node of other code to refuse it")
    reason = refused[0]["reason"]
    assert f"this node runs hotfolder {theirs}, the head {mine}" in reason, reason
    assert "install the head's release on this node" in reason, reason
    wait_for(lambda: c.events("head", "job_refused_by_node"), 20, what="the head to hear of the refusal")
    assert files_under(c.processing) == ["a.jpg"] and not files_under(c.output)

    # A node of the head's code takes it, once
    c.start_worker("good")
    wait_for(lambda: c.settled(1), 30, what="a.jpg to be rendered by the node of the head's code")
    c.assert_exactly_once(["a.jpg"])
    assert [e["node"].split("@")[0] for e in c.worker_events("file_done")] == ["good"]


def test_nodes_of_the_heads_code_are_not_said_to_be_of_other_code(cluster_factory):  # noqa: F811
    c = cluster_factory()
    stale = Path(c.tmp / "stale.yaml")
    stale.write_text(c.config.read_text().replace("size: 160x160", "size: 640x640"))
    c.start_head()
    c.start_worker("stale", config=stale)
    c.drop(["a.jpg"])
    st = status_when(c, lambda s: "wait for its config" in s.get("message", ""), "the head to say why a.jpg waits")
    assert re.search(r"stale@\S+ has version [0-9a-f]{12}\)", st["message"]), st["message"]  # no "(it runs"
    assert "(it runs" not in st["message"]
    assert st["message"].endswith("start a node with the head's config"), st["message"]
