"""The reader: walks the YAML's mappings and records every problem with its place.

A problem found in one key does not stop the reading: the key reads as its default,
the next key is read, the next mapping too, so `check-config` reports every problem at
once (problems.py keeps them with their lines). Three shapes of "go on after a problem":

    Key.read (keys.py)   one key: after a problem it reads as its default
    recorded()           a check across keys: recorded, what follows still runs
    section              one mapping (a folder, a rendition, …): None when it has problems

Outside a parse (no collector), the first problem raises ConfigError at once.
"""
from __future__ import annotations

import contextlib
import difflib
import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from hotfolder import redact
from hotfolder.config import problems
from hotfolder.config.model import ConfigError
from hotfolder.config.problems import Problems

T = TypeVar("T")


class Invalid(Exception):
    """A problem was recorded; stop reading this key, block or mapping."""


class Unset(Invalid):
    """A `${VAR}` the command does not need is not set: said as a warning; the key
    keeps its text as written (nothing of this command reads it)."""

    def __init__(self, written: str):
        super().__init__(written)
        self.written = written


# The parts of a config whose `${VAR}`s a command needs set: what `hotfolder run` serves.
EVERY_PART = frozenset({"http", "notify", "cluster"})


@dataclass(frozen=True)
class Context:
    """What every reader of one parse shares."""

    source: str  # the file, for messages
    base: Path  # relative paths are relative to it (the config file's folder)
    serving: frozenset[str] = EVERY_PART  # parts whose unset `${VAR}` is an error, not a warning
    expand: bool = True  # False: `${VAR}`s are left as written (a disabled cluster's broker URL)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)


@contextlib.contextmanager
def recorded() -> Iterator[None]:
    """Checks across keys: a problem found here is recorded, and what follows the block
    is still checked. A ConfigError raised here directly is recorded the same way."""
    try:
        yield
    except Invalid:
        pass
    except ConfigError as exc:
        found = problems.CURRENT.get()
        if found is None:
            raise
        found.add(exc.key, exc.reason)


def section(build: Callable[..., T]) -> Callable[..., T | None]:
    """Builds one mapping of the config (a folder, a rendition, …) from (ctx, data, path,
    …); None when it has problems (they are recorded), so the next mapping is checked."""
    @functools.wraps(build)
    def checked(ctx: Context, data: Any, path: str, *args: Any, **kwargs: Any) -> T | None:
        found = problems.CURRENT.get()
        if found is None:
            return build(ctx, data, path, *args, **kwargs)
        before = len(found)
        try:
            return build(ctx, data, path, *args, **kwargs)
        except Invalid:
            return None
        except ConfigError as exc:
            found.add(exc.key, exc.reason)
            return None
        except Exception:  # noqa: BLE001 - e.g. a default standing in for a bad key
            if len(found) > before:
                return None  # a consequence of a problem already recorded here
            raise
    return checked


def built(sections: Iterable[T | None]) -> tuple[T, ...]:
    """The mappings that could be built (None: their problems are recorded)."""
    return tuple(s for s in sections if s is not None)


def named(path: str, data: Any) -> str:
    """`folders[0]` → `folders[photos]` when the item has a name: what people look for."""
    m = re.fullmatch(r"(.*)\[\d+\]", path)
    name = data.get("name") if isinstance(data, dict) else None
    if m and isinstance(name, str) and name.strip():
        return f"{m.group(1)}[{name}]"
    return path


def in_lower_case(data: Any) -> Any:
    """`data` with each key written in another case than a known key's (`Format:`, `Quality:`:
    a word processor capitalises the first letter of each line) under that key's name, where
    the mapping does not hold that key too; its marks kept. Anything else as it is."""
    from hotfolder.config.sections import levels  # the sections import this module

    if not isinstance(data, dict):
        return data
    renamed = {key: key.lower() for key in data if isinstance(key, str) and key != key.lower()
               and key.lower() in levels.known() and key.lower() not in data}
    if not renamed:
        return data
    out = problems.MarkedDict((renamed.get(key, key), value) for key, value in data.items())
    out.mark = getattr(data, "mark", None)
    places = getattr(data, "key_marks", {})
    out.key_marks = {renamed.get(key, key): mark for key, mark in places.items()}
    out.repeated = {renamed.get(key, key): marks for key, marks in getattr(data, "repeated", {}).items()}
    # `Inbox:` and `INBOX:` are one key written twice, as YAML's own repeats (Reader._repeated):
    # the last silently counted, a line lower down overriding the one an admin read
    for name in set(renamed.values()):
        written = [key for key in data if renamed.get(key) == name]
        if len(written) > 1:
            out.repeated[name] = [*out.repeated.get(name, []), *(places.get(key) for key in written[:-1])]
    return out


