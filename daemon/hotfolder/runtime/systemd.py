"""sd_notify for the supervisor: our own small client of systemd's notify protocol.

The protocol (sd_notify(3)) is one datagram of newline-separated ``KEY=value`` lines
sent to the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a path, or ``@name`` for an
abstract socket). Without ``NOTIFY_SOCKET`` every call is a no-op that returns False.
Nothing here raises into the daemon: a failed send returns False and leaves the
reason in ``SdNotify.last_error`` for the caller to log.

Only the main process may talk to systemd (``NotifyAccess=main``), so the supervisor
calls ``scrub_environ()`` before it starts any worker: the socket address stays in
this module's memory, and workers never inherit ``NOTIFY_SOCKET`` or ``WATCHDOG_*``.

    from hotfolder.runtime import systemd
    systemd.scrub_environ()            # once, before workers start
    systemd.ready("processed 0 ...")   # after recovery, with watchers up
    interval = systemd.watchdog_interval()   # seconds between WATCHDOG=1, or None
    systemd.watchdog()                 # from the main loop, only while healthy
    systemd.reloading(); ...; systemd.ready()
    systemd.stopping()
"""
from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Mapping, MutableMapping

#: variables meant for the main process only; workers must not inherit them
CHILD_SCRUB = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")

#: seconds a send may wait when systemd's receive queue is full; the main loop
#: must not stall on it, and the next status or ping replaces a lost one
SEND_TIMEOUT = 0.5


def _value(value: object) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    # a newline would end the field and start a forged one
    return str(value).replace("\r", " ").replace("\n", " ")


def format_message(fields: Mapping[str, object]) -> bytes:
    """``{"READY": 1, "STATUS": "ok"}`` -> ``b"READY=1\\nSTATUS=ok\\n"``."""
    lines = []
    for key, value in fields.items():
        if not key or not key.replace("_", "").isalnum() or not key.isupper():
            raise ValueError(f"not a notify field name: {key!r}")
        lines.append(f"{key}={_value(value)}\n")
    return "".join(lines).encode("utf-8", "replace")


def monotonic_usec() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class SdNotify:
    """Sends sd_notify messages to one socket address; ``address=None`` disables it.
    (Not to be confused with ops/notify.py: notifications to people.)"""

    def __init__(self, address: str | None, watchdog_usec: int | None = None,
                 send_timeout: float = SEND_TIMEOUT):
        self.address = address or None
        self.send_timeout = send_timeout
        self.watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self.last_error: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, pid: int | None = None) -> SdNotify:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (as sd_watchdog_enabled(3))."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        usec = None
        try:
            usec = int(env.get("WATCHDOG_USEC", ""))
            wd_pid = env.get("WATCHDOG_PID")
            if wd_pid and int(wd_pid) != (os.getpid() if pid is None else pid):
                usec = None  # the watchdog is meant for another process
        except ValueError:
            usec = None
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def _sockaddr(self) -> str:
        assert self.address is not None
        if self.address.startswith("@"):
            return "\0" + self.address[1:]
        if self.address.startswith("/"):
            return self.address
        raise ValueError(f"unsupported NOTIFY_SOCKET address {self.address!r} (need a path or @abstract)")

    def notify(self, **fields: object) -> bool:
        """Send the fields in one datagram. True if sent; False if disabled or failed."""
        if self.address is None or not fields:
            return False
        try:
            message = format_message(fields)
            addr = self._sockaddr()
            with self._lock, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.settimeout(self.send_timeout)
                sock.sendto(message, addr)
        except Exception as exc:  # never raise into the daemon
            self.last_error = f"sd_notify to {self.address}: {exc}"
            return False
        self.last_error = None
        return True

    # --- the messages the daemon sends ------------------------------------------

    def ready(self, status: str | None = None) -> bool:
        return self.notify(READY=1, **({"STATUS": status} if status is not None else {}))

    def status(self, text: str) -> bool:
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)

    def stopping(self, status: str | None = None) -> bool:
        return self.notify(STOPPING=1, **({"STATUS": status} if status is not None else {}))

    def reloading(self, status: str | None = None) -> bool:
        fields: dict[str, object] = {"RELOADING": 1, "MONOTONIC_USEC": monotonic_usec()}
        if status is not None:
            fields["STATUS"] = status
        return self.notify(**fields)

    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None if not asked for."""
        if self.address is None or self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 2_000_000


# --- the process's own --------------------------------------------------------

_default: SdNotify | None = None
_default_lock = threading.Lock()


def this_process() -> SdNotify:
    """The sd_notify client of this process, read from os.environ on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SdNotify.from_environ()
        return _default


def reset(environ: Mapping[str, str] | None = None) -> SdNotify:
    """Forget the remembered address and read it again (for tests)."""
    global _default
    with _default_lock:
        _default = SdNotify.from_environ(environ)
        return _default


def scrub_environ(environ: MutableMapping[str, str] | None = None) -> SdNotify:
    """Remember the notify socket and the sockets passed to us (LISTEN_FDS), then drop
    their variables from os.environ so no child inherits them.

    Call once in the supervisor before starting any process; later calls are harmless.
    """
    n = this_process()
    env = os.environ if environ is None else environ
    for key in CHILD_SCRUB:
        env.pop(key, None)
    if environ is None:
        _take_listen_fds()
    return n


# Listening sockets systemd passed this process (sd_listen_fds(3): from fd 3 on), read from
# os.environ once; None until then.
_listen_fds: int | None = None


def _take_listen_fds() -> int:
    """LISTEN_FDS if LISTEN_PID names this process (else 0), read once; the variables leave
    os.environ either way."""
    global _listen_fds
    with _default_lock:
        if _listen_fds is None:
            ours = os.environ.get("LISTEN_PID") == str(os.getpid()) and os.environ.get("LISTEN_FDS", "").isdigit()
            _listen_fds = int(os.environ["LISTEN_FDS"]) if ours else 0
            for key in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):  # a parent's too, as sd_listen_fds(3) does
                os.environ.pop(key, None)
        return _listen_fds


def claim_listen_fds() -> int:
    """How many listening sockets systemd passed us, to the first caller only (0 after): the
    sockets are made once, by the status page's listener (ops/web/server.py)."""
    global _listen_fds
    count = _take_listen_fds()
    with _default_lock:
        _listen_fds = 0
    return count


def ready(status: str | None = None) -> bool:
    return this_process().ready(status)


def status(text: str) -> bool:
    return this_process().status(text)


def watchdog() -> bool:
    return this_process().watchdog()


def stopping(status: str | None = None) -> bool:
    return this_process().stopping(status)


def reloading(status: str | None = None) -> bool:
    return this_process().reloading(status)


def watchdog_interval() -> float | None:
    return this_process().watchdog_interval()


def under_journal(stream: int = 2, environ: Mapping[str, str] | None = None) -> bool:
    """True if ``stream`` (stderr by default) is connected to the journal.

    systemd sets JOURNAL_STREAM=<st_dev>:<st_ino> of the stream it connected; a
    child whose stderr was redirected elsewhere keeps the variable but no longer
    matches, so compare rather than only test for presence (see systemd.exec(5)).
    """
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(part) for part in value.split(":"))
        st = os.fstat(stream)
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)
