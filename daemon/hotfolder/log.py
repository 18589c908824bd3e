"""structlog setup: one JSON object per line on stderr, in every process.

Under systemd (JOURNAL_STREAM names our stderr) each line starts with a syslog
priority prefix such as `<3>`, so `journalctl -p err` works while the structured
fields stay in the JSON.
"""
from __future__ import annotations

import logging
import os
import sys

import structlog

PRIORITY = {"critical": 2, "error": 3, "warning": 4, "info": 6, "debug": 7}


def _stderr_is_journal() -> bool:
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in stream.split(":"))
        st = os.fstat(2)
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


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


def setup(fmt: str = "json", level: str = "info", **context) -> None:
    """Configure structlog for this process; call once after the process starts."""
    if fmt == "console":
        renderer = [structlog.dev.ConsoleRenderer(colors=sys.stderr is not None and sys.stderr.isatty())]
    else:
        renderer = [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
        if _stderr_is_journal():
            renderer.append(_journal_prefix)
    # A line-buffered text stream of our own: each event is one whole write, even
    # when several processes share the same stderr.
    global _stream
    stream = _stream = _DroppingStream(_own_stderr())
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
    # watchdog and others log through the standard library: route their warnings
    # (e.g. an inotify queue overflow) into the same stream.
    logging.basicConfig(level=logging.WARNING, stream=stream,
                        format='{"event": "%(message)s", "logger": "%(name)s", "level": "%(levelname)s"}',
                        force=True)


def get(name: str | None = None):
    return structlog.get_logger(name) if name else structlog.get_logger()
