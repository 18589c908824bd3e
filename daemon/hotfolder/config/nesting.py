"""Which folders of a config may lie in which, and the chains between folders.

Each folder has up to six places: inbox, processing, output, failed, archive, duplicates. Two
places *overlap* when they are one folder or one lies inside the other, either way: the
daemon writes into subfolders of output/, archive/ and failed/ that mirror the inbox's
(`inbox/print/a.jpg` → `output/print/a_web.jpg`), so a place inside one of those can
receive its files. Every overlap is refused except those known to be harmless:

    output ↔ output, archive ↔ archive   shared by several folders: output names are
                                          owned (names.py), an archive never overwrites
    output or archive → an inbox          a chain: that inbox's folder renders what this
                                          one writes; refused when chains close a cycle

A place inside an inbox under a name the watcher ignores (`inbox/.state`) is apart
from it. The rest make a file's end ambiguous: whatever lies in processing/ is adopted and
rendered again as an original at every start; whatever lies in failed/ is listed,
counted and requeued as that folder's failure (and its records finished at start);
two inboxes take the same files; an output named like an archived original replaces
it (on_name_clash: replace), and originals would be published with the outputs.

A cycle of chains (A's output is B's inbox and B's is A's) renders every output again,
for ever, multiplied by the renditions at each turn, until the disk is full.

`problems(folders)` returns (key path, reason) pairs, key paths with indexes
(`folders[1].output`) as config.py records them.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

KEYS = ("inbox", "processing", "output", "failed", "archive", "duplicates")
SHARED = {("output", "output"), ("archive", "archive")}  # may overlap across folders
FEEDS = ("output", "archive")  # what they hold may be another folder's input


@dataclass(frozen=True)
class Place:
    index: int  # the folder's place in the config's list
    folder: str  # its name
    key: str  # inbox, processing, output, failed or archive
    path: Path

    @property
    def key_path(self) -> str:
        return f"folders[{self.index}].{self.key}"

    @property
    def named(self) -> str:
        return f"folders[{self.folder}].{self.key}"


@dataclass(frozen=True)
class Chain:
    """What `source` (an output or archive) holds may be the input of `inbox`'s folder."""

    source: Place
    inbox: Place


def problems(folders) -> list[tuple[str, str]]:
    """Every refused overlap and every cycle of chains; `folders` may hold None (a
    folder whose own problems are reported already)."""
    found, chains = [], []
    for inner, outer, chain in _overlaps(folders):
        if chain is not None:
            chains.append(chain)
        else:
            found.append((inner.key_path, _refused(inner, outer) + (_defaulted(inner, folders)
                                                                      or _defaulted(outer, folders))))
    found = _implied_dropped(found, folders)
    found += [(c.source.key_path, _self_feeding(c)) for c in chains if c.source.index == c.inbox.index]
    found += [_cycle_problem(cycle) for cycle in _cycles([c for c in chains if c.source.index != c.inbox.index])]
    return found


def _overlaps(folders):
    """(inner, outer, its chain or None) of each two places that overlap and may not be
    shared (an output shared by folders is not one)."""
    places = _places(folders)
    for i, a in enumerate(places):
        for b in places[i + 1:]:
            relation = _relation(a.path, b.path)
            if relation is None or (a.key, b.key) in SHARED:
                continue
            inner, outer = (b, a) if relation == "holds" else (a, b)
            if relation == "same":
                inner, outer = b, a  # the later one is reported, as for a name used twice
            if not _unseen_in_inbox(inner.path, outer):
                yield inner, outer, _chain(inner, outer)


def chains(folders) -> list[tuple[str, str]]:
    """(the inbox's key path, what to say) of each chain between two folders: allowed, and
    said as a warning, as an inbox put inside another folder's output by mistake is one
    too (an admin's afternoon: check-config said only OK)."""
    said = []
    for inner, outer, chain in _overlaps(folders):
        if chain is None or chain.source.index == chain.inbox.index:
            continue  # a refusal, or a folder feeding itself (refused)
        said.append((chain.inbox.key_path,
                     f"{_where(inner, outer)}: folder {chain.inbox.folder!r} renders what folder "
                     f"{chain.source.folder!r} writes to its {chain.source.key} (a chain: README, The folders); if "
                     f"that is not meant, give inbox a folder of its own"))
    return said


