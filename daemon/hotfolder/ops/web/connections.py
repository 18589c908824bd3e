"""The connections the listener holds, and which one goes when a new one comes.

Two bounds, checked before each accept:

- `max_connections` (http.max_connections, 64) at once;
- FD_RESERVE: the listener takes none of the process's last descriptors below its
  limit (RLIMIT_NOFILE). Claiming, a new worker and the logs need them more than a
  client does.

At either bound a connection waiting for a request, or for its answer to be taken, is
closed to make room: an idle keep-alive first (its client opens another when it needs
one), else the one that has waited longest (a slowloris: a scrape sends its request at
once and is answered in milliseconds, so it gets in under any flood). Accepting waits
until that connection has closed, so the listener never holds one more than its bound
(a cancelled connection closes at the loop's next turn, not at once: the loop still
watches its socket). Only when every connection held is being answered is the new one
accepted to be refused (503) and closed at once.
"""
from __future__ import annotations

import asyncio
import errno
import os
import resource
import socket
from dataclasses import dataclass, field
from enum import Enum

# Descriptors the listener leaves to the daemon: a running daemon holds ~26 with 2
# workers and ~3 more per worker (measured); a claim, a worker start or a rescan takes
# a few more for a moment. 128 leaves room for ~30 workers besides.
FD_RESERVE = 128


@dataclass(eq=False)
class Conn:
    sock: socket.socket
    client: str
    since: float  # loop time it began to wait (for a request, or for its answer to be taken)
    busy: bool = False  # a request is being answered: not to be closed for another
    answered: int = 0  # requests answered on it (the answer sent)
    sending: bool = False  # an answer is being sent (a big page to a slow reader)
    task: asyncio.Task | None = None
    closed_for: str = ""  # why the listener closed it (not the client)

    def wait(self, now: float) -> None:
        self.busy, self.since = False, now

    def close_for(self, reason: str) -> None:
        self.closed_for = reason
        if self.task is not None:
            self.task.cancel()  # the listener closes the socket when the task is done: the loop has let go of it
        else:
            self.sock.close()


def _first_to_go(conn: Conn) -> tuple[bool, float]:
    """An idle keep-alive (answered, waiting for its next request) before a connection
    that has not been answered yet (its client may be about to send, or have sent, its
    first request) or is being sent its answer (a scrape's /metrics, cut off, would be
    lost), the oldest first."""
    idle = conn.answered > 0 and not conn.sending
    return not idle, conn.since


def descriptors_left() -> int:
    """How many more descriptors this process may open before RLIMIT_NOFILE."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return 1 << 30
    try:
        used = len(os.listdir("/proc/self/fd")) - 1  # listdir's own descriptor
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            return 0  # not even one to look with
        return soft  # no /proc: the connection cap alone bounds the listener
    return soft - used


class Room(Enum):
    OPEN = "open"  # accept: the new connection fits
    WAIT = "wait"  # accept nothing until a connection being closed has gone
    REFUSE = "refuse"  # accept it to say 503: every connection held is being answered


@dataclass
class Connections:
    held: set[Conn] = field(default_factory=set)  # open sockets, those being closed included

    def make_room(self, max_connections: int) -> tuple[Room, str]:
        """Whether the connection waiting to be accepted may be, and if not why; at a
        bound this asks the connection waiting longest to close, and says WAIT until it
        has. Ask only when a connection is waiting: at the bound it closes one."""
        if any(c.closed_for for c in self.held):
            return Room.WAIT, ""  # room is being made
        if len(self.held) >= max_connections:
            why = f"{max_connections} connections (http.max_connections) were open"
        elif descriptors_left() <= FD_RESERVE:  # the new one would take one of the reserve
            why = f"the daemon is near its descriptor limit (LimitNOFILE): the last {FD_RESERVE} are its own"
        else:
            return Room.OPEN, ""
        waiting = [c for c in self.held if not c.busy]
        if not waiting:
            return Room.REFUSE, f"{why}, all of them being answered" if self.held else why
        min(waiting, key=_first_to_go).close_for(f"closed for a newer one: {why}")
        return Room.WAIT, why

    def add(self, conn: Conn) -> None:
        self.held.add(conn)

    def release(self, conn: Conn) -> None:
        self.held.discard(conn)

    def close_all(self) -> list[asyncio.Task]:
        tasks = [c.task for c in self.held if c.task is not None]
        for conn in list(self.held):
            conn.close_for("the listener stops")
        return tasks
