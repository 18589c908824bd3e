"""Config versions: which nodes render a folder's files exactly as the head's config says.

Each machine reads its own copy of the config. A node started with a stale copy (a
640 px rendition where the head has 160 px, one rendition more, a folder less) would
render different outputs, unnoticed. So each folder's recipe has a version: a hash of
every key that decides what a node does with a job (its renditions, with the content of
their watermark images and colour profiles, not their paths; what becomes of the original
(on_success), the manifest, the duplicate keys, animation, raw, on_name_clash, …;
accepted_formats, max_image_pixels; hotfolder's own build: its release and the digest of
its code, build.py), not of what path_map changes from machine to machine, nor of what
only the head does (NOT_RECIPE).

- The head sends each job to the queue of its folder's version (`<queue>.<version>`)
  and writes the version in the job record. A node consumes only the queues of its own
  folders' versions: a stale node, or one without the folder, never receives the job;
  one with the head's config takes it.
- Each node registers its versions in Redis (a key with a TTL, refreshed while it runs).
  The head compares them with its own, and says in the status and /metrics which nodes
  have another version or lack a folder, and which folders have jobs no node can take.
- A node that receives a job of another version anyway (a message sent by hand, a head
  of another config on the same queue name) refuses it with the reason; the head logs
  the refusal, counts it, and sends the job again to its version's queue.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import StrEnum
from pathlib import Path

from hotfolder import build
from hotfolder.config.model import Cluster, Config, Folder, Rendition


class NodeVersion(StrEnum):
    """A node's config of one of the head's folders."""

    SAME = "same"  # the head's version: it takes the folder's jobs
    OTHER = "other"  # another version: it takes none of them
    MISSING = "missing"  # no such folder



# A folder's keys that decide nothing a node does with a job: where a machine keeps its
# folders (path_map changes them), and what only the head does (watching the inbox, which
# names it claims or leaves, what it moves aside untouched). Every other key is part of
# the version (a review: a node with `on_success: delete` counted as "the same" and deleted
# the originals the head archives; `manifest` and the duplicate keys were left out too).
NOT_RECIPE = frozenset({"inbox", "output", "failed", "processing", "archive", "duplicates", "renditions", "watch",
                        "quiet_period", "stalled_after", "rescan_interval", "sidecar_wait", "ignore", "pass_through"})


def of_folder(folder: Folder, config: Config) -> str:
    """The version of one folder's recipe (12 hex digits)."""
    recipe = {
        "hotfolder": build.identity(),  # the code, not only the release: 0.1.0 for commits days apart
        "renditions": [_rendition(r) for r in folder.renditions],
        "archives": folder.archive is not None,
        "accepted_formats": list(config.accepted_formats), "max_image_pixels": config.max_image_pixels,
        **{f.name: getattr(folder, f.name) for f in dataclasses.fields(folder)
           if f.name not in NOT_RECIPE and not f.metadata.get("derived")},
    }
    data = json.dumps(recipe, sort_keys=True, default=str).encode()
    return hashlib.sha256(data).hexdigest()[:12]


REGISTRATION_TTL = 15.0  # seconds a node stays registered after its last refresh (every TTL/3: node.py)


def of_config(config: Config) -> dict[str, str]:
    """Folder name -> the version of its recipe."""
    return {f.name: of_folder(f, config) for f in config.folders}


def queue_name(cluster: Cluster, version: str) -> str:
    return f"{cluster.queue}.{version}"


def _rendition(rendition: Rendition) -> dict:
    out = dataclasses.asdict(rendition)
    if rendition.watermark is not None and rendition.watermark.image is not None:
        out["watermark"]["image"] = _content(Path(rendition.watermark.image))
    if rendition.color_profile not in ("srgb", "keep"):
        out["color_profile"] = _content(Path(rendition.color_profile))
    return out


def _content(path: Path) -> str:
    """What a file of the recipe holds, by digest: machines may keep it at other paths."""
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


# --- the head's view of the nodes -----------------------------------------------------------

def compare(head: dict[str, str], nodes: dict[str, dict[str, str]]) -> dict[str, dict[str, NodeVersion]]:
    """For each of the head's folders, each node's state (NodeVersion). `nodes`: node
    name -> its versions."""
    return {folder: {node: _state(theirs, folder, version) for node, theirs in sorted(nodes.items())}
            for folder, version in head.items()}


def _state(theirs: dict[str, str], folder: str, version: str) -> NodeVersion:
    if theirs.get(folder) == version:
        return NodeVersion.SAME
    return NodeVersion.OTHER if folder in theirs else NodeVersion.MISSING


def problems(head: dict[str, str], nodes: dict[str, dict[str, str]], waiting: dict[str, int],
             builds: dict[str, str] | None = None) -> list[str]:
    """What people must hear: folders whose jobs no node can take, nodes that take none
    of a folder's jobs. `waiting`: folder name -> jobs in flight; `builds`: node name -> its
    build (build.py), to name a node of other code as such ("": a node before builds)."""
    out, builds, mine = [], builds or {}, build.identity()
    code = sorted(n for n, b in builds.items() if b and b != mine)
    for folder, states in compare(head, nodes).items():
        others = [f"{node} has no folder {folder}" if s == NodeVersion.MISSING else
                  f"{node} has version {nodes[node][folder]}" + (
                      f" (it runs hotfolder {builds[node]}, the head {mine})" if node in code else "")
                  for node, s in states.items() if s != NodeVersion.SAME]
        fix = "the head's config" + (" and release" if any(n in code for n in states) else "")
        if NodeVersion.SAME not in states.values() and waiting.get(folder):
            who = "; ".join(others) or "no node is registered"
            out.append(f"folder {folder}: {waiting[folder]} job(s) wait for its config (version {head[folder]}), "
                       f"which no node has ({who}): start a node with {fix}")
        elif others:
            out.append(f"folder {folder} (version {head[folder]}): {'; '.join(others)}: such a node takes none of "
                       f"its files; restart it with {fix}")
    return out