def _defaulted(place: Place, folders) -> str:
    """What to write when `place` is a duplicates folder at its default beside failed/: a
    config from before the key (e3d8d79, `archive: x/duplicates`) was refused as if the admin
    had written `duplicates:` there, and was not told it was a default, nor what to add."""
    from hotfolder.config.sections.duplicates import beside  # as _implied_dropped

    folder = folders[place.index]
    if place.key == "processing" and folder.inbox is not None and place.path == folder.inbox.parent / "processing":
        return (f"; processing is not set, so it is {place.path}, its default beside the inbox: add `processing:` "
                f"to folder {place.folder}, a folder of its own outside the others (e.g. "
                f"{folder.inbox.parent.parent / (place.folder + '-processing')})")
    if place.key != "duplicates" or folder.failed is None or place.path != beside(folder.failed):
        return ""
    return (f"; the duplicates folder is {place.path}, its default beside failed/ when `duplicates:` is not set: "
            f"add `duplicates: {folder.failed.parent / (folder.failed.name + '-duplicates')}` to folder "
            f"{place.folder}, or another folder of its own")


def _implied_dropped(found: list[tuple[str, str]], folders) -> list[tuple[str, str]]:
    """A duplicates folder left to its default lies beside failed/, processing/ beside the inbox:
    when failed/ (the inbox) has a problem, its default's is the same one again (one mistake, one
    problem)."""
    from hotfolder.config.sections.duplicates import beside  # (sections import this module's importers)

    keys = {k for k, _ in found}
    implied = {f"folders[{i}].duplicates" for i, f in enumerate(folders)
               if f is not None and f.failed is not None and f.duplicates == beside(f.failed)
               and f"folders[{i}].failed" in keys}
    # So does a processing folder left to its default beside the inbox: two folders sharing an
    # inbox were told first of their shared processing/, which neither config names (an admin's afternoon)
    implied |= {f"folders[{i}].processing" for i, f in enumerate(folders)
                if f is not None and f.inbox is not None and f.processing == f.inbox.parent / "processing"
                and f"folders[{i}].inbox" in keys}
    return [(k, reason) for k, reason in found if k not in implied]


def state_dir_problems(state_dir: Path, folders) -> list[str]:
    """state_dir is, or lies inside, a place whose files the daemon takes (an inbox,
    processing/, failed/): its status and its records of output names would be taken
    as input, adopted or requeued. Holding the folders (`var/` for `var/inbox`) is fine."""
    found = []
    for place in _places(folders):
        if (place.key in TAKEN and _relation(state_dir, place.path) in ("same", "inside")
                and not _unseen_in_inbox(state_dir, place)):
            where = f"is {place.named}" if state_dir == place.path else f"lies inside {place.named} ({place.path})"
            found.append(f"{state_dir} {where}: everything in it (the daemon's status, and its records of which "
                         f"output name is whose) would be {TAKEN[place.key].format(folder=place.folder)}; put "
                         f"state_dir outside every folder's inbox, processing and failed")
    return found


def _places(folders) -> list[Place]:
    out = []
    for index, folder in enumerate(folders):
        if folder is None:
            continue
        for key in KEYS:
            path = getattr(folder, key)
            if path is not None:
                out.append(Place(index, folder.name, key, path))
    return out


def _unseen_in_inbox(path: Path, place: Place) -> bool:
    """`path` lies in the inbox `place` under a name the watcher and every scan ignore
    (`inbox/.state`, `inbox/x.tmp/…`): nothing in it is taken. (Imported here: spool
    imports config, which imports this module.)"""
    from hotfolder.spool.fsnames import is_ignored_path

    return place.key == "inbox" and path != place.path and is_ignored_path(path, place.path)


def _relation(a: Path, b: Path) -> str | None:
    """`a` is the same folder as `b`, lies inside it, holds it, or None (apart)."""
    if a == b:
        return "same"
    if a.is_relative_to(b):
        return "inside"
    if b.is_relative_to(a):
        return "holds"
    return None


def _chain(a: Place, b: Place) -> Chain | None:
    for source, inbox in ((a, b), (b, a)):
        if source.key in FEEDS and inbox.key == "inbox":
            return Chain(source, inbox)
    return None


