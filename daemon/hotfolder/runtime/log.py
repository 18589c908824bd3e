"""structlog setup: one JSON object per line on stderr, in every process.

Under systemd (JOURNAL_STREAM names our stderr) each line starts with a syslog
priority prefix such as `<3>`, so `journalctl -p err` works while the structured
fields stay in the JSON. `--log-format console` renders the same events as short
lines for people (console.py). The standard library's records (watchdog's, and any
other library's) go through the same renderer, as events of their own.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

from hotfolder import redact
from hotfolder.runtime import systemd
from hotfolder.runtime.console import ConsoleRenderer
from hotfolder.runtime.formats import LogFormat
from hotfolder.shown import display, escaped_by_display

PRIORITY = {"critical": 2, "error": 3, "warning": 4, "info": 6, "debug": 7}


def names_as_text(_logger, _method: str, event: dict) -> dict:
    """structlog processor: a name's bytes that are not UTF-8 shown as `\\xNN`, as records show
    them (JSON wrote `caf\\udce9` for `caf\\xe9.jpg`, the README says `\\xNN`).

    An event of plain values (text that shows as it is, numbers, None, lists of those), as
    nearly all are, is returned as it is: the copy made value by value was 1-2 µs of a
    line's ~13 (a file has four lines or more: three in its worker, `file_done`)."""
    for value in event.values():  # inline: a call a value cost about what the copy saved
        kind = type(value)
        if kind is str:
            if escaped_by_display(value):
                break
        elif kind in _PLAIN:
            continue
        elif kind is list or kind is tuple:
            if not all(type(v) in _PLAIN or (type(v) is str and not escaped_by_display(v)) for v in value):
                break
        else:
            break
    else:
        return event
    return {key: _as_text(value) for key, value in event.items()}


_PLAIN = frozenset({int, float, bool, type(None)})  # what _as_text returns as it is


def _as_text(value: Any) -> Any:
    if isinstance(value, str):
        return display(value)
    if type(value) in (list, tuple):
        return type(value)(_as_text(v) for v in value)
    if isinstance(value, dict):
        return {k: _as_text(v) for k, v in value.items()}
    return value


def _journal_prefix(_logger, method_name: str, line: str) -> str:
    return f"<{PRIORITY.get(method_name, 6)}>{line}"


class _DroppingStream:
    """The log stream, which never raises: a closed pipe (`| head`, a `tee` killed
    first) or an I/O error on stderr must not stop rendering or a drain. Lines that
    cannot be written are dropped; `dropped()` says so, for the status."""

    def __init__(self, stream):
        self.stream = stream
        self.broken: str | None = None

    def write(self, text: str) -> int:
        if self.broken is None:
            try:
                return self.stream.write(text)
            except (OSError, ValueError) as exc:
                self.broken = f"log lines are being dropped: stderr cannot be written ({exc})"
        return len(text)

    def flush(self) -> None:
        if self.broken is None:
            try:
                self.stream.flush()
            except (OSError, ValueError) as exc:
                self.broken = f"log lines are being dropped: stderr cannot be written ({exc})"


_stream: _DroppingStream | None = None


def _own_stderr():
    """A line-buffered text stream on a copy of fd 2; if there is no stderr at all (started
    with `2>&-`), one that writes nowhere, so the daemon still runs."""
    try:
        fd = os.dup(2)
    except OSError:
        fd = os.open(os.devnull, os.O_WRONLY)
    return os.fdopen(fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace")


def dropped() -> str | None:
    """Why log lines are being dropped in this process, or None while they are written."""
    return _stream.broken if _stream is not None else None


def setup(fmt: str = LogFormat.JSON, level: str = "info", stream=None, **context) -> None:
    """Configure structlog for this process; call once after the process starts.

    `stream`: where lines go instead of our own copy of stderr (`hotfolder process`
    gives its progress bar, which writes them above itself)."""
    # redact.mask_event comes after the traceback is rendered (an exception's message may
    # quote a secret) and before the line is. Tracebacks carry no local variables: a
    # frame's locals (a password, the Authorization header made of it) are no journal's business.
    renderer: list[Callable[..., Any]]  # the last ones take the rendered line, not the event
    if fmt == LogFormat.CONSOLE:
        colors = sys.stderr is not None and sys.stderr.isatty()
        renderer = [structlog.processors.format_exc_info, redact.mask_event, names_as_text,
                    ConsoleRenderer(colors, verbose=level == "debug")]
    else:
        tracebacks = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        renderer = [tracebacks, redact.mask_event, names_as_text, structlog.processors.JSONRenderer()]
        if systemd.under_journal():  # stderr is the journal's stream, not only inherited from it
            renderer.append(_journal_prefix)
    # A line-buffered text stream of our own: each event is one whole write, even
    # when several processes share the same stderr.
    global _stream
    stream = _stream = _DroppingStream(stream if stream is not None else _own_stderr())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    if context:
        structlog.contextvars.bind_contextvars(**context)
    # watchdog and others log through the standard library: their warnings (e.g. an
    # inotify queue overflow) become our events, rendered like every other line.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_ToStructlog())
    root.setLevel(logging.WARNING)
    # A library's warnings.warn() (Pillow's "Corrupt EXIF data", "Tag data larger than
    # file") went to stderr as bare text between the JSON lines: through logging, they are
    # events like the rest (logger `py.warnings`).
    logging.captureWarnings(True)


class _ToStructlog(logging.Handler):
    """A standard-library record as a structlog event: `event` is its message, `logger`
    its logger's name, at its level (a level of its own counts as a warning)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            method = record.levelname.lower()
            if method not in PRIORITY:
                method = "warning"
            fields: dict[str, object] = {"logger": record.name}
            if record.exc_info:
                fields["exc_info"] = record.exc_info
            getattr(structlog.get_logger(), method)(record.getMessage(), **fields)
        except Exception:  # noqa: BLE001 - logging must never raise into the library
            self.handleError(record)


class _Demote(logging.Filter):
    def __init__(self, words: str):
        super().__init__()
        self.words = words

    def filter(self, record: logging.LogRecord) -> bool:
        if self.words in record.getMessage():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


@contextlib.contextmanager
def demoted(logger_name: str, words: str):
    """While inside, a record of `logger_name` whose message holds `words` is logged at
    DEBUG: for a library's alarm that we know is harmless in that moment (say why)."""
    demote = _Demote(words)
    logger = logging.getLogger(logger_name)
    logger.addFilter(demote)
    try:
        yield
    finally:
        logger.removeFilter(demote)


def get(name: str | None = None):
    return structlog.get_logger(name) if name else structlog.get_logger()
