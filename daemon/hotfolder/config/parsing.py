"""YAML config -> frozen dataclasses, validated; then the machine checks (preflight.py).

Every error names the file, the line and column, the key path and what to change, all
of them at once. Relative paths are resolved against the folder of the config file, so
the same file works from any working directory (and under systemd).

`serving` says which parts of the config the command serves (`hotfolder run`: all):
a `${VAR}` left unset in a part it does not serve is a warning, not an error, so a
shell without the status page's token can still requeue files.
"""
from __future__ import annotations

import difflib
import grp
import os
import pwd
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from hotfolder import preflight, redact
from hotfolder.config import pasted, problems
from hotfolder.config.model import Config, ConfigError
from hotfolder.config.problems import Problem, Problems
from hotfolder.config.reader import EVERY_PART, Context, in_lower_case
from hotfolder.config.sections import cluster, daemon, http, notify

STATE_DIR = next(key for key in daemon.KEYS if key.name == "state_dir")
# The keys whose value is a secret, or a URL holding one (those that take `${VAR}`): a YAML
# error on their line never quotes their text.
SECRET_KEYS = frozenset(key.name for part in (http, notify, cluster) for key in part.KEYS if key.env)


@dataclass(frozen=True)
class Checked:
    """A usable config, and what was found that does not make it unusable."""

    config: Config
    warnings: tuple[Problem, ...] = ()


def load(path: str | os.PathLike, *, serving: frozenset[str] = EVERY_PART) -> Config:
    """The config in the file at `path`; a ConfigError holding every problem if it is not usable."""
    return check(path, serving=serving).config


def parse(text: str, source: str = "<config>", base: Path | None = None, *,
          serving: frozenset[str] = EVERY_PART) -> Config:
    """The config in `text`; a ConfigError holding every problem found if it is not usable."""
    return check_text(text, source, base, serving=serving).config


