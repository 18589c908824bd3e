"""Where each problem of a config is: YAML marks kept, and every problem collected.

`load_marked` is `yaml.safe_load` whose mappings and lists remember the line and column
of each key and item (PyYAML's node marks, which `safe_load` throws away). While a
config is checked, a `Problems` collector records each problem with its place, so
`check-config` can report all of them at once, each as

    config/hotfolder.yaml:31:9: folders[photos].renditions[web].quality: must be at most 100, not 300

Key paths name list items by their `name:` where they have one (`folders[photos]`, not
`folders[0]`): readers register each mapping they walk, and a key path written with an
index (by a check across keys) is translated through that register.
"""
from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Problem:
    source: str
    key: str  # the key path, items by name: folders[photos].renditions[web].quality
    reason: str
    line: int | None = None  # 1-based, as editors count
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}:{self.column}" if self.line else self.source
        return f"{where}: {self.key}: {self.reason}" if self.key else f"{where}: {self.reason}"


# --- YAML with marks ----------------------------------------------------------

class MarkedDict(dict):
    """A mapping of the config, and where each of its keys is (`key_marks`: the last
    place it is written); `repeated`: a key written more than once in this mapping, and
    the places before the last (YAML keeps the last value without a word)."""

    mark: Any = None
    key_marks: dict
    repeated: dict


class MarkedList(list):
    mark: Any = None
    item_marks: list


MAX_VALUES = 100_000  # the example config holds ~100; a config of a thousand folders, ~100,000


class TooManyValues(Exception):
    """The YAML holds more than MAX_VALUES values as written (`mark`: where the next one
    starts), or its merge keys (`<<`, `merged`) would copy more than that many keys."""

    def __init__(self, mark, merged: bool = False):
        super().__init__(f"more than {MAX_VALUES:,} values")
        self.mark, self.merged = mark, merged


class _MarkedLoader(yaml.SafeLoader):
    """SafeLoader, constructing MarkedDict/MarkedList: the same values as safe_load."""

    def __init__(self, stream):
        super().__init__(stream)
        self.repeats: dict[int, tuple[yaml.MappingNode, dict]] = {}  # id(node) -> (node, its repeats)
        self.values = 0
        self.merged = 0  # keys copied by merge keys (<<), each time

    def compose_node(self, parent, index):
        """Counted as parsed (a mapping's keys aside, as parsing._expanded counts): a file of a
        million values took a minute and 1.4 GB before any count (an attack round; the
        daemon's loop waits for a reload's parse). An alias counts once here; its expansion
        is counted after the parse."""
        if not (isinstance(parent, yaml.MappingNode) and index is None):
            self.values += 1
            if self.values > MAX_VALUES:
                raise TooManyValues(self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """PyYAML's, bounded. Flattening puts a merged mapping's keys before a node's own, in
        the node itself; a mapping merged from above is flattened before its own turn comes.
        Its own keys are told apart first, or a key overriding a merged one read as written
        twice.

        PyYAML before 6.0.4 (Debian's python3-yaml is 6.0, and `PyYAML>=6` allows it) copies
        a merged mapping's keys once per path to it: 500 bytes of `<<: [*a, *a, …]` nine
        deep took 24 s and 714 MB at seven levels, never ending at nine (an attack round; a
        reload's parse holds the daemon's loop). Here, as there, a mapping earlier in a
        merge list wins over a later one and the node's own keys over every merged one; a
        key copied twice (the same key and value, reached by two paths) is kept once, at
        its last place, which the mapping's construction lets win anyway; and every copy
        counts towards MAX_VALUES, so no list of aliases multiplies them."""
        self.repeats_of(node)
        merge: list = []
        index = 0
        while index < len(node.value):
            key_node, value_node = node.value[index]
            if key_node.tag == "tag:yaml.org,2002:merge":
                del node.value[index]
                if isinstance(value_node, yaml.MappingNode):
                    merged = [value_node]
                elif isinstance(value_node, yaml.SequenceNode):
                    merged = list(value_node.value)
                else:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"expected a mapping or list of mappings for merging, but found {value_node.id}",
                        value_node.start_mark)
                for subnode in reversed(merged):  # the first listed is put last: it wins
                    if not isinstance(subnode, yaml.MappingNode):
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping", node.start_mark,
                            f"expected a mapping for merging, but found {subnode.id}", subnode.start_mark)
                    self.flatten_mapping(subnode)
                    self.merged += len(subnode.value)
                    if self.merged > MAX_VALUES:
                        raise TooManyValues(key_node.start_mark, merged=True)
                    merge.extend(subnode.value)
            elif key_node.tag == "tag:yaml.org,2002:value":
                key_node.tag = "tag:yaml.org,2002:str"
                index += 1
            else:
                index += 1
        if merge:
            last = {id(pair): i for i, pair in enumerate(merge)}
            node.value = [pair for i, pair in enumerate(merge) if last[id(pair)] == i] + node.value

    def repeats_of(self, node: yaml.MappingNode) -> dict:
        """A mapping's own keys written more than once, with the marks before the last;
        from the node as written (computed once, before any flattening)."""
        found = self.repeats
        if id(node) not in found:
            seen: dict = {}
            repeated: dict = {}
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                if key in seen:
                    repeated.setdefault(key, []).append(seen[key])
                seen[key] = key_node.start_mark
            found[id(node)] = (node, repeated)  # the node kept: its id is not reused meanwhile
        return found[id(node)][1]


def _construct_map(loader: _MarkedLoader, node: yaml.MappingNode):
    data = MarkedDict()
    data.mark, data.key_marks, data.repeated = node.start_mark, {}, loader.repeats_of(node)
    yield data
    data.update(loader.construct_mapping(node))  # flattens merge keys (<<) into node.value
    for key_node, _value in node.value:  # merged keys first, then the node's own: the last one wins
        data.key_marks[loader.construct_object(key_node)] = key_node.start_mark


