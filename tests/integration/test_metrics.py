"""/metrics with a real scraper: HTTP from the running daemon, parsed by prometheus_client.

The counts must be the ones `hotfolder status` shows, per folder, through a worker
crash and reloads; the listener takes IPv6 in brackets and a socket systemd passes in.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import textwrap
import urllib.request

import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import Dirs, ends, http_url, wait_for, worker_pids
from tests.harness.permissions import bound_by_permissions

GAUGES = ("hotfolder_queued", "hotfolder_in_flight", "hotfolder_workers_alive", "hotfolder_claiming_paused",
          "hotfolder_config_reload_failed", "hotfolder_build_info")


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label items: value}}, the way Prometheus would read it."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode("utf-8")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def by_folder(samples, name: str) -> dict[str, float]:
    return {dict(labels)["folder"]: v for labels, v in samples.get(name, {}).items()}


def folders_config(d, names: list[str], extra: str = "") -> None:
    """Rewrite the daemon's config with one folder per name (var/<name>/inbox, ...)."""
    folders = "".join(textwrap.dedent(f"""
      - name: {n}
        inbox: var/{n}/inbox
        output: var/{n}/output
        archive: var/{n}/archive
        failed: var/{n}/failed
        processing: var/{n}/processing
        quiet_period: 0.2
        rescan_interval: 2
        on_duplicate: process  # its files are one picture, each to be counted as processed
        renditions: [{{name: web, size: 64, format: jpeg}}]
    """) for n in names)
    d.config.write_text(f"workers: 2\nstate_dir: var/state\ndrain_timeout: 20\n{extra}\nfolders:{folders}")


def drop(d, folder: str, name: str, good: bool = True, size=(120, 90)) -> None:
    inbox = d.var / folder / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    tmp = d.root / f".staging-{name}"
    if good:
        Image.new("RGB", size, (30, 120, 200)).save(tmp, "JPEG")
    else:
        tmp.write_bytes(b"this is not an image")
    os.rename(tmp, inbox / name)


