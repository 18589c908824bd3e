"""The top level of the config: the daemon's own keys, and its sections (folders,
`http:`, `notify:`, `cluster:`). Each top-level key says what a reload does with it."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hotfolder.config import nesting
from hotfolder.config.choices import DEFAULT_FORMATS, INPUT_FORMATS
from hotfolder.config.keys import Applies, Key, Reload, as_fields, read_keys
from hotfolder.config.model import MAX_QUEUE_SIZE, Cluster, Config, Folder
from hotfolder.config.reader import Context, Reader, built, kind, recorded, section
from hotfolder.config.sections import cluster, folder, http, levels, notify
from hotfolder.config.sections.steps.encode import FORMAT_ALIASES, FORMAT_NAMES, format_unlike
from hotfolder.config.values import Bool, Choices, Float, Int, Items, Nested, Path_, number_in


@dataclass(frozen=True)
class Workers(Int):
    """A number of processes, or `auto`: one per CPU core."""

    def read(self, r: Reader, name: str, default: Any) -> int | None:
        said = r.raw(name, "auto")
        if isinstance(said, str) and said.strip().lower() == "auto":  # `Auto` too, as every choice
            return os.cpu_count() or 1
        if isinstance(said, str) and number_in(said) == said:  # `all`, `max`: was "must be a whole number"
            r.fail(name, f"must be a whole number or auto (one per CPU core), not {kind(said)}")
        return super().read(r, name, default)


def _now(how: str) -> Reload:
    return Reload(Applies.NOW, how)


KEYS = (
    Key("workers", Workers(lo=1, hi=256), None,
        "worker processes; `auto` = one per CPU core. More than the cores does not pay, even for small files "
        "that wait on disk syncs: 3 workers on 2 cores rendered 64 px JPEGs at 257–291 files/s against 299–325 "
        "with 2 (each file's CPU went up by a fifth; `python -m bench.small --procs N`)", shown="`auto`",
        reload=_now("the pool grows at once or shrinks as workers finish their files")),
    Key("max_image_pixels", Int(lo=1, hi=2**40, units={"mp": 10**6, "megapixels": 10**6}), 120_000_000,
        "larger images are refused (decompression bombs) — checked from the header before decoding, for every "
        "format, a RAW's embedded preview and the watermark file. 120 MP covers the 102 MP cameras (Fujifilm "
        "GFX100, 11648×8736; Hasselblad X2D 100C); a worker may need up to 96 MiB + 17 bytes a pixel of it "
        "(2 GiB at the default: see [Memory](#memory)); `120MP` is 120000000", reload=_now("new claims")),
    Key("accepted_formats", Choices(INPUT_FORMATS, f"must be a non-empty list, e.g. [{', '.join(DEFAULT_FORMATS)}]",
                                    aliases=FORMAT_ALIASES, taken=FORMAT_NAMES, unlike=format_unlike),
        DEFAULT_FORMATS,
        "also `gif`, `bmp`, `avif`; `heic` is HEIC/HEIF, `raw` the camera RAWs above; in any case, or by an "
        "extension (`JPG`, `tif`, `cr3`)", reload=_now("new claims")),
    Key("state_dir", Path_(), Path("var/state"),
        "the daemon's lock, its status snapshot, the index of originals and the records of which output name "
        "is whose ([what it holds](#what-state_dir-holds)); like every path, relative to the config file's "
        "folder: left out, a config in `studio/config/` keeps its state in `studio/config/var/state` (the "
        "example configs say `../var/state`)",
        reload=Reload(Applies.RESTART, "the instance lock and the status are in the old state_dir (a second "
                                       "daemon could start on it)")),
    Key("queue_size", Int(lo=0, hi=MAX_QUEUE_SIZE), 0,
        "claimed files waiting for a worker (`0`: the default, 2 × workers); the rest wait in the inbox, so a "
        "backlog of 100,000 costs no memory",
        shown="2 × workers", reload=_now("the pool's room for claimed files")),
    Key("drain_timeout", Float(lo=0.1, hi=3600, seconds=True), 30.0, "seconds a stop waits for files in progress",
        reload=_now("read when a stop begins")),
    Key("file_timeout", Float(lo=0.1, hi=86400, seconds=True), 120.0,
        "a worker busy longer on one file is killed; the file is retried",
        reload=_now("the pool's limit for the files that start from now on and those running")),
    Key("max_attempts", Int(lo=1, hi=100), 3,
        "a file that kills (or hangs) its worker this often goes to `failed/`, e.g. `worker died by signal 9 on "
        "attempt 3`", reload=_now("the ledger's next verdict")),
    Key("reload_on_change", Bool(), False, "reload when the config file changes, as on SIGHUP, once it has "
        "stayed unchanged for 2 s (a file written in parts, with pauses shorter than that, is not read half-written)",
        reload=_now("read once a second")),
    Key("http", Nested(http.read, shorthand="listen"), None, "the status page and `/metrics` (below)", shown="off",
        reload=_now("the listener moves to the new address (unless systemd's socket), the token changes")),
    Key("notify", Items(notify.read, "{url, events, secret} items", non_empty=False, item="  - url: …"), (),
        "where to send notifications (below)", reload=_now("the notifier's endpoints")),
    Key("notify_interval", Float(lo=1, hi=86400, seconds=True), 30.0,
        "seconds: at most one notification message per endpoint per interval (a burst of failures is one message)",
        reload=_now("the notifier's batches")),
    Key("cluster", Nested(cluster.read), Cluster(), "render on several machines (below, and "
                                                    "[docs/cluster.md](docs/cluster.md))", shown="off"),
    Key("folders", Items(folder.read, "watched folders"), (), "one or more watched folders (below)",
        required="is required: a list of watched folders",
        reload=_now("each new job carries its folder (files in flight finish with theirs); the watcher and the "
                    "folder locks follow the new folders")),
)


@section
def read(ctx: Context, data: Any, path: str) -> Config:
    r = Reader(ctx, data, path)
    values = read_keys(r, KEYS)
    r.done(elsewhere=levels.top())
    with recorded():
        _check_across_folders(r, values["folders"])
    folders = built(values["folders"])
    if values["cluster"] is not None and r.ok("cluster"):
        _check_shared_root(r, values["cluster"], folders)
    values["folders"] = _with_runtime_paths(folders, values["state_dir"], values["cluster"])
    values["notify"] = built(values["notify"])
    for reason in nesting.state_dir_problems(values["state_dir"], values["folders"]):
        with recorded():
            r.fail("state_dir", reason)
    source = Path(ctx.source).resolve() if ctx.source != "<config>" else Path(ctx.source)
    values["folders"] = tuple(replace(f, config_file=source) for f in values["folders"])
    return Config(source=source, **as_fields(KEYS, values))


def _check_across_folders(r: Reader, folders: tuple[Folder | None, ...]) -> None:
    names: dict[str, int] = {}
    for i, item in enumerate(folders):
        if item is None:  # its problems are reported already
            continue
        if item.name in names:
            with recorded():
                r.fail(f"folders[{i}].name", f"{item.name!r} is the name of folder number {names[item.name] + 1} in "
                                             f"the list too; give each folder a name of its own")
        names.setdefault(item.name, i)
    for key, reason in nesting.problems(folders):  # folders inside folders, and cycles of chains
        with recorded():
            r.fail(key, reason)
    for key, reason in nesting.chains(folders):
        r.warn(key, reason)


def _check_shared_root(r: Reader, config: Cluster, folders: tuple[Folder, ...]) -> None:
    """Every worker must reach each folder's places through the shared root."""
    if not config.enabled or config.shared_root is None:
        return
    for item in folders:
        for name in ("processing", "output", "failed", "archive", "duplicates"):
            d = getattr(item, name)
            if d is not None and not d.is_relative_to(config.shared_root):
                with recorded():
                    r.fail(f"folders[{item.name}].{name}", f"{d} is outside cluster.shared_root "
                                                         f"({config.shared_root}); every worker must reach it")


def temp_token_for(scope: str) -> str:
    """A token of this daemon's (its state_dir, or its cluster), stable across restarts:
    our temp files carry it, so no file of a user's can be taken for one by accident."""
    return hashlib.sha256(scope.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _with_runtime_paths(folders: tuple[Folder, ...], state_dir: Path, config: Cluster) -> tuple[Folder, ...]:
    """The temp token, the name-ownership folder and the index: per cluster when one shares the
    outputs (every node must agree), else per daemon."""
    state: Path | None = state_dir
    if config.enabled and config.shared_root is not None:
        token = temp_token_for(f"cluster:{config.cluster_id}")
        names = config.shared_root / ".hotfolder" / "names"
        state = None  # `{seq}` counts in the cluster's Redis (cluster/store.py)
    else:
        token, names = temp_token_for(str(state_dir)), state_dir / "names"
    # The index of originals: state_dir's database; a cluster's is in Redis (cluster/originals.py).
    index = None if config.enabled else state_dir
    return tuple(replace(f, temp_token=token, names_dir=names, state_dir=state, index_dir=index) for f in folders)