def join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


class Reader:
    """Walks one mapping of the YAML, remembering the key path for messages."""

    def __init__(self, ctx: Context, data: Any, path: str):
        data = in_lower_case(data)
        self.ctx, self.source, self.path = ctx, ctx.source, named(path, data)
        self.data: dict = data if isinstance(data, dict) else {}
        self.used: set[str] = set()
        self.skipped: set[str] = set()  # keys that had a problem (or an unset ${VAR}): checks across keys skip them
        found = problems.CURRENT.get()
        if found is not None and found.named_elsewhere(self.path, path):
            self.path = path  # a name given twice: this item is told by its index, at its own lines
        if found is not None:
            self._register(found, path, data)
        if not isinstance(data, dict):
            self.fail("", f"must be a mapping of keys, not {kind(data)}")
        self._repeated("", data)

    def _register(self, found: Problems, path: str, data: Any) -> None:
        """Tell the collector where this mapping, its keys and their list items are."""
        mark = getattr(data, "mark", None)
        found.place(path, self.path, mark if mark is not None else found.locate(path)[1])
        for key, key_mark in getattr(data, "key_marks", {}).items():
            found.place(join(path, key), self.key(str(key)), key_mark)
            value = data.get(key)
            for i, item_mark in enumerate(getattr(value, "item_marks", ())):
                found.place(f"{join(path, key)}[{i}]", f"{self.key(str(key))}[{i}]", item_mark)

    def key(self, name: str) -> str:
        return join(self.path, name)

    @property
    def part(self) -> str:
        """The top-level key this mapping is under (`http`, `notify`, `folders`, …)."""
        return re.split(r"[.\[]", self.path, maxsplit=1)[0]

    def fail(self, name: str, reason: str) -> NoReturn:
        key = self.key(name) if name else self.path
        found = problems.CURRENT.get()
        if found is None:
            raise ConfigError(self.source, key, reason)
        found.add(key, reason)
        raise Invalid

    def warn(self, name: str, reason: str) -> None:
        """Something to say that does not make the config unusable (check-config prints it)."""
        found = problems.CURRENT.get()
        if found is not None:
            found.warn(self.key(name) if name else self.path, reason)

    def alias(self, path: str) -> None:
        """`path` names this mapping too (a folder by the name its inbox gives it)."""
        found = problems.CURRENT.get()
        if found is not None and path != self.path:
            found.alias(path, self.path)

    def has(self, name: str) -> bool:
        return name in self.data and self.data[name] is not None

    def ok(self, *names: str) -> bool:
        """Whether these keys were read without a problem (checks across keys need them)."""
        return not self.skipped.intersection(names)

    def raw(self, name: str, default: Any = None) -> Any:
        self.used.add(name)
        value = self.data.get(name)
        self._repeated(name, value)  # a mapping read as a value (size: {long}, path_map, when.exif)
        return default if value is None else value

    def _repeated(self, name: str, data: Any) -> None:
        """Each key written more than once in the mapping `data` (this one, or the value of
        `name`): a problem at its last place (YAML keeps the last value without a word)."""
        found = problems.CURRENT.get()
        repeated = getattr(data, "repeated", {})
        if not name and "name" in repeated and self.path.endswith("]"):  # a list's item with two names
            with recorded():
                line = problems.position(data.key_marks.get("name"))[0]
                self.fail("name", f"written more than once in this item (also on line "
                          f"{problems.position(repeated['name'][0])[0]}): is a `- ` missing before `name:` on line "
                          f"{line}, to start another item? Without it the two read as one, the last of each key "
                          "counting")
            return
        for key, earlier in repeated.items():
            inner = join(name, str(key))
            if found is not None and name:  # a value's keys are not registered as places: this one is
                found.place(self.key(inner), self.key(inner), data.key_marks.get(key))
            with recorded():
                lines = ", ".join(str(problems.position(mark)[0]) for mark in earlier)
                self.fail(inner, f"written more than once in this mapping (also on line {lines}): only "
                          "the last would count; keep one")

    def done(self, elsewhere: Mapping[str, str] | None = None) -> None:
        """Every key not read is unknown: each is reported. `elsewhere`: keys of another
        section (name -> where they belong), said as such rather than as a misspelling."""
        other = elsewhere or {}
        for key in sorted(set(self.data) - self.used, key=str):
            with recorded():
                if str(key) in other:
                    self.fail(str(key), f"not a key here: {key} is {other[str(key)]}")
                close = difflib.get_close_matches(str(key), sorted(self.used) + sorted(other), n=1)
                if close and close[0] in other and close[0] not in self.used:  # `qualty` beside renditions:
                    self.fail(str(key), f"unknown key (did you mean {close[0]!r}? {close[0]} is {other[close[0]]})")
                hint = f"did you mean {close[0]!r}? " if close else ""
                known = ", ".join(sorted(self.used))
                self.fail(str(key), f"unknown key ({hint}known keys here: {known})")

    def missing(self, name: str, what: str) -> NoReturn:
        """A required key is absent: point at a misspelling of it, if there is one."""
        if name in self.data:  # written with nothing after it (`output:`, `inbox: ~`): it said
            self.used.add(name)  # "unknown key (did you mean 'output'?)" (a new user)
            self.fail(name, f"is empty, but {name} {what}")
        close = difflib.get_close_matches(name, [str(k) for k in self.data], n=1)
        if close:
            self.used.add(close[0])  # said here; not again as an unknown key
            self.fail(close[0], f"unknown key (did you mean {name!r}?); {name} {what}")
        self.fail(name, what)

    def expand(self, name: str, value: str) -> str:
        """`${VAR}` from the environment (or a systemd credential). Unset, it is an error
        for a command that serves this part of the config (`hotfolder run`), a warning
        for one that does not (`requeue` needs no status page token): then the key keeps
        its text (Unset)."""
        if not self.ctx.expand:
            return value
        found = {m.group(1): variable(self.ctx.environ, m.group(1)) for m in _VARIABLE.finditer(value)}
        unset = sorted(var for var, got in found.items() if got is None)
        if unset:
            said = f"uses ${{{unset[0]}}}, but that environment variable is not set"
            if self.part in self.ctx.serving:  # say how to give it, in a shell and to the service (a new user)
                self.fail(name, f"{said}: `export {unset[0]}=…` in the shell that starts it, or, for the "
                                f"service, {_GIVE_IT}")
            self.warn(name, f"{said} here (the service needs it: {_GIVE_IT})")
            raise Unset(value)
        return _VARIABLE.sub(lambda m: found[m.group(1)] or "", value)


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_GIVE_IT = "EnvironmentFile= or LoadCredential= in a drop-in of the unit; README, Config reference"