def test_a_scraper_reads_the_counts_of_hotfolder_status_per_folder_through_crashes_and_reloads(daemon_factory):
    d = daemon_factory()
    folders_config(d, ["studio", "shop"], 'http: {listen: "127.0.0.1:0"}')
    d.start()
    url = http_url(d)
    for i in range(3):
        drop(d, "studio", f"s{i}.jpg")
    drop(d, "shop", "p0.jpg")
    drop(d, "shop", "bad0.jpg", good=False)
    drop(d, "shop", "bad1.jpg", good=False)
    wait_for(lambda: ends(Dirs.under(d.var / "studio")) == 3 and ends(Dirs.under(d.var / "shop")) == 3, 30,
             what="six files at their ends")
    wait_for(lambda: (d.status_json()["processed"], d.status_json()["failed"]) == (4, 2), 10,
             what="the status to count them")
    # The metrics view is published just after status.json: wait for it to catch up (its
    # totals), then look at how it shares them out.
    m = wait_for(lambda: (got := scrape(url)) and sum(by_folder(got, "hotfolder_files_processed_total").values()) == 4
                 and sum(by_folder(got, "hotfolder_files_failed_total").values()) == 2 and got, 10,
                 what="/metrics to count them")
    status = d.status_json()
    assert by_folder(m, "hotfolder_files_processed_total") == {"studio": 3, "shop": 1}
    assert by_folder(m, "hotfolder_files_failed_total") == {"studio": 0, "shop": 2}
    assert (status["processed"], status["failed"]) == (4, 2), "the same source as hotfolder status"
    per_folder = {k: (v["processed"], v["failed"]) for k, v in status["folders"].items()}
    assert per_folder == {"studio": (3, 0), "shop": (1, 2)}
    assert by_folder(m, "hotfolder_render_seconds_count") == {"studio": 3, "shop": 3}
    assert all(v > 0 for v in by_folder(m, "hotfolder_render_seconds_sum").values())
    for gauge in GAUGES:
        assert gauge in m, f"{gauge} missing from /metrics"
    assert m["hotfolder_workers_alive"][()] == 2 and m["hotfolder_claiming_paused"][()] == 0
    assert m["hotfolder_config_reload_failed"][()] == 0
    (labels, value), = m["hotfolder_build_info"].items()
    assert value == 1 and dict(labels)["version"]

    # A worker SIGKILLed: replaced; nothing counted twice or lost.
    victim = worker_pids(d)[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in worker_pids(d) and len(worker_pids(d)) == 2, 20, what="the worker replaced")
    drop(d, "studio", "s3.jpg")
    wait_for(lambda: ends(Dirs.under(d.var / "studio")) == 4, 20, what="the next file")
    wait_for(lambda: by_folder(scrape(url), "hotfolder_files_processed_total").get("studio") == 4, 10,
             what="the counter to go on from 3")
    assert by_folder(scrape(url), "hotfolder_files_processed_total") == {"studio": 4, "shop": 1}

    # A reload without shop and with a new folder: shop's counts stay, the new one starts at 0.
    folders_config(d, ["studio", "books"], 'http: {listen: "127.0.0.1:0"}')
    reloads = len(d.events("reloaded"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(d.events("reloaded")) > reloads, 10, what="the reload")
    drop(d, "books", "b0.jpg")
    wait_for(lambda: ends(Dirs.under(d.var / "books")) == 1, 20, what="a file of the new folder")
    wait_for(lambda: by_folder(scrape(url), "hotfolder_files_processed_total").get("books") == 1, 10,
             what="the new folder's counter")
    m = scrape(url)
    assert by_folder(m, "hotfolder_files_processed_total") == {"studio": 4, "shop": 1, "books": 1}
    assert by_folder(m, "hotfolder_files_failed_total") == {"studio": 0, "shop": 2, "books": 0}
    assert d.status_json()["processed"] == 6

    # A refused reload shows, and the counts go on.
    d.config.write_text(d.config.read_text().replace("workers: 2", "workers: many"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: scrape(url)["hotfolder_config_reload_failed"][()] == 1, 10, what="reload_failed to be 1")
    assert by_folder(scrape(url), "hotfolder_files_processed_total")["studio"] == 4
    assert d.stop() == 0


def test_an_inbox_the_daemon_may_not_take_files_from_shows_in_metrics_until_they_are_taken(daemon_factory):
    """`chmod 555` on an inbox (the daemon cannot move files out) was in the log only: no
    metric, no alert (an admin's report). /metrics and the status count those files per
    folder and reason, and go back to 0 once the permission is restored and they are taken."""
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}')
    d.start(launcher=bound_by_permissions())
    url = http_url(d)
    untakeable = wait_for(lambda: scrape(url).get("hotfolder_untakeable_files"), 10, what="the gauge")
    assert untakeable == {(("folder", "test"), ("reason", r)): 0 for r in ("permission", "other_file_system",
                                                                          "not_a_file")}
    d.inbox.chmod(0o555)
    try:
        drop_into = d.root / ".staging.jpg"
        Image.new("RGB", (120, 90), (30, 120, 200)).save(drop_into, "JPEG")
        os.rename(drop_into, d.inbox / "a.jpg")  # the tests run as root: the mode does not stop them
        said = wait_for(lambda: d.event("claim_failed"), 20, what="claim_failed in the log")
        assert "may not move it out of the inbox" in said["reason"], said
        wait_for(lambda: scrape(url)["hotfolder_untakeable_files"][(("folder", "test"), ("reason", "permission"))]
                 == 1, 10, what="/metrics to count the file")
        assert d.status_json()["folders"]["test"]["untakeable"] == {"permission": 1, "other_file_system": 0,
                                                                    "not_a_file": 0}
    finally:
        d.inbox.chmod(0o755)
    wait_for(lambda: (d.archive / "a.jpg").exists(), 30, what="the file taken once the inbox is writable")
    wait_for(lambda: scrape(url)["hotfolder_untakeable_files"][(("folder", "test"), ("reason", "permission"))]
             == 0, 10, what="the gauge back to 0")
    assert d.status_json()["folders"]["test"]["untakeable"]["permission"] == 0
    assert d.stop() == 0


def test_a_subfolder_the_daemon_may_not_take_files_from_is_named_with_its_owner_and_mode(daemon_factory):
    """A client's subfolder of the inbox made without group write (umask 022): the line said
    only "a folder on its way the daemon's user may not write to" (an admin's audit). It
    names that folder, its owner and mode, and the daemon's user; the file is taken once
    the folder is writable."""
    d = daemon_factory()
    d.start(launcher=bound_by_permissions())
    client = d.inbox / "client"
    client.mkdir()
    staged = d.root / ".staging.jpg"
    Image.new("RGB", (120, 90), (30, 120, 200)).save(staged, "JPEG")
    os.rename(staged, client / "a.jpg")  # the tests run as root: the mode does not stop them
    client.chmod(0o555)
    try:
        said = wait_for(lambda: d.event("claim_failed"), 20, what="claim_failed in the log")
        reason = said["reason"]
        assert f"{client} (" in reason and "mode 555) is not writable by the daemon's user root (uid 0)" in reason, said
        assert "chmod g+w" in reason and "it is tried again" in reason, said
    finally:
        client.chmod(0o755)
    wait_for(lambda: (d.archive / "client" / "a.jpg").exists(), 30, what="the file taken once it is writable")
    assert d.stop() == 0


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_the_listener_takes_an_ipv6_address_in_brackets(daemon_factory):
    d = daemon_factory(extra='http: {listen: "[::1]:0"}').start()
    url = http_url(d)
    assert url.startswith("http://[::1]:"), url
    assert "hotfolder_queued" in scrape(url)
    assert d.stop() == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                    reason="needs systemd-socket-activate (apt: systemd)")
def test_a_socket_passed_by_systemd_is_served(daemon_factory):
    """What hotfolder.socket does: systemd listens and hands the socket over (LISTEN_FDS)."""
    d = daemon_factory(extra='http: {listen: "127.0.0.1:1"}')  # the passed socket wins over the config
    port = _free_port()
    # -E PYTHONPATH: the tool passes on only what it is told to; else the daemon would be
    # whichever hotfolder the venv has installed, not this tree's
    d.start(launcher=["systemd-socket-activate", "-E", "PYTHONPATH", "-l", f"127.0.0.1:{port}"], wait_ready=False)
    wait_for(lambda: _connects(port), 10, what="systemd-socket-activate to listen")
    # It starts the daemon at the first connection, which waits in the backlog meanwhile.
    m = scrape(f"http://127.0.0.1:{port}")
    assert "hotfolder_build_info" in m
    listening = wait_for(lambda: d.event("http_listening"), 20, what="the listener")
    assert listening["socket"] == "systemd" and listening["url"] == f"http://127.0.0.1:{port}"
    workers = [p for p in worker_pids(d)]
    assert workers and all("LISTEN_FDS" not in open(f"/proc/{p}/environ", "rb").read().decode("latin-1")
                           for p in workers), "the workers must not inherit systemd's socket variables"
    assert d.stop() == 0