def _where(inner: Place, outer: Place, named: bool = False) -> str:
    """`/x/out lies inside folders[b].inbox (/x/in)`, for messages; `named`: the inner
    place by its key too."""
    relation = _relation(inner.path, outer.path)
    assert relation is not None, "asked only of places that overlap"
    verb = {"same": "is", "inside": "lies inside", "holds": "holds"}[relation]
    where = f"{inner.named} ({inner.path})" if named else str(inner.path)
    other = f"the {outer.key}" if outer.index == inner.index else outer.named
    return f"{where} {verb} {other}" + ("" if relation == "same" else f" ({outer.path})")


TAKEN = {  # what becomes of a file lying in each place the daemon reads
    "inbox": "taken as input by folder {folder!r}",
    "processing": "adopted and rendered again as an original of folder {folder!r} at every start",
    "failed": "listed, counted and requeued as a failure of folder {folder!r} (its records finished or removed "
              "at start)",
    "duplicates": "filed with the skipped duplicates of folder {folder!r}",
}


def _refused(inner: Place, outer: Place) -> str:
    if inner.index == outer.index and inner.path == outer.path:
        return f"is the same folder as {outer.key} ({outer.path}); each must differ"
    return f"{_where(inner, outer)}: {_harm(inner, outer)}; give {inner.key} a folder of its own, apart from it"


def _harm(inner: Place, outer: Place) -> str:
    if {inner.key, outer.key} == {"output", "archive"}:
        return ("an output named like an archived original would replace it (on_name_clash: replace), and the "
                "originals, GPS and all, would be published with the outputs")
    if inner.key == outer.key == "inbox":
        return "both folders would take the same files"
    if outer.key in TAKEN:
        return f"everything in it would be {TAKEN[outer.key].format(folder=outer.folder)}"
    # `outer` is an output or an archive: written into subfolders that mirror its inbox's
    return (f"what folder {outer.folder!r} writes to its {outer.key} for an inbox subfolder of that name would "
            f"land in it and be {TAKEN[inner.key].format(folder=inner.folder)}")


def _self_feeding(chain: Chain) -> str:
    return (f"{_where(chain.source, chain.inbox)}: its files would be taken as input, so every "
            f"{'output' if chain.source.key == 'output' else 'archived original'} would be rendered again, "
            f"for ever; put {chain.source.key} outside the inbox (and the inbox outside it)")


def _cycles(chains: list[Chain]) -> list[list[Chain]]:
    """One shortest cycle in each group of folders that feed each other (a strongly
    connected group), in the order of the config."""
    out_of: dict[int, list[Chain]] = {}
    for c in chains:
        out_of.setdefault(c.source.index, []).append(c)
    reported: set[int] = set()
    cycles = []
    for start in sorted(out_of):
        if start in reported:
            continue
        cycle = _shortest_cycle(out_of, start)
        if cycle is not None:
            cycles.append(cycle)
            reached = _reach(out_of, start)
            reported |= {n for n in reached if start in _reach(out_of, n)}
    return cycles


def _reach(out_of: dict[int, list[Chain]], start: int) -> set[int]:
    seen, todo = set(), [start]
    while todo:
        for c in out_of.get(todo.pop(), ()):
            if c.inbox.index not in seen:
                seen.add(c.inbox.index)
                todo.append(c.inbox.index)
    return seen


def _shortest_cycle(out_of: dict[int, list[Chain]], start: int) -> list[Chain] | None:
    """Breadth first from `start` back to it: the chains of the shortest way round."""
    came_by: dict[int, Chain] = {}
    todo = deque([start])
    while todo:
        here = todo.popleft()
        for c in out_of.get(here, ()):
            there = c.inbox.index
            if there == start:
                path = [c]
                while path[0].source.index != start:
                    path.insert(0, came_by[path[0].source.index])
                return path
            if there not in came_by:
                came_by[there] = c
                todo.append(there)
    return None


def _cycle_problem(cycle: list[Chain]) -> tuple[str, str]:
    steps = [_where(c.source, c.inbox, named=True) for c in cycle]
    first = cycle[0].source
    folders = ", ".join(repr(c.source.folder) for c in cycle)
    keys = ", ".join(c.source.named for c in cycle)
    reason = (f"{'; and '.join(steps)}: folders {folders} feed each other in a cycle, so every file is rendered "
              f"again, for ever, multiplied by the renditions at each turn, until the disk is full; point one of "
              f"{keys} at a folder outside the inboxes of the cycle")
    return first.key_path, reason