def check(path: str | os.PathLike, *, serving: frozenset[str] = frozenset()) -> Checked:
    """`hotfolder check-config`: the config and its warnings. By default no part is
    served: an unset `${VAR}` is a warning (the shell need not hold the service's secrets)."""
    p = Path(path)
    try:
        text = read_file(p).decode("utf-8")
    except PermissionError as exc:  # the service's user, not the admin who wrote it as root
        raise ConfigError(str(p), "", f"cannot read the config file: {exc.strerror or exc} to {_user()}, "
                          f"{_who_may_read(p)}") from None
    except FileNotFoundError as exc:  # `hotfolder.yml` for `.yaml`: say the file that is there
        raise ConfigError(str(p), "", f"cannot read the config file: {exc.strerror or exc}{_beside(p)}") from None
    except OSError as exc:
        raise ConfigError(str(p), "", f"cannot read the config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:  # a reload's too: a traceback there stopped the daemon
        before = exc.object[:exc.start]
        reason = (f"the file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} cannot be read as UTF-8); "
                  f"save it as UTF-8 (in most editors: Save As, encoding UTF-8)")
        raise ConfigError.of([Problem(str(p), "", reason, before.count(b"\n") + 1,
                                      exc.start - (before.rfind(b"\n") + 1) + 1)]) from None
    return check_text(text, str(p), p.resolve().parent, serving=serving)


def _beside(p: Path) -> str:
    """` (did you mean config/hotfolder.yml?)`: a file of a close name in the same folder."""
    try:
        names = [entry.name for entry in os.scandir(p.parent) if entry.is_file()][:10_000]
    except OSError:
        return ""
    close = difflib.get_close_matches(p.name, names, n=1, cutoff=0.7)
    return f" (did you mean {p.parent / close[0]}?)" if close else ""


def _user() -> str:
    """`user hotfolder (uid 998)`: who this process reads as."""
    uid = os.geteuid()
    try:
        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _who_may_read(p: Path) -> str:
    """Who may read the file (or, when a folder on its way may not be entered, that folder),
    and what to change."""
    for folder in reversed(p.absolute().parents):
        if not os.access(folder, os.X_OK):
            return f"which may not enter {folder}: let it (chmod o+x {shlex.quote(str(folder))}, or g+x for its group)"
    try:
        st = p.stat()
        owner = pwd.getpwuid(st.st_uid).pw_name
        group = grp.getgrgid(st.st_gid).gr_name
    except (OSError, KeyError):
        return "which may not read it: make it readable to that user"
    try:
        mine = grp.getgrgid(os.getegid()).gr_name
    except KeyError:
        mine = str(os.getegid())
    return (f"which may not read it (owner {owner}, group {group}, mode {stat.S_IMODE(st.st_mode):04o}): let its "
            f"group read it, e.g. chgrp {shlex.quote(mine)} {shlex.quote(str(p))}; chmod g+r {shlex.quote(str(p))}")


MAX_BYTES = 4 * 1024 * 1024  # the example config is 6 KB; 100,000 values (MAX_VALUES) written out, ~3 MB


class NotAConfigFile(OSError):
    """The config's path names no regular file, or one too large to be a config."""


def read_file(p: Path) -> bytes:
    """The config file's bytes: a regular file (a symbolic link to one is fine) of at most
    MAX_BYTES. A FIFO there blocked the reload in the daemon's loop for good (nothing
    rendered, no status, SIGTERM unheard), /dev/zero grew it past 6 GB in 30 s, and a
    file of megabytes held the loop for minutes (an attack round): each is refused before
    it is read, NotAConfigFile saying what to change."""
    _regular(os.stat(p))  # before the open: opening some devices does something (/dev/watchdog arms it)
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO's open never waits for a writer
    with os.fdopen(fd, "rb") as f:
        _regular(os.fstat(fd))  # what was opened, if the path changed since
        data = f.read(MAX_BYTES + 1)  # the bytes read count, not the size stat said: it may change under us
    if len(data) > MAX_BYTES:
        raise NotAConfigFile(0, f"it holds more than {MAX_BYTES // (1024 * 1024)} MiB, far more than a config "
                                "(the example is 6 KB): is it the right file?")
    return data


def _regular(st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO, socket or device"
        raise NotAConfigFile(0, f"it is {what}, not a regular file: point the config path at the YAML file")


def check_text(text: str, source: str = "<config>", base: Path | None = None, *,
               serving: frozenset[str] = frozenset()) -> Checked:
    data = _yaml(text, source)
    found = Problems(source)
    token = problems.CURRENT.set(found)
    try:
        config = daemon.read(Context(source, base or Path.cwd(), serving), data, "")
        if config is not None:  # what could be built; problems of keys already said are not said again
            for key, reason in preflight.problems(config):
                found.add(key, reason)
        parsed = pasted.events(text)  # once, for both looks
        for line, column, key, reason in pasted.problems(parsed, SECRET_KEYS):
            if key in pasted.TEXT_KEYS:  # a mark's or a caption's curly quotes may be meant: written, warned of
                found.warn_at(line, column, key, reason)
            else:  # a name, a path, a choice: never meant
                found.replace_at(line, column, key, reason)
        for line, column, key, reason in pasted.cut_by_comments(text, parsed):
            found.warn_at(line, column, key, reason)
        found.said_relative(str(base or Path.cwd()))
    finally:
        problems.CURRENT.reset(token)
    if found:
        raise ConfigError.of(found.in_order())
    assert config is not None  # a mapping is None only when its problems are recorded
    redact.register(redact.secrets_in(config))  # the log's last line of defence knows them from now on
    return Checked(config, tuple(found.in_order(found.warnings)))


def _key_on_line(text: str, line: int, pattern: str) -> str:
    """The key `pattern` (its first group) finds on line `line` (1-based); "" if none."""
    lines = text.splitlines()
    m = re.search(pattern, lines[line - 1]) if 0 < line <= len(lines) else None
    return m.group(1) if m else ""


# Keys whose value YAML read otherwise than meant, found on the line of a parser error:
_VALUE_STARTING = r"([A-Za-z_][\w.-]*):\s+[*!]"  # `camera: *Canon`: YAML's alias or tag
_VALUE_WITH_COLON = r"^\s*(?:-\s+)?([A-Za-z_][\w.-]*):\s+[^\s'\"{\[#][^#]*?:\s"  # `text: Photo: Example`
# a template left unquoted: braces with more after the closing one (`{stem}_{rendition}.{ext}`, `{stem} {rendition}`)
_UNQUOTED_TEMPLATE = r"([A-Za-z_][\w.-]*):\s+\{[^{}\n]*\}[ \t]*[^\s,}\]#]"
_BLOCK_SCALAR = r"([A-Za-z_][\w.-]*):\s+([>|].*?)\s*(?:#.*)?$"  # `rating: >= 4`: YAML's folded or literal text
# A value that opens a quote (`filename: "{stem}.{ext}`, `- "*.mov`), and one closed on its line.
_OPENS_QUOTE = re.compile(r"^\s*(?:-\s+)?(?:[^\s:#'\"][^:#]*:\s+)?(?=[\"'])")
_CLOSED = {'"': re.compile(r'"(?:[^"\\]|\\.)*"'), "'": re.compile(r"'(?:[^']|'')*'")}


def _unclosed_quote(text: str, first: int, last: int) -> tuple[int, int] | None:
    """The line and column (1-based) of the nearest quote at or above line `last`, down to
    `first`, that opens a value and is not closed on its line: a missing closing quote was
    reported where YAML stumbled, lines below (a shop admin's report), as a matter of
    indentation. None when every quoted value there closes on its line."""
    lines = text.splitlines()
    for number in range(min(last, len(lines)), max(first, 1) - 1, -1):
        line = lines[number - 1]
        m = _OPENS_QUOTE.match(line)
        if m is None:
            continue
        quote = line[m.end()]
        if _CLOSED[quote].match(line, m.end()) is None:
            return number, m.end() + 1
    return None


def _yaml(text: str, source: str) -> dict:
    try:
        data = problems.load_marked(text)
    except yaml.YAMLError as exc:
        line, column = problems.position(getattr(exc, "problem_mark", None))
        problem = str(getattr(exc, "problem", None) or exc)
        if re.search(r"\b(alias|tag)\b", problem):  # `token: *Secret99` is an alias to YAML: its name is the
            problem = re.sub(r"'[^']*'", "'…'", problem)  # token (it went to the journal, the status, notifications)
            key = _key_on_line(text, line or 0, _VALUE_STARTING) or "token"
            problem += f"; a value that starts with * or ! is read as YAML's own: quote it (e.g. {key}: '*…')"
        started = problems.position(getattr(exc, "context_mark", None))[0]
        context = getattr(exc, "context", None)
        # e.g. an unclosed [ or quote
        where = f" ({context} that starts at line {started})" if context and started and started != line else ""
        reason = f"not valid YAML: {problem}{where}"
        unclosed = _unclosed_quote(text, started or 1, line or 0) if _may_be_unclosed(problem, context) else None
        if unclosed is not None:  # said where the quote is, not where YAML stumbled
            ran = ("the rest of the file" if context == "while scanning a quoted scalar"
                   else f"what follows, up to the next quote (line {line}),")
            reason += (f"; the quote opened on line {unclosed[0]} is not closed on its line, so YAML read {ran} as "
                       f"that value's text: end the value with the same quote on line {unclosed[0]}")
            line, column = unclosed
        elif context == "while scanning a block scalar" and (written := _block_scalar_on_line(text, line or 0)):
            quoted = written[1].replace("\\", "\\\\").replace('"', '\\"')  # as YAML reads it back
            if written[0] in SECRET_KEYS:  # `token: |Zq8…` was quoted whole into the journal, the status and
                quoted = f"{quoted[0]}…"  # the reload_refused notification (an attack round); and its 2nd character
                reason = "not valid YAML: " + re.sub(r"'[^']*'", "'…'", problem) + where
            reason += (f"; a value that starts with > or | begins a YAML block of text: quote it, e.g. "
                       f"{written[0]}: \"{quoted}\"")
        elif "mapping values are not allowed here" in problem and (key := _key_on_line(text, line or 0,
                                                                                     _VALUE_WITH_COLON)):
            reason += f"; a value holding ': ' must be quoted, e.g. {key}: \"…: …\""
        elif re.search(r"expected <block end>|expected <block mapping start>|did not find expected key|mapping values "
                       r"are not allowed here", problem):  # PyYAML's words for a key out of line
            reason += (f"; look at the indentation of line {line} and the lines above it: the keys of one mapping "
                       "line up, and a list item's keys sit two spaces in from its `- `")
        if "'\\t'" in reason:
            reason += "; YAML indents with spaces, not tabs"
        reason += pasted.near(text, started or (line or 0) - 3, line or 0)  # a non-breaking space pasted in
        otherwise = _written_otherwise(text, started or (line or 0) - 3, line or 0)
        reason += otherwise
        if getattr(exc, "context", None) == "while scanning an alias" and not otherwise:  # `pass_through: [*.mov]`
            reason += "; a value that starts with * is read as a YAML alias: quote it, e.g. '*.mov'"
        if line and (key := _key_on_line(text, line, _UNQUOTED_TEMPLATE)):  # `filename: {stem}_{rendition}.{ext}`
            reason += (f'; a value that starts with {{ is read as a YAML mapping: quote the template, e.g. '
                       f'{key}: "{{stem}}_{{rendition}}.{{ext}}"')
        raise ConfigError(source, "", reason, (Problem(source, "", reason, line, column),)) from None
    except RecursionError:  # `[[[[…` thousands deep: a traceback, and a reload's stopped the daemon
        raise ConfigError(source, "", "its values nest thousands deep; a config nests a few levels") from None
    except problems.TooManyValues as exc:
        line, column = problems.position(exc.mark)
        reason = (f"its merge keys (<<) copy more than {MAX_VALUES:,} keys (counted up to the one on line "
                  f"{line}): merge each mapping once, not through lists of aliases of aliases" if exc.merged else
                  f"it holds more than {MAX_VALUES:,} values (counted up to line {line}), far more "
                  "than a config (the example holds ~100, a thousand folders ~100,000): is it the right file?")
        raise ConfigError(source, "", reason, (Problem(source, "", reason, line, column),)) from None
    if data is None:
        raise ConfigError(source, "", "is empty; see config/hotfolder.yaml for an example")
    try:
        values = _expanded(data, MAX_VALUES)
    except RecursionError:
        values = MAX_VALUES + 1
    if values > MAX_VALUES:
        raise ConfigError(source, "", f"its aliases (*name) expand to more than {MAX_VALUES:,} values (YAML's "
                          f"\"billion laughs\"): write the values out, or alias only what is used once")
    return data


MAX_VALUES = problems.MAX_VALUES


_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
_BULLET = re.compile(r"^\s*[*•–—]\s+\S")  # a Markdown bullet, or a dash a word processor made long
_NO_SPACE = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][\w.-]*):(?!//)(\S.*)$")
_EQUALS = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][\w.-]*)\s*=\s*(.*?)\s*$")


