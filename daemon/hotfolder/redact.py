"""What a secret is, and how it is shown: `***`, in every log line, status and error.

Two lines of defence; each misses what the other catches:

- Structured, at the source. The config marks its secret fields (`VALUE`: http.token, a
  notify item's secret; `URL`: a URL some of whose parts are: notify urls,
  cluster.broker_url). What shows config shows them through here: the reload diff says
  `http.token changed`, reprs and the notify log's `url` use `url()`, config errors that
  quote a value hide it. This keeps what helps (host, user, chat id) and works for values
  never registered (those of a config that was refused).
- The last line, `mask_event`: a structlog processor that replaces every *registered*
  value (`register`, called for each config parsed) wherever it appears in an event: a
  library's message or an exception quoting one (urllib's `nonnumeric port:
  'password@host'`, apprise's warnings, redis errors, a traceback). It only knows values
  it was told of, and finds them whole: it cannot catch a refused config's values, a cut
  or an encoded secret; the structured path cannot foresee what a library will print.

Which parts of an apprise URL are private is apprise's knowledge: its `url(privacy=True)`
form. That form shows a token's first and last character (`1...w`), so it is only used
to tell which parts are private; they are shown here as `***`, whole.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import re
import threading
from typing import Any
from urllib.parse import unquote

MASK = "***"
VALUE = {"secret": "value"}  # dataclass field metadata: the whole value is a secret
URL = {"secret": "url"}  # a URL: its secret parts (see url())
MIN_REGISTERED = 4  # shorter values are not masked in free text: "abc" would garble every log line
WHOLE_WORD_BELOW = 12  # shorter values are masked only as whole words (a password "notify" ≠ notify_failed)
LONG_WORD = 16  # in a webhook's path, words this long are taken for tokens (a Slack or Discord webhook's)
PLAIN_SCHEMES = ("redis", "rediss", "unix")  # URLs whose password and query values are the secrets
REDIS_SCHEMES = ("redis", "rediss")  # their path is a database number
# Their whole path and query may be a token: hidden whole. apprise's json://, form:// and xml://
# are such webhooks, whose privacy form shows the path (an attack round: a token in the log).
WEBHOOK_SCHEMES = ("http", "https", "", "json", "jsons", "form", "forms", "xml", "xmls")
_DELIMITERS = re.compile(r"([:/@?&=#,;\s]+)")
_WORD = re.compile(r"[A-Za-z0-9_]")


# --- shown ---------------------------------------------------------------------

def url(value: str) -> str:
    """The URL as people may see it: each secret part is `***`."""
    return _url(value) if value else value


@functools.lru_cache(maxsize=256)
def _url(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if not sep:
        if "@" not in value:  # no scheme, no user@host: nothing tells a host from a token given alone
            return MASK       # where its URL was due (`url: ${SLACK_TOKEN}`), quoted whole (an attack round)
        scheme, rest = "", value
    prefix = f"{scheme}://" if sep else ""
    kind = scheme.lower()
    netloc, tail = _split(rest, kind)
    user, password, host = _userinfo(netloc)
    if kind in WEBHOOK_SCHEMES:
        who = f"{user}:{MASK}@" if password is not None else (f"{MASK}@" if user else "")
        return f"{prefix}{who}{host}" + (f"/{MASK}" if tail not in ("", "/") else "")
    if kind in PLAIN_SCHEMES:
        who = f"{user}:{MASK}@" if password is not None else (f"{user}@" if user else "")
        path, q, query = tail.partition("?")
        return f"{prefix}{who}{host}{path}{q}" + re.sub(r"=([^&#]*)", f"={MASK}", query)
    private = _apprise_private(value)
    if private is None:
        return f"{prefix}{MASK}"
    if password:
        private.add(password)
    private |= _query_values(rest)
    return prefix + "".join(MASK if piece in private else piece for piece in _DELIMITERS.split(rest))


def _query_values(rest: str) -> set[str]:
    """The values of an apprise URL's query: apprise's privacy form shows an HTTP header's
    (`json://host/?-X-Api-Key=…`, `+Authorization=…`), which may be a key; all are hidden."""
    query = rest.partition("?")[2].partition("#")[0]
    return {piece for v in re.findall(r"=([^&]*)", query) for piece in _DELIMITERS.split(unquote(v)) + [v]
            if piece and not _DELIMITERS.fullmatch(piece)}


def _split(rest: str, kind: str) -> tuple[str, str]:
    """`user:pw@host:port` and the rest (path, query, fragment). A `/`, `?` or `#` before the
    last `@` of what precedes the path is taken for a password's (written unencoded: the URL
    cannot work, but its password must not be shown: `user:Sl/ash@host` showed `Sl`)."""
    head = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if _cut_short(rest, head, kind):
        at = rest.rfind("@", 0, _path_start(rest))
        head = rest[:at] + re.split(r"[/?#]", rest[at:], maxsplit=1)[0]
    return head, rest[len(head):]


def _cut_short(rest: str, head: str, kind: str) -> bool:
    """`user:pa` of `user:pa/ss@host`: a `:` not followed by a port, and an `@` only after it
    (an `@` in a webhook's path, `host/a@b`, has no such `:` before it). A Redis URL's path
    is a database number: an `@` there (before its query) is a password's
    (`user:p@ss/word@host`: host `ss`, the rest taken for the path; an attack round). Not
    in a query (`?password=pa@ss`, `client_name=a@b`), nor in a unix socket's path."""
    if kind in REDIS_SCHEMES and "@" in re.split(r"[?#]", rest[len(head):], maxsplit=1)[0]:
        return True
    return "@" in rest and "@" not in head and ":" in head and not head.rpartition(":")[2].isdigit()


def password_cut_short(value: str) -> str | None:
    """Why a URL's `user:password@` cannot be what was meant, or None: a `/`, `?` or `#` in
    the password, written as it is, ends the host there (`https://u:Sl/ash@host`: host `u`,
    port `Sl`); said without quoting any of it."""
    scheme, _, rest = value.partition("://")
    if _cut_short(rest, re.split(r"[/?#]", rest, maxsplit=1)[0], scheme.lower()):
        return ("its user:password part holds a '/', '?' or '#' (after an '@', too), which end a URL's host: write "
                "each percent-encoded in the password (%2F, %3F, %23, and %40 for an '@')")
    return None


def _path_start(rest: str) -> int:
    """Where the host's path starts, looking past an `@` (the last one before a `/` that
    follows it)."""
    at = rest.rfind("@")
    if at == -1:
        return len(rest)
    slash = re.search(r"[/?#]", rest[at:])
    return at + slash.start() if slash else len(rest)


def _userinfo(netloc: str) -> tuple[str, str | None, str]:
    if "@" not in netloc:
        return "", None, netloc
    info, _, host = netloc.rpartition("@")
    user, colon, password = info.partition(":")
    return user, (password if colon else None), host


def _apprise_private(value: str) -> set[str] | None:
    """The words of an apprise URL that apprise's privacy form does not show; None when
    apprise does not take the URL (then all of it is private)."""
    plugin = _instantiate(value)
    if plugin is None:
        return None
    try:
        public = plugin.url(privacy=True)
    except Exception:  # noqa: BLE001 - a plugin's bug: then nothing of it is shown
        return None
    shown = set(_DELIMITERS.split(unquote(public.partition("://")[2]))) - _unguarded_topics(plugin)
    rest = value.partition("://")[2]
    return {w for w in _DELIMITERS.split(rest) if w and not _DELIMITERS.fullmatch(w) and w not in shown}


def _unguarded_topics(plugin) -> set[str]:
    """An ntfy URL's topics when it has no password and no token: on ntfy.sh anyone who knows
    such a topic's name reads and posts to it, so the name is its secret (ntfy's docs); apprise's
    privacy form shows it, and every notify_retry line did (an attack round)."""
    if type(plugin).__name__ != "NotifyNtfy" or getattr(plugin, "password", None) or getattr(plugin, "token", None):
        return set()
    return {str(t) for t in getattr(plugin, "topics", None) or ()}


def shown(field: dataclasses.Field, value: Any) -> Any:
    """A field's value as people may see it."""
    kind = field.metadata.get("secret")
    if not kind or not value:
        return value
    return MASK if kind == "value" else url(value)


def dataclass_repr(obj) -> str:
    """A dataclass's repr with its secret fields shown as `shown` says (a repr ends up in
    tracebacks, debuggers and messages)."""
    parts = [f"{f.name}={shown(f, getattr(obj, f.name))!r}" for f in dataclasses.fields(obj) if f.repr]
    return f"{type(obj).__qualname__}({', '.join(parts)})"


# --- known values: the last line of defence ----------------------------------------

def url_secrets(value: str) -> dict[str, str]:
    """The secret values of a URL, each with what is shown instead of it."""
    if not value:
        return {}
    out: dict[str, str] = {}
    scheme, sep, rest = value.partition("://")
    if not sep and "@" not in value:  # shown as MASK whole (url())
        return {value: MASK} if len(value) >= MIN_REGISTERED else {}
    if not sep:
        scheme, rest = "", value
    kind = scheme.lower()
    netloc, tail = _split(rest, kind)
    user, password, _ = _userinfo(netloc)
    if password:
        out[password] = MASK
    if kind in WEBHOOK_SCHEMES:
        if user and password is None:
            out[user] = MASK  # `token@host`: a bare user is often a token
        if tail not in ("", "/"):
            out[tail] = f"/{MASK}"
            out.update((w, MASK) for w in _DELIMITERS.split(tail) if len(w) >= LONG_WORD)
    elif kind in PLAIN_SCHEMES:
        out.update((v, MASK) for v in re.findall(r"=([^&#]+)", tail.partition("?")[2]))
    else:
        private = _apprise_private(value)
        words = private if private is not None else {w for w in _DELIMITERS.split(rest) if not _DELIMITERS.fullmatch(w)}
        words |= _query_values(rest)
        out.update((w, MASK) for w in words)
        # Private words next to each other (a Telegram bot's `id:token`) also as one value.
        run = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True) if w)
        if run:
            for m in re.finditer(rf"(?:{run})(?:[:/@]+(?:{run}))+", rest):
                out[m.group(0)] = MASK
    if out:  # and the whole URL, as it is shown
        out[value] = url(value)
    return {k: v for k, v in out.items() if len(k) >= MIN_REGISTERED}


