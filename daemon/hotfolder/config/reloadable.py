"""What a reload may change while the daemon runs: the rule of every key.

Each key of the config is either applied by the reload (the part that reads it is
named), or refused while the daemon runs: the reload is refused naming the key, and the
running config stays. A reload never reports a change it does not make (it once logged
`file_timeout 20 → 30` and went on killing files at 20 s).

In cluster mode some keys belong to the nodes: `hotfolder worker` reads them at its
start, the head has no use for them. The head's reload takes them (its config file is
the cluster's), and its log names them as applying when the nodes restart.

The rules are declared with the keys (`Key.reload` in sections/daemon.py and
sections/cluster.py); the keys of a folder, a rendition, `http:` and `notify:` follow
their section's top-level key. A test checks that every key of config.Config and
config.Cluster has a rule.
"""
from __future__ import annotations

from typing import Any

from hotfolder.config.keys import Applies, Reload
from hotfolder.config.model import Config, ConfigError
from hotfolder.config.sections import cluster, daemon

NOW, RESTART, NODES = Applies.NOW, Applies.RESTART, Applies.NODES


KEYS: dict[str, Reload] = {
    **{key.name: key.reload for key in daemon.KEYS if key.reload is not None},
    **{f"cluster.{key.name}": key.reload for key in cluster.KEYS if key.reload is not None},
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


def _value(config: Config, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value