def _construct_seq(loader: _MarkedLoader, node: yaml.SequenceNode):
    data = MarkedList()
    data.mark, data.item_marks = node.start_mark, [child.start_mark for child in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


def _construct_int(loader: _MarkedLoader, node: yaml.ScalarNode) -> int:
    """PyYAML's, whose int() refuses more than 4,300 digits (Python's bound) with a ValueError
    that no caller takes for a YAML problem: a traceback, no line (an attack round)."""
    try:
        return loader.construct_yaml_int(node)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"a number of {len(node.value)} digits, larger than any value here takes (quote it if it is "
            "text)", node.start_mark) from None


_MarkedLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_MarkedLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_MarkedLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_marked(text: str) -> Any:
    """`yaml.safe_load(text)`, with marks on every mapping and list; raises yaml.YAMLError."""
    return yaml.load(text, Loader=_MarkedLoader)  # noqa: S506 - a SafeLoader subclass


def position(mark) -> tuple[int | None, int | None]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


# --- collecting ---------------------------------------------------------------

class Problems:
    """Every problem found while one config is checked, each with its place."""

    def __init__(self, source: str):
        self.source = source
        self.found: list[Problem] = []
        self.warnings: list[Problem] = []  # what does not make the config unusable
        self._places: dict[str, tuple[str, Any]] = {"": ("", None)}  # key path -> (named path, mark)
        self._raw: dict[str, str] = {}  # named path -> the path (with indexes) it was first given to
        self._aliases: dict[str, str] = {}  # another name of a mapping's path -> its path
        self.relative: dict[str, tuple[str, str]] = {}  # key path -> (a relative path as written, what it is)

    def __len__(self) -> int:
        return len(self.found)

    def place(self, path: str, named: str, mark) -> None:
        """`path` (as code writes it, maybe with indexes) is `named`, found at `mark`."""
        self._places[path] = self._places[named] = (named, mark)
        self._raw.setdefault(named, path)

    def named_elsewhere(self, named: str, path: str) -> bool:
        """Whether `named` is the name of another item than `path` already (two renditions
        both named `r`: the second's problems were placed on the first's lines)."""
        return self._raw.get(named, path) != path

    def alias(self, path: str, named: str) -> None:
        """`path` names the mapping at `named` too: a folder without a `name:` key is
        `folders[1]` in the file, and `folders[<its inbox's name>]` to a later check."""
        self._aliases[path] = named

    def add(self, key: str, reason: str) -> None:
        self._record(self.found, key, reason)

    def warn(self, key: str, reason: str) -> None:
        self._record(self.warnings, key, reason)

    def _record(self, into: list[Problem], key: str, reason: str) -> None:
        named, mark = self.locate(key)
        problem = Problem(self.source, named, reason, *position(mark))
        # One problem per key and place: `size: big` is not also "size is required".
        if not any((p.key, p.line, p.column) == (problem.key, problem.line, problem.column) for p in into):
            into.append(problem)

    def locate(self, key: str) -> tuple[str, Any]:
        """The named path of `key` and the mark of the nearest place known on its path."""
        for alias, path in self._aliases.items():
            if key == alias or key.startswith((alias + ".", alias + "[")):
                key = path + key[len(alias):]
                break
        prefix = key
        while prefix not in self._places:
            cut = max(prefix.rfind("."), prefix.rfind("["))
            prefix = prefix[:cut] if cut > 0 else ""
        named, mark = self._places[prefix]
        return named + key[len(prefix):], mark

    def replace_at(self, line: int, column: int, key: str, reason: str) -> None:
        """`reason` is the problem of what is written at `line`: it replaces the problems
        found there (`format: “jpeg”` is not also "not one of: jpeg, …"), and is said of the
        key path registered at that line (`key` when none is)."""
        self.found = [p for p in self.found if p.line != line]
        self.found.append(Problem(self.source, self._named_at(line, column, key), reason, line, column))

    def warn_at(self, line: int, column: int, key: str, reason: str) -> None:
        """A warning of what is written at `line`, said of the key path registered there."""
        self.warnings.append(Problem(self.source, self._named_at(line, column, key), reason, line, column))

    def _named_at(self, line: int, column: int, key: str) -> str:
        on_line = [(named, position(mark)[1]) for named, mark in self._places.values()
                   if mark is not None and position(mark)[0] == line and named]
        own = [named for named, _ in on_line if named.rsplit(".", 1)[-1] == key]  # `{listen: …, token: …}`'s token
        return next((named for named, at in on_line if at == column),  # a list's item, where it starts
                    max(own or (named for named, _ in on_line), key=len, default=key))  # else the innermost key there

    def said_relative(self, base: str) -> None:
        """A problem that names the folder a relative path resolved to says what it was
        written as, and relative to what (`logo.png` is /etc/hotfolder/logo.png: an admin
        who ran check-config from their studio folder looked there)."""
        for i, p in enumerate(self.found):
            written, resolved = self.relative.get(p.key, ("", ""))
            if written and resolved in p.reason:
                note = f" ({written!r} is relative to the config file's folder, {base})"
                self.found[i] = Problem(p.source, p.key, p.reason + note, p.line, p.column)

    def in_order(self, found: list[Problem] | None = None) -> list[Problem]:
        """In the order of the file (problems without a line last)."""
        return sorted(self.found if found is None else found,
                      key=lambda p: (p.line is None, p.line or 0, p.column or 0))


CURRENT: contextvars.ContextVar[Problems | None] = contextvars.ContextVar("hotfolder_config_problems",
                                                                          default=None)
