"""What a reload may change while the daemon runs: one table for every config key.

Each key of the config is either applied by the reload (the part that reads it is
named), or refused while the daemon runs: the reload is refused naming the key, and the
running config stays. A reload never reports a change it does not make (it once logged
`file_timeout 20 → 30` and went on killing files at 20 s).

In cluster mode some keys belong to the nodes: `hotfolder worker` reads them at its
start, the head has no use for them. The head's reload takes them (its config file is
the cluster's), and its log names them as applying when the nodes restart.

tests/test_attacks_pool.py checks that every key of config.Config is in this table.
"""
from __future__ import annotations

from dataclasses import dataclass

from hotfolder.config.model import Config, ConfigError

NOW, RESTART, NODES = "now", "restart", "nodes"


@dataclass(frozen=True)
class Rule:
    applies: str  # NOW, RESTART, or NODES
    how: str  # who applies it, or why the daemon must restart
    cluster_only: bool = False  # the rule holds in cluster mode; in local mode nothing reads the key


KEYS: dict[str, Rule] = {
    "folders": Rule(NOW, "each new job carries its folder (files in flight finish with theirs); the "
                         "watcher and the folder locks follow the new folders"),
    "workers": Rule(NOW, "the pool grows at once or shrinks as workers finish their files"),
    "queue_size": Rule(NOW, "the pool's room for claimed files"),
    "file_timeout": Rule(NOW, "the pool's limit for the files that start from now on and those running"),
    "max_image_pixels": Rule(NOW, "new claims"),
    "accepted_formats": Rule(NOW, "new claims"),
    "max_attempts": Rule(NOW, "the ledger's next verdict"),
    "drain_timeout": Rule(NOW, "read when a stop begins"),
    "reload_on_change": Rule(NOW, "read once a second"),
    "http": Rule(NOW, "the listener moves to the new address (unless systemd's socket), the token changes"),
    "notify": Rule(NOW, "the notifier's endpoints"),
    "notify_interval": Rule(NOW, "the notifier's batches"),
    "state_dir": Rule(RESTART, "the instance lock and the status are in the old state_dir (a second daemon "
                               "could start on it)"),
    "cluster.enabled": Rule(RESTART, "local and cluster mode are different backends"),
    "cluster.broker_url": Rule(RESTART, "the head's connection to the broker is made at its start", True),
    "cluster.cluster_id": Rule(RESTART, "the shared root's marker, the Redis keys and the temp names are "
                                        "the cluster id's", True),
    "cluster.shared_root": Rule(RESTART, "the job records and the marker are under it", True),
    "cluster.queue": Rule(RESTART, "the nodes consume the queues named after it since their start", True),
    "cluster.max_in_flight": Rule(NOW, "the head's room for claimed files", True),
    "cluster.reconcile_interval": Rule(NOW, "the head's reconciler", True),
    "cluster.lease_ttl": Rule(NOW, "the head's reconciler (the nodes' leases: at their restart)", True),
    "cluster.stale_after": Rule(NOW, "the head's reconciler", True),
    "cluster.path_map": Rule(NODES, "each node's paths", True),
    "cluster.task_time_limit": Rule(NODES, "the nodes' Celery time limits", True),
    "cluster.task_soft_time_limit": Rule(NODES, "the nodes' Celery time limits", True),
    "cluster.visibility_timeout": Rule(NODES, "the nodes' broker transport", True),
    "cluster.max_attempts": Rule(NODES, "the render task on the nodes", True),
    "cluster.concurrency": Rule(NODES, "the nodes' Celery pools", True),
    "cluster.max_tasks_per_child": Rule(NODES, "the nodes' Celery pools", True),
    "cluster.max_memory_per_child_mb": Rule(NODES, "the nodes' Celery pools", True),
}


def changed_keys(old: Config, new: Config) -> list[str]:
    """The keys of the table whose values differ, in the table's order."""
    return [key for key in KEYS if _value(old, key) != _value(new, key)]


def check(old: Config, new: Config) -> list[str]:
    """Refuse (ConfigError naming the key) a change the running daemon cannot take;
    otherwise the changed keys that apply only when the nodes restart."""
    clustered = old.cluster.enabled
    for key in changed_keys(old, new):
        rule = KEYS[key]
        if rule.applies == RESTART and (clustered or not rule.cluster_only):
            raise ConfigError(str(new.source), key, f"cannot change while the daemon runs: {rule.how}; "
                                                    "restart the daemon to use the new value")
    return [key for key in changed_keys(old, new) if clustered and KEYS[key].applies == NODES]


def _value(config: Config, key: str):
    value = config
    for part in key.split("."):
        value = getattr(value, part)
    return value
