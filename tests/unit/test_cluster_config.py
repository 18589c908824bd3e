"""Cluster mode without processes: the `cluster:` section's validation, path_map,
the shared-root checks a worker makes, and the worker unit (systemd-analyze)."""
from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hotfolder import config
from hotfolder.config import model
from hotfolder.config.model import ConfigError
from tests.harness import REPO

UNIT = REPO / "systemd" / "hotfolder-worker.service"

FOLDERS = textwrap.dedent("""\
    folders:
      - name: photos
        inbox: /srv/hf/photos/inbox
        output: /srv/hf/photos/output
        archive: /srv/hf/photos/archive
        failed: /srv/hf/photos/failed
        renditions: [{name: web, size: 100}]
    """)
GOOD = "{enabled: true, broker_url: 'redis://127.0.0.1:6379/0', cluster_id: c1, shared_root: /srv/hf"
NO_BROKER = GOOD.replace("broker_url: 'redis://127.0.0.1:6379/0', ", "")  # to give one of its own (a key once)


def parse(cluster: str) -> model.Config:
    return config.parse(FOLDERS + f"cluster: {cluster}\n")


def test_off_by_default_and_needs_nothing():
    cfg = config.parse(FOLDERS)
    assert cfg.cluster.enabled is False


def test_defaults_follow_the_notes():
    c = parse(GOOD + "}").cluster
    assert (c.task_time_limit, c.task_soft_time_limit, c.visibility_timeout, c.stale_after) == (300, 240, 900, 1200)
    assert (c.max_attempts, c.lease_ttl, c.queue) == (3, 60, "hotfolder")


@pytest.mark.parametrize("cluster, key, words", [
    ("{enabled: true}", "cluster.broker_url", "is required"),
    ("{enabled: true, broker_url: 'amqp://x', cluster_id: c, shared_root: /srv/hf}", "cluster.broker_url", "redis://"),
    # each passed check-config, then the head or every node failed at start with a traceback (an attack round)
    ("{enabled: true, broker_url: 'unix:///run/redis.sock', cluster_id: c, shared_root: /srv/hf}",
     "cluster.broker_url", "a unix:// socket is not a URL Celery's Redis transport can use"),
    ("{enabled: true, broker_url: 'redis://h:pw@127.0.0.1:63x1/0', cluster_id: c, shared_root: /srv/hf}",
     "cluster.broker_url", "its port is not a number"),
    ("{enabled: false, broker_url: 'redis://:pw@[::1:6392/0'}", "cluster.broker_url",  # was a traceback
     "is not a URL that can be read (Invalid IPv6 URL)"),
    ("{enabled: true, broker_url: 'redis://127.0.0.1:6379/0?username=hf&password=pw', cluster_id: c, "
     "shared_root: /srv/hf}", "cluster.broker_url", "goes before the host"),
    ("{enabled: true, broker_url: 'redis://x', shared_root: /srv/hf}", "cluster.cluster_id", "is required"),
    ("{enabled: true, broker_url: 'redis://x', cluster_id: c}", "cluster.shared_root", "is required"),
    ("{enabled: true, broker_url: 'redis://x', cluster_id: 'a b', shared_root: /srv/hf}", "cluster.cluster_id",
     "letters"),
    (GOOD + ", task_time_limit: 10, task_soft_time_limit: 10}", "cluster.task_soft_time_limit", "below"),
    (GOOD + ", visibility_timeout: 100, stale_after: 50}", "cluster.stale_after", "at least visibility_timeout"),
    (GOOD + ", path_map: {relative: /x}}", "cluster.path_map", "absolute"),
    (NO_BROKER + ", broker_url: 'redis://:${HF_SURELY_UNSET_VAR}@x'}", "cluster.broker_url", "HF_SURELY_UNSET_VAR"),
    (GOOD + ", workers: 3}", "cluster.workers", "unknown key"),
    ("{enabled: true, broker_url: 'redis://x', cluster_id: c, shared_root: /srv/other}", "folders[photos].processing",
     "outside cluster.shared_root"),
])
def test_errors_name_the_key(cluster, key, words):
    with pytest.raises(ConfigError) as info:
        parse(cluster)
    assert info.value.key == key and words in info.value.reason, str(info.value)


def test_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("HF_TEST_REDIS_PASSWORD", "s3cret")
    c = parse(NO_BROKER + ", broker_url: 'redis://hotfolder:${HF_TEST_REDIS_PASSWORD}@10.0.0.5:6379/0'}").cluster
    assert c.broker_url == "redis://hotfolder:s3cret@10.0.0.5:6379/0"


