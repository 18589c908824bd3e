"""The daemon says which code it runs (build.py: the release and the digest of its code):
in status.json and `hotfolder status`, on the status page and /api/status, and in /metrics'
hotfolder_build_info (a `build` label beside the ones dashboards know). The real daemon."""
from __future__ import annotations

import json
import urllib.request

from tests.harness import http_url
from tests.harness.daemon import hotfolder
from tests.integration.test_metrics import scrape


def test_the_daemon_shows_its_build_wherever_it_shows_its_version(daemon_factory):
    from hotfolder import __version__, build

    mine = build.identity()
    d = daemon_factory(extra='http: {listen: "127.0.0.1:0"}').start()
    assert d.status_json()["build"] == mine
    said = hotfolder("status", "--config", str(d.config)).stdout
    assert f"\n  build      {mine}\n" in said, said
    url = http_url(d)
    with urllib.request.urlopen(url + "/", timeout=10) as r:
        page = r.read().decode()
    assert f"version {mine} · updated" in page, page[:2000]
    with urllib.request.urlopen(url + "/api/status", timeout=10) as r:
        api = json.loads(r.read())
    assert (api["version"], api["build"], api["status"]["build"]) == (__version__, mine, mine)
    (labels, value), = scrape(url)["hotfolder_build_info"].items()
    assert value == 1 and dict(labels) == {"version": __version__, "build": mine, "mode": "local",
                                           "python": dict(labels)["python"]}, labels
    assert d.stop() == 0