def variable(environ: Mapping[str, str], name: str) -> str | None:
    """$name from the environment, else the systemd credential of that name: with
    `LoadCredential=name:/etc/hotfolder/name` systemd puts the file in
    $CREDENTIALS_DIRECTORY, readable by the service alone, where no child process
    inherits it as it inherits the environment. None when neither holds it."""
    if name in environ:
        return environ[name]
    folder = environ.get("CREDENTIALS_DIRECTORY")
    if not folder:
        return None
    try:  # the name is [A-Za-z_][A-Za-z0-9_]*: a file in that folder, never a path
        return (Path(folder) / name).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        return None


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity")


def kind(value: Any, secret: bool = False) -> str:
    """What a value is, for messages; a secret's value is never quoted."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {redact.MASK if secret else value}"
    if isinstance(value, str):
        if secret and value.strip():
            return f"the text {redact.MASK}"
        if "://" in value or "@" in value:  # a URL where a mapping was due (`notify: ["https://u:pw@…"]`): its
            value = redact.url(value)      # password went to the journal, the status and the notifications
        if len(value) > 80:
            return f"the text {value[:60]!r}… ({len(value)} characters)"
        return f"the text {value!r}" + (" (a number read as text: write it in plain digits, without quotes)"
                                         if _numeric(value) else "")  # "85"; or 1e3, which YAML 1.1 reads as text
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__