def secrets_in(obj: Any) -> dict[str, str]:
    """Every secret of a config (a dataclass, its nested dataclasses and tuples of them)."""
    out: dict[str, str] = {}
    if isinstance(obj, (tuple, list)):
        for item in obj:
            out.update(secrets_in(item))
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            kind = f.metadata.get("secret")
            if kind == "value" and isinstance(value, str) and len(value) >= MIN_REGISTERED:
                out[value] = MASK
            elif kind == "url" and isinstance(value, str):
                out.update(url_secrets(value))
            elif isinstance(value, (tuple, list)) or dataclasses.is_dataclass(value):
                out.update(secrets_in(value))
    return out


_lock = threading.Lock()
_state: tuple[dict[str, str], re.Pattern | None] = ({}, None)  # replaced whole: readers take it once


def register(found: dict[str, str]) -> None:
    """Values that must never be printed, from now on in this process (kept across
    reloads: an old secret may still be quoted)."""
    global _state
    with _lock:
        known = dict(_state[0])
        new = {k: v for k, v in found.items() if k and k not in known}
        if not new:
            return
        known.update(new)
        _state = (known, re.compile("|".join(_pattern(v) for v in sorted(known, key=len, reverse=True))))


def _pattern(value: str) -> str:
    p = re.escape(value)
    if len(value) < WHOLE_WORD_BELOW:
        if _WORD.match(value[0]):
            p = r"(?<![A-Za-z0-9_])" + p
        if _WORD.match(value[-1]):
            p += r"(?![A-Za-z0-9_])"
    return p