def _written_otherwise(text: str, first: int, last: int) -> str:
    """What a YAML error on lines `first`..`last` (1-based) comes from, when the file is
    written as something else than YAML: Markdown's ``` fences copied with it from a page, a
    list bulleted with `*`, `key:value` without its space, `key = value` (an INI file's).
    Each was only PyYAML's words ("found character '`' that cannot start any token",
    "could not find expected ':'")."""
    if fence := _FENCE.search(text):
        number = text[:fence.start()].count("\n") + 1
        return (f"; line {number} is a Markdown fence (```), copied with the config from a page: delete the fence "
                "lines, the config is what is between them")
    lines = text.splitlines()
    for number in range(max(first, 1), min(last, len(lines)) + 1):
        line = lines[number - 1]
        if _BULLET.match(line):
            return f"; line {number} starts a list item with {line.strip()[0]}: YAML's items start with `- `"
        if m := _NO_SPACE.match(line):
            return f"; line {number} has no space after its key's colon: write `{m[1]}: {_said(m[1], m[2].strip())}`"
        if m := _EQUALS.match(line):
            return f"; line {number} is written `key = value`: YAML writes `{m[1]}: {_said(m[1], m[2])}`"
    return ""


def _said(key: str, value: str) -> str:
    """A value to write back in a hint: never a secret's (`token:…` said the token back)."""
    return "…" if key.lower() in SECRET_KEYS else value