def test_path_map_translates_every_folder():
    jobs = pytest.importorskip("hotfolder.cluster.jobs")
    cfg = parse(GOOD + ", path_map: {/srv/hf: /mnt/nas/hf, /srv/hf/photos/output: /mnt/fast/out}}")
    folders = jobs.local_folders(cfg)
    assert jobs.local_root(cfg) == Path("/mnt/nas/hf")
    assert folders["photos"].processing == Path("/mnt/nas/hf/photos/processing")
    assert folders["photos"].output == Path("/mnt/fast/out")  # the longest prefix wins
    # every place of the folder, duplicates/ and the name markers too (those were left as the
    # head's paths: a node moved skipped duplicates onto its own disk, off the share)
    places = {f.name: getattr(folders["photos"], f.name) for f in dataclasses.fields(folders["photos"])
              if isinstance(getattr(folders["photos"], f.name), Path)}
    assert {"duplicates", "names_dir", "archive", "failed", "inbox"} <= set(places), places
    assert not [name for name, path in places.items() if path.is_relative_to("/srv/hf")], places


def test_shared_root_checks(tmp_path):
    jobs = pytest.importorskip("hotfolder.cluster.jobs")
    with pytest.raises(jobs.SharedRootError, match="does not exist"):
        jobs.check_root(tmp_path / "nope", "c1")
    with pytest.raises(jobs.SharedRootError, match="no .hotfolder-cluster"):
        jobs.check_root(tmp_path, "c1")
    jobs.mark(tmp_path, "c1")
    jobs.check_root(tmp_path, "c1")
    with pytest.raises(jobs.SharedRootError, match="belongs to cluster 'c1'"):
        jobs.check_root(tmp_path, "c2")
    with pytest.raises(jobs.SharedRootError, match="belongs to cluster 'c1'"):
        jobs.mark(tmp_path, "c2")


def test_local_mode_imports_no_celery():
    code = ("import sys, hotfolder.cli, hotfolder.supervisor.service, hotfolder.workers.pool, "
            "hotfolder.workers.batch, hotfolder.config.parsing; "
            "assert 'celery' not in sys.modules and 'redis' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_worker_unit_verifies(tmp_path):
    text = UNIT.read_text().replace("ExecStart=/opt/hotfolder/venv/bin/hotfolder ",
                                    f"ExecStart={shutil.which('true')} ")
    copy = tmp_path / "hotfolder-worker.service"
    copy.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and (result.stdout + result.stderr).strip() == "", result.stdout + result.stderr
    assert "TimeoutStopSec=330s" in text and "KillMode=mixed" in text and "Type=notify" in text


@pytest.mark.parametrize("key", ["on_success: delete", 'manifest: "{stem}.json"', "on_duplicate: process",
                                 "duplicate_scope: all", "similar: skip", "similar_distance: 3",
                                 "duplicate_window: 30d", "on_name_clash: fail", "raw: develop"])
def test_a_node_that_does_otherwise_with_a_job_has_another_config_version(key):
    """A node with `on_success: delete` had the head's version and deleted the originals the
    head archives; `manifest` and the duplicate keys were left out too (an attack round)."""
    from hotfolder.cluster import versions

    def version(text: str) -> str:
        cfg = config.parse(text)
        return versions.of_folder(cfg.folders[0], cfg)

    head = version(FOLDERS)
    node = FOLDERS.replace("    renditions:", f"    {key}\n    renditions:")
    if key == "on_success: delete":
        node = node.replace("    archive: /srv/hf/photos/archive\n", "")
    assert node != FOLDERS and version(node) != head


@pytest.mark.parametrize("key", ["quiet_period: 5", "rescan_interval: 60", 'ignore: ["*.tmp"]', "sidecar_wait: 9"])
def test_what_only_the_head_does_and_where_a_machine_keeps_its_folders_are_not_the_version(key):
    from hotfolder.cluster import versions

    def version(text: str) -> str:
        cfg = config.parse(text)
        return versions.of_folder(cfg.folders[0], cfg)

    moved = FOLDERS.replace("/srv/hf/", "/mnt/share/").replace("    renditions:", f"    {key}\n    renditions:")
    assert key in moved and version(moved) == version(FOLDERS)


def test_redis_losing_its_data_says_which_seq_counters_to_set():
    """redis_data_lost's action named `hotfolder index rebuild` only, which does not make a
    folder's {seq} counter again: a folder whose names use it gave them again (a review)."""
    from hotfolder.cluster.backend import data_lost_action
    from hotfolder.cluster.store import key_prefix

    plain = parse(GOOD + "}")
    assert "{seq}" not in data_lost_action(plain, key_prefix(plain.cluster))
    numbered = config.parse(FOLDERS.replace("{name: web, size: 100}",
                                            "{name: web, size: 100, filename: 'shoot_{seq:04}.{ext}'}")
                            + f"cluster: {GOOD}}}\n")
    action = data_lost_action(numbered, key_prefix(numbered.cluster))
    assert action.startswith("set `appendonly yes` in redis.conf (docs/cluster.md), then run `hotfolder index "
                             "rebuild` once"), action
    assert ("the rebuild does not set {seq}: SET hotfolder:c1:hf:seq:photos to the last number each gave"
            in action), action