def text(value: str) -> str:
    """`value` with every registered secret in it masked."""
    known, pattern = _state
    if pattern is None or not value:
        return value
    return pattern.sub(lambda m: known[m.group(0)], value)


def mask_event(_logger, _method: str, event: dict) -> dict:
    """structlog processor (after the exception is rendered, before the line is): every
    registered value, in every field, nested or not, masked."""
    if _state[1] is None:
        return event
    return _masked(event)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {_masked(k): _masked(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_masked(v) for v in value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    for said in (str(value), repr(value)):  # what the renderers would print of it
        if text(said) != said:
            return text(str(value))
    return value


# --- apprise, which logs the URLs it refuses ---------------------------------------

_APPRISE_HALF_HIDDEN = re.compile(r"(?<![\w.])[\w-]\.\.\.[\w-](?![\w.])")  # apprise's privacy form: `1...w`


def apprise_said(value: str) -> str:
    """A message of apprise's, its half-hidden tokens hidden whole, registered values masked."""
    return text(_APPRISE_HALF_HIDDEN.sub(MASK, value))


def apprise_module():
    """apprise, with its own log silenced (it logs a URL it refuses, token and all, and
    would reach ours through the root logger); None when it is not installed."""
    try:
        import apprise  # here, not at the top: optional, and 0.43 s to import (measured), for notify: URLs only
    except ImportError:
        return None
    logger = logging.getLogger("apprise")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return apprise


def _instantiate(value: str):
    apprise = apprise_module()
    if apprise is None:
        return None
    try:
        return apprise.Apprise.instantiate(value, asset=apprise.AppriseAsset(storage_mode="memory"))
    except Exception:  # noqa: BLE001 - a URL apprise chokes on is one it does not take
        return None