def _may_be_unclosed(problem: str, context: str | None) -> bool:
    """Whether PyYAML's error is one a quote left open leads to: the text ran to the end of
    the file, or on to a later quote and a key out of place after it."""
    return context == "while scanning a quoted scalar" or bool(
        re.search(r"expected <block end>|did not find expected key|expected <block mapping start>", problem))


def _block_scalar_on_line(text: str, line: int) -> tuple[str, str] | None:
    """(key, value as written) of `key: >= 4` on line `line`, a value YAML took for the start
    of a block of text; None if the line holds none."""
    lines = text.splitlines()
    m = re.search(_BLOCK_SCALAR, lines[line - 1]) if 0 < line <= len(lines) else None
    return (m.group(1), m.group(2)) if m else None


def _expanded(data: object, limit: int) -> int:
    """How many values `data` holds once its aliases are expanded, counted up to past
    `limit`. YAML shares an aliased node (nine aliases of nine make 9^9 values out of 81
    nodes): each node is counted once, by identity, times the paths to it, so a walk of the
    expanded values (a list's `str()`) never starts: it took 4 GB and killed a reload."""
    sizes: dict[int, int] = {}

    def size(node: object) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = limit + 1  # a node inside itself (`&a [*a]`) counts as past the limit
        children = node.values() if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child)
            if total > limit:
                break
        sizes[id(node)] = total
        return total

    return size(data)


def state_dir_of(path: str | os.PathLike) -> Path | None:
    """The state_dir of the config at `path`, read even if the rest of the file is
    invalid (`hotfolder status` must work right after a refused reload): its default
    when the file names none. None when the file cannot be read, or is not YAML (its
    state_dir cannot be known: a daemon running on it knows; the default was a guess
    that said "not running" of a running daemon)."""
    p = Path(path)
    try:
        data = problems.load_marked(read_file(p).decode("utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError, RecursionError, problems.TooManyValues):
        return None
    return state_dir_in(data, p)


def state_dir_in(data: object, path: Path) -> Path:
    """The state_dir a config's data names (its default if none), for the file at `path`."""
    data = in_lower_case(data)  # `State_dir:` as the config's reading takes it
    state_dir = data.get("state_dir") if isinstance(data, dict) else None
    if not isinstance(state_dir, str):
        state_dir = str(STATE_DIR.default)
    state = Path(os.path.expanduser(state_dir))
    return (state if state.is_absolute() else path.resolve().parent / state).resolve()
