"""Workers -> supervisor messages, written synchronously.

A `multiprocessing.Queue` hands `put()` to a feeder thread: a worker SIGKILLed a
moment after `put(("start", job))` may die with the message still in its memory,
and the supervisor would not know which file killed it. Here `put()` returns only
once the message is in the pipe. Messages are small (under PIPE_BUF, 4 KiB), so
each is one atomic write: a kill never leaves half a message. A kill between
taking and releasing the write lock leaves the lock held; the supervisor notices
the stall and rebuilds the mailbox with the workers.
"""
from __future__ import annotations

import queue


class Mailbox:
    def __init__(self, ctx):
        self._reader, self._writer = ctx.Pipe(duplex=False)
        self._lock = ctx.Lock()

    def put(self, message) -> None:
        with self._lock:
            self._writer.send(message)

    def get(self, timeout: float):
        """The next message; raises queue.Empty after `timeout` seconds."""
        if not self._reader.poll(timeout):
            raise queue.Empty
        return self._reader.recv()

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
