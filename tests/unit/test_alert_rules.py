"""docs/alerts.yml: a rule file Prometheus can load, naming only metrics that exist."""
from __future__ import annotations

import re
import time

import yaml
from prometheus_client.parser import text_string_to_metric_families

from hotfolder.ops.metrics import Metrics
from hotfolder.status import Status
from tests.harness import REPO

RULES = REPO / "docs" / "alerts.yml"
PROMETHEUS_OWN = {"up"}
FUNCTIONS = {"increase", "rate", "sum", "by", "on", "and", "histogram_quantile", "without"}


def exposed_names() -> set[str]:
    """Every sample name /metrics has once the daemon has counted and rendered something."""
    metrics = Metrics()
    status = Status(pid=1, started=time.time(), processed=1, failed=1, queued=0, waiting=0, in_flight=0, workers=2,
                    workers_alive=2, folders={"studio": {"processed": 1, "failed": 1, "untakeable": {"permission": 0}}})
    metrics.publish(status, {("notify[0]", "sent"): 1, ("notify[0]", "failed"): 0})
    metrics.observe_render("studio", 0.2)
    text = metrics.exposition()[0].decode()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_rule_file_parses_and_each_rule_is_complete():
    doc = yaml.safe_load(RULES.read_text())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert len(rules) >= 6
    for rule in rules:
        assert re.fullmatch(r"Hotfolder[A-Za-z]+", rule["alert"]), rule
        assert rule["expr"].strip() and rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["for"]


def test_the_rules_name_only_metrics_the_daemon_exposes():
    names = exposed_names()
    assert {"hotfolder_files_processed_total", "hotfolder_render_seconds_bucket", "hotfolder_queued"} <= names
    doc = yaml.safe_load(RULES.read_text())
    used = set()
    for group in doc["groups"]:
        for rule in group["rules"]:
            expr = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', "", rule["expr"])  # labels, strings, ranges
            for word in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", expr):
                if word in FUNCTIONS or word in ("instance", "job", "folder", "le"):
                    continue
                used.add(word)
                assert word in names or word in PROMETHEUS_OWN, f"{rule['alert']}: {word} is not a metric of ours"
    assert {"hotfolder_claiming_paused", "hotfolder_config_reload_failed", "hotfolder_files_failed_total"} <= used
